from __future__ import annotations

import shutil
import time
import tomllib
from pathlib import Path

import pytest

from tui.engine.campaign import OPENING, Campaign, Turn
from tui.engine.lore import Lorebook, LoreEntry
from tui.engine.saves import (
    FORMAT_VERSION,
    SaveError,
    find_save,
    list_saves,
    load_save,
    save_path,
    write_save,
)
from tui.engine.saves import folder as folder_module
from tui.engine.saves.folder import CHUNK_TURNS

DATA = Path(__file__).parent / "data" / "saves"


def campaign(turns: int = 2) -> Campaign:
    c = Campaign(title="Saved Game", memory="Line one\nline two \"quoted\"", authors_note="Grim.")
    c.turns.append(Turn(OPENING, responses=["It begins."]))
    for i in range(turns):
        c.turns.append(Turn("do", f"> You act {i}.", [f"Reply {i}", f"Alt {i}"], chosen=1))
    c.add_lore(LoreEntry(name="Door", keys=["door"], content="An oak door."))
    c.settings.seed = 7
    return c


def chunk_files(folder: Path) -> dict[str, int]:
    """Chunk file name -> inode, to see which files a save wrote."""
    return {p.name: p.stat().st_ino for p in sorted((folder / "turns").glob("*.toml"))}


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
    state = (path / "campaign.toml").read_text()
    assert 'title = "Saved Game"' in state
    assert tomllib.loads(state)["format"] == FORMAT_VERSION
    [backup] = (path / "backups").glob("campaign-r*.toml")
    assert tomllib.loads(backup.read_text())["turn_count"] == 3  # the state before
    [live] = tomllib.loads(state)["chunks"]
    assert 'action = "> You go."' in (path / live["file"]).read_text()
    assert not list(path.rglob("*.tmp"))


def test_refuses_to_replace_with_fewer_turns_unless_deliberate() -> None:
    c = campaign(3)
    path = write_save(c)
    c.turns.pop()
    with pytest.raises(SaveError, match="would replace 4 turns with 3"):
        write_save(c)
    assert len(load_save(path).turns) == 4
    write_save(c, allow_fewer_turns=True)
    assert len(load_save(path).turns) == 3


def test_refuses_fewer_turns_from_another_copy_too() -> None:
    c = campaign(3)
    path = write_save(c)
    other = load_save(path)
    other.turns.pop()
    with pytest.raises(SaveError, match="would replace 4 turns with 3"):
        write_save(other)


@pytest.mark.parametrize("content", ["not = [toml", "", "title = 'x'\n", "\x00\x01binary"])
def test_bad_save_is_one_line_error_and_untouched(tmp_path: Path, content: str) -> None:
    path = tmp_path / "broken.toml"
    path.write_text(content)
    with pytest.raises(SaveError) as info:
        load_save(path)
    assert "broken.toml" in str(info.value) and "\n" not in str(info.value)
    assert path.read_text() == content


def test_damaged_folder_is_one_line_error_and_untouched() -> None:
    c = campaign()
    folder = write_save(c)
    [chunk] = (folder / "turns").glob("*.toml")
    chunk.write_text("[[turns]]\nmode = ")
    with pytest.raises(SaveError) as info:
        load_save(folder)
    assert folder.name in str(info.value) and chunk.name in str(info.value)
    assert "\n" not in str(info.value)
    chunk.unlink()
    with pytest.raises(SaveError, match="no such chunk"):
        load_save(folder)


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


def test_same_title_same_second_get_their_own_ids() -> None:
    created = float(int(time.time()))
    first = Campaign(title="Twin", created=created)
    second = Campaign(title="Twin", created=created + 0.5)
    assert first.id == second.id  # the same title and second make the same id...
    first.turns.append(Turn("do", "> First.", ["one"]))
    second.turns.append(Turn("do", "> Second.", ["two"]))
    a, b = write_save(first), write_save(second)
    assert a != b and second.id == f"{first.id}-2"  # ...but not the same save
    assert load_save(a).turns[0].action == "> First."
    assert load_save(b).turns[0].action == "> Second."
    write_save(first)  # each keeps writing its own
    assert len(list_saves()) == 2


def test_newer_format_is_refused_clearly_and_left_alone() -> None:
    folder = write_save(campaign())
    state = folder / "campaign.toml"
    text = state.read_text().replace(f"format = {FORMAT_VERSION}", "format = 99", 1)
    state.write_text(text)
    with pytest.raises(SaveError) as info:
        load_save(folder)
    message = str(info.value)
    assert "newer Grue" in message and "99" in message and "\n" not in message
    assert state.read_text() == text


def test_newer_single_file_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "future.toml"
    path.write_text(f'format = {FORMAT_VERSION + 1}\ntitle = "From the future"\nturns = []\n')
    with pytest.raises(SaveError, match="future.toml: saved by a newer Grue"):
        load_save(path)


def test_a_turn_rewrites_only_the_open_chunk_and_the_state() -> None:
    c = campaign(CHUNK_TURNS * 2 + 10)
    folder = write_save(c)
    before = chunk_files(folder)
    assert len(before) == 3
    c.turns.append(Turn("do", "> Onward.", ["More."]))
    write_save(c)
    after = chunk_files(folder)
    closed = sorted(before)[:2]
    assert all(after.get(name) == before[name] for name in closed)  # untouched files
    assert len(set(after) - set(before)) == 1  # one new open chunk
    assert load_save(folder).turns[-1].action == "> Onward."


def test_editing_an_old_turn_rewrites_only_its_chunk() -> None:
    c = campaign(CHUNK_TURNS * 3)
    folder = write_save(c)
    before = chunk_files(folder)
    c.turns[CHUNK_TURNS + 5].action = "> Edited long ago."
    c.turns[3].set_response("Rewritten.")
    write_save(c)
    after = chunk_files(folder)
    new = sorted(set(after) - set(before))
    assert [name.split("-")[0] for name in new] == ["000000", f"{CHUNK_TURNS:06d}"]
    back = load_save(folder)
    assert back.turns[CHUNK_TURNS + 5].action == "> Edited long ago."
    assert back.turns[3].response == "Rewritten."


def test_in_place_change_of_the_newest_turn_is_saved() -> None:
    c = campaign(3)
    folder = write_save(c)
    c.turns[-1].responses.append("A swipe added in place.")
    write_save(c)
    assert load_save(folder).turns[-1].responses[-1] == "A swipe added in place."


def test_deleting_a_middle_turn_shifts_every_later_chunk() -> None:
    c = campaign(CHUNK_TURNS + 20)
    folder = write_save(c)
    del c.turns[10]
    write_save(c, allow_fewer_turns=True)
    back = load_save(folder)
    assert [t.to_dict() for t in back.turns] == [t.to_dict() for t in c.turns]


def test_backups_are_spaced_in_time() -> None:
    c = campaign(5)
    folder = write_save(c)
    for i in range(4):
        c.turns.append(Turn("do", f"> More {i}.", ["..."]))
        write_save(c)
    [backup] = (folder / "backups").glob("campaign-r*.toml")
    assert backup.name == "campaign-r1.toml"  # the first state; the next ones are too recent
    assert len(chunk_files(folder)) == 2  # the live open chunk and the backup's


def test_old_chunks_and_backups_are_cleaned(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(folder_module, "BACKUP_SECONDS", 0.0)
    c = campaign(5)
    folder = write_save(c)
    for i in range(8):
        c.turns.append(Turn("do", f"> More {i}.", ["..."]))
        write_save(c)
    assert len(list((folder / "backups").glob("campaign-r*.toml"))) == 3
    assert len(chunk_files(folder)) == 4  # the live open chunk and the three backups' ones
    for backup in (folder / "backups").glob("campaign-r*.toml"):
        for entry in tomllib.loads(backup.read_text())["chunks"]:
            assert (folder / entry["file"]).exists()


def test_stale_temp_files_and_orphans_go_on_the_next_save() -> None:
    c = campaign()
    folder = write_save(c)
    (folder / ".campaign.toml.abc.tmp").write_text("half")
    (folder / "turns" / ".000000-r9.toml.x.tmp").write_text("half")
    (folder / "turns" / "000000-r9.toml").write_text("orphan")
    again = load_save(folder)
    again.turns.append(Turn("do", "> Go.", ["Went."]))
    write_save(again)
    assert not list(folder.rglob("*.tmp"))
    assert not (folder / "turns" / "000000-r9.toml").exists()


def test_two_copies_in_one_process_do_not_lose_turns() -> None:
    c = campaign()
    folder = write_save(c)
    stale = load_save(folder)
    c.turns.append(Turn("do", "> Newer.", ["..."]))
    write_save(c)
    stale.turns.append(Turn("do", "> Stale.", ["..."]))
    with pytest.raises(SaveError, match="changed this save since it was opened"):
        write_save(stale)
    assert load_save(folder).turns[-1].action == "> Newer."


def test_single_file_save_migrates_to_a_folder(tmp_path: Path) -> None:
    [old] = (DATA / "format1").glob("*.toml")
    saves = tmp_path / "saves"
    saves.mkdir()
    path = saves / old.name
    shutil.copy(old, path)
    assert [s.turns for s in list_saves(saves)] == [3]
    c = load_save(path)
    assert c.title == "The Lantern Road" and len(c.turns) == 3
    assert c.turns[1].action == "> You open the mailbox."
    assert c.settings.seed == 1 and c.world_info.entries
    assert save_path(c, saves) == saves / c.id
    c.turns.append(Turn("do", "> You light the lamp.", ["It glows."]))
    folder = write_save(c, saves)
    assert folder == saves / c.id and not path.exists()
    assert (folder / "backups" / f"format1-{old.name}").read_bytes() == old.read_bytes()
    back = load_save(folder)
    assert [t.action for t in back.turns][1:] == ["> You open the mailbox.", '> You say "Hello."',
                                                  "> You light the lamp."]
    assert back.memory == c.memory and back.world_info.to_dict() == c.world_info.to_dict()
    assert [s.turns for s in list_saves(saves)] == [4]


def test_single_file_kept_until_the_folder_is_complete(tmp_path: Path) -> None:
    """A kill after the folder's state is in place but before the old file moved aside."""
    [old] = (DATA / "format1").glob("*.toml")
    saves = tmp_path / "saves"
    saves.mkdir()
    path = saves / old.name
    shutil.copy(old, path)
    c = load_save(path)
    folder = write_save(c, saves)
    shutil.copy(old, path)  # as if the move had not happened
    assert [s.path for s in list_saves(saves)] == [folder]
    assert load_save(path).turns == c.turns  # the folder wins


def test_old_chunks_are_read_when_first_used() -> None:
    from tui.engine.saves.lazy import LazyTurn

    c = campaign(CHUNK_TURNS * 4)
    folder = write_save(c)
    before = chunk_files(folder)
    back = load_save(folder)
    assert isinstance(back.turns[0], LazyTurn) and type(back.turns[-1]) is Turn
    back.turns.append(Turn("do", "> Later.", ["..."]))
    write_save(back)  # a save neither parses nor rewrites the old chunks
    assert isinstance(back.turns[0], LazyTurn)
    assert all(chunk_files(folder).get(name) == ino for name, ino in sorted(before.items())[:3])
    assert back.turns[5].action == "> You act 4." and type(back.turns[5]) is Turn
    assert type(back.turns[CHUNK_TURNS - 1]) is Turn  # its whole chunk was read
    assert isinstance(back.turns[CHUNK_TURNS], LazyTurn)  # not the next one
    assert back.turns[CHUNK_TURNS + 1] == c.turns[CHUNK_TURNS + 1]
    back.turns[CHUNK_TURNS * 2 + 3].chosen = 0  # an edit of an unread turn
    write_save(back)
    again = load_save(folder)
    assert again.turns[CHUNK_TURNS * 2 + 3].response == f"Reply {CHUNK_TURNS * 2 + 2}"
    assert [t.to_dict() for t in again.turns] == [t.to_dict() for t in back.turns]


def test_a_hand_edited_old_chunk_is_checked_at_load() -> None:
    c = campaign(CHUNK_TURNS * 3)
    folder = write_save(c)
    state = tomllib.loads((folder / "campaign.toml").read_text())
    oldest = folder / state["chunks"][0]["file"]
    oldest.write_text(oldest.read_text().replace("> You act 3.", "> You act three."))
    back = load_save(folder)
    assert type(back.turns[4]) is Turn and back.turns[4].action == "> You act three."
    oldest.write_text(oldest.read_text().replace("[[turns]]", "[[turns", 1))
    with pytest.raises(SaveError, match="not valid TOML"):
        load_save(folder)


def test_lore_changes_are_saved_though_its_text_is_reused() -> None:
    c = campaign()
    c.lorebooks.append(Lorebook(name="Attached", entries=[LoreEntry(name="A", keys=["a"])]))
    folder = write_save(c)
    c.turns.append(Turn("do", "> Go.", ["Gone."]))
    write_save(c)
    c.world_info.entries[0].keys.append("gate")  # in place
    c.lorebooks[0].entries.append(LoreEntry(name="B", content="Bee."))
    c.memory = "New memory."
    write_save(c)
    back = load_save(folder)
    assert back.world_info.entries[0].keys == ["door", "gate"]
    assert [e.name for e in back.lorebooks[0].entries] == ["A", "B"]
    assert back.memory == "New memory." and back.lorebooks[0].name == "Attached"
    assert back.world_info.to_dict() == c.world_info.to_dict()


def test_deeply_nested_save_is_one_line_error_and_skipped_in_lists() -> None:
    write_save(campaign())
    saves = save_path(campaign()).parent
    deep = saves / "deep.toml"
    deep.write_text("turns = []\nx = " + "[" * 5000 + "]" * 5000 + "\n")
    with pytest.raises(SaveError) as info:
        load_save(deep)
    assert "deep.toml" in str(info.value) and "\n" not in str(info.value)
    assert [s.title for s in list_saves()] == ["Saved Game"]


def test_a_full_disk_says_so_and_keeps_the_last_save(monkeypatch: pytest.MonkeyPatch) -> None:
    import errno

    from tui.core import files

    c = campaign()
    folder = write_save(c)

    def full(fd: int) -> None:
        raise OSError(errno.ENOSPC, "No space left on device")

    c.turns.append(Turn("do", "> Go.", ["Gone."]))
    with monkeypatch.context() as patch:
        patch.setattr(files.os, "fsync", full)
        with pytest.raises(SaveError, match="could not write: No space left") as info:
            write_save(c)
    assert "\n" not in str(info.value)
    assert len(load_save(folder).turns) == 3
    assert not list(folder.rglob("*.tmp"))
    write_save(c)  # the game goes on: the next save works
    assert len(load_save(folder).turns) == 4


def test_any_text_survives_the_chunk_format() -> None:
    import random

    from tui.engine.saves.codec import turn_text

    rng = random.Random(7)
    alphabet = ["a", "b", " ", "'", '"', "\\", "\n", "\r", "\t", "\x00", "\x1b", "\x7f", "é",
                "字", "\u202e", "'''", '"""', "[[turns]]", "\n[[turns]]\n"]
    for _ in range(2000):
        texts = ["".join(rng.choice(alphabet) for _ in range(rng.randrange(0, 120)))
                 for _ in range(3)]
        long = rng.choice(["", "x" * 90]) + texts[2]
        turn = Turn("do", texts[0], [texts[1], long], chosen=1)
        assert tomllib.loads(turn_text(turn))["turns"] == [turn.to_dict()]


def test_carriage_returns_survive_in_state_and_turns() -> None:
    c = campaign()
    c.memory = "line one\r\nline two\rthree\n"
    c.world_info.entries[0].content = "a\r\nb"
    c.turns.append(Turn("do", "> Go.\r\n", ["one\r\ntwo\n" * 20]))
    back = load_save(write_save(c))
    assert back.memory == c.memory and back.world_info.entries[0].content == "a\r\nb"
    assert back.turns[-1].to_dict() == c.turns[-1].to_dict()


class Killed(BaseException):
    """Stands for SIGKILL: nothing after it runs, no cleanup of ours."""


@pytest.mark.parametrize("kill_at", [1, 2])
def test_a_kill_between_the_chunk_and_the_state_keeps_the_last_save(
        monkeypatch: pytest.MonkeyPatch, kill_at: int) -> None:
    """Issue 10: a kill between two renames lost the campaign. Kill after the chunk's rename
    (1) or in the middle of the state's write (2)."""
    import os

    c = campaign(3)
    folder = write_save(c)
    calls = {"n": 0}
    real_replace = os.replace

    def replace_then_die(src: str, dst: str) -> None:
        calls["n"] += 1
        if calls["n"] == kill_at:
            if kill_at == 1:
                real_replace(src, dst)
            raise Killed
        real_replace(src, dst)

    c.turns.append(Turn("do", "> Killed here.", ["..."]))
    with monkeypatch.context() as patch:
        patch.setattr(os, "replace", replace_then_die)
        patch.setattr(Path, "unlink", lambda self, missing_ok=False: None)
        with pytest.raises(Killed):
            write_save(c)
    back = load_save(folder)  # a fresh process would see this
    assert len(back.turns) == 4 and back.turns[-1].action == "> You act 2."
    assert [s.path for s in list_saves()] == [folder]
    again = load_save(folder)  # the next session
    again.turns.append(Turn("do", "> Next session.", ["ok"]))
    write_save(again)
    assert not list(folder.rglob("*.tmp"))
    assert len(load_save(folder).turns) == 5


def test_old_single_file_temp_files_are_cleaned(tmp_path: Path) -> None:
    import os

    saves = tmp_path / "saves"
    saves.mkdir()
    [old] = (DATA / "format1").glob("*.toml")
    shutil.copy(old, saves / old.name)
    stale = saves / f".{old.stem}.x1y2.tmp"
    stale.write_text("half of an old save")
    os.utime(stale, (time.time() - 3600, time.time() - 3600))
    write_save(load_save(saves / old.name), saves)
    assert not stale.exists()


def test_player_turns_are_listed_without_reading_turns() -> None:
    c = campaign(3)  # an opening and three player turns
    folder = write_save(c)
    [summary] = list_saves()
    assert (summary.turns, summary.player_turns) == (4, 3)
    back = load_save(folder)
    back.turns.append(Turn("do", "> More.", ["."]))
    write_save(back)
    assert list_saves()[0].player_turns == 4


def test_the_list_reads_only_the_state_files_first_lines(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """The save list takes its fields from the state file's leading one-line values
    (`read_header`), the same values a full parse gives, whatever the title holds; a file
    without them there (hand-written, older) is parsed whole."""
    c = campaign(3)
    c.title = 'A "quoted" title \\ with = signs, émigré and [brackets]'
    c.memory = "x" * 5000 + "\ntitle = 'not this'"  # long and multi-line, after the header
    folder = write_save(c)
    state = tomllib.loads((folder / "campaign.toml").read_text(encoding="utf-8"))
    header = folder_module.read_header(folder)
    assert header is not None
    assert header == {k: state[k] for k in folder_module.HEADER_KEYS}
    full_parses: list[Path] = []
    real_read_state = folder_module.read_state
    monkeypatch.setattr(folder_module, "read_state",
                        lambda f: full_parses.append(f) or real_read_state(f))
    [summary] = list_saves()
    assert (summary.title, summary.turns, summary.player_turns) == (c.title, 4, 3)
    assert full_parses == []
    # The title moved after the multi-line memory: the whole file is read, same answer.
    state_file = folder / "campaign.toml"
    lines = state_file.read_text(encoding="utf-8").splitlines(keepends=True)
    title_line = next(line for line in lines if line.startswith("title = "))
    lines.remove(title_line)
    state_file.write_text("".join(lines).replace("[settings]", title_line + "[settings]", 1),
                          encoding="utf-8")
    assert tomllib.loads(state_file.read_text(encoding="utf-8"))["title"] == c.title
    assert folder_module.read_header(folder) is None
    [summary] = list_saves()
    assert summary.title == c.title and full_parses == [folder]


def test_rename_and_delete_a_save_folder() -> None:
    from tui.engine.saves import delete_save, rename_save

    c = campaign(CHUNK_TURNS + 3)
    folder = write_save(c)
    new = rename_save(folder, "A  New   Name")
    assert new != folder and not folder.exists() and new.name.startswith("a-new-name-")
    back = load_save(new)
    assert back.title == "A New Name" and len(back.turns) == len(c.turns)
    assert back.turns[CHUNK_TURNS - 1].to_dict() == c.turns[CHUNK_TURNS - 1].to_dict()
    with pytest.raises(SaveError, match="needs a name"):
        rename_save(new, "   ")
    delete_save(new)
    assert not new.exists() and list_saves() == []


def test_a_second_copy_of_a_campaign_never_deletes_the_live_chunks(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """A campaign object not read from its folder (same id and start time) writes there too;
    the chunks the live state names must survive until its own state replaces it."""
    import os

    c = campaign(5)
    folder = write_save(c)
    twin = Campaign(title=c.title, id=c.id, created=c.created)
    twin.turns = [Turn(t.mode, t.action, list(t.responses), t.chosen) for t in c.turns]
    twin.turns.append(Turn("do", "> From the twin.", ["."]))
    real_replace = os.replace

    def die_on_state(src: str, dst: str) -> None:
        if str(dst).endswith("campaign.toml"):
            raise Killed
        real_replace(src, dst)

    with monkeypatch.context() as patch:
        patch.setattr(os, "replace", die_on_state)
        with pytest.raises(Killed):
            write_save(twin)
    assert len(load_save(folder).turns) == 6  # the live save still loads whole
