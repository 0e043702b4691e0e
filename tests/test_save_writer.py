"""Saves written off the playing thread: a snapshot made when the game saves, written in order
by one writer thread, newest wins, failures reported and the previous save left intact."""

from __future__ import annotations

import errno
import os
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from tui.engine.campaign import OPENING, Campaign, Turn
from tui.engine.game import Game
from tui.engine.saves import commit_save, load_save, prepare_save, write_save
from tui.engine.saves import folder as folder_module
from tui.engine.saves import writer as writer_module
from tui.engine.saves.folder import CHUNK_TURNS
from tui.engine.saves.writer import WRITER_THREAD, SaveResult, SaveWriter


def campaign(turns: int = 2) -> Campaign:
    c = Campaign(title="Writer Test")
    c.turns.append(Turn(OPENING, responses=["It begins."]))
    for i in range(turns):
        c.turns.append(Turn("do", f"> You act {i}.", [f"Reply {i}"]))
    return c


def add_turn(c: Campaign, text: str) -> None:
    c.turns.append(Turn("do", "> You go on.", [text]))


class Gate:
    """Holds the writer inside its first write until released; records every write."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.entered = threading.Event()
        self.release = threading.Event()
        self.writes: list[tuple[int, str]] = []  # (turns in the plan, thread name)
        real = writer_module.commit_save

        def gated(plan):  # type: ignore[no-untyped-def]
            self.writes.append((plan.turn_count, threading.current_thread().name))
            self.entered.set()
            assert self.release.wait(30)
            return real(plan)

        monkeypatch.setattr(writer_module, "commit_save", gated)


@pytest.fixture
def writer() -> Iterator[SaveWriter]:
    w = SaveWriter()
    yield w
    w.close(30)


def test_a_save_is_written_on_the_writer_thread_not_the_caller(
        tmp_path: Path, writer: SaveWriter, monkeypatch: pytest.MonkeyPatch) -> None:
    gate = Gate(monkeypatch)
    game = Game(campaign(), tmp_path)
    game.writer = writer
    heard: list[SaveResult] = []
    game.on_saved = heard.append
    game.save()  # returns while the write waits at the gate
    assert gate.entered.wait(30)
    assert writer.pending and not heard
    gate.release.set()
    assert writer.flush(30)
    assert gate.writes == [(3, WRITER_THREAD)]
    assert threading.current_thread().name != WRITER_THREAD
    assert [r.ok for r in heard] == [True]
    assert len(load_save(tmp_path / game.campaign.id).turns) == 3


def test_saves_queued_behind_a_write_are_coalesced_into_the_newest(
        tmp_path: Path, writer: SaveWriter, monkeypatch: pytest.MonkeyPatch) -> None:
    gate = Gate(monkeypatch)
    game = Game(campaign(), tmp_path)
    game.writer = writer
    heard: list[SaveResult] = []
    game.on_saved = heard.append
    game.save()
    assert gate.entered.wait(30)
    for i in range(3):  # three saves wait while the first is written
        add_turn(game.campaign, f"Queued {i}")
        game.save()
    game.campaign.memory = "Remembered."
    game.save()
    gate.release.set()
    assert writer.flush(30)
    assert [turns for turns, _ in gate.writes] == [3, 6]  # the first, then the newest once
    assert len(heard) == 5 and all(r.ok for r in heard)  # every save hears it is on disk
    saved = load_save(tmp_path / game.campaign.id)
    assert [t.response for t in saved.turns[-3:]] == ["Queued 0", "Queued 1", "Queued 2"]
    assert saved.memory == "Remembered."


def test_the_snapshot_is_the_state_when_saved_not_when_written(tmp_path: Path) -> None:
    c = campaign()
    plan = prepare_save(c, tmp_path)
    add_turn(c, "After the snapshot")  # play goes on while the writer has the plan
    c.turns[1].responses[0] = "Changed after"
    c.memory = "Later."
    commit_save(plan)
    saved = load_save(tmp_path / c.id)
    assert len(saved.turns) == 3 and saved.turns[1].response == "Reply 0"
    assert saved.memory == ""


def test_an_older_state_is_never_written_after_a_newer_one(tmp_path: Path) -> None:
    c = campaign()
    write_save(c, tmp_path)
    add_turn(c, "Second")
    older = prepare_save(c, tmp_path)
    add_turn(c, "Third")
    newer = prepare_save(c, tmp_path)
    commit_save(newer)
    commit_save(older)  # late: skipped
    assert [t.response for t in load_save(tmp_path / c.id).turns[-2:]] == ["Second", "Third"]


def test_a_skipped_save_hands_its_chunks_to_the_newer_one(tmp_path: Path) -> None:
    """A closed chunk rewritten by a save that is never written (coalesced away) is written
    with the newer save that names it: the state never names a missing file."""
    c = campaign(CHUNK_TURNS + 10)
    write_save(c, tmp_path)
    c.turns[5].set_response("Edited in the first chunk.")
    edited = prepare_save(c, tmp_path)  # rewrites the closed first chunk
    add_turn(c, "Newest")
    newest = prepare_save(c, tmp_path)  # names the first chunk as `edited` made it
    commit_save(newest)
    commit_save(edited)  # skipped
    saved = load_save(tmp_path / c.id)
    assert saved.turns[5].response == "Edited in the first chunk."
    assert saved.turns[-1].response == "Newest"
    assert len(saved.turns) == len(c.turns)


@contextmanager
def read_only(folder: Path) -> Iterator[None]:
    """`folder` refuses writes inside the block: chmod, and for root (whom chmod does not stop)
    every atomic write under it fails the way a read-only mount makes it fail."""
    dirs = [p for p in [folder, *folder.rglob("*")] if p.is_dir()]
    for path in dirs:
        path.chmod(0o555)
    real = folder_module.write_atomic

    def refuse(path: Path, data: bytes, sync_folder: bool = True) -> None:
        if folder in path.parents:
            raise OSError(errno.EROFS, os.strerror(errno.EROFS), str(path))
        real(path, data, sync_folder=sync_folder)

    if os.geteuid() == 0:
        folder_module.write_atomic = refuse  # type: ignore[assignment]
    try:
        yield
    finally:
        folder_module.write_atomic = real  # type: ignore[assignment]
        for path in dirs:
            path.chmod(0o755)


def test_a_failed_write_is_reported_and_the_previous_save_kept(
        tmp_path: Path, writer: SaveWriter) -> None:
    game = Game(campaign(), tmp_path)
    game.save()  # inline: the save on disk before the folder turns read-only
    folder = tmp_path / game.campaign.id
    game.writer = writer
    heard: list[SaveResult] = []
    game.on_saved = heard.append
    with read_only(folder):
        add_turn(game.campaign, "Lost for now")
        game.save()
        assert writer.flush(30)
    assert len(heard) == 1 and not heard[0].ok
    assert "could not write" in heard[0].error and "\n" not in heard[0].error
    assert len(load_save(folder).turns) == 3  # the previous save, intact
    add_turn(game.campaign, "Written")
    game.save()
    assert writer.flush(30)
    assert heard[-1].ok
    saved = load_save(folder)
    assert [t.response for t in saved.turns[-2:]] == ["Lost for now", "Written"]


def test_closing_the_writer_writes_what_is_queued(tmp_path: Path,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    gate = Gate(monkeypatch)
    writer = SaveWriter()
    game = Game(campaign(), tmp_path)
    game.writer = writer
    game.save()
    assert gate.entered.wait(30)
    add_turn(game.campaign, "Queued at exit")
    game.save()
    threading.Timer(0.2, gate.release.set).start()
    assert writer.close(30)
    assert load_save(tmp_path / game.campaign.id).turns[-1].response == "Queued at exit"


def test_a_save_after_the_writer_closed_is_written_at_once(tmp_path: Path) -> None:
    writer = SaveWriter()
    assert writer.close(30)
    game = Game(campaign(), tmp_path)
    game.writer = writer
    game.save()  # e.g. the hang-up watchdog's last save, after the app has unmounted
    assert len(load_save(tmp_path / game.campaign.id).turns) == 3
