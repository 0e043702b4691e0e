"""The TUI saves off its UI thread: keys keep working while a save is written, the status line
says "saved" only once it is on disk, a failure says "NOT saved: <reason>", and leaving the game
or the app waits for saves still being written."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest
from fakes import FakeBackend
from test_save_writer import read_only
from test_tui_adventure import host_with, new_game, wait_until

from tui.app import GrueApp
from tui.engine.saves import load_save, save_path, write_save
from tui.engine.saves import writer as writer_module
from tui.engine.saves.writer import WRITER_THREAD
from tui.screens.adventure import AdventureScreen
from tui.screens.home import HomeScreen


class SlowDisk:
    """Every save waits at a gate before it is written; records the writing thread."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.release = threading.Event()
        self.entered = threading.Event()
        self.threads: list[str] = []
        real = writer_module.commit_save

        def slow(plan):  # type: ignore[no-untyped-def]
            self.threads.append(threading.current_thread().name)
            self.entered.set()
            assert self.release.wait(60)
            return real(plan)

        monkeypatch.setattr(writer_module, "commit_save", slow)


async def play_a_turn(pilot, screen: AdventureScreen, turns: int) -> None:  # type: ignore[no-untyped-def]
    await pilot.press(*"open the mailbox", "enter")
    await wait_until(pilot, lambda: screen.pending is None
                     and len(screen.game.campaign.turns) == turns)


async def test_a_slow_save_does_not_block_keys_and_saved_shows_when_written(
        monkeypatch: pytest.MonkeyPatch) -> None:
    disk = SlowDisk(monkeypatch)
    game = new_game()
    app = GrueApp(game=game, host=host_with(FakeBackend(["A letter flutters out."])))
    async with app.run_test(size=(80, 24), notifications=True) as pilot:
        screen = app.screen
        assert isinstance(screen, AdventureScreen)
        await wait_until(pilot, lambda: screen.model_ready)
        await play_a_turn(pilot, screen, 2)
        assert disk.entered.wait(30)  # the save is stuck in the writer...
        assert screen.status.state.startswith("saving…")
        await pilot.press(*"look")  # ...and keys are still handled
        assert screen.action_bar.input.value == "look"
        assert disk.threads == [WRITER_THREAD] != [threading.current_thread().name]
        disk.release.set()
        await wait_until(pilot, lambda: screen.status.state == "saved")
    assert load_save(save_path(game.campaign)).turns[-1].response == "A letter flutters out."


async def test_ctrl_q_waits_for_the_save_being_written(monkeypatch: pytest.MonkeyPatch) -> None:
    disk = SlowDisk(monkeypatch)
    game = new_game()
    app = GrueApp(game=game, host=host_with(FakeBackend(["Rain drums on the window."])))
    async with app.run_test(size=(80, 24), notifications=True) as pilot:
        screen = app.screen
        await wait_until(pilot, lambda: screen.model_ready)
        await play_a_turn(pilot, screen, 2)
        assert disk.entered.wait(30)
        threading.Timer(0.3, disk.release.set).start()  # the disk answers while Ctrl+Q waits
        await pilot.press("ctrl+q")
        await wait_until(pilot, lambda: isinstance(app.screen, HomeScreen))
        assert not app.save_writer.pending
        assert load_save(save_path(game.campaign)).turns[-1].response == \
            "Rain drums on the window."


async def test_app_exit_and_hang_up_flush_pending_saves(monkeypatch: pytest.MonkeyPatch) -> None:
    disk = SlowDisk(monkeypatch)
    game = new_game()
    app = GrueApp(game=game, host=host_with(FakeBackend(["The lamp goes out."])))
    async with app.run_test(size=(80, 24), notifications=True) as pilot:
        screen = app.screen
        await wait_until(pilot, lambda: screen.model_ready)
        await play_a_turn(pilot, screen, 2)
        assert disk.entered.wait(30)
        game.campaign.memory = "Set just before the terminal went away."
        threading.Timer(0.3, disk.release.set).start()
        app.hang_up()  # what SIGHUP runs on the event loop: save, flush, exit
    saved = load_save(save_path(game.campaign))
    assert saved.turns[-1].response == "The lamp goes out."
    assert saved.memory == "Set just before the terminal went away."


async def test_a_failed_save_says_not_saved_and_keeps_the_previous_save() -> None:
    game = new_game()
    folder = write_save(game.campaign)  # the save made when the game started
    app = GrueApp(game=game, host=host_with(FakeBackend(["A letter flutters out."])))
    async with app.run_test(size=(80, 24), notifications=True) as pilot:
        screen = app.screen
        await wait_until(pilot, lambda: screen.model_ready)
        with read_only(folder):
            await play_a_turn(pilot, screen, 2)
            await wait_until(pilot, lambda: screen.status.state.startswith("NOT saved: "))
        assert "could not write" in screen.status.state
        assert any(n.severity == "error" and "could not write" in n.message
                   for n in app._notifications)
        assert len(load_save(folder).turns) == 1  # the previous save, intact
        await pilot.press("ctrl+s")  # the player saves again once the disk is back
        await wait_until(pilot, lambda: screen.status.state == "saved")
        assert load_save(folder).turns[-1].response == "A letter flutters out."


def test_line_mode_games_save_inline(tmp_path: Path) -> None:
    """Line mode has no UI to keep responsive: its Game has no writer and saves at once."""
    game = new_game()
    game.save_folder = tmp_path
    assert game.writer is None and game.saved_word == "saved"
    path = game.save()
    assert path is not None and load_save(path).title == game.campaign.title


async def test_saved_shows_when_the_report_is_handled_before_the_writer_is_idle(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """The writer reports a save from its thread, then marks itself idle: when the screen
    handled the report first, it took the save being reported for a newer one on its way,
    and "saving…" stayed on the status line until the next save (seen after a turn)."""
    handled = threading.Event()
    original = AdventureScreen.on_save_finished

    def on_save_finished(self, message):  # type: ignore[no-untyped-def]
        original(self, message)
        handled.set()

    monkeypatch.setattr(AdventureScreen, "on_save_finished", on_save_finished)
    game = new_game()
    app = GrueApp(game=game, host=host_with(FakeBackend(["A letter flutters out."])))
    async with app.run_test(size=(80, 24), notifications=True) as pilot:
        screen = app.screen
        assert isinstance(screen, AdventureScreen)
        await wait_until(pilot, lambda: screen.model_ready)
        report = game.on_saved
        assert report is not None

        def report_and_wait(result):  # type: ignore[no-untyped-def]
            handled.clear()
            report(result)
            assert handled.wait(10)  # the writer is still busy with this save meanwhile

        game.on_saved = report_and_wait
        await play_a_turn(pilot, screen, 2)
        await wait_until(pilot, lambda: handled.is_set() and not game.writer.pending)
        await pilot.pause(0.2)
        assert screen.status.state == "saved"
