"""A dropped terminal (SIGHUP) saves the game and ends the process, even if the UI is stuck."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

WATCHDOG = """
import tui.app as app_module
from tui.app import GrueApp
from tui.engine.campaign import campaign_from_scenario
from tui.engine.game import Game
from tui.engine.scenario import find_scenario
app_module.HANG_UP_GRACE_SECONDS = 0
game = Game(campaign_from_scenario(find_scenario("lantern-road")))
GrueApp(game=game)._hang_up_watchdog()
print("not reached")
"""


def test_watchdog_saves_and_exits_when_the_loop_is_stuck(grue_home: Path) -> None:
    env = {**os.environ, "GRUE_HOME": str(grue_home)}
    run = subprocess.run([sys.executable, "-c", WATCHDOG], env=env, capture_output=True,
                         text=True, timeout=60)
    assert run.returncode == 0, run.stderr
    assert "not reached" not in run.stdout
    assert len(list((grue_home / "saves").glob("*/campaign.toml"))) == 1


def test_sighup_in_a_pty_saves_and_exits(grue_home: Path) -> None:
    import pty

    env = {**os.environ, "GRUE_HOME": str(grue_home), "TERM": "xterm-256color"}
    pid, fd = pty.fork()
    if pid == 0:  # the child: grue in a real terminal
        os.execve(sys.executable, [sys.executable, "-m", "tui.cli", "new", "rain-on-ninth",
                                   "--max-tokens", "8"], env)
    try:
        deadline = time.monotonic() + 30
        seen = b""
        while b"ready" not in seen and time.monotonic() < deadline:
            try:
                seen += os.read(fd, 65536)
            except OSError:
                break
        os.kill(pid, signal.SIGHUP)
        os.close(fd)
        for _ in range(100):
            done, status = os.waitpid(pid, os.WNOHANG)
            if done:
                break
            time.sleep(0.1)
        else:
            os.kill(pid, signal.SIGKILL)
            raise AssertionError("grue did not exit after SIGHUP")
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
    assert (grue_home / "saves").exists() and list((grue_home / "saves").glob("*/campaign.toml"))
