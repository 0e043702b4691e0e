"""The world panel (Ctrl+N / F5): the world state beside the story, drawn only while shown
(docs/architecture.md, "World state", "Keys")."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from fakes import FakeBackend
from textual.pilot import Pilot
from textual.widgets import Static

from tui.app import GrueApp
from tui.engine.campaign import campaign_from_scenario
from tui.engine.character_library import load_character
from tui.engine.chat import campaign_from_card, game_for
from tui.engine.game import Game
from tui.engine.scenario import find_scenario
from tui.engine.world import AddItem, history
from tui.model_host import ModelHost
from tui.screens.adventure import AdventureScreen
from tui.widgets.world_panel import WorldPanel


def lantern_app(folder: Path) -> tuple[GrueApp, Game]:
    game = Game(campaign_from_scenario(find_scenario("lantern-road")), save_folder=folder)
    backend = FakeBackend(["You look around the cottage."])
    return GrueApp(game=game, host=ModelHost(lambda s: backend, close_backend=False)), game


async def wait_for(pilot: Pilot[Any], condition: Any, what: str) -> None:
    for _ in range(400):
        if condition():
            await pilot.pause()
            return
        await pilot.pause(0.025)
    raise AssertionError(f"timed out waiting for {what}")


async def type_line(pilot: Pilot[Any], line: str) -> None:
    for key in line:
        await pilot.press("space" if key == " " else key)
    await pilot.press("enter")
    await pilot.pause()


def drawn(panel: WorldPanel) -> str:
    """What the panel's text widget holds (not what the panel remembers)."""
    return str(panel.query_one("#world-lines", Static).render())


async def test_the_panel_shows_the_state_and_follows_commands_and_undo(tmp_path: Path) -> None:
    app, game = lantern_app(tmp_path)
    async with app.run_test(size=(80, 24), notifications=True) as pilot:
        screen = app.screen
        assert isinstance(screen, AdventureScreen)
        await wait_for(pilot, lambda: screen.model_ready, "the model")
        panel = screen.query_one(WorldPanel)
        assert not panel.display and panel.lines is None
        await pilot.press("ctrl+n")
        await pilot.pause()
        assert panel.display and (panel.region.width, screen.story.region.width) == (32, 48)
        assert "Where: the cottage by the Lantern Road" in drawn(panel)
        assert "Carrying: nothing" in drawn(panel)
        assert screen.focused is screen.action_bar.input  # the input stays usable
        await type_line(pilot, "look")
        await wait_for(pilot, lambda: screen.pending is None and len(game.campaign.turns) == 2,
                       "the turn")
        await type_line(pilot, "/inv add lantern")
        assert game.campaign.world_state().items == ["lantern"]
        assert "Carrying: lantern" in drawn(panel)
        await type_line(pilot, "/undo")  # the correction goes with the turn it follows
        assert game.campaign.world_state().items == []
        assert "Carrying: nothing" in drawn(panel)
        await type_line(pilot, "/redo")
        assert "Carrying: lantern" in drawn(panel)
        updates = panel.updates
        await type_line(pilot, "/where")  # the same lines: nothing is drawn again
        assert panel.updates == updates
        await pilot.press("f5")
        await pilot.pause()
        assert not panel.display
        assert screen.story.region.width == 80  # the story has the whole width back


async def test_a_hidden_panel_is_not_updated_until_shown(tmp_path: Path) -> None:
    app, game = lantern_app(tmp_path)
    async with app.run_test(size=(80, 24), notifications=True) as pilot:
        screen = app.screen
        assert isinstance(screen, AdventureScreen)
        await wait_for(pilot, lambda: screen.model_ready, "the model")
        panel = screen.query_one(WorldPanel)
        await type_line(pilot, "/inv add rope")
        await type_line(pilot, "/move the Thornwood")
        assert panel.updates == 0 and panel.lines is None and drawn(panel) == ""
        # A state update from the model lands (another module calls this): still nothing.
        history.record(game.campaign, [AddItem("oil flask")])
        screen.refresh_world()
        assert panel.updates == 0
        await pilot.press("ctrl+n")
        await pilot.pause()
        assert panel.updates == 1
        assert "Carrying: rope, oil flask" in drawn(panel)
        assert "Where: the Thornwood" in drawn(panel)
        history.record(game.campaign, [AddItem("[b]map[/b]")])  # untrusted: never markup
        screen.refresh_world()
        assert "Carrying: rope, oil flask, [b]map[/b]" in drawn(panel)


async def test_in_a_chat_the_key_says_there_is_no_world_state(tmp_path: Path) -> None:
    campaign = campaign_from_card(load_character("Maren Holloway"), "Ada")
    game = game_for(campaign)
    backend = FakeBackend(["Hello."])
    app = GrueApp(game=game, host=ModelHost(lambda s: backend, close_backend=False))
    async with app.run_test(size=(80, 24), notifications=True) as pilot:
        await pilot.pause()
        assert not app.screen.query(WorldPanel)
        await pilot.press("ctrl+n")
        await pilot.pause()
        messages = [str(n.message) for n in app._notifications]
        assert any(m.startswith("Chats have no world state") for m in messages), messages


async def test_a_retry_shows_the_state_of_the_new_take(tmp_path: Path) -> None:
    app, game = lantern_app(tmp_path)
    async with app.run_test(size=(80, 24), notifications=True) as pilot:
        screen = app.screen
        assert isinstance(screen, AdventureScreen)
        await wait_for(pilot, lambda: screen.model_ready, "the model")
        await type_line(pilot, "take the lantern")
        await wait_for(pilot, lambda: screen.pending is None and len(game.campaign.turns) == 2,
                       "the turn")
        await type_line(pilot, "/inv add brass lantern")  # a correction of this take
        await pilot.press("ctrl+n")
        await pilot.pause()
        panel = screen.query_one(WorldPanel)
        assert "Carrying: brass lantern" in drawn(panel)
        await pilot.press("f4")  # retry: a new take, without the old take's changes
        await wait_for(pilot, lambda: screen.pending is None
                       and len(game.campaign.turns[-1].responses) == 2, "the retry")
        assert "Carrying: nothing" in drawn(panel)


async def test_streaming_never_repaints_the_shown_panel(tmp_path: Path) -> None:
    """The panel is drawn when the state changes, never per streamed token
    (docs/architecture.md, "Screen cost")."""
    game = Game(campaign_from_scenario(find_scenario("lantern-road")), save_folder=tmp_path)
    reply = " ".join(f"word{i}" for i in range(300))
    backend = FakeBackend([reply], delay=0.005)
    app = GrueApp(game=game, host=ModelHost(lambda s: backend, close_backend=False))
    async with app.run_test(size=(80, 24), notifications=True) as pilot:
        screen = app.screen
        assert isinstance(screen, AdventureScreen)
        await wait_for(pilot, lambda: screen.model_ready, "the model")
        await pilot.press("ctrl+n")
        await pilot.pause()
        lines = screen.query_one(WorldPanel).query_one("#world-lines", Static)
        painted: list[int] = []
        original = lines.render_line

        def counted(y: int) -> Any:
            painted.append(y)
            return original(y)

        lines.render_line = counted  # type: ignore[method-assign]
        await type_line(pilot, "wait")
        await wait_for(pilot, lambda: screen.pending is not None
                       and screen.story.live is not None
                       and "word100" in screen.story.live.raw, "the reply streaming")
        assert painted == []
        await wait_for(pilot, lambda: screen.pending is None, "the end of the reply")
        assert screen.story.region.width < 80  # it streamed beside the panel
        history.record(game.campaign, [AddItem("rope")])  # a change is drawn (the spy sees it)
        screen.refresh_world()
        await pilot.pause()
        assert painted


def test_panel_text_is_cleaned_and_never_markup() -> None:
    from tui.widgets.world_panel import panel_text

    text = panel_text(["Carrying: a\x1b[31mred\x07 [b]x[/b]", "\u202eWhere: here"])
    assert text.plain == "Carrying: a[31mred [b]x[/b]\nWhere: here"
    assert [(s.start, s.end, str(s.style)) for s in text.spans] == [(0, 9, "bold"),
                                                                   (28, 34, "bold")]
