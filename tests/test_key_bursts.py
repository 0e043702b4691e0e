"""Keys that arrive in one burst (type-ahead, SSH packing keystrokes) are all applied, in order,
before a save or a focus change acts (issue "the trust pass", item 1).

Pilot's `press` waits for the app to go idle after every key; a burst is posted here all at
once, as a terminal delivers one `read()` of many keys."""

from __future__ import annotations

import asyncio
import copy
from pathlib import Path

import pytest
from fakes import FakeBackend
from test_tui_commands import HeldBackend
from textual import events
from textual.keys import _character_to_key

from tui.app import KEY_HOLD_CHECK_SECONDS, GrueApp
from tui.engine.campaign import Settings, campaign_from_scenario
from tui.engine.commands import STILL_WRITING
from tui.engine.game import Game
from tui.engine.scenario import find_scenario
from tui.model_host import ModelHost
from tui.screens.dialogs import TextEditDialog
from tui.screens.world_info import WorldInfoScreen


async def wait_until(pilot, condition, timeout: float = 30.0) -> None:  # type: ignore[no-untyped-def]
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not condition():
        assert loop.time() < deadline, "timed out waiting for the app"
        await pilot.pause(0.05)


def burst(app: GrueApp, *parts: str) -> None:
    """Post every key at once: text parts are typed character by character, and parts in
    angle brackets are key names (`<tab>`, `<ctrl+s>`)."""
    for part in parts:
        if part.startswith("<") and part.endswith(">"):
            key = part[1:-1]
            app.post_message(events.Key(key, "\t" if key == "tab" else None))
            continue
        for char in part:
            app.post_message(events.Key(_character_to_key(char), char))


def new_app(tmp_path: Path) -> tuple[GrueApp, Game]:
    game = Game(campaign_from_scenario(find_scenario("derelict-meridian"), Settings()),
                save_folder=tmp_path)
    host = ModelHost(backend_factory=lambda config: FakeBackend(), close_backend=False)
    return GrueApp(game=game, host=host), game


async def test_memory_typed_in_a_burst_then_ctrl_s_is_saved_whole(tmp_path: Path) -> None:
    app, game = new_app(tmp_path)
    game.campaign.memory = "You are a salvager."
    async with app.run_test(size=(80, 24), notifications=True) as pilot:
        await pilot.press("f2")
        await wait_until(pilot, lambda: isinstance(app.screen, TextEditDialog))
        await pilot.pause()
        burst(app, " Reyes carries a plasma cutter and a torch.", "<ctrl+s>")
        await wait_until(pilot, lambda: not isinstance(app.screen, TextEditDialog))
        await pilot.pause()
        assert game.campaign.memory == (
            "You are a salvager. Reyes carries a plasma cutter and a torch.")


async def test_a_tab_in_a_burst_moves_the_rest_to_the_next_field(tmp_path: Path) -> None:
    app, game = new_app(tmp_path)
    before = {e.name for e in game.campaign.world_info.entries}
    async with app.run_test(size=(80, 24), notifications=True) as pilot:
        await pilot.press("f9")
        await wait_until(pilot, lambda: isinstance(app.screen, WorldInfoScreen))
        await pilot.pause()
        await pilot.press("a")
        await wait_until(pilot, lambda: app.screen.query("#name") and app.focused is not None
                         and app.focused.id == "name")
        burst(app, "Pod", "<tab>", "pod, pods", "<ctrl+s>")
        await wait_until(pilot, lambda: len(game.campaign.world_info.entries) > len(before))
        added = [e for e in game.campaign.world_info.entries if e.name not in before]
        assert [(e.name, e.keys) for e in added] == [("Pod", ["pod", "pods"])]


async def test_a_world_panel_toggle_in_a_burst_keeps_the_keys_around_it(tmp_path: Path) -> None:
    from tui.widgets.world_panel import WorldPanel

    app, game = new_app(tmp_path)
    async with app.run_test(size=(80, 24), notifications=True) as pilot:
        await pilot.pause()
        burst(app, "/inv add rope", "<enter>", "<ctrl+n>", "/inv add map", "<enter>", "look")
        await wait_until(pilot, lambda: "map" in game.campaign.world_state().items)
        await pilot.pause()
        panel = app.screen.query_one(WorldPanel)
        assert panel.display and panel.lines is not None
        assert any(line.endswith("rope, map") for line in panel.lines), panel.lines
        assert app.screen.action_bar.input.value == "look"  # type: ignore[attr-defined]


async def test_keys_after_closing_a_screen_are_never_held_for_good(tmp_path: Path) -> None:
    """Ctrl+S on the settings screen: the hold's refresh callback is parked on the screen
    current when it is scheduled, and one that closes before its next refresh drops it (as
    a busy machine did in a served game: every later key waited, the game looked frozen).
    Dropped here on purpose; the keys must still arrive."""
    app, game = new_app(tmp_path)
    async with app.run_test(size=(80, 24), notifications=True) as pilot:
        await wait_until(pilot, lambda: "ready" in str(app.screen.status.render()))
        await pilot.press("f12")
        await wait_until(pilot, lambda: type(app.screen).__name__ == "SettingsScreen"
                         and app.focused is not None)
        app.call_after_refresh = lambda *args, **kwargs: True  # type: ignore[method-assign]
        burst(app, "<ctrl+s>", "look around")
        await wait_until(pilot, lambda: type(app.screen).__name__ == "AdventureScreen"
                         and app.screen.action_bar.input.value == "look around")


async def test_keys_wait_for_an_action_that_runs_late(tmp_path: Path,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    """A busy machine had not yet carried the world info screen's "a" up to the app (where
    its binding runs) at the hold's first timer check; that check saw the same screen, let
    "Pod" go to the entry list, and no entry was made. The screen is made slow here on
    purpose: the keys must wait until the action has run."""
    app, game = new_app(tmp_path)
    before = {e.name for e in game.campaign.world_info.entries}

    async def slow_key(self: WorldInfoScreen, event: events.Key) -> None:
        if event.key == "a":
            await asyncio.sleep(KEY_HOLD_CHECK_SECONDS * 3)

    monkeypatch.setattr(WorldInfoScreen, "on_key", slow_key, raising=False)
    async with app.run_test(size=(80, 24), notifications=True) as pilot:
        await pilot.press("f9")
        await wait_until(pilot, lambda: isinstance(app.screen, WorldInfoScreen)
                         and app.focused is not None)
        burst(app, "a", "Pod", "<tab>", "pod, pods", "<ctrl+s>")
        await wait_until(pilot, lambda: len(game.campaign.world_info.entries) > len(before))
        added = [e for e in game.campaign.world_info.entries if e.name not in before]
        assert [(e.name, e.keys) for e in added] == [("Pod", ["pod", "pods"])]



def held_app(tmp_path: Path) -> tuple[GrueApp, Game, HeldBackend]:
    game = Game(campaign_from_scenario(find_scenario("derelict-meridian"), Settings()),
                save_folder=tmp_path)
    backend = HeldBackend(["The hatch groans.", "Dust drifts.", "A light blinks."])
    return GrueApp(game=game, host=ModelHost(lambda s: backend, close_backend=False)), game, backend


async def test_lines_in_a_burst_while_the_model_writes_are_kept_in_order(tmp_path: Path) -> None:
    """Enter while the model writes is refused and the line stays in the input. The refusal
    came after the input was cleared, and was put back later, over what the burst had typed
    since: `look around` ended after `open`, and the refused `/undo` was gone."""
    app, game, backend = held_app(tmp_path)
    async with app.run_test(size=(80, 24), notifications=True) as pilot:
        screen = app.screen
        await wait_until(pilot, lambda: screen.model_ready)
        backend.hold.set()
        try:
            await pilot.press(*"wait", "enter")
            await wait_until(pilot, lambda: screen.pending is not None)
            before = copy.deepcopy(game.campaign)
            burst(app, "look around", "<enter>", "/undo", "<enter>", " open")
            await pilot.pause(0.5)
            assert screen.action_bar.input.value == "look around/undo open"
            assert [str(n.message) for n in app._notifications][-2:] == [STILL_WRITING] * 2
            assert game.campaign == before
        finally:
            backend.release.set()
        await wait_until(pilot, lambda: screen.pending is None)
        await pilot.pause()
        assert screen.action_bar.input.value == "look around/undo open"
        assert game.campaign.turns[-1].action == "> You wait."


async def test_a_line_typed_ahead_of_a_turn_that_starts_is_kept_before_the_rest(
        tmp_path: Path) -> None:
    """Lines in one burst while the model is idle: the first starts a turn, and the others,
    refused once it writes, stay in the input in order, ahead of the keys typed after them."""
    app, game, backend = held_app(tmp_path)
    async with app.run_test(size=(80, 24), notifications=True) as pilot:
        screen = app.screen
        await wait_until(pilot, lambda: screen.model_ready)
        backend.hold.set()
        try:
            burst(app, "look around", "<enter>", "open the hatch", "<enter>", "wait", "<enter>",
                  " now")
            await wait_until(pilot, lambda: screen.pending is not None)
            await pilot.pause(0.5)
            assert screen.action_bar.input.value == "open the hatchwait now"
        finally:
            backend.release.set()
        await wait_until(pilot, lambda: screen.pending is None)
        assert game.campaign.turns[-1].action == "> You look around."


async def test_lines_refused_after_they_left_the_input_come_back_in_order() -> None:
    """Two lines taken, then both refused (a room refuses each when its answer comes): the
    second went back in front of the first."""
    from textual.app import App, ComposeResult

    from tui.widgets.action_bar import ActionBar

    class Bar(App[None]):
        def compose(self) -> ComposeResult:
            yield ActionBar()

    app = Bar()
    async with app.run_test(size=(80, 24)) as pilot:
        bar = app.query_one(ActionBar)
        bar.input.value = " now"  # typed after both lines were sent
        bar.keep_refused("run away")
        bar.keep_refused("hide")
        assert bar.input.value == "run awayhide now"
        await pilot.press("enter")  # sent again: what is refused next goes in front anew
        await pilot.pause()
        bar.input.value = "later"
        bar.keep_refused("hide")
        assert bar.input.value == "hidelater"


async def test_a_mistyped_command_stays_in_the_input(tmp_path: Path) -> None:
    """A refused `/undo` with the next line typed after it makes `/undowait`: unknown, it was
    taken from the input with the warning and lost. A line Enter cannot use stays."""
    app, game, backend = held_app(tmp_path)
    async with app.run_test(size=(80, 24), notifications=True) as pilot:
        screen = app.screen
        await wait_until(pilot, lambda: screen.model_ready)
        await pilot.press(*"/udno", "enter")
        await pilot.pause()
        assert screen.action_bar.input.value == "/udno"
        assert [str(n.message) for n in app._notifications][-1:] == [
            "unknown command /udno; try /help"]
        screen.action_bar.input.value = ""
        backend.hold.set()
        try:
            await pilot.press(*"look", "enter")
            await wait_until(pilot, lambda: screen.pending is not None)
            burst(app, "/undo", "<enter>", "wait", "<enter>", " here")
            await pilot.pause(0.5)
            assert screen.action_bar.input.value == "/undowait here"
            assert [str(n.message) for n in app._notifications][-2:] == [
                STILL_WRITING, "unknown command /undowait; try /help"]
        finally:
            backend.release.set()
        await wait_until(pilot, lambda: screen.pending is None)
