"""The world state's update in the TUI (docs/architecture.md, "World state"): in the pause
after a narration, one quiet line, the state changed and saved; a backend that cannot
constrain JSON is said once."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from fakes import FakeBackend
from test_tui_summary_update import app_for, wait_until
from textual.widgets import Static

from tui.engine.campaign import Campaign, Settings, campaign_from_scenario
from tui.engine.game import Game
from tui.engine.saves import load_save
from tui.engine.scenario import find_scenario
from tui.engine.world.propose import AFTER_STORY, TOO_LARGE, UNAVAILABLE
from tui.screens.adventure import AdventureScreen
from tui.widgets.world_panel import WorldPanel

LANTERN = json.dumps({"changes": [{"op": "add_item", "item": "[b]brass[/b] lantern"},
                                  {"op": "move", "place": "Thornwood edge"}]})


def adventure() -> Campaign:
    return campaign_from_scenario(find_scenario("lantern-road"), Settings())


def drawn(panel: WorldPanel) -> str:
    return str(panel.query_one("#world-lines", Static).render())


def notices(app) -> list[str]:  # type: ignore[no-untyped-def]
    return [str(n.message) for n in app._notifications]


@pytest.mark.parametrize("apart", [True, False], ids=["local", "server"])
async def test_after_a_turn_the_quiet_line_appears_and_the_state_changed(
        tmp_path: Path, apart: bool) -> None:
    backend = FakeBackend(["You take the lantern and walk to the edge of the wood."])
    backend.json_replies = [LANTERN]
    backend.keeps_side_prompts_apart = apart
    game = Game(adventure(), save_folder=tmp_path)
    app = app_for(game, backend)
    async with app.run_test(size=(80, 24), notifications=True) as pilot:
        screen = pilot.app.screen
        assert isinstance(screen, AdventureScreen)
        await wait_until(pilot, lambda: screen.model_ready)
        await pilot.press("ctrl+n")  # the world panel, shown: it follows the model's update
        await pilot.press(*"take lantern", "enter")
        line = "+ [b]brass[/b] lantern · → Thornwood edge"  # markup shown as text
        await wait_until(pilot, lambda: line in notices(pilot.app))
        await pilot.pause(0.1)
        assert "Thornwood edge" in drawn(screen.query_one(WorldPanel))
        state = game.campaign.world_state()
        assert state.place == "Thornwood edge" and "[b]brass[/b] lantern" in state.items
        assert len(backend.json_prompts) == 1
        asked = backend.json_prompts[0].text
        assert "take lantern" in asked
        # On a server the update is asked after the story's own prompt (its cache holds the
        # story); locally it is a prompt of its own, its worked examples cached beside.
        assert (AFTER_STORY in asked) is not apart
        assert asked.startswith(backend.prompts[0].text[:200]) is not apart
        await wait_until(pilot, lambda: not screen.world_updating)
        game.flush_saves(10)
        assert load_save(game.last_saved).world_state() == state
        await pilot.press("f6")  # undo takes the model's changes back with the turn
        await pilot.pause(0.1)
        assert game.campaign.world_state().place != "Thornwood edge"


async def test_a_backend_without_json_schema_is_said_once(tmp_path: Path) -> None:
    backend = FakeBackend(["You look around."])
    backend.json_unsupported = True
    game = Game(adventure(), save_folder=tmp_path)
    async with app_for(game, backend).run_test(size=(80, 24), notifications=True) as pilot:
        screen = pilot.app.screen
        assert isinstance(screen, AdventureScreen)
        await wait_until(pilot, lambda: screen.model_ready)
        for _ in range(2):
            await pilot.press(*"look", "enter")
            await wait_until(pilot, lambda: screen.pending is None and not screen.world_updating
                             and screen.world_due is None)
            await pilot.pause(0.2)
        assert notices(pilot.app).count(UNAVAILABLE) == 1
        assert not backend.json_prompts  # the model was not asked


async def test_a_local_cache_too_large_to_set_aside_asks_after_the_story(
        tmp_path: Path) -> None:
    """A 13B model's cache passes the 1 GB a prompt apart may copy aside within ~1,300
    tokens: the updates used to be paused ("state updates paused") for the rest of the game.
    They are asked after the story's own prompt instead, every turn."""
    backend = FakeBackend(["You take the lantern and walk to the edge of the wood."])
    backend.json_replies = [LANTERN]
    backend.can_keep_cache = lambda: False  # type: ignore[method-assign]
    game = Game(adventure(), save_folder=tmp_path)
    async with app_for(game, backend).run_test(size=(80, 24), notifications=True) as pilot:
        screen = pilot.app.screen
        assert isinstance(screen, AdventureScreen)
        await wait_until(pilot, lambda: screen.model_ready)
        for action in ("take lantern", "look"):
            await pilot.press(*action, "enter")
            await wait_until(pilot, lambda: screen.pending is None and not screen.world_updating
                             and screen.world_due is None)
            await pilot.pause(0.2)
        assert not [n for n in notices(pilot.app) if n == TOO_LARGE or "paused" in n]
        assert len(backend.json_prompts) == 2
        assert all(AFTER_STORY in p.text for p in backend.json_prompts)
        assert game.campaign.world_state().place == "Thornwood edge"


@pytest.mark.parametrize("setting", [False])
async def test_turned_off_no_update_is_asked(tmp_path: Path, setting: bool) -> None:
    backend = FakeBackend(["You look around."])
    backend.json_replies = [LANTERN]
    campaign = adventure()
    campaign.settings.world_updates = setting
    game = Game(campaign, save_folder=tmp_path)
    async with app_for(game, backend).run_test(size=(80, 24), notifications=True) as pilot:
        screen = pilot.app.screen
        assert isinstance(screen, AdventureScreen)
        await wait_until(pilot, lambda: screen.model_ready)
        await pilot.press(*"look", "enter")
        await wait_until(pilot, lambda: screen.pending is None and len(game.campaign.turns) > 1)
        await pilot.pause(0.3)
        assert backend.json_prompts == []
        assert load_save(game.last_saved).settings.world_updates is False
