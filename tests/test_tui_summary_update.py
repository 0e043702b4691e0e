"""The story-so-far update between turns and what the player does meanwhile (issue "the trust
pass", item 7): Ctrl+Q stops it at once and leaves the campaign as it was; a command that
changes the story drops it instead of racing it; a turn asked for meanwhile is played after it,
and the update is kept."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from fakes import FakeBackend

from tui.app import GrueApp
from tui.core.backend import Backend, Prompt
from tui.core.sampler import Sampler
from tui.engine.campaign import Campaign, Settings, Turn, campaign_from_scenario
from tui.engine.game import Game
from tui.engine.saves import load_save
from tui.engine.scenario import find_scenario
from tui.model_host import ModelHost
from tui.screens.adventure import AdventureScreen
from tui.screens.home import HomeScreen

SUMMARY = "You walked far along the lantern road, " + "past farm after farm, " * 60 + "at last."


class CountingBackend(FakeBackend):
    """A fake model that writes slowly and counts the words of each reply it gave."""

    def __init__(self, replies: list[str]) -> None:
        super().__init__(replies, n_ctx=2048, delay=0.02)
        self.given: list[int] = []

    def stream(self, prompt: Prompt, sampler: Sampler, stop: list[str],
               cancel: threading.Event) -> Iterator[str]:
        self.given.append(0)
        for piece in super().stream(prompt, sampler, stop, cancel):
            self.given[-1] += 1
            yield piece


def long_campaign(settings: Settings | None = None, turns: int = 150) -> Campaign:
    campaign = campaign_from_scenario(find_scenario("lantern-road"), settings or Settings())
    for i in range(turns):
        campaign.turns.append(Turn("do", f"> You walk on, step {i}.", [
            f"The road winds past farm {i}, where a miller named Tom waves at you. "
            "Night falls slowly over the hills and the river."]))
    campaign.summary_enabled = True
    return campaign


async def wait_until(pilot, condition, timeout: float = 60.0) -> None:  # type: ignore[no-untyped-def]
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not condition():
        assert loop.time() < deadline, "timed out waiting for the app"
        await pilot.pause(0.02)


def app_for(game: Game, backend: Backend) -> GrueApp:
    return GrueApp(game=game, host=ModelHost(lambda config: backend, close_backend=False))


async def play_until_updating(pilot, screen: AdventureScreen,  # type: ignore[no-untyped-def]
                              timeout: float = 60.0) -> None:
    await wait_until(pilot, lambda: screen.model_ready, timeout)
    await pilot.press(*"look", "enter")
    await wait_until(pilot, lambda: screen.summarizing and screen.pending is None, timeout)


async def test_undo_during_a_story_so_far_update_drops_the_update(tmp_path: Path) -> None:
    backend = CountingBackend(["You look around.", SUMMARY])
    game = Game(long_campaign(), save_folder=tmp_path)
    async with app_for(game, backend).run_test(size=(80, 24), notifications=True) as pilot:
        screen = pilot.app.screen
        assert isinstance(screen, AdventureScreen)
        # A 2,048-token read and a 200-token reply: minutes on a busy 2-core machine.
        await play_until_updating(pilot, screen, timeout=300)
        turns = len(game.campaign.turns)
        await pilot.press("f6")  # undo, while the model writes the update
        await wait_until(pilot, lambda: not screen.summarizing)
        await pilot.pause(0.3)  # a late update would land here
        assert len(game.campaign.turns) == turns - 1  # the undo was done
        assert (game.campaign.summary, game.campaign.summary_upto) == ("", 0)  # untouched
        assert backend.given[-1] < len(SUMMARY.split())  # the update was stopped
        saved = load_save(game.last_saved)
        assert len(saved.turns) == turns - 1 and saved.summary == ""


async def test_ctrl_q_during_a_story_so_far_update_stops_it_and_keeps_the_save(
        tmp_path: Path) -> None:
    backend = CountingBackend(["You look around.", SUMMARY])
    game = Game(long_campaign(), save_folder=tmp_path)
    app = app_for(game, backend)
    async with app.run_test(size=(80, 24), notifications=True) as pilot:
        screen = app.screen
        assert isinstance(screen, AdventureScreen)
        await play_until_updating(pilot, screen)
        turns = len(game.campaign.turns)
        await pilot.press("ctrl+q")
        await wait_until(pilot, lambda: isinstance(app.screen, HomeScreen))
        await wait_until(pilot, lambda: not app.host.worker.busy and not screen.summarizing)
        assert backend.given[-1] < len(SUMMARY.split())  # stopped, not written to its end
        saved = load_save(game.last_saved)
        assert len(saved.turns) == turns and saved.summary == ""  # the turn, nothing half-done
        await pilot.press("ctrl+q")
    assert not app.is_running
    assert not app.host.worker._thread.is_alive()  # the model thread ended with the app


async def test_a_turn_asked_for_during_the_update_drops_it_until_the_next_pause(
        tmp_path: Path) -> None:
    """Never between Enter and the first word: the turn plays at once, the update being
    written is dropped, and the pause after the turn drafts it again."""
    backend = CountingBackend(["You look around.", SUMMARY, "A fox crosses the road.",
                               "You walked far. The road is long."])
    backend.delay = 0.05
    game = Game(long_campaign(), save_folder=tmp_path)
    async with app_for(game, backend).run_test(size=(80, 24), notifications=True) as pilot:
        screen = pilot.app.screen
        assert isinstance(screen, AdventureScreen)
        await play_until_updating(pilot, screen)
        await pilot.press(*"wait", "enter")  # typed while the update is written
        await wait_until(pilot, lambda: screen.pending is None
                         and game.campaign.turns[-1].response == "A fox crosses the road.")
        assert backend.given[1] < len(SUMMARY.split())  # the first draft was stopped
        await wait_until(pilot, lambda: not screen.summarizing
                         and game.campaign.summary == "You walked far. The road is long.")
        game.flush_saves(10.0)  # saves are written on the writer thread
        assert load_save(game.last_saved).summary_upto == game.campaign.summary_upto > 0


async def test_esc_during_the_update_stops_it(tmp_path: Path) -> None:
    backend = CountingBackend(["You look around.", SUMMARY])
    game = Game(long_campaign(), save_folder=tmp_path)
    async with app_for(game, backend).run_test(size=(80, 24), notifications=True) as pilot:
        screen = pilot.app.screen
        assert isinstance(screen, AdventureScreen)
        await play_until_updating(pilot, screen)
        await pilot.press("escape")
        await wait_until(pilot, lambda: not screen.summarizing)
        assert backend.given[-1] < len(SUMMARY.split()) and game.campaign.summary == ""


@pytest.mark.model
async def test_real_model_undo_and_quit_during_a_story_so_far_update(
        smol_path: Path, tmp_path: Path) -> None:
    settings = Settings(model=str(smol_path), n_ctx=2048, max_new_tokens=200, seed=3)
    game = Game(long_campaign(settings, turns=120), save_folder=tmp_path)
    app = GrueApp(game=game)
    async with app.run_test(size=(80, 24), notifications=True) as pilot:
        screen = app.screen
        assert isinstance(screen, AdventureScreen)
        # A 2,048-token read and a 200-token reply: minutes on a busy 2-core machine.
        await play_until_updating(pilot, screen, timeout=300)
        turns = len(game.campaign.turns)
        await pilot.press("f6")
        await wait_until(pilot, lambda: not screen.summarizing)
        await pilot.pause(0.3)
        assert len(game.campaign.turns) == turns - 1
        assert (game.campaign.summary, game.campaign.summary_upto) == ("", 0)
        await pilot.press(*"look", "enter")
        await wait_until(pilot, lambda: screen.summarizing and screen.pending is None, 300)
        await pilot.press("ctrl+q")
        await wait_until(pilot, lambda: isinstance(app.screen, HomeScreen))
        await wait_until(pilot, lambda: not app.host.worker.busy and not screen.summarizing,
                         120)
        saved = load_save(game.last_saved)
        assert len(saved.turns) == turns and saved.summary == ""
        await pilot.press("ctrl+q")
    assert not app.is_running and not app.host.worker._thread.is_alive()
