"""Under `grue serve` a path the player types stays in their own folder (docs/architecture.md,
"grue serve"): `/lore FILE`, a card, a model file. Outside the server, paths are as given."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tui.core.paths import OutsideHome, user_path
from tui.engine.formats.lorebooks import LoreFormatError
from tui.engine.lorebook_files import find_lorebook_file
from tui.models.store import StoreError, resolve_model

BOOK = {"entries": {"0": {"key": ["lamp"], "content": "A brass lamp.", "uid": 0}}}


@pytest.fixture
def outside(tmp_path: Path) -> Path:
    folder = tmp_path / "elsewhere"
    folder.mkdir()
    (folder / "book.json").write_text(json.dumps(BOOK))
    return folder


@pytest.fixture
def served(grue_home: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("GRUE_PLAYER", "SHA256:abc")
    grue_home.mkdir(parents=True, exist_ok=True)
    return grue_home


def test_a_served_player_cannot_leave_their_folder(served: Path, outside: Path) -> None:
    (served / "mine.json").write_text(json.dumps(BOOK))
    (served / "link.json").symlink_to(outside / "book.json")
    assert user_path("mine.json") == (served / "mine.json").resolve()  # relative to the home
    assert user_path("~/mine.json") == (served / "mine.json").resolve()
    for typed in (str(outside / "book.json"), "../elsewhere/book.json", "link.json",
                  "/etc/passwd"):
        with pytest.raises(OutsideHome) as refused:
            user_path(typed)
        assert str(refused.value).startswith(f"{typed}: outside your Grue folder")
        assert "\n" not in str(refused.value)
    with pytest.raises(LoreFormatError, match="outside your Grue folder"):
        find_lorebook_file(str(outside / "book.json"))
    assert find_lorebook_file("mine.json") == (served / "mine.json").resolve()
    with pytest.raises(StoreError, match="outside your Grue folder"):
        resolve_model("/etc/passwd")


def test_outside_the_server_paths_are_as_given(grue_home: Path, outside: Path,
                                               monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("GRUE_PLAYER", raising=False)
    monkeypatch.delenv("GRUE_SHARED_MODEL", raising=False)
    assert find_lorebook_file(str(outside / "book.json")) == outside / "book.json"


async def test_the_model_file_picker_refuses_a_path_outside(served: Path) -> None:
    from textual.app import App
    from textual.widgets import Input, Static

    from tui.widgets.open_model import OpenModelDialog

    app = App[None]()
    async with app.run_test(size=(80, 24), notifications=True) as pilot:
        dialog = OpenModelDialog()
        await app.push_screen(dialog)
        await pilot.pause()
        dialog.query_one(Input).value = "/etc/passwd"
        await pilot.press("enter")
        await pilot.pause()
        shown = str(dialog.query_one("#error", Static).render())
        assert shown.startswith("/etc/passwd: outside your Grue folder")
        assert dialog.checked is None
