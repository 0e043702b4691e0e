"""What the screen repaints (issue 9: streaming that writes little, an idle screen that writes
nothing). Behaviour, not timing: which rows and widgets are repainted, and how often.
The bytes themselves are measured by `benchmarks/bench_ui.py` under a real pty."""

from __future__ import annotations

import asyncio
import random
from typing import Any

import pytest
from fakes import FakeBackend
from rich.console import Console
from rich.text import Text
from textual._compositor import Compositor

from tui.app import GrueApp
from tui.engine.campaign import OPENING, Campaign, Turn
from tui.engine.game import Game
from tui.model_host import ModelHost
from tui.screens.adventure import AdventureScreen
from tui.widgets.live_text import LiveText, wrap_starts
from tui.widgets.status_bar import StatusBar
from tui.widgets.story_view import Paragraph, StoryView

WORDS = ["the", "lantern", "a", "road,", "fog.", "é", "日本語", "Hello!", '"quoted"', "gutters"]


def prose(rnd: random.Random, words: int) -> str:
    text = "".join(rnd.choice(WORDS) + rnd.choice([" ", " ", "  ", "\n"]) for _ in range(words))
    return text.strip()


def lines_of(text: str, starts: list[int]) -> list[str]:
    return [text[a:b].rstrip() for a, b in zip(starts, [*starts[1:], len(text)], strict=True)]


def test_wrapping_in_pieces_gives_the_lines_of_wrapping_all_at_once() -> None:
    rnd = random.Random(9)
    for _ in range(200):
        text, width = prose(rnd, rnd.randint(1, 80)), rnd.randint(3, 80)
        cuts = sorted(rnd.sample(range(len(text) + 1), min(6, len(text) + 1)))
        starts = [0]
        for end in [*cuts, len(text)]:  # what LiveText does per flush: re-wrap the last line
            starts[-1:] = wrap_starts(text[:end], starts[-1], width)
        assert starts == wrap_starts(text, 0, width), (text, width)


def test_live_text_wraps_prose_as_the_finished_paragraph_will() -> None:
    """The reply does not jump when it is finished: the same lines as Rich's wrap (words
    wider than the line may fold differently; the finished paragraph is Rich's)."""
    rnd = random.Random(3)
    console = Console(width=200)
    for _ in range(200):
        text, width = prose(rnd, rnd.randint(1, 80)), rnd.randint(10, 80)
        rich_lines = [line.plain.rstrip() for line in Text(text).wrap(console, width)]
        assert lines_of(text, wrap_starts(text, 0, width)) == rich_lines, (text, width)


def long_campaign(turns: int = 30) -> Campaign:
    c = Campaign(title="Screen cost")
    c.turns.append(Turn(OPENING, responses=["It begins on the Lantern Road."]))
    for i in range(turns):
        c.turns.append(Turn("do", f"> You walk on ({i}).", ["The fog rises over the road. " * 4]))
    return c


def fake_app(campaign: Campaign) -> GrueApp:
    host = ModelHost(backend_factory=lambda settings: FakeBackend(), close_backend=False)
    return GrueApp(game=Game(campaign), host=host)


class Painted:
    """The screen rows each compositor update paints (None: the whole screen)."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.updates: list[set[int] | None] = []
        real = Compositor.render_update

        def spy(compositor: Compositor, full: bool = False, screen_stack: Any = None,
                simplify: bool = False) -> Any:
            whole = full or compositor.size.region in compositor._dirty_regions
            rows = {y for region in compositor._dirty_regions for y in region.line_range}
            update = real(compositor, full, screen_stack, simplify)
            if update is not None:
                self.updates.append(None if whole else rows)
            return update

        monkeypatch.setattr(Compositor, "render_update", spy)


async def settle(pilot: Any) -> None:
    for _ in range(4):
        await pilot.pause(0.1)


def words(n: int) -> list[str]:
    return [f" {WORDS[i % 7]}" for i in range(n)]


async def test_a_flush_repaints_the_last_line_not_the_story(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """Per flush, only the live reply's changed rows are painted; the story is repainted
    only when it scrolls (half a screen at a time), and finished paragraphs never re-render."""
    painted = Painted(monkeypatch)
    renders = {"paragraph": 0}
    real_render = Paragraph.render

    def counting_render(self: Paragraph) -> Any:
        renders["paragraph"] += 1
        return real_render(self)

    monkeypatch.setattr(Paragraph, "render", counting_render)
    app = fake_app(long_campaign())
    async with app.run_test(size=(80, 24), notifications=True) as pilot:
        screen = app.screen
        assert isinstance(screen, AdventureScreen)
        story = screen.story
        story.start_live()
        await settle(pilot)
        painted.updates.clear()
        renders["paragraph"] = 0
        tokens = words(240)
        for i in range(80):  # 80 flushes of 3 words: ~12 lines of text at 80 columns
            story.append_live("".join(tokens[i * 3:i * 3 + 3]))
            await asyncio.sleep(0.06)  # a flush every 50 ms, as the game does
        await settle(pilot)
        live = story.live
        assert live is not None and live.text_rows >= 10
        small = [rows for rows in painted.updates if rows is not None and len(rows) <= 2]
        big = [rows for rows in painted.updates if rows is None or len(rows) > 2]
        assert len(small) >= 60, painted.updates
        assert len(big) <= 3, big  # the scrolls: one per half screen of text
        assert renders["paragraph"] == 0  # finished paragraphs are not rendered again
        end = live.virtual_region.y + live.text_rows - 1
        assert story.scroll_y <= end < story.scroll_y + story.scrollable_content_region.height
        story.finish_live(live.raw)  # the reserve goes: the story ends with the reply
        await settle(pilot)
        assert story.max_scroll_y > 0 and story.scroll_y == story.max_scroll_y


async def test_the_story_stays_where_the_player_scrolled_while_text_streams() -> None:
    app = fake_app(long_campaign())
    async with app.run_test(size=(80, 24), notifications=True) as pilot:
        story = app.screen.query_one(StoryView)
        story.start_live()
        await settle(pilot)
        story.scroll_to(y=5, animate=False)
        await settle(pilot)
        for token in words(300):
            story.append_live(token)
        await settle(pilot)
        assert story.scroll_y == 5


async def test_a_reply_begun_while_the_story_scrolls_to_its_end_is_shown(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """A quick reply ends and the next Enter arrives between two refreshes (keys typed ahead
    over SSH): the story scrolls to its end, and the end is then the new live reply's first
    line, not the bottom of the blank rows it holds in reserve. (It was: Textual's
    `scroll_end` measures the end one refresh later, after the new reply was mounted, and the
    player watched a blank story for the whole reply; `grue serve`'s disconnect test then saw
    no streamed word until the reply was complete.)"""
    real_scroll_to_end = StoryView._scroll_to_end
    armed, began = [False], [False]

    def enter_right_after(story: StoryView) -> None:
        real_scroll_to_end(story)
        if armed[0] and story.live is None and not began[0]:  # the next turn starts now
            began[0] = True
            story.start_live()

    monkeypatch.setattr(StoryView, "_scroll_to_end", enter_right_after)
    app = fake_app(long_campaign(1))  # a story shorter than the screen
    async with app.run_test(size=(80, 24), notifications=True) as pilot:
        story = app.screen.query_one(StoryView)
        await settle(pilot)
        armed[0] = True
        story.start_live()  # a quick reply: done before its live text was laid out
        story.append_live("The road is quiet.")
        story.finish_live("The road is quiet.")
        await settle(pilot)
        assert began[0]
        live = story.live
        assert live is not None
        for token in words(12):  # a line of the new reply
            story.append_live(token)
        await settle(pilot)
        height = story.scrollable_content_region.height
        first = live.virtual_region.y
        last = first + live.text_rows - 1
        assert story.scroll_y <= first and last < story.scroll_y + height, \
            (story.scroll_y, first, last, story.max_scroll_y)


async def test_a_finished_reply_is_a_paragraph_with_the_whole_text() -> None:
    app = fake_app(long_campaign(3))
    async with app.run_test(size=(80, 24), notifications=True) as pilot:
        story = app.screen.query_one(StoryView)
        story.start_live()
        for token in ["  The", " [bold]lamp[/]", " gutters\x1b[31m."]:
            story.append_live(token)
        await settle(pilot)
        live = story.live
        assert live is not None
        assert live.raw == "The [bold]lamp[/] gutters[31m."  # leading space, ESC dropped
        assert live.row_text(0) == live.raw  # drawn as it is, not as markup
        story.finish_live("The [bold]lamp[/] gutters.")
        await settle(pilot)
        assert not story.query(LiveText)
        assert story.query(Paragraph).last().raw == "The [bold]lamp[/] gutters."


async def test_the_status_line_is_not_repainted_when_its_text_is_the_same(
        monkeypatch: pytest.MonkeyPatch) -> None:
    updates: list[object] = []
    real_update = StatusBar.update

    def counting_update(self: StatusBar, *args: Any, **kwargs: Any) -> None:
        updates.append(args)
        real_update(self, *args, **kwargs)

    app = fake_app(long_campaign(2))
    async with app.run_test(size=(80, 24), notifications=True) as pilot:
        await settle(pilot)
        status = app.screen.query_one(StatusBar)
        monkeypatch.setattr(StatusBar, "update", counting_update)
        status.set(state="generating…")
        status.set(state="generating…")
        status.set(model=status.model)
        assert len(updates) == 1
        status.set(state="saved")
        assert len(updates) == 2


async def test_an_idle_game_screen_paints_nothing(monkeypatch: pytest.MonkeyPatch) -> None:
    """No blinking cursor (nor anything else) repaints a screen nobody touches."""
    painted = Painted(monkeypatch)
    app = fake_app(long_campaign(2))
    async with app.run_test(size=(80, 24), notifications=True) as pilot:
        screen = app.screen
        assert isinstance(screen, AdventureScreen)
        await settle(pilot)
        assert screen.action_bar.input.has_focus
        assert screen.action_bar.input.cursor_blink is False
        painted.updates.clear()
        await asyncio.sleep(1.5)  # three blinks' worth
        await pilot.pause()
        assert painted.updates == []


async def test_typing_repaints_the_input_without_laying_out_the_story(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """A layout walks every story paragraph; a key must not cause one (it did: Textual's
    Input changes its virtual width per key). A line longer than the box still scrolls."""
    reflows: list[int] = []
    real_reflow = Compositor.reflow

    def counting_reflow(compositor: Compositor, parent: Any, size: Any) -> Any:
        reflows.append(1)
        return real_reflow(compositor, parent, size)

    app = fake_app(long_campaign())
    async with app.run_test(size=(80, 24), notifications=True) as pilot:
        screen = app.screen
        assert isinstance(screen, AdventureScreen)
        await settle(pilot)
        monkeypatch.setattr(Compositor, "reflow", counting_reflow)
        field = screen.action_bar.input
        await pilot.press(*"abcdefghij" * 10)
        await settle(pilot)
        assert reflows == []
        assert field.value == "abcdefghij" * 10
        assert field.scroll_x > 0  # the end of the line, where the cursor is, is in view
        x, _ = field.cursor_screen_offset
        assert field.region.x <= x < field.region.right
