"""Disk full or read-only home in line mode (issue "the trust pass", "Harden the classes:
disk full / read-only home"): a save that cannot be written says so in one line naming the
save, the save and backups on disk are left as they were, the game goes on, and the next save
once the disk is writable again holds every turn. Works as root too (chmod does not stop root:
`read_only` then fails every write under the folder as a read-only mount does)."""

from __future__ import annotations

import errno
import io
import os
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, ExitStack, contextmanager
from pathlib import Path

import pytest
from fakes import FakeBackend
from test_save_writer import read_only

from tui.engine.campaign import Settings, campaign_from_scenario
from tui.engine.context import ContextBuilder
from tui.engine.game import Game
from tui.engine.saves import folder as folder_module
from tui.engine.saves import load_save
from tui.engine.scenario import find_scenario
from tui.engine.templates import get_template
from tui.plain import PlainSession


@contextmanager
def disk_full(folder: Path) -> Iterator[None]:
    """Every file written under `folder` fails as on a full disk (ENOSPC)."""
    real = folder_module.write_atomic

    def full(path: Path, data: bytes, sync_folder: bool = True) -> None:
        if folder in path.parents:
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), str(path))
        real(path, data, sync_folder=sync_folder)

    folder_module.write_atomic = full  # type: ignore[assignment]
    try:
        yield
    finally:
        folder_module.write_atomic = real  # type: ignore[assignment]


@contextmanager
def full_disk_log(home: Path) -> Iterator[Path]:
    """The log file on a full disk: /dev/full opens, and every write fails with ENOSPC.
    Removed afterwards: reading /dev/full never ends (the log check after each test reads)."""
    log = home / "logs" / "grue.log"
    log.parent.mkdir(parents=True, exist_ok=True)
    log.symlink_to("/dev/full")
    try:
        yield log
    finally:
        log.unlink()


def snapshot(folder: Path) -> dict[str, bytes]:
    """Every file of a save folder (the lock aside) and its bytes."""
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*"))
            if p.is_file() and p.name != "lock"}


def session(tmp_path: Path) -> tuple[PlainSession, io.StringIO, io.StringIO]:
    game = Game(campaign_from_scenario(find_scenario("lantern-road"), Settings()),
                save_folder=tmp_path)
    fake = FakeBackend([f"The road goes on, mile {i}." for i in range(1, 20)])
    out, err = io.StringIO(), io.StringIO()
    plain = PlainSession(game, fake, out, err)
    plain.builder = ContextBuilder(fake.tokenize, 2048, 64, get_template("ChatML"))
    return plain, out, err


def play(plain: PlainSession, line: str) -> None:
    """One line as the session's loop runs it (its errors reported, the game going on)."""
    plain.run_line(line)


Unwritable = Callable[[Path], AbstractContextManager[None]]


@pytest.mark.parametrize("unwritable", [read_only, disk_full], ids=["read-only", "disk-full"])
def test_plain_a_save_that_cannot_be_written_says_not_saved_and_the_game_goes_on(
        tmp_path: Path, unwritable: Unwritable) -> None:
    plain, out, err = session(tmp_path)
    play(plain, "walk on")
    folder = plain.game.last_saved
    assert folder is not None and len(load_save(folder).turns) == 2
    play(plain, "walk on")  # a second save: a backup of the first exists now
    before = snapshot(folder)
    with unwritable(folder):
        err.seek(0), err.truncate()
        play(plain, "look around")
        lines = err.getvalue().splitlines()
        assert len(lines) == 1 and lines[0].startswith("NOT saved: "), lines
        assert folder.name in lines[0]  # names the save
        assert "could not write" in lines[0]
        play(plain, "keep going")  # the game goes on
        assert out.getvalue().rstrip().endswith("The road goes on, mile 4.")
    assert snapshot(folder) == before  # the save and its backups, untouched
    assert len(load_save(folder).turns) == 3
    err.seek(0), err.truncate()
    play(plain, "/save")  # the disk is back: the next save holds every turn
    assert "NOT saved" not in err.getvalue()
    saved = load_save(folder)
    assert len(saved.turns) == 5 and saved.turns[-1].response == "The road goes on, mile 4."


def test_plain_leaving_with_an_unsaved_game_does_not_say_saved(tmp_path: Path) -> None:
    plain, _out, err = session(tmp_path)
    play(plain, "walk on")
    folder = plain.game.last_saved
    assert folder is not None
    with read_only(folder):
        status = plain.run(io.StringIO("look around\n/quit\n"))
    assert "Saved as" not in err.getvalue()
    assert "NOT saved" in err.getvalue().splitlines()[-1]
    assert status == 1
    assert len(load_save(folder).turns) == 2


@pytest.mark.model
def test_plain_a_full_disk_at_start_up_says_the_log_cannot_be_written_and_plays_on(
        grue_home: Path) -> None:
    """Item 14: a full disk at start-up was "llama.cpp could not load" the model. Now the
    log's own trouble is said in one line and the game plays (the real model, in a pty)."""
    from pty_grue import PtyGrue

    command = ["-m", "tui.cli", "new", "lantern-road", "--plain", "--max-tokens", "8"]
    with full_disk_log(grue_home), PtyGrue(command, grue_home) as grue:
        grue.wait_for("cannot be written (No space left on device); playing on without it",
                      120)
        mark = grue.mark()
        grue.write(b"look\r")
        grue.wait_for("[do] > ", 120, start=mark)  # a turn was played
        grue.write(b"/quit\r")
        assert grue.wait_exit(60) == 0
    assert b"could not load" not in grue.output and b"Saved as" in grue.output


class ReadOnlyAfterTheUpdate:
    """Line mode's input: the first line, then (once the pause's world update has answered)
    the save folder made unwritable, and a second line whose arrival stores the update."""

    def __init__(self, plain: PlainSession, unwritable: Unwritable) -> None:
        self.plain, self.unwritable = plain, unwritable
        self.lines = ["take the lantern", "look", "/quit"]
        self.stack = ExitStack()

    def readline(self) -> str:
        job = self.plain.read_ahead_job
        if job is not None:
            job[0].join(30)
        if len(self.lines) == 2:
            assert self.plain.world_proposal is not None  # answered, not stored yet
            folder = self.plain.game.last_saved
            assert folder is not None
            self.stack.enter_context(self.unwritable(folder))
        return self.lines.pop(0) + "\n" if self.lines else ""


@pytest.mark.parametrize("unwritable", [read_only, disk_full], ids=["read-only", "disk-full"])
def test_plain_a_save_after_the_pauses_world_update_that_fails_says_not_saved(
        tmp_path: Path, unwritable: Unwritable) -> None:
    """The world update's answer is stored (and saved) when the next line arrives, outside
    the line's own handling: a save failing there ended line mode with a traceback."""
    plain, _out, err = session(tmp_path)
    plain.backend.json_replies = [  # type: ignore[attr-defined]
        '{"changes": [{"op": "add_item", "item": "road"}]}']
    lines = ReadOnlyAfterTheUpdate(plain, unwritable)
    try:
        status = plain.run(lines)  # type: ignore[arg-type]
    finally:
        lines.stack.close()
    assert "NOT saved" in err.getvalue()
    assert status == 1  # left with changes not saved, and said so
    assert "road" in plain.game.campaign.world_state().items
