"""The context inspector driven with Pilot at 80x24, on a scripted model."""

from __future__ import annotations

import asyncio
import re

from fakes import FakeBackend
from textual.app import App
from textual.widgets import Static
from textual.widgets._footer import FooterKey

from tui.engine.adventure import adventure_spec
from tui.engine.campaign import Campaign, Settings, Turn
from tui.engine.lore import Lorebook, LoreEntry, LoreSettings
from tui.model_host import ModelHost
from tui.screens.context_inspector import NOT_LOADED, ContextInspectorScreen

MEMORY = "You carry [bold]no lamp[/bold] and a <|im_start|> rune."


def make_campaign() -> Campaign:
    campaign = Campaign(title="Cave", memory=MEMORY)
    campaign.turns = [Turn(mode="opening", responses=["A dragon sleeps by the castle gate."])]
    campaign.world_info = Lorebook(name="World info", token_budget=12, entries=[
        LoreEntry(uid="d", name="Dragon", keys=["dragon"], order=200,
                  content="The dragon is old."),
        LoreEntry(uid="c", name="Castle", keys=["castle"], order=100,
                  content="The castle has seven towers and a moat full of eels."),
        LoreEntry(uid="s", name="Sky", keys=["sky"], content="Grey."),
    ])
    return campaign


class Host(App[None]):
    def __init__(self, campaign: Campaign, host: ModelHost, **kwargs: object) -> None:
        super().__init__()
        self.screen_args = (campaign, host, kwargs)

    def on_mount(self) -> None:
        campaign, host, kwargs = self.screen_args
        self.push_screen(ContextInspectorScreen(campaign, host, **kwargs))  # type: ignore[arg-type]


def loaded_host() -> ModelHost:
    host = ModelHost(backend_factory=lambda s: FakeBackend(n_ctx=1024), close_backend=False)
    host.load(Settings(max_new_tokens=100))
    return host


def text_of(app: App[None], selector: str) -> str:
    return str(app.screen.query_one(selector, Static).render())


async def wait_for_report(pilot, screen: ContextInspectorScreen) -> None:  # type: ignore[no-untyped-def]
    for _ in range(200):
        if screen.report is not None:
            await pilot.pause()
            return
        await asyncio.sleep(0.02)
    raise AssertionError("no report")


async def test_shows_fired_dropped_and_totals() -> None:
    host = loaded_host()
    try:
        app = Host(make_campaign(), host)
        async with app.run_test(size=(80, 24), notifications=True) as pilot:
            screen = app.screen
            assert isinstance(screen, ContextInspectorScreen)
            await wait_for_report(pilot, screen)
            report = screen.report
            assert report is not None
            lore = text_of(app, "#lore")
            assert "✓ Dragon (World info)" in lore and 'key "dragon"' in lore
            assert "✗ Castle (World info)" in lore and "budget full" in lore
            assert "Sky" not in lore  # never matched: neither fired nor dropped
            summary = text_of(app, "#summary")
            rows = re.findall(r"^(\w[\w ]*?)\s+(\d+)\s+[\d.]+%$", summary, re.MULTILINE)
            assert rows and sum(int(n) for _, n in rows) == report.total_tokens
            assert f"Total{report.total_tokens:>17}" in summary
            assert f"Prompt {report.total_tokens} of {report.budget} tokens" in summary
            assert (report.window, report.budget) == (1024, 1024 - 160)  # 160: max_new_tokens
            prompt = text_of(app, "#prompt")
            assert MEMORY in prompt  # markup-like text and template markers shown literally
            assert "The dragon is old." in prompt
            for seg in report.segments:
                assert f"{seg.tokens} tok @{seg.start}" in prompt
            shown = [k.description for k in screen.query(FooterKey)
                     if k.region.width and screen.region.contains_region(k.region)]
            for key in ("Close", "Rebuild", "Lore", "Prompt"):
                assert key in shown
            await pilot.press("p")  # jump to the prompt
            await pilot.pause()
            assert screen.query_one("#body").scroll_y > 0
            await pilot.press("escape")
            await pilot.pause()
            assert not isinstance(app.screen, ContextInspectorScreen)
    finally:
        host.shutdown()


async def test_spec_factory_and_lore_budget() -> None:
    host = loaded_host()
    campaign = make_campaign()
    campaign.world_info.token_budget = None

    def spec(c: Campaign):  # type: ignore[no-untyped-def]
        s = adventure_spec(c, "> You look at the sky.")
        s.lore_settings = LoreSettings(budget_tokens=0)
        return s

    try:
        app = Host(campaign, host, spec_factory=spec)
        async with app.run_test(size=(80, 24), notifications=True) as pilot:
            screen = app.screen
            await wait_for_report(pilot, screen)  # type: ignore[arg-type]
            lore = text_of(app, "#lore")
            assert "World info fired (0)" in lore
            assert "✗ Sky" in lore and "world-info budget full (0 tokens)" in lore
            assert "You look at the sky." in text_of(app, "#prompt")
    finally:
        host.shutdown()


async def test_no_model_is_one_clear_line() -> None:
    host = ModelHost(backend_factory=lambda s: FakeBackend(), close_backend=False)
    try:
        app = Host(make_campaign(), host)
        async with app.run_test(size=(80, 24), notifications=True) as pilot:
            await pilot.pause()
            assert text_of(app, "#status") == NOT_LOADED
            assert len(NOT_LOADED) <= 78
            assert text_of(app, "#prompt") == ""
    finally:
        host.shutdown()


async def test_the_inspector_shows_the_prompt_enter_would_send(tmp_path) -> None:  # type: ignore[no-untyped-def]
    """F10 with an action typed shows that action's prompt; with none, the continuation's
    (an empty Enter continues): what the next Enter sends, not a prompt never sent."""
    from tui.app import GrueApp
    from tui.engine.campaign import campaign_from_scenario
    from tui.engine.game import Game
    from tui.engine.scenario import find_scenario
    from tui.screens.adventure import AdventureScreen

    game = Game(campaign_from_scenario(find_scenario("lantern-road"), None),
                save_folder=tmp_path)
    host = ModelHost(backend_factory=lambda s: FakeBackend(n_ctx=2048), close_backend=False)
    app = GrueApp(game=game, host=host)
    async with app.run_test(size=(80, 24), notifications=True) as pilot:
        adventure = app.screen
        assert isinstance(adventure, AdventureScreen)
        for _ in range(400):
            if adventure.model_ready:
                break
            await pilot.pause(0.05)
        for typed, expected in (("wave at the dark trees", "You wave at the dark trees."),
                                ("", None)):
            adventure.action_bar.input.value = typed
            await pilot.press("f10")
            inspector = app.screen
            assert isinstance(inspector, ContextInspectorScreen)
            await wait_for_report(pilot, inspector)
            assert inspector.report is not None
            if expected:
                assert expected in inspector.report.text
            else:
                continuing = game.request_continue().spec
                report, _cached = await asyncio.to_thread(host.build_with_cache,
                                                          game.campaign, continuing)
                assert inspector.report.tokens == report.tokens
            await pilot.press("escape")


async def test_lore_fired_by_the_world_state_says_so() -> None:
    """An entry keyed to an item carried fires though the story never names it, and the
    inspector says why (docs/architecture.md, "World state")."""
    from tui.engine.world import WorldState

    campaign = make_campaign()
    campaign.world = WorldState(place="the castle gate", items=["brass lantern"])
    campaign.world_info.token_budget = 200
    campaign.world_info.entries.append(
        LoreEntry(uid="l", name="Lantern", keys=["lantern"], content="It burns blue."))
    host = loaded_host()
    try:
        app = Host(campaign, host)
        async with app.run_test(size=(80, 24), notifications=True) as pilot:
            screen = app.screen
            assert isinstance(screen, ContextInspectorScreen)
            await wait_for_report(pilot, screen)
            lore = text_of(app, "#lore")
            assert "✓ Lantern (World info)" in lore
            assert 'state: item "brass lantern" (key "lantern")' in lore
    finally:
        host.shutdown()
