"""Every past save format is stored under tests/data/saves/format<N>/ and migrates."""

from __future__ import annotations

import shutil
import tomllib
from pathlib import Path

import pytest

from tui.engine.campaign import Turn
from tui.engine.saves import FORMAT_VERSION, SaveError, dumps, list_saves, load_save, write_save
from tui.engine.saves.migrate import STEPS, upgrade
from tui.engine.world import AddItem
from tui.engine.world.history import record

DATA = Path(__file__).parent / "data" / "saves"
PAST = list(range(1, FORMAT_VERSION))


def stored(version: int) -> Path:
    folder = DATA / f"format{version}"
    [save] = [p for p in sorted(folder.iterdir()) if p.suffix == ".toml" or p.is_dir()]
    return save


def test_every_past_version_has_a_stored_save_and_a_step() -> None:
    assert sorted(int(p.name.removeprefix("format")) for p in DATA.glob("format*")) == PAST
    assert [version for version, _ in STEPS] == PAST  # ordered, one step per version


@pytest.mark.parametrize("version", PAST)
def test_stored_save_of_each_past_version_loads_and_migrates(version: int, tmp_path: Path
                                                              ) -> None:
    original = stored(version)
    saves = tmp_path / "saves"
    saves.mkdir()
    copy = saves / original.name
    if original.is_dir():
        shutil.copytree(original, copy)
    else:
        shutil.copy(original, copy)
    c = load_save(copy)
    assert c.title == "The Lantern Road" and c.turns[1].action == "> You open the mailbox."
    before = tomllib.loads(dumps(c))
    c.turns.append(Turn("do", "> You light the lamp.", ["It glows."]))
    folder = write_save(c, saves)
    state = tomllib.loads((folder / "campaign.toml").read_text())
    assert state["format"] == FORMAT_VERSION
    back = load_save(folder)
    after = tomllib.loads(dumps(back))
    assert after["turns"][:-1] == before["turns"]
    assert {k: v for k, v in after.items() if k not in ("turns", "updated")} == \
        {k: v for k, v in before.items() if k not in ("turns", "updated")}
    assert [s.path for s in list_saves(saves)] == [folder]


def test_a_save_from_before_the_format_key_is_format_1(tmp_path: Path) -> None:
    text = stored(1).read_text().replace("format = 1\n", "", 1)
    path = tmp_path / "older.toml"
    path.write_text(text)
    assert len(load_save(path).turns) == 3


def test_steps_run_in_order_from_the_save_version() -> None:
    data = {"format": 1, "title": "x", "turns": []}
    assert upgrade(data, "x.toml")["format"] == FORMAT_VERSION
    with pytest.raises(SaveError, match="newer Grue"):
        upgrade({"format": FORMAT_VERSION + 1}, "x.toml")
    with pytest.raises(SaveError, match="not a version"):
        upgrade({"format": "two"}, "x.toml")


def test_format_2_note_depth_3_was_the_default_and_becomes_1(tmp_path: Path) -> None:
    """Depth 3 could not be chosen by a player before format 3: it was the default, which
    made every turn re-read the prompt from three actions up; now the note sits just before
    the newest action."""
    saves = tmp_path / "saves"
    shutil.copytree(stored(2), saves / stored(2).name)
    assert "note_depth = 3" in (saves / stored(2).name / "campaign.toml").read_text()
    assert load_save(saves / stored(2).name).note_depth == 1
    assert upgrade({"format": 2, "note_depth": 5, "turns": []}, "x")["note_depth"] == 5


def test_format_3_has_no_world_state_and_starts_with_an_empty_one(tmp_path: Path) -> None:
    saves = tmp_path / "saves"
    shutil.copytree(stored(3), saves / stored(3).name)
    assert "world" not in tomllib.loads((saves / stored(3).name / "campaign.toml").read_text())
    c = load_save(saves / stored(3).name)
    assert c.world_state().is_empty() and all(not t.changes for t in c.turns)
    record(c, [AddItem("brass lantern")])
    folder = write_save(c, saves)
    state = tomllib.loads((folder / "campaign.toml").read_text())
    assert state["format"] == 4 and state["world"]["items"] == ["brass lantern"]
    assert upgrade({"format": 3, "turns": []}, "x")["world"] == {}
