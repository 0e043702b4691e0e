"""`tui/serve/session.py` on its own (no SSH): a child in a pty of the size asked for, resized
with SIGWINCH, hung up with SIGHUP, killed when it will not leave, and always reaped."""

from __future__ import annotations

import asyncio
import os
import signal
import sys
import time
from pathlib import Path

import pytest

from tui.serve.session import PtyGame, game_env, pty_size

# Prints its size at start and at every SIGWINCH; ignores SIGHUP if asked to.
CHILD = """
import os, signal, sys, time
def show(*_):
    c, r = os.get_terminal_size(0)
    print(f"size {c}x{r}", flush=True)
signal.signal(signal.SIGWINCH, show)
if sys.argv[1] == "stubborn":
    signal.signal(signal.SIGHUP, signal.SIG_IGN)
show()
while True:
    time.sleep(0.05)
"""


class Game:
    def __init__(self, mode: str, size: tuple[int, int] = (80, 24)) -> None:
        self.output = bytearray()
        self.ended: list[int] = []
        env = game_env(Path("/tmp"), "xterm")
        self.game = PtyGame([sys.executable, "-c", CHILD, mode], env, size,
                            self.output.extend, self.ended.append)

    async def wait_for(self, needle: bytes, timeout: float = 20.0) -> None:
        deadline = time.monotonic() + timeout
        while needle not in self.output:
            assert time.monotonic() < deadline, f"no {needle!r} in {bytes(self.output)!r}"
            await asyncio.sleep(0.02)


async def test_the_child_gets_the_size_and_each_resize() -> None:
    game = Game("polite", (80, 24))
    await game.game.start()
    await game.wait_for(b"size 80x24")
    game.game.resize(120, 40)
    await game.wait_for(b"size 120x40")
    assert pty_size(game.game.master) == (120, 40)
    await game.game.hang_up(5)
    assert game.ended == [-signal.SIGHUP] and game.game.master == -1


async def test_a_child_that_ignores_the_hang_up_is_killed_and_reaped() -> None:
    game = Game("stubborn")
    await game.game.start()
    await game.wait_for(b"size 80x24")
    pid = game.game.pid
    assert pid is not None
    await game.game.hang_up(0.5)
    assert game.ended == [-signal.SIGKILL]
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        pass
    else:
        raise AssertionError(f"process {pid} is still there")


def test_the_game_environment_drops_what_would_pin_the_size(
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("COLUMNS", "80")
    monkeypatch.setenv("SSH_AUTH_SOCK", "/tmp/agent")
    env = game_env(Path("/srv/p1"), "screen")
    assert "COLUMNS" not in env and "SSH_AUTH_SOCK" not in env
    assert env["GRUE_HOME"] == "/srv/p1" and env["TERM"] == "screen"
