"""Commands in the TUI, run through the engine's table: refused while the model writes,
texts set with an argument, and worker errors that keep their tracebacks in the log."""

from __future__ import annotations

import asyncio
import copy
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from fakes import FakeBackend

from tui.app import GrueApp
from tui.core.backend import Prompt
from tui.core.sampler import Sampler
from tui.engine.campaign import campaign_from_scenario
from tui.engine.character_library import load_character
from tui.engine.chat import campaign_from_card, game_for
from tui.engine.commands import STILL_WRITING
from tui.engine.game import Game
from tui.engine.saves import load_save, save_path
from tui.engine.scenario import find_scenario
from tui.model_host import ModelHost
from tui.screens.dialogs import HelpDialog, TextEditDialog

LOREBOOK = '{"name": "Harbor", "entries": {"0": {"uid": 0, "key": ["lamp"], "content": "Old."}}}'


class HeldBackend(FakeBackend):
    """A scripted model that, once `hold` is set, stops after its first word until
    `release` is set (or the generation is cancelled): the model is "still writing"."""

    def __init__(self, replies: list[str]) -> None:
        super().__init__(replies)
        self.hold = threading.Event()
        self.release = threading.Event()

    def stream(self, prompt: Prompt, sampler: Sampler, stop: list[str],
               cancel: threading.Event) -> Iterator[str]:
        for i, piece in enumerate(super().stream(prompt, sampler, stop, cancel)):
            yield piece
            while i == 0 and self.hold.is_set() and not self.release.is_set() \
                    and not cancel.is_set():
                self.release.wait(0.01)


class BrokenBackend(FakeBackend):
    def stream(self, prompt: Prompt, sampler: Sampler, stop: list[str],
               cancel: threading.Event) -> Iterator[str]:
        yield "The"
        raise RuntimeError("the sampler exploded")


async def wait_until(pilot, condition, timeout: float = 30.0) -> None:  # type: ignore[no-untyped-def]
    deadline = asyncio.get_running_loop().time() + timeout
    while not condition():
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError("timed out waiting for the app")
        await pilot.pause(0.05)


def adventure() -> Game:
    game = Game(campaign_from_scenario(find_scenario("lantern-road")))
    game.campaign.summary = "Before."
    return game


def chat() -> Game:
    return game_for(campaign_from_card(load_character("Maren Holloway"), "Ada"))


def notices(app: GrueApp) -> list[str]:
    return [str(n.message) for n in app._notifications]


def saved_files(folder: Path) -> dict[str, bytes]:
    """Every file of a save (a campaign folder), to see that nothing was written."""
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*"))
            if p.is_file() and p.name != "lock"}


async def refused_while_writing(game: Game, line: str, grue_home: Path) -> None:
    """Play a turn, start a held one, type `line`: refused in one line, nothing changed."""
    (grue_home / "lorebooks").mkdir(parents=True, exist_ok=True)
    (grue_home / "lorebooks" / "harbor.json").write_text(LOREBOOK)
    backend = HeldBackend(["A gull cries.", "The wind turns.", "Waves."])
    app = GrueApp(game=game, host=ModelHost(lambda s: backend, close_backend=False))
    async with app.run_test(size=(80, 24), notifications=True) as pilot:
        screen = app.screen
        await wait_until(pilot, lambda: screen.model_ready)
        await pilot.press(*"wait", "enter")
        await wait_until(pilot, lambda: screen.pending is None and len(game.campaign.turns) == 2)
        turns_before = len(game.campaign.turns)
        backend.hold.set()
        await pilot.press(*"look", "enter")
        await wait_until(pilot, lambda: screen.pending is not None)
        try:
            before = copy.deepcopy(game.campaign)
            saved = saved_files(save_path(game.campaign))
            await pilot.press(*line, "enter")
            await pilot.pause(0.2)
            assert notices(app)[-1:] == [STILL_WRITING]
            assert game.campaign == before
            assert saved_files(save_path(game.campaign)) == saved
            assert isinstance(app.screen, type(screen))  # no editor or other screen opened
        finally:
            backend.release.set()
        await wait_until(pilot, lambda: screen.pending is None
                         and len(game.campaign.turns) == turns_before + 1)


@pytest.mark.parametrize("line", [
    "/edit Oops.", "/undo", "/redo", "/retry", "/continue", "/memory A cat.",
    "/note Be grim.", "/summary They met.", "/summary off", "/lore harbor.json",
], ids=lambda line: line.split()[0][1:] + ("_" + line.split()[1] if " " in line else ""))
async def test_slash_command_while_writing_is_refused_in_an_adventure(
        line: str, grue_home: Path) -> None:
    await refused_while_writing(adventure(), line, grue_home)


@pytest.mark.parametrize("line", [
    "/edit Oops.", "/delete 0", "/swipe 2", "/swipe prev", "/persona Bob: a sailor",
    "/impersonate", "/lore harbor.json", "/memory A cat.",
], ids=lambda line: line.split()[0][1:] + ("_" + line.split()[1] if " " in line else ""))
async def test_slash_command_while_writing_is_refused_in_a_chat(
        line: str, grue_home: Path) -> None:
    await refused_while_writing(chat(), line, grue_home)


async def test_slash_edit_while_writing_is_refused(grue_home: Path) -> None:
    """The reported case: `/edit Oops.` replaced and saved the scenario's opening."""
    game = adventure()
    opening = game.campaign.turns[0].response
    await refused_while_writing(game, "/edit Oops.", grue_home)
    assert game.campaign.turns[0].response == opening
    assert not any(b"Oops." in data for data in saved_files(save_path(game.campaign)).values())


async def test_slash_summary_with_text_sets_it_in_the_tui() -> None:
    game = adventure()
    app = GrueApp(game=game, host=ModelHost(lambda s: FakeBackend(), close_backend=False))
    async with app.run_test(size=(80, 24), notifications=True) as pilot:
        screen = app.screen
        await wait_until(pilot, lambda: screen.model_ready)
        await pilot.press(*"/summary   They met at the lantern.  ", "enter")
        await pilot.pause(0.1)
        assert not isinstance(app.screen, TextEditDialog)
        assert game.campaign.summary == "They met at the lantern."
        await wait_until(pilot, lambda: not app.save_writer.pending)
        assert load_save(save_path(game.campaign)).summary == "They met at the lantern."
        await pilot.press(*"/summary", "enter")  # no argument: the editor
        await pilot.pause(0.1)
        assert isinstance(app.screen, TextEditDialog)
        await pilot.press(*" Later.  ", "ctrl+s")
        await pilot.pause(0.1)
        assert game.campaign.summary == "They met at the lantern. Later."  # stripped


async def test_help_and_messages_in_a_chat() -> None:
    game = chat()
    app = GrueApp(game=game, host=ModelHost(lambda s: FakeBackend(), close_backend=False))
    async with app.run_test(size=(80, 24), notifications=True) as pilot:
        screen = app.screen
        await wait_until(pilot, lambda: screen.model_ready)
        await pilot.press(*"/messages", "enter")
        await pilot.pause(0.1)
        assert notices(app)[-1].startswith("#0 Maren Holloway [1/")
        await pilot.press(*"/help", "enter")
        await pilot.pause(0.1)
        assert isinstance(app.screen, HelpDialog)


@pytest.mark.allow_traceback  # provoked on purpose: the log must hold it
async def test_a_failing_generation_writes_its_traceback_to_the_log(grue_home: Path) -> None:
    game = adventure()
    backend = BrokenBackend()
    app = GrueApp(game=game, host=ModelHost(lambda s: backend, close_backend=False))
    async with app.run_test(size=(80, 24), notifications=True) as pilot:
        screen = app.screen
        await wait_until(pilot, lambda: screen.model_ready)
        await pilot.press(*"wait", "enter")
        await wait_until(pilot, lambda: screen.pending is None
                         and screen.status.state == "error")
        assert any("the sampler exploded" in text for text in notices(app))
        assert len(game.campaign.turns) == 1
    log = (grue_home / "logs" / "grue.log").read_text()
    assert "Traceback (most recent call last)" in log
    assert "RuntimeError: the sampler exploded" in log
    assert "generation failed" in log
