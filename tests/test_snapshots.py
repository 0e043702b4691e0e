"""Snapshot tests: every screen and dialog at 80x24, in the default colours and in 16 colours.

Each view is drawn twice: as Textual draws it on a true-colour terminal, and as a 16-colour
terminal (`TERM=screen`, the default inside tmux and screen) receives it. The SVGs live in
`tests/__snapshots__/test_snapshots/`. After a deliberate change to a view, run
`pytest tests/test_snapshots.py --snapshot-update`, look at the new pictures, and commit them;
a failing run writes `snapshot_report.html` with the old and new pictures side by side.

Everything a view shows is pinned: a scripted model (tests/fakes.py), fixed dates and time
zone, a fixed machine size for the models screen, and one home folder at a fixed path (a lock
keeps two test runs on one machine from sharing it at the same time).
"""

from __future__ import annotations

import fcntl
import json
import os
import shutil
import time
from collections.abc import Awaitable, Callable, Iterator
from functools import lru_cache
from pathlib import Path
from typing import Any

import pytest
from fakes import FakeBackend
from rich.color import ColorSystem, ColorType
from rich.segment import Segment
from rich.style import Style
from test_gguf_info import good_kvs, make_gguf
from textual.app import App
from textual.color import Color
from textual.filter import LineFilter
from textual.pilot import Pilot
from textual.widgets import Input, TextArea

from tui.app import GrueApp
from tui.core.backend import BackendError, ModelInfo, ProgressCallback
from tui.engine.actions import Mode
from tui.engine.campaign import OPENING, Campaign, Turn
from tui.engine.character_library import load_character
from tui.engine.chat import campaign_from_card, game_for
from tui.engine.game import Game
from tui.engine.lore import Lorebook, LoreEntry
from tui.engine.saves import write_save
from tui.engine.world import Person, WorldState
from tui.model_host import ModelHost
from tui.screens.adventure import AdventureScreen
from tui.screens.chat import ChatScreen
from tui.screens.context_inspector import ContextInspectorScreen
from tui.screens.dialogs import HelpDialog, TextEditDialog
from tui.screens.home import HomeScreen
from tui.screens.models import ModelsScreen
from tui.screens.scenario_setup import OptionPickDialog, QuestionDialog
from tui.screens.settings import SettingsScreen
from tui.screens.world_info import WorldInfoScreen
from tui.widgets.confirm import ConfirmDialog
from tui.widgets.lore_form import LoreEntryDialog
from tui.widgets.open_model import OpenModelDialog

SIZE = (80, 24)
SNAPSHOT_HOME = Path("/tmp/grue-snapshots/home")  # shown on screen: the same on every machine
FIXED_TIME = 1_767_268_800.0  # 2026-01-01 12:00 UTC: save dates and campaign ids
GIB = 1024**3
MACHINE_MEMORY = (4 * GIB, 3 * GIB)  # total, free: what the models screen sizes models by
WAIT_STEPS = 400  # × 0.025 s: how long to wait for a model, a worker or a screen

RunBefore = Callable[[Pilot[Any]], Awaitable[None]]


# --- 16 colours ---------------------------------------------------------------------------------


@lru_cache(maxsize=4096)
def sixteen_colour_style(style: Style) -> Style:
    """The style as Rich writes it to a 16-colour terminal: each colour is replaced by the
    nearest of the standard 16, as Textual's output does when `TERM=screen` (it renders in
    true colour and lets Rich downgrade every colour to the terminal's colour system)."""
    color = style.color.downgrade(ColorSystem.STANDARD) if style.color else None
    bgcolor = style.bgcolor.downgrade(ColorSystem.STANDARD) if style.bgcolor else None
    return style + Style.from_color(color, bgcolor)


class SixteenColours(LineFilter):
    """A line filter that shows a screen as a 16-colour terminal receives it.

    With `TERM=screen` (and no `COLORTERM`), Rich picks the standard colour system and
    Textual's `Strip.render` downgrades every colour it writes. A screenshot, though, is always
    exported in true colour, so setting the colour system (`TERM`, or Textual's
    `TEXTUAL_COLOR_SYSTEM=standard`) would not show in it; this filter applies the same
    downgrade to what the screenshot is made from."""

    def apply(self, segments: list[Segment], background: Color) -> list[Segment]:
        return [Segment(text, sixteen_colour_style(style) if style else style, control)
                for text, style, control in segments]


def in_colours(app: App[Any], colours: str) -> App[Any]:
    if colours == "16":
        own_filters = app.get_line_filters
        app.get_line_filters = lambda: [*own_filters(), SixteenColours()]  # type: ignore[method-assign]
    return app


@pytest.fixture(params=["default", "16"], ids=["default", "16colours"])
def colours(request: pytest.FixtureRequest) -> str:
    return str(request.param)


# --- a pinned world -----------------------------------------------------------------------------


@pytest.fixture(scope="module")
def snapshot_home_lock() -> Iterator[None]:
    """One test run at a time uses the fixed home folder."""
    SNAPSHOT_HOME.parent.mkdir(parents=True, exist_ok=True)
    with (SNAPSHOT_HOME.parent / "lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        yield


@pytest.fixture(autouse=True)
def pinned(snapshot_home_lock: None, grue_home: Path,
           monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """A fresh home at a fixed path, UTC, and a fixed machine size."""
    shutil.rmtree(SNAPSHOT_HOME, ignore_errors=True)
    SNAPSHOT_HOME.mkdir(parents=True)
    monkeypatch.setenv("GRUE_HOME", str(SNAPSHOT_HOME))
    total, free = MACHINE_MEMORY
    for module in ("tui.models.memory", "tui.models.recommend", "tui.screens.models"):
        monkeypatch.setattr(f"{module}.total_memory_bytes", lambda: total, raising=False)
        monkeypatch.setattr(f"{module}.available_memory_bytes", lambda: free, raising=False)
    old_tz = os.environ.get("TZ")
    os.environ["TZ"] = "UTC"
    time.tzset()
    try:
        yield SNAPSHOT_HOME
    finally:
        if old_tz is None:
            os.environ.pop("TZ", None)
        else:
            os.environ["TZ"] = old_tz
        time.tzset()


def fake_host(backend: FakeBackend | None = None) -> ModelHost:
    chosen = backend or FakeBackend(["The lantern gutters."])
    return ModelHost(lambda config: chosen, close_backend=False)


class BrokenModel(FakeBackend):
    """A model file that cannot be loaded: the error notice."""

    def load(self, progress: ProgressCallback | None = None) -> ModelInfo:
        raise BackendError("lantern-7b.Q4_K_M.gguf: not a GGUF file (bad magic)")


def pinned_campaign(**fields: Any) -> Campaign:
    return Campaign(created=FIXED_TIME, updated=FIXED_TIME, **fields)


def short_story() -> Campaign:
    campaign = pinned_campaign(
        title="The Lantern Road",
        memory="You are a travelling lamplighter. Your lamp is nearly out of oil.",
        authors_note="Keep the tone eerie.",
    )
    campaign.turns = [
        Turn(mode=OPENING, responses=[
            "The last light of the day drains out of the sky as you reach the cottage. "
            "A mailbox leans by the gate, its red flag raised."]),
        Turn(mode=Mode.DO.value, action="> You open the mailbox.", responses=[
            "Inside lies a letter sealed with green wax, addressed to you in a hand you "
            "do not know."]),
        Turn(mode=Mode.SAY.value, action='> You say "Is anyone home?"', responses=[
            "Nobody answers. Somewhere behind the cottage, a [bold]door[/bold] bangs in "
            "the wind."]),
    ]
    campaign.world_info = Lorebook(name="World info", entries=[
        LoreEntry(uid="m", name="Mailbox", keys=["mailbox", "letter", "flag"],
                  content="The mailbox holds a wax-sealed letter from Warden Ilse."),
        LoreEntry(uid="w", name="Warden Ilse", keys=["warden", "ilse"],
                  content="Ilse keeps the road's lanterns; she has not been seen for a week."),
        LoreEntry(uid="o", name="Old road", keys=["road"], enabled=False,
                  content="The [i]old[/i] road floods every spring."),
    ])
    campaign.lorebooks = [Lorebook(name="Lantern lore", entries=[
        LoreEntry(uid="l", name="Lanterns", constant=True,
                  content="Every lantern on the road burns blue when someone is near."),
    ])]
    return campaign


def swiped_chat() -> Game:
    """A chat with the greeting's swipes and a reply on its second of two swipes."""
    campaign = campaign_from_card(load_character("Maren Holloway"), "Ada")
    campaign.created = campaign.updated = FIXED_TIME
    campaign.id = "maren-holloway-snapshot"
    campaign.turns.append(Turn(mode=Mode.SAY.value, action="Who keeps the light burning?",
                               responses=["I do. Every night since the storm.",
                                          "Nobody, now. It burns by itself."],
                               chosen=1))
    return game_for(campaign)


def write_long_named_content(home: Path) -> None:
    """Saves, a scenario and a character whose names are far wider than the screen."""
    long_title = ("The Extraordinarily Long and Winding Chronicle of the Lamplighter Who "
                  "Walked the Whole Lantern Road Twice Without Stopping")
    for offset, title in enumerate([long_title, "[b]Not bold[/b] — a title with brackets",
                                    "Short"]):
        campaign = pinned_campaign(title=title)
        campaign.created = campaign.updated = FIXED_TIME - offset * 86_400
        campaign.id = f"save-{offset}"
        campaign.turns = [Turn(mode=OPENING, responses=["It is dark."]),
                          Turn(mode=Mode.DO.value, action="> You wait.",
                               responses=["Still dark."])]
        write_save(campaign)
    scenarios = home / "scenarios"
    scenarios.mkdir(parents=True, exist_ok=True)
    (scenarios / "long.toml").write_text(
        'title = "An Adventure Whose Title Goes On and On Past the Edge of Any Terminal"\n'
        'description = "A description that also keeps going, well past eighty columns, to '
        'show where the menu cuts a line and how it marks the cut"\n'
        'opening = "You stand at the start of a very long road."\n', encoding="utf-8")
    characters = home / "characters"
    characters.mkdir(parents=True, exist_ok=True)
    card = {"spec": "chara_card_v2", "spec_version": "2.0", "data": {
        "name": "Bartholomew Fitzwilliam-Ravenscroft the Third of Lower Wickham",
        "description": "A retired lighthouse keeper who tells very long stories about the sea "
                       "and never, ever reaches the point of any of them.",
        "first_mes": "Ah, a visitor! Sit down, sit down.",
        "tags": ["storyteller", "lighthouse", "very-long-tag-name", "fourth"],
    }}
    (characters / "bartholomew.json").write_text(json.dumps(card), encoding="utf-8")


# --- driving the app ----------------------------------------------------------------------------


async def wait_until(pilot: Pilot[Any], condition: Callable[[], bool], what: str) -> None:
    for _ in range(WAIT_STEPS):
        if condition():
            await pilot.pause()
            return
        await pilot.pause(0.025)
    raise AssertionError(f"timed out waiting for {what}")


async def settle(pilot: Pilot[Any]) -> None:
    """Let workers finish and their messages land, and stop cursors blinking (a blink
    caught mid-way would make two runs differ)."""
    await pilot.app.workers.wait_for_complete()
    await pilot.pause()
    for screen in pilot.app.screen_stack:
        for widget in screen.query("Input, TextArea"):
            assert isinstance(widget, Input | TextArea)
            widget.cursor_blink = False
    await pilot.pause()


async def on_top(pilot: Pilot[Any], view: type[Any]) -> None:
    await wait_until(pilot, lambda: isinstance(pilot.app.screen, view), view.__name__)


async def game_ready(pilot: Pilot[Any]) -> AdventureScreen:
    screen = pilot.app.screen
    assert isinstance(screen, AdventureScreen)
    await wait_until(pilot, lambda: screen.model_ready, "the model")
    return screen


Step = tuple[Callable[[Any], None], type[Any]]  # an action on the screen, the view it opens


def game_then(game: Game, *steps: Step) -> tuple[App[Any], RunBefore]:
    """The game on a scripted model, then views opened one from another (as their keys
    would: each step calls an action of the screen on top and waits for the view)."""

    async def run_before(pilot: Pilot[Any]) -> None:
        await game_ready(pilot)
        for action, view in steps:
            action(pilot.app.screen)
            await on_top(pilot, view)
        await settle(pilot)

    return GrueApp(game=game, host=fake_host()), run_before


def snap(snap_compare: Any, colours: str, app: App[Any], run_before: RunBefore) -> None:
    assert snap_compare(in_colours(app, colours), terminal_size=SIZE, run_before=run_before)


# --- the views ----------------------------------------------------------------------------------


def test_sixteen_colour_filter_leaves_only_the_standard_palette() -> None:
    style = Style(color="#ffa62b", bgcolor="#1e1e1e", bold=True)
    [segment] = SixteenColours().apply([Segment("x", style)], Color(0, 0, 0))
    assert segment.style is not None and segment.style.bold
    for color in (segment.style.color, segment.style.bgcolor):
        assert color is not None and color.type == ColorType.STANDARD
        assert color.number is not None and 0 <= color.number < 16
    assert SixteenColours().apply([Segment("plain")], Color(0, 0, 0)) == [Segment("plain")]


OPEN_WORLD_INFO: Step = (lambda s: s.action_world_info(), WorldInfoScreen)


def test_home_screen_with_long_names(snap_compare: Any, colours: str, pinned: Path) -> None:
    """Saves, scenarios and characters whose names are wider than the screen, model ready."""
    write_long_named_content(pinned)
    app = GrueApp(host=fake_host())

    async def run_before(pilot: Pilot[Any]) -> None:
        assert isinstance(pilot.app.screen, HomeScreen)
        await wait_until(pilot, lambda: app.host.ready, "the model")
        await settle(pilot)

    snap(snap_compare, colours, app, run_before)


def test_adventure_with_a_short_story(snap_compare: Any, colours: str) -> None:
    async def run_before(pilot: Pilot[Any]) -> None:
        await game_ready(pilot)
        await settle(pilot)

    snap(snap_compare, colours, GrueApp(game=Game(short_story()), host=fake_host()), run_before)


def test_adventure_with_the_world_panel(snap_compare: Any, colours: str) -> None:
    """Ctrl+N at 80x24: the world state in a column beside the story, the input whole."""
    campaign = short_story()
    campaign.world = WorldState(
        place="the cottage by the Lantern Road", description="a hook by the door",
        exits=["the Lantern Road", "the Thornwood"], items=["brass lantern", "[b]oil[/b]"],
        people=[Person("Warden Ilse", attitude="wary"), Person("the miller", where="the mill"),
                Person("the old keeper", alive=False)],
        quests=["find Warden Ilse"], done=["reach the cottage"])

    async def run_before(pilot: Pilot[Any]) -> None:
        await game_ready(pilot)
        await pilot.press("ctrl+n")
        await settle(pilot)

    snap(snap_compare, colours, GrueApp(game=Game(campaign), host=fake_host()), run_before)


def test_chat_with_a_swipe_counter(snap_compare: Any, colours: str) -> None:
    async def run_before(pilot: Pilot[Any]) -> None:
        screen = await game_ready(pilot)
        assert isinstance(screen, ChatScreen)
        await settle(pilot)

    snap(snap_compare, colours, GrueApp(game=swiped_chat(), host=fake_host()), run_before)


def test_world_info_list(snap_compare: Any, colours: str) -> None:
    app, run_before = game_then(Game(short_story()), OPEN_WORLD_INFO)
    snap(snap_compare, colours, app, run_before)


def test_world_info_edit_form(snap_compare: Any, colours: str) -> None:
    app, run_before = game_then(Game(short_story()), OPEN_WORLD_INFO,
                                (lambda s: s.action_edit(), LoreEntryDialog))
    snap(snap_compare, colours, app, run_before)


def test_world_info_add_form(snap_compare: Any, colours: str) -> None:
    app, run_before = game_then(Game(short_story()), OPEN_WORLD_INFO,
                                (lambda s: s.action_add(), LoreEntryDialog))
    snap(snap_compare, colours, app, run_before)


def test_confirm_dialog(snap_compare: Any, colours: str) -> None:
    """Deleting a world-info entry asks first."""
    app, run_before = game_then(Game(short_story()), OPEN_WORLD_INFO,
                                (lambda s: s.action_delete(), ConfirmDialog))
    snap(snap_compare, colours, app, run_before)


def test_context_inspector(snap_compare: Any, colours: str) -> None:
    game = Game(short_story())

    async def run_before(pilot: Pilot[Any]) -> None:
        screen = await game_ready(pilot)
        screen.action_context()
        await wait_until(pilot, lambda: isinstance(pilot.app.screen, ContextInspectorScreen)
                         and pilot.app.screen.report is not None, "the context report")
        await settle(pilot)

    snap(snap_compare, colours, GrueApp(game=game, host=fake_host()), run_before)


def test_models_screen(snap_compare: Any, colours: str) -> None:
    app, run_before = game_then(Game(short_story()), (lambda s: s.action_models(), ModelsScreen))
    snap(snap_compare, colours, app, run_before)


def test_open_model_file_dialog(snap_compare: Any, colours: str, pinned: Path) -> None:
    """The models screen's "open a .gguf file", with a checked file's header shown."""
    model = pinned / "models" / "tiny-test.gguf"
    model.parent.mkdir(parents=True, exist_ok=True)
    model.write_bytes(make_gguf(good_kvs()))

    async def run_before(pilot: Pilot[Any]) -> None:
        screen = await game_ready(pilot)
        screen.action_models()
        await on_top(pilot, ModelsScreen)
        pilot.app.screen.action_open_file()
        await on_top(pilot, OpenModelDialog)
        pilot.app.screen.query_one(Input).value = str(model)
        await pilot.press("enter")
        await settle(pilot)

    snap(snap_compare, colours, GrueApp(game=Game(short_story()), host=fake_host()), run_before)


def test_settings_screen(snap_compare: Any, colours: str) -> None:
    app, run_before = game_then(Game(short_story()), (lambda s: s.action_settings(),
                                                          SettingsScreen))
    snap(snap_compare, colours, app, run_before)


def test_text_edit_dialog(snap_compare: Any, colours: str) -> None:
    """The memory editor (F2)."""
    app, run_before = game_then(Game(short_story()), (lambda s: s.action_memory(),
                                                          TextEditDialog))
    snap(snap_compare, colours, app, run_before)


def test_help_dialog(snap_compare: Any, colours: str) -> None:
    app, run_before = game_then(Game(short_story()), (lambda s: s.action_help(), HelpDialog))
    snap(snap_compare, colours, app, run_before)


def test_chat_help_dialog(snap_compare: Any, colours: str) -> None:
    """The chat's help adds its own keys."""
    app, run_before = game_then(swiped_chat(), (lambda s: s.action_help(), HelpDialog))
    snap(snap_compare, colours, app, run_before)


def test_scenario_option_pick_dialog(snap_compare: Any, colours: str) -> None:
    app = GrueApp(host=fake_host())

    async def run_before(pilot: Pilot[Any]) -> None:
        await wait_until(pilot, lambda: app.host.ready, "the model")
        app.push_screen(OptionPickDialog("Where does your story begin?", [
            "At the cottage gate, as the sun goes down",
            "On the [b]old road[/b], in the rain",
            "In the warden's tower, with a letter you should not have opened and a lantern "
            "that will not stay lit no matter how often you trim its wick",
        ]))
        await on_top(pilot, OptionPickDialog)
        await settle(pilot)

    snap(snap_compare, colours, app, run_before)


def test_scenario_question_dialog(snap_compare: Any, colours: str) -> None:
    app = GrueApp(host=fake_host())

    async def run_before(pilot: Pilot[Any]) -> None:
        await wait_until(pilot, lambda: app.host.ready, "the model")
        app.push_screen(QuestionDialog("What is your character's name?", "Ada"))
        await on_top(pilot, QuestionDialog)
        await settle(pilot)

    snap(snap_compare, colours, app, run_before)


def test_error_notice(snap_compare: Any, colours: str) -> None:
    """A model that fails to load: one line in a notice, the game still on screen."""
    app = GrueApp(game=Game(short_story()), host=fake_host(BrokenModel()))

    async def run_before(pilot: Pilot[Any]) -> None:
        assert isinstance(pilot.app.screen, AdventureScreen)
        await settle(pilot)
        await wait_until(pilot, lambda: bool(pilot.app.screen.query("Toast")), "the notice")
        await settle(pilot)

    snap(snap_compare, colours, app, run_before)
