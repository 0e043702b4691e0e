"""Reading ahead on the adventure screen (Pilot, a scripted model): after the model loads,
after a reply and when typing pauses the model reads the next prompt; the status line says
"reading…" meanwhile; Enter cancels it."""

from __future__ import annotations

import threading

from fakes import FakeBackend
from test_tui_adventure import host_with, new_game, wait_until

from tui.app import GrueApp
from tui.engine.game import Game
from tui.screens.adventure import AdventureScreen
from tui.widgets.status_bar import StatusBar


class ReadingBackend(FakeBackend):
    """Records every read-ahead; each takes until `release` is set (or it is cancelled)."""

    reads_ahead = True

    def __init__(self, replies: list[str]) -> None:
        super().__init__(replies)
        self.reads: list[tuple[list[int], threading.Event]] = []
        self.release = threading.Event()

    def read_ahead(self, tokens: list[int], cancel: threading.Event, whole: bool = True
                   ) -> int:
        self.reads.append((list(tokens), cancel))
        while not (self.release.is_set() or cancel.is_set()):
            cancel.wait(0.01)
        return len(tokens)


def status_text(app: GrueApp) -> str:
    return str(app.screen.query_one(StatusBar).render())


async def test_the_model_reads_ahead_while_the_player_types() -> None:
    backend = ReadingBackend(["The mailbox creaks open."])
    game = new_game()
    app = GrueApp(game=game, host=host_with(backend))
    try:
        await play(app, backend, game)
    finally:
        backend.release.set()  # never leave the model thread waiting


async def play(app: GrueApp, backend: ReadingBackend, game: Game) -> None:
    async with app.run_test(size=(80, 24), notifications=True) as pilot:
        screen = app.screen
        assert isinstance(screen, AdventureScreen)
        await wait_until(pilot, lambda: screen.model_ready and backend.reads)
        await wait_until(pilot, lambda: "reading…" in status_text(app))
        first_tokens, first_cancel = backend.reads[0]
        assert first_tokens  # the story so far, up to where the action goes
        await pilot.press(*"open the mailbox")
        await wait_until(pilot, lambda: len(backend.reads) >= 2)  # typing paused
        assert first_cancel.is_set()  # the newer read-ahead replaced it
        typing_cancel = backend.reads[-1][1]
        await pilot.press("enter")
        await wait_until(pilot, lambda: screen.pending is None and len(game.campaign.turns) == 2)
        assert typing_cancel.is_set()  # Enter ended it
        prompt = backend.prompts[-1].tokens
        assert prompt[: len(first_tokens)] == first_tokens  # what was read ahead is reused
        await wait_until(pilot, lambda: len(backend.reads) >= 3)  # after the reply
        after_reply = backend.reads[-1][0]
        assert after_reply != first_tokens  # the next prompt: it holds the reply
        backend.release.set()
        await wait_until(pilot, lambda: "reading…" not in status_text(app))
