"""Ctrl+C in line mode stops the model as Esc does in the TUI: at its next token, keeping what
it wrote (a KeyboardInterrupt landed anywhere, and the turn was thrown away while its words
stayed on the screen); before a word, nothing is recorded and the player is told so."""

from __future__ import annotations

import io
import os
import signal
import threading
import time
from collections.abc import Callable
from pathlib import Path

from fakes import FakeBackend

from tui.engine.campaign import Settings, campaign_from_scenario
from tui.engine.context import ContextBuilder
from tui.engine.game import Game
from tui.engine.saves import load_save
from tui.engine.scenario import find_scenario
from tui.engine.templates import get_template
from tui.plain import PlainSession

LONG = " ".join(f"Step {i} of the road is quiet." for i in range(1, 200))


def session(tmp_path: Path, backend: FakeBackend) -> tuple[PlainSession, io.StringIO,
                                                              io.StringIO]:
    game = Game(campaign_from_scenario(find_scenario("lantern-road"), Settings()),
                save_folder=tmp_path)
    out, err = io.StringIO(), io.StringIO()
    plain = PlainSession(game, backend, out, err)
    plain.builder = ContextBuilder(backend.tokenize, 2048, 512, get_template("ChatML"))
    return plain, out, err


def generating() -> bool:
    """The generation's own Ctrl+C handler is in place (else SIGINT would stop pytest)."""
    return signal.getsignal(signal.SIGINT) is not signal.default_int_handler


def ctrl_c_when(condition: Callable[[], bool], or_else: Callable[[], None] = lambda: None
                ) -> threading.Thread:
    """Press Ctrl+C (SIGINT to this process) once `condition` holds; `or_else` if it never
    does within 10 s."""
    def press() -> None:
        deadline = time.monotonic() + 10
        while not condition():
            if time.monotonic() > deadline:
                or_else()
                return
            time.sleep(0.01)
        os.kill(os.getpid(), signal.SIGINT)

    thread = threading.Thread(target=press, daemon=True)
    thread.start()
    return thread


def test_ctrl_c_mid_reply_keeps_what_was_written(tmp_path: Path) -> None:
    plain, out, err = session(tmp_path, FakeBackend([LONG], delay=0.005))
    presser = ctrl_c_when(lambda: "Step 3 of" in out.getvalue())
    plain.run_line("walk on")
    presser.join(5)
    turn = plain.game.campaign.turns[-1]
    assert turn.action == "> You walk on."
    assert turn.response.startswith("Step 1 of the road is quiet.")
    assert len(turn.response) < len(LONG)  # stopped early
    assert turn.response in out.getvalue()  # what is shown is what is kept
    assert "[stopped: what was written is kept" in err.getvalue()
    assert load_save(plain.game.last_saved).turns[-1].response == turn.response
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler  # put back


def test_ctrl_c_before_a_word_records_nothing_and_says_so(tmp_path: Path) -> None:
    gate = threading.Event()  # never opened: the model never writes
    plain, _out, err = session(tmp_path, FakeBackend(["Never."], gate=gate))
    turns = len(plain.game.campaign.turns)
    presser = ctrl_c_when(generating, or_else=gate.set)
    plain.run_line("walk on")
    presser.join(5)
    assert len(plain.game.campaign.turns) == turns
    assert "[stopped before a word: nothing kept" in err.getvalue()


class CtrlCAtThePrompt(io.StringIO):
    """Lines as typed, then Ctrl+C while the game waits for the next one."""

    def readline(self, size: int | None = -1) -> str:
        line = super().readline()
        if not line:
            raise KeyboardInterrupt
        return line


def test_ctrl_c_at_the_prompt_leaves_as_quit_does(tmp_path: Path) -> None:
    """It left with status 130 and no word of the save or how to resume it."""
    plain, _out, err = session(tmp_path, FakeBackend(["The road goes on."]))
    assert plain.run(CtrlCAtThePrompt("walk on\n")) == 0
    assert "Resume with: grue resume" in err.getvalue()
    assert load_save(plain.game.last_saved).turns[-1].response == "The road goes on."
