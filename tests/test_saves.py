from __future__ import annotations

from pathlib import Path

import pytest

from tui.engine.campaign import OPENING, Campaign, Turn
from tui.engine.lore import LoreEntry
from tui.engine.saves import SaveError, find_save, list_saves, load_save, write_save


def campaign(turns: int = 2) -> Campaign:
    c = Campaign(title="Saved Game", memory="Line one\nline two \"quoted\"", authors_note="Grim.")
    c.turns.append(Turn(OPENING, responses=["It begins."]))
    for i in range(turns):
        c.turns.append(Turn("do", f"> You act {i}.", [f"Reply {i}", f"Alt {i}"], chosen=1))
    c.add_lore(LoreEntry(name="Door", keys=["door"], content="An oak door."))
    c.settings.seed = 7
    return c


def test_round_trip_keeps_everything() -> None:
    c = campaign()
    path = write_save(c)
    back = load_save(path)
    assert back.title == c.title and back.memory == c.memory
    assert [t.to_dict() for t in back.turns] == [t.to_dict() for t in c.turns]
    assert back.world_info.entries[0].keys == ["door"]
    assert back.settings.seed == 7
    assert back.id == c.id


def test_save_is_readable_toml_with_backups() -> None:
    c = campaign()
    path = write_save(c)
    c.turns.append(Turn("do", "> You go.", ["Gone."]))
    write_save(c)
    assert path.with_suffix(".toml.bak1").exists()
    assert 'title = "Saved Game"' in path.read_text()
    assert not list(path.parent.glob("*.tmp"))


def test_refuses_to_replace_with_fewer_turns_unless_deliberate() -> None:
    c = campaign(3)
    path = write_save(c)
    c.turns.pop()
    with pytest.raises(SaveError, match="would replace 4 turns with 3"):
        write_save(c)
    assert len(load_save(path).turns) == 4
    write_save(c, allow_fewer_turns=True)
    assert len(load_save(path).turns) == 3


@pytest.mark.parametrize("content", ["not = [toml", "", "title = 'x'\n", "\x00\x01binary"])
def test_bad_save_is_one_line_error_and_untouched(tmp_path: Path, content: str) -> None:
    path = tmp_path / "broken.toml"
    path.write_text(content)
    with pytest.raises(SaveError) as info:
        load_save(path)
    assert "broken.toml" in str(info.value) and "\n" not in str(info.value)
    assert path.read_text() == content


def test_find_newest_and_by_name() -> None:
    a = campaign()
    a.updated = 1.0
    write_save(a)
    b = Campaign(title="Other One")
    b.updated = 2.0
    write_save(b)
    assert [s.title for s in list_saves()] == ["Other One", "Saved Game"]
    assert find_save(None).stem == b.id
    assert find_save("saved game").stem == a.id
    with pytest.raises(SaveError):
        find_save("nothing-like-it")
