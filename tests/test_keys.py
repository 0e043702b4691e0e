"""Keys as data: every binding has an id and an SSH-safe key; the README's table, the screens'
bindings and the keymap file all come from `tui/keys.py`."""

from __future__ import annotations

import importlib
import inspect
import pkgutil
import tomllib
from fnmatch import fnmatch
from pathlib import Path

import pytest
from textual.binding import Binding
from textual.dom import DOMNode
from textual.screen import Screen

import tui
from tui.keymap import KEYMAP_FILE, read_keymap, valid_key
from tui.keys import (
    BY_ID,
    GROUPS,
    KEYS,
    arrives_over_ssh,
    bindings_for,
    help_rows,
    key_label,
    readme_table,
    readme_with_table,
)

ROOT = Path(__file__).resolve().parents[1]


def tui_classes() -> list[type[DOMNode]]:
    """Every screen and widget class defined in Grue's front-end modules."""
    found: list[type[DOMNode]] = []
    for package in ("tui.screens", "tui.widgets"):
        module = importlib.import_module(package)
        for info in pkgutil.iter_modules(module.__path__):
            mod = importlib.import_module(f"{package}.{info.name}")
            found.extend(cls for _, cls in inspect.getmembers(mod, inspect.isclass)
                         if issubclass(cls, DOMNode) and cls.__module__ == mod.__name__)
    from tui.app import GrueApp

    found.append(GrueApp)  # type: ignore[arg-type]
    return found


def test_ids_are_unique_and_screens_known() -> None:
    assert len(BY_ID) == len(KEYS)
    for spec in KEYS:
        assert spec.screens and all(s in GROUPS for s in spec.screens), spec.id
        assert spec.id.count(".") == 1 and spec.label and spec.help
        assert spec.bindable == bool(spec.action), spec.id


def test_every_binding_of_every_screen_comes_from_the_data() -> None:
    classes = tui_classes()
    assert len(classes) > 10
    checked: set[str] = set()
    for cls in classes:
        for binding in cls.__dict__.get("BINDINGS", []):
            assert isinstance(binding, Binding), f"{cls.__name__}: a binding without an id"
            assert binding.id in BY_ID, f"{cls.__name__}: {binding.key} has no id in tui/keys.py"
            spec = BY_ID[binding.id]
            assert (binding.key, binding.action) == (spec.keys, spec.action)
            checked.add(spec.id)
    assert checked == {spec.id for spec in KEYS if spec.bindable}  # and no binding unused


@pytest.mark.parametrize("spec", [s for s in KEYS if s.bindable], ids=lambda s: s.id)
def test_every_action_has_a_key_that_arrives_over_ssh(spec) -> None:  # type: ignore[no-untyped-def]
    keys = spec.keys.split(",")
    assert all(valid_key(k) for k in keys), keys
    assert any(arrives_over_ssh(k) for k in keys), f"{spec.id}: {spec.keys}"


def test_what_arrives_over_ssh() -> None:
    for key in ("f1", "f12", "ctrl+r", "escape", "tab", "enter", "q", "slash", "space"):
        assert arrives_over_ssh(key), key
    for key in ("ctrl+enter", "shift+enter", "f13", "ctrl+shift+r", "alt+x", "ctrl+i",
                "ctrl+m", "ctrl+slash"):
        assert not arrives_over_ssh(key), key


def test_key_labels() -> None:
    assert key_label("f4") == "F4"
    assert key_label("ctrl+r") == "Ctrl+R"
    assert key_label("ctrl+r", short=True) == "^R"
    assert key_label("escape") == "Esc"
    assert key_label("slash") == "/"
    assert key_label("q") == "q"


def test_readme_key_table_is_the_data() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    assert readme_with_table(readme) == readme, "run `python -m tui.keys` to update README.md"
    for spec in KEYS:
        if spec.bindable:
            assert f"`{spec.id}`" in readme
    assert readme_table() in readme


def test_help_rows_follow_the_keymap() -> None:
    rows = dict((what, keys) for keys, what in help_rows("adventure"))
    assert rows[BY_ID["game.retry"].help] == "F4, Ctrl+R"
    assert rows[BY_ID["adventure.undo"].help] == "F6"
    assert BY_ID["chat.swipe_prev"].help not in rows  # a chat key
    remapped = dict((what, keys) for keys, what in help_rows("adventure",
                                                            {"game.retry": "f5,ctrl+y"}))
    assert remapped[BY_ID["game.retry"].help] == "F5, Ctrl+Y"


def test_each_screen_has_exactly_its_keys() -> None:
    """Screens inherit their parents' keys (ChatScreen is an AdventureScreen): what a screen
    ends up with must be exactly its own keys from the data."""
    for cls in tui_classes():
        screen = getattr(cls, "KEY_SCREEN", None)
        if screen is None:
            continue
        merged = {b.id for bindings in cls._merge_bindings().key_to_bindings.values()
                  for b in bindings if b.id is not None}
        assert merged == {s.id for s in KEYS if screen in s.screens and s.bindable}, cls


def test_bindings_for_a_screen() -> None:
    chat = {b.id: b for b in bindings_for("chat")}
    assert "chat.swipe_prev" in chat and "adventure.undo" not in chat
    assert chat["game.home"].priority and chat["game.home"].key == "ctrl+q"
    assert "adventure.send" not in {b.id for b in bindings_for("adventure")}  # documented only


# --- the keymap file -----------------------------------------------------------------------


def write_keymap(home: Path, text: str) -> Path:
    home.mkdir(parents=True, exist_ok=True)
    path = home / KEYMAP_FILE
    path.write_text(text, encoding="utf-8")
    return path


def test_no_keymap_file_is_no_change(grue_home: Path) -> None:
    keymap = read_keymap()
    assert keymap.keys == {} and keymap.problems == []


def test_keymap_file_remaps(grue_home: Path) -> None:
    write_keymap(grue_home, '[keys]\n"game.retry" = "F4, ctrl+Y"\n'
                            '"game.lore" = ["f9", "ctrl+w"]\n"world_info.search" = "/"\n')
    keymap = read_keymap()
    assert keymap.problems == []
    assert keymap.keys == {"game.retry": "f4,ctrl+y", "game.lore": "f9,ctrl+w",
                           "world_info.search": "/"}


@pytest.mark.parametrize(("text", "problem"), [
    ("[keys\n", "keymap.toml: not valid TOML"),
    ('"game.retry" = "f5"\n', "keymap.toml: no [keys] table"),
    ("keys = 3\n", "keymap.toml: no [keys] table"),
    ('[keys]\n"game.retyr" = "f5"\n"nope" = "f6"\n',
     "keymap.toml: unknown key ids (ignored): game.retyr, nope"),
    ('[keys]\n"game.retry" = "ctrl+enterr"\n', "keymap.toml: game.retry: not a key name: "
                                                "ctrl+enterr"),
    ('[keys]\n"game.retry" = "banana+r"\n', "keymap.toml: game.retry: not a key name"),
    ('[keys]\n"game.retry" = 5\n', "keymap.toml: game.retry: expected keys like"),
    ('[keys]\n"game.retry" = ""\n', "keymap.toml: game.retry: expected keys like"),
    ('[keys]\n"adventure.send" = "f5"\n', "keymap.toml: adventure.send cannot be remapped"),
])
def test_bad_keymap_is_one_line_naming_the_file(grue_home: Path, text: str,
                                                problem: str) -> None:
    write_keymap(grue_home, text)
    keymap = read_keymap()
    assert len(keymap.problems) == 1, keymap.problems
    assert keymap.problems[0].startswith(problem), keymap.problems[0]
    assert "\n" not in keymap.problems[0]
    assert keymap.keys == {}


def test_keymap_keeps_the_good_lines(grue_home: Path) -> None:
    write_keymap(grue_home, '[keys]\n"game.retry" = "ctrl+g"\n"game.nope" = "f6"\n'
                            '"game.note" = "ctrl+enterr"\n')
    keymap = read_keymap()
    assert keymap.keys == {"game.retry": "ctrl+g"}
    assert len(keymap.problems) == 2


def test_keymap_warns_when_a_remap_leaves_no_ssh_key(grue_home: Path) -> None:
    write_keymap(grue_home, '[keys]\n"game.retry" = "ctrl+enter"\n')
    keymap = read_keymap()
    assert keymap.keys == {"game.retry": "ctrl+enter"}  # used, but the player is told
    assert keymap.problems == ["keymap.toml: game.retry: ctrl+enter may not arrive over SSH; "
                               "add an F-key or a Ctrl+letter"]


def test_keymap_that_is_not_text(grue_home: Path) -> None:
    path = write_keymap(grue_home, "")
    path.write_bytes(b"\xff\xfe\x00[keys]")
    keymap = read_keymap()
    assert keymap.keys == {} and len(keymap.problems) == 1
    assert keymap.problems[0].startswith("keymap.toml: ")


# --- styles --------------------------------------------------------------------------------


def test_styles_are_tcss_files_installed_with_the_package() -> None:
    """Screens load `CSS_PATH` files beside them; every .tcss is in the package data."""
    package_root = Path(tui.__file__).parent
    data = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    patterns = data["tool"]["setuptools"]["package-data"]["tui"]
    tcss = sorted(package_root.rglob("*.tcss"))
    assert len(tcss) >= 10
    for path in tcss:
        relative = path.relative_to(package_root).as_posix()
        assert any(fnmatch(relative, p) and relative.count("/") == p.count("/")
                   for p in patterns), f"{relative} is not in package-data"
    for cls in tui_classes():
        css_path = cls.__dict__.get("CSS_PATH")
        if isinstance(cls, type) and issubclass(cls, Screen) and css_path:
            assert (Path(inspect.getfile(cls)).parent / css_path).is_file(), cls.__name__
        assert '"""' not in str(cls.__dict__.get("DEFAULT_CSS", "")), cls.__name__
    for path in package_root.rglob("*.py"):
        assert "DEFAULT_CSS = \"\"\"" not in path.read_text(encoding="utf-8"), path.name


def test_keymap_reports_a_key_given_to_two_actions(grue_home: Path) -> None:
    write_keymap(grue_home, '[keys]\n"game.lore" = "f6"\n')
    keymap = read_keymap()
    assert keymap.keys == {"game.lore": "f6"}
    assert keymap.problems == [
        "keymap.toml: f6 is bound to both adventure.undo and game.lore in the adventure "
        "screen; only one can have it",
        "keymap.toml: f6 is bound to both chat.swipe_next and game.lore in the chat screen; "
        "only one can have it"]


def test_keymap_key_case(grue_home: Path) -> None:
    write_keymap(grue_home, '[keys]\n"game.retry" = "Ctrl+R, F4"\n"context.top" = "T"\n')
    assert read_keymap().keys == {"game.retry": "ctrl+r,f4", "context.top": "T"}


def test_keymap_keeps_keys_shared_on_purpose(grue_home: Path) -> None:
    write_keymap(grue_home, '[keys]\n"game.home" = "ctrl+q,ctrl+x"\n')
    assert read_keymap().problems == []  # Ctrl+Q is the app's and the game's by design
