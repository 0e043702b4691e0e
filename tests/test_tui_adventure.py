"""The adventure screen driven with Pilot: a scripted model for speed, the real one once."""

from __future__ import annotations

import asyncio
import threading
from pathlib import Path

import pytest
from fakes import FakeBackend

from tui.app import GrueApp
from tui.core.backend import Backend
from tui.engine.campaign import Settings, campaign_from_scenario
from tui.engine.game import Game
from tui.engine.saves import load_save, save_path
from tui.engine.scenario import find_scenario
from tui.model_host import ModelHost
from tui.screens.adventure import AdventureScreen
from tui.widgets.story_view import Paragraph, StoryView


def new_game(settings: Settings | None = None) -> Game:
    campaign = campaign_from_scenario(find_scenario("lantern-road"), settings)
    return Game(campaign)


async def wait_until(pilot, condition, timeout: float = 60.0) -> None:  # type: ignore[no-untyped-def]
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not condition():
        if loop.time() > deadline:
            raise AssertionError("timed out waiting for the app")
        await pilot.pause(0.05)


def story_texts(app: GrueApp) -> list[str]:
    return [p.raw for p in app.screen.query_one(StoryView).query(Paragraph)]


def host_with(backend: Backend) -> ModelHost:
    return ModelHost(backend_factory=lambda settings: backend, close_backend=False)


async def test_play_a_turn_with_scripted_model() -> None:
    backend = FakeBackend(["A letter flutters out of the mailbox."])
    game = new_game()
    app = GrueApp(game=game, host=host_with(backend))
    async with app.run_test(size=(80, 24), notifications=True) as pilot:
        screen = app.screen
        assert isinstance(screen, AdventureScreen)
        await wait_until(pilot, lambda: screen.model_ready)
        await pilot.press(*"open the mailbox")
        await pilot.press("enter")
        await wait_until(pilot, lambda: screen.pending is None and len(game.campaign.turns) == 2)
        texts = story_texts(app)
        assert "> You open the mailbox." in texts
        assert texts[-1] == "A letter flutters out of the mailbox."
        await wait_until(pilot, lambda: not app.save_writer.pending)  # written off the UI thread
        saved = load_save(save_path(game.campaign))
        assert saved.turns[-1].response == "A letter flutters out of the mailbox."
        action = [p for p in screen.query(Paragraph) if p.raw.startswith(">")][0]
        assert action.has_class("action")  # player actions look different from narration


async def test_tab_switches_mode_and_say_formats() -> None:
    backend = FakeBackend(["The trees do not answer."])
    game = new_game()
    app = GrueApp(game=game, host=host_with(backend))
    async with app.run_test(size=(80, 24), notifications=True) as pilot:
        screen = app.screen
        await wait_until(pilot, lambda: screen.model_ready)
        await pilot.press("tab")
        await pilot.press(*"hello")
        await pilot.press("enter")
        await wait_until(pilot, lambda: len(game.campaign.turns) == 2 and screen.pending is None)
        assert game.campaign.turns[-1].action == '> You say "Hello."'


async def test_escape_cancels_and_keys_undo_redo_retry() -> None:
    backend = FakeBackend(["slow " * 400, "Second take.", "Third."], delay=0.01)
    game = new_game()
    app = GrueApp(game=game, host=host_with(backend))
    async with app.run_test(size=(80, 24), notifications=True) as pilot:
        screen = app.screen
        await wait_until(pilot, lambda: screen.model_ready)
        await pilot.press(*"wait", "enter")
        await wait_until(pilot, lambda: screen.pending is not None)
        await pilot.pause(0.2)
        await pilot.press("escape")
        await wait_until(pilot, lambda: screen.pending is None, timeout=5)
        kept = game.campaign.turns[-1].response
        assert 0 < len(kept) < len("slow " * 400)  # stopped early, partial text kept
        await pilot.press("f4")  # retry
        await wait_until(pilot, lambda: screen.pending is None and
                         game.campaign.turns[-1].response == "Second take.")
        assert len(game.campaign.turns[-1].responses) == 2
        await pilot.press("f6")  # undo
        await pilot.pause(0.1)
        assert len(game.campaign.turns) == 1
        await pilot.press("f7")  # redo
        await pilot.pause(0.1)
        assert len(game.campaign.turns) == 2


async def test_an_action_stopped_before_a_word_comes_back_into_the_input() -> None:
    """Esc before the model wrote anything records nothing; the typed line was lost with
    it. Now it goes back into the input, unless the player typed something else since."""
    gate = threading.Event()
    backend = FakeBackend(["The door creaks."], gate=gate)
    game = new_game()
    app = GrueApp(game=game, host=host_with(backend))
    async with app.run_test(size=(80, 24), notifications=True) as pilot:
        screen = app.screen
        assert isinstance(screen, AdventureScreen)
        await wait_until(pilot, lambda: screen.model_ready)
        await pilot.press(*"say hello there", "enter")
        await wait_until(pilot, lambda: screen.pending is not None)
        await pilot.press("escape")
        await wait_until(pilot, lambda: screen.pending is None, timeout=10)
        assert len(game.campaign.turns) == 1
        assert screen.action_bar.input.value == "say hello there"
        assert "> You say" not in " ".join(story_texts(app))
        screen.action_bar.input.value = ""
        await pilot.press(*"open the door", "enter")
        await wait_until(pilot, lambda: screen.pending is not None)
        await pilot.press(*"wait", "escape")  # typed while it waited: that stays
        await wait_until(pilot, lambda: screen.pending is None, timeout=10)
        assert screen.action_bar.input.value == "wait"
        assert len(game.campaign.turns) == 1
        gate.set()
        screen.action_bar.input.value = ""
        await pilot.press(*"open the door", "enter")
        await wait_until(pilot, lambda: screen.pending is None and len(game.campaign.turns) == 2)
        assert screen.action_bar.input.value == ""  # answered: nothing comes back


async def test_slash_commands_and_memory_editor() -> None:
    backend = FakeBackend(["Fine."])
    game = new_game()
    app = GrueApp(game=game, host=host_with(backend))
    async with app.run_test(size=(80, 24), notifications=True) as pilot:
        screen = app.screen
        await wait_until(pilot, lambda: screen.model_ready)
        await pilot.press(*"/note Be funny.", "enter")
        await pilot.pause(0.1)
        assert game.campaign.authors_note == "Be funny."
        await pilot.press("f2")
        await pilot.pause(0.1)
        await pilot.press(*" Also a cat.", "ctrl+s")
        await pilot.pause(0.1)
        assert game.campaign.memory.endswith("Also a cat.")
        await wait_until(pilot, lambda: not app.save_writer.pending)
        assert load_save(save_path(game.campaign)).memory.endswith("Also a cat.")


async def test_markup_in_model_text_is_shown_literally() -> None:
    backend = FakeBackend(["[bold red]not markup[/] and [link=x]y[/link]"])
    game = new_game()
    app = GrueApp(game=game, host=host_with(backend))
    async with app.run_test(size=(80, 24), notifications=True) as pilot:
        screen = app.screen
        await wait_until(pilot, lambda: screen.model_ready)
        await pilot.press(*"look", "enter")
        await wait_until(pilot, lambda: len(game.campaign.turns) == 2 and screen.pending is None)
        assert story_texts(app)[-1] == "[bold red]not markup[/] and [link=x]y[/link]"


async def test_model_error_is_a_notice_not_a_crash(tmp_path: Path) -> None:
    bad = tmp_path / "broken.gguf"
    bad.write_bytes(b"PK\x03\x04 not a model")
    game = new_game(Settings(model=str(bad)))
    app = GrueApp(game=game)
    async with app.run_test(size=(80, 24), notifications=True) as pilot:
        screen = app.screen
        await wait_until(pilot, lambda: screen.query_one("StatusBar").state == "model failed")
        await pilot.press(*"open door", "enter")
        await pilot.pause(0.1)
        assert len(game.campaign.turns) == 1  # nothing played, nothing lost


@pytest.mark.model
async def test_play_a_turn_with_the_real_model(smol_backend: Backend) -> None:
    game = new_game(Settings(seed=3, max_new_tokens=40))
    app = GrueApp(game=game, host=host_with(smol_backend))
    async with app.run_test(size=(80, 24), notifications=True) as pilot:
        screen = app.screen
        await wait_until(pilot, lambda: screen.model_ready)
        await pilot.press(*"open the mailbox", "enter")
        await wait_until(pilot, lambda: screen.pending is None and len(game.campaign.turns) == 2,
                         timeout=120)
        reply = game.campaign.turns[-1].response
        assert len(reply.split()) >= 3
        assert story_texts(app)[-1] == reply


@pytest.mark.allow_traceback  # the traceback in the log is what this test checks
async def test_a_bug_in_a_handler_is_a_notice_not_a_crash(monkeypatch: pytest.MonkeyPatch,
                                                          grue_home: Path) -> None:
    backend = FakeBackend(["Fine."])
    game = new_game()
    app = GrueApp(game=game, host=host_with(backend))

    def broken(self: object) -> list[tuple[str, str]]:
        raise RuntimeError("redraw exploded")

    async with app.run_test(size=(80, 24), notifications=True) as pilot:
        screen = app.screen
        await wait_until(pilot, lambda: screen.model_ready)
        await pilot.press(*"wait", "enter")
        await wait_until(pilot, lambda: screen.pending is None and len(game.campaign.turns) == 2)
        monkeypatch.setattr(AdventureScreen, "story_blocks", broken)
        await pilot.press("f6")  # undo works, then the redraw fails
        await pilot.pause(0.2)
        assert app.is_running and app.screen is screen
        assert len(game.campaign.turns) == 1
        assert any("redraw exploded" in str(n.message) for n in app._notifications)
    assert "RuntimeError: redraw exploded" in (grue_home / "logs" / "grue.log").read_text()


async def test_keys_work_while_the_story_so_far_is_being_updated() -> None:
    """A slow long-term-memory update between turns must not swallow the next key."""
    import time

    class SlowSummaryHost(ModelHost):
        def update_summary(self, campaign, cancel, next_spec, draft=None):  # type: ignore[no-untyped-def]
            time.sleep(0.5)
            return None, False

    backend = FakeBackend(["First.", "Second."])
    game = new_game()
    app = GrueApp(game=game, host=SlowSummaryHost(lambda s: backend, close_backend=False))
    async with app.run_test(size=(80, 24), notifications=True) as pilot:
        screen = app.screen
        await wait_until(pilot, lambda: screen.model_ready)
        await pilot.press(*"wait", "enter")
        await wait_until(pilot, lambda: screen.pending is None and len(game.campaign.turns) == 2)
        await pilot.press("f4")  # while the update runs
        await wait_until(pilot, lambda: len(game.campaign.turns[-1].responses) == 2
                         and screen.pending is None, timeout=10)
        assert game.campaign.turns[-1].response == "Second."


@pytest.mark.parametrize("leave", ["ctrl+q", "hang_up", "escape"])
async def test_a_reply_cut_short_by_leaving_is_not_kept(leave: str) -> None:
    """Ctrl+Q and a hang-up (what SIGHUP runs on the loop) mid-reply: the model stops and the
    part written is not committed, whenever its cancelled result arrives. Esc keeps it."""
    reply = " ".join(f"word{i}" for i in range(200))
    backend = FakeBackend([reply], delay=0.02)
    game = new_game()
    game.save()  # as `grue new` does
    app = GrueApp(game=game, host=host_with(backend))
    async with app.run_test(size=(80, 24), notifications=True) as pilot:
        screen = app.screen
        assert isinstance(screen, AdventureScreen)
        await wait_until(pilot, lambda: screen.model_ready)
        await pilot.press(*"listen", "enter")
        await wait_until(pilot, lambda: "word3" in (screen.story.live.raw
                                                    if screen.story.live else ""))
        if leave == "hang_up":
            app.hang_up()
        else:
            await pilot.press(leave)
        # The model stops; once the game has gone home its screen may never see the
        # cancelled result, so wait for the model, not for the screen.
        await wait_until(pilot, lambda: backend.streams_ended == 1)
        if leave == "escape":
            await wait_until(pilot, lambda: screen.pending is None)
        await pilot.pause(0.3)  # a cancelled result that does arrive has been handled
        turns = game.campaign.turns
        if leave == "escape":
            assert turns[-1].action == "> You listen." and "word3" in turns[-1].response
            assert turns[-1].response != reply
        else:
            assert len(turns) == 1  # the opening only
    saved = load_save(save_path(game.campaign))
    assert len(saved.turns) == (2 if leave == "escape" else 1)
