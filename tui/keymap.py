"""The player's keymap file: `$GRUE_HOME/keymap.toml`, read at start (docs/architecture.md,
"Keys").

    [keys]
    "game.retry" = "f4,ctrl+r"      # comma-separated Textual key names
    "game.lore" = ["f9", "ctrl+w"]  # or a list

A bad file never stops the game: every problem is one line naming the file, and whatever
could be read is used.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from tui.core.paths import grue_home
from tui.core.text import one_line
from tui.engine.tomlfile import read_toml_file
from tui.keys import BY_ID, KEYS, arrives_over_ssh, effective_keys

KEYMAP_FILE = "keymap.toml"
MAX_KEYMAP_BYTES = 64 * 1024

_MODIFIERS = {"ctrl", "shift", "alt", "meta", "super", "hyper"}
_NAMED_KEYS = {
    "escape", "enter", "tab", "space", "backspace", "delete", "insert", "home", "end",
    "pageup", "pagedown", "up", "down", "left", "right",
    *(f"f{n}" for n in range(1, 25)),
}


class KeymapError(Exception):
    pass


@dataclass
class Keymap:
    keys: dict[str, str] = field(default_factory=dict)  # binding id -> "key,key"
    problems: list[str] = field(default_factory=list)   # one line each, naming the file


def keymap_path() -> Path:
    return grue_home() / KEYMAP_FILE


def valid_key(key: str) -> bool:
    """A Textual key name: optional modifiers, then a named key, one character, or a
    character's name (`slash`, `question_mark`)."""
    *mods, name = key.split("+")
    if not name or any(m not in _MODIFIERS for m in mods) or len(set(mods)) != len(mods):
        return False
    if len(name) == 1:
        return name.isprintable() and not name.isspace()
    return name in _NAMED_KEYS or (name.isidentifier() and name.islower() and "__" not in name
                                   and _is_character_name(name))


def _is_character_name(name: str) -> bool:
    import unicodedata

    try:
        unicodedata.lookup(name.replace("_", " ").upper())
    except KeyError:
        return name in ("slash", "backslash", "at", "minus", "plus", "underscore")
    return True


def _key_list(value: object) -> list[str] | None:
    if isinstance(value, str):
        parts = value.split(",")
    elif isinstance(value, list) and all(isinstance(v, str) for v in value):
        parts = value
    else:
        return None
    return [_normal(p.strip()) for p in parts if p.strip()]


def _normal(key: str) -> str:
    """Lower-case modifiers and key names (`Ctrl+R` → `ctrl+r`); a lone character keeps its
    case (`R` is Shift+R)."""
    *mods, name = key.split("+")
    return "+".join([*(m.lower() for m in mods), name if len(name) == 1 and not mods
                     else name.lower()])


def read_keymap(path: Path | None = None) -> Keymap:
    """The keymap in `path` (default: the config folder's); a missing file is no keymap."""
    path = path or keymap_path()
    result = Keymap()
    if not path.exists():
        return result
    name = path.name
    try:
        data = read_toml_file(path, MAX_KEYMAP_BYTES, KeymapError, "keymap file")
    except KeymapError as exc:
        result.problems.append(f"{exc} (default keys used)")
        return result
    table = data.get("keys", None)
    if not isinstance(table, dict):
        result.problems.append(f'{name}: no [keys] table (write [keys] then "game.retry" = '
                               '"f4,ctrl+r"); default keys used')
        return result
    unknown = [str(k) for k in table if k not in BY_ID]
    if unknown:
        result.problems.append(f"{name}: unknown key ids (ignored): "
                               f"{one_line(', '.join(unknown), 200)}")
    for ident, value in table.items():
        spec = BY_ID.get(ident)
        if spec is None:
            continue
        if not spec.bindable:
            result.problems.append(f"{name}: {ident} cannot be remapped (ignored)")
            continue
        keys = _key_list(value)
        if not keys:
            result.problems.append(f'{name}: {ident}: expected keys like "f4,ctrl+r" (ignored)')
            continue
        bad = [k for k in keys if not valid_key(k)]
        if bad:
            result.problems.append(f"{name}: {ident}: not a key name: "
                                   f"{one_line(', '.join(bad), 100)} (ignored)")
            continue
        if not any(arrives_over_ssh(k) for k in keys):
            result.problems.append(f"{name}: {ident}: {', '.join(keys)} may not arrive over "
                                   "SSH; add an F-key or a Ctrl+letter")
        result.keys[ident] = ",".join(keys)
    result.problems.extend(f"{name}: {clash}" for clash in clashes(result.keys))
    return result


def _owners(screen: str, keymap: dict[str, str]) -> dict[str, list[str]]:
    """key -> the ids bound to it on `screen` (the app's keys count everywhere)."""
    owners: dict[str, list[str]] = {}
    for spec in KEYS:
        if spec.bindable and (screen in spec.screens or spec.screens == ("app",)):
            for key in effective_keys(spec, keymap).split(","):
                owners.setdefault(key.strip(), []).append(spec.id)
    return owners


def clashes(keymap: dict[str, str]) -> list[str]:
    """Keys the keymap gives to two actions of one screen: only one can have it. (Shared
    on purpose in the defaults, like Ctrl+Q for the app and the game, is no clash.)"""
    found: list[str] = []
    for screen in dict.fromkeys(s for spec in KEYS for s in spec.screens if s != "app"):
        default = _owners(screen, {})
        for key, ids in _owners(screen, keymap).items():
            if len(ids) > 1 and not set(ids) <= set(default.get(key, ())):
                found.append(f"{key} is bound to both {' and '.join(ids)} in the "
                             f"{screen.replace('_', ' ')} screen; only one can have it")
    return found
