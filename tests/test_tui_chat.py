"""The chat screen with Pilot: greeting swipes, a reply, new swipes, impersonation."""

from __future__ import annotations

import asyncio
import threading

import pytest
from fakes import FakeBackend

from tui.app import GrueApp
from tui.core.backend import Backend
from tui.engine.campaign import Settings
from tui.engine.character_library import load_character
from tui.engine.chat import campaign_from_card, game_for
from tui.engine.saves import load_save, save_path
from tui.model_host import ModelHost
from tui.screens.chat import ChatScreen
from tui.widgets.story_view import Paragraph, StoryView


def new_chat(settings: Settings | None = None):  # type: ignore[no-untyped-def]
    card = load_character("Maren Holloway")
    return game_for(campaign_from_card(card, "Ada", settings=settings))


async def wait_until(pilot, condition, timeout: float = 60.0) -> None:  # type: ignore[no-untyped-def]
    deadline = asyncio.get_running_loop().time() + timeout
    while not condition():
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError("timed out waiting for the app")
        await pilot.pause(0.05)


def shown(app: GrueApp) -> list[str]:
    return [p.raw for p in app.screen.query_one(StoryView).query(Paragraph)]


async def test_chat_greeting_swipes_reply_and_impersonate() -> None:
    game = new_chat()
    greetings = len(game.campaign.turns[0].responses)
    assert greetings >= 2
    backend = FakeBackend(["The lamp turns slowly.", "Waves hit the rocks.", "I ask her."])
    app = GrueApp(game=game, host=ModelHost(lambda s: backend, close_backend=False))
    async with app.run_test(size=(80, 24), notifications=True) as pilot:
        screen = app.screen
        assert isinstance(screen, ChatScreen)
        await wait_until(pilot, lambda: screen.model_ready)
        assert shown(app)[0].startswith("Maren")
        await pilot.press("f6")  # next greeting
        await pilot.pause(0.1)
        assert game.campaign.turns[0].chosen == 1
        assert shown(app)[0].endswith(f"[2/{greetings}]")
        await pilot.press("f5")
        await pilot.pause(0.1)
        assert game.campaign.turns[0].chosen == 0
        await pilot.press(*"hello there", "enter")
        await wait_until(pilot, lambda: screen.pending is None and len(game.campaign.turns) == 2)
        assert "Ada: hello there" in shown(app)
        assert game.campaign.turns[-1].response == "The lamp turns slowly."
        await pilot.press("f6")  # past the last swipe: a new one
        await wait_until(pilot, lambda: screen.pending is None
                         and len(game.campaign.turns[-1].responses) == 2)
        assert shown(app)[-1] == "Maren Holloway: Waves hit the rocks.  [2/2]"
        await pilot.press("f5")
        await pilot.pause(0.1)
        assert game.campaign.turns[-1].chosen == 0
        await wait_until(pilot, lambda: not app.save_writer.pending)
        assert load_save(save_path(game.campaign)).turns[-1].chosen == 0
        await pilot.press("f7")  # impersonate: goes to the input, not the chat
        await wait_until(pilot, lambda: screen.pending is None
                         and screen.action_bar.input.value == "I ask her.")
        assert len(game.campaign.turns) == 2
        screen.action_bar.input.value = ""
        backend.replies = [" and look away."]
        backend.gate = threading.Event()
        await pilot.press(*"I shrug", "f7")  # what is typed is the start, kept
        story = screen.query_one(StoryView)
        try:  # shown as it is written, with the words it goes on from
            await wait_until(pilot, lambda: story.live is not None
                             and story.live.raw == "I shrug")
        finally:
            backend.gate.set()
        await wait_until(pilot, lambda: screen.pending is None
                         and screen.action_bar.input.value == "I shrug and look away.")
        assert len(game.campaign.turns) == 2


@pytest.mark.model
async def test_chat_with_the_real_model(smol_backend: Backend) -> None:
    game = new_chat(Settings(seed=5, max_new_tokens=32))
    app = GrueApp(game=game, host=ModelHost(lambda s: smol_backend, close_backend=False))
    async with app.run_test(size=(80, 24), notifications=True) as pilot:
        screen = app.screen
        await wait_until(pilot, lambda: screen.model_ready, timeout=120)
        await pilot.press(*"what is that light?", "enter")
        await wait_until(pilot, lambda: screen.pending is None and len(game.campaign.turns) == 2,
                         timeout=300)
        reply = game.campaign.turns[-1].response
        assert reply.strip()
        await pilot.press("f4")
        await wait_until(pilot, lambda: screen.pending is None
                         and len(game.campaign.turns[-1].responses) == 2, timeout=300)
    resumed = load_save(save_path(game.campaign))
    assert resumed.kind == "chat" and len(resumed.turns[-1].responses) == 2


async def test_a_long_impersonation_shows_its_end_where_the_cursor_is() -> None:
    """The input's first line given by the game (not typed) is scrolled to its end, where
    the cursor is; before, a long one showed its start and the cursor was out of sight."""
    line = "I shake the rain from my coat and look around the lamp room for the keeper. " * 2
    backend = FakeBackend([line])
    app = GrueApp(game=new_chat(), host=ModelHost(lambda s: backend, close_backend=False))
    async with app.run_test(size=(80, 24), notifications=True) as pilot:
        screen = app.screen
        assert isinstance(screen, ChatScreen)
        await wait_until(pilot, lambda: screen.model_ready)
        await pilot.press("f7")
        field = screen.action_bar.input
        await wait_until(pilot, lambda: screen.pending is None and field.value)
        await pilot.pause(0.1)
        assert field.cursor_position == len(field.value) > field.content_region.width
        scroll = field.scroll_offset.x
        assert scroll < field.cursor_position < scroll + field.content_region.width


async def test_an_impersonation_of_several_paragraphs_is_one_line_in_the_input() -> None:
    """The input is one line: the paragraphs are joined by spaces, all of them kept. Before,
    the line breaks went into the input, which showed the first line only; the cursor and
    the keys typed after it were out of sight."""
    backend = FakeBackend(["I nod to her.\n\nThen I sit by the stove,\nwarming my hands."])
    app = GrueApp(game=new_chat(), host=ModelHost(lambda s: backend, close_backend=False))
    async with app.run_test(size=(80, 24), notifications=True) as pilot:
        screen = app.screen
        assert isinstance(screen, ChatScreen)
        await wait_until(pilot, lambda: screen.model_ready)
        await pilot.press("f7")
        field = screen.action_bar.input
        await wait_until(pilot, lambda: screen.pending is None and field.value)
        assert field.value == "I nod to her. Then I sit by the stove, warming my hands."
