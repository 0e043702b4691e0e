"""One player's game: the normal Grue TUI as a child process in a pty of its own.

Knows nothing of SSH: the server hands it bytes typed, window sizes and a hang-up, and gets
back the bytes the game writes and its exit status. A child per session keeps sessions apart:
one crashing takes nothing else with it (docs/architecture.md, "grue serve").
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import os
import signal
import struct
import sys
import termios
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path

HANG_UP_GRACE = 15.0  # seconds a hung-up game gets to save and leave before SIGKILL
MAX_PENDING_INPUT = 1 << 16  # bytes typed that the game has not read yet; more is dropped
READ_CHUNK = 1 << 16
MAX_SIDE = 1000  # a window size beyond this is a broken client, not a screen
# The environment a game inherits, besides what the session sets: nothing of the server's
# SSH or terminal state (COLUMNS/LINES would pin the size: Textual reads them before the pty).
DROPPED_ENV = ("COLUMNS", "LINES", "SSH_AUTH_SOCK", "SSH_CONNECTION", "SSH_CLIENT", "SSH_TTY",
               "TERMCAP", "TMUX", "STY", "WINDOW")


def game_command(model_args: Sequence[str]) -> list[str]:
    """The command a session runs: the home screen, with the server's model options."""
    return [sys.executable, "-m", "tui.commands.serve_session", *model_args]


def game_env(home: Path, term: str, shared: Mapping[str, str] | None = None
             ) -> dict[str, str]:
    """A game's environment; `shared`: the variables that pin it to the shared model."""
    env = {k: v for k, v in os.environ.items() if k not in DROPPED_ENV}
    env.update(GRUE_HOME=str(home), TERM=term or "xterm")
    env.update(shared or {})
    return env


def _winsize(cols: int, rows: int) -> bytes:
    cols = min(max(cols, 1), MAX_SIDE)
    rows = min(max(rows, 1), MAX_SIDE)
    return struct.pack("HHHH", rows, cols, 0, 0)


def pty_size(fd: int) -> tuple[int, int]:
    """(columns, rows) of the pty behind `fd`."""
    rows, cols, _x, _y = struct.unpack("HHHH", fcntl.ioctl(fd, termios.TIOCGWINSZ, b"\0" * 8))
    return cols, rows


class PtyGame:
    """A child process on a new pty, its output pumped to `on_output`, its end to `on_exit`."""

    def __init__(self, argv: Sequence[str], env: Mapping[str, str], size: tuple[int, int],
                 on_output: Callable[[bytes], None], on_exit: Callable[[int], None]) -> None:
        self.argv = list(argv)
        self.env = dict(env)
        self.size = size
        self.on_output = on_output
        self.on_exit = on_exit
        self.master = -1
        self.proc: asyncio.subprocess.Process | None = None
        self.exit_code: int | None = None
        self.done = asyncio.Event()
        self._pending = bytearray()
        self._paused = False
        self._reading = False
        self._loop = asyncio.get_running_loop()

    @property
    def pid(self) -> int | None:
        return self.proc.pid if self.proc else None

    async def start(self) -> None:
        master, slave = os.openpty()
        try:
            fcntl.ioctl(slave, termios.TIOCSWINSZ, _winsize(*self.size))
            os.set_blocking(master, False)
            # A session of its own: the pty becomes its controlling terminal
            # (tui/commands/serve_session.py) and a SIGKILL to the group reaches anything
            # it started.
            self.proc = await asyncio.create_subprocess_exec(
                *self.argv, stdin=slave, stdout=slave, stderr=slave, env=self.env,
                start_new_session=True, close_fds=True)
        except BaseException:
            os.close(master)
            raise
        finally:
            os.close(slave)
        self.master = master
        self._read_on()
        if self._pending:  # typed while the game was starting
            self._flush_input()
        self._loop.create_task(self._watch())

    # --- output ---------------------------------------------------------------------------

    def _read_on(self) -> None:
        if not self._reading and not self._paused and self.master >= 0:
            self._loop.add_reader(self.master, self._readable)
            self._reading = True

    def _read_off(self) -> None:
        if self._reading:
            self._loop.remove_reader(self.master)
            self._reading = False

    def _readable(self) -> None:
        try:
            data = os.read(self.master, READ_CHUNK)
        except BlockingIOError:
            return
        except OSError:  # EIO: the game closed its end of the pty
            data = b""
        if not data:
            self._read_off()
            return
        self.on_output(data)

    def pause_output(self) -> None:
        """The player's link is full: stop reading, so the game blocks, not our memory."""
        self._paused = True
        self._read_off()

    def resume_output(self) -> None:
        self._paused = False
        self._read_on()

    # --- input and size -------------------------------------------------------------------

    def write(self, data: bytes) -> None:
        """Keys for the game; kept until it starts, and while it does not read."""
        if self.exit_code is not None:
            return
        room = MAX_PENDING_INPUT - len(self._pending)
        had_pending = bool(self._pending)
        self._pending += data[:max(room, 0)]
        if not had_pending and self.master >= 0:
            self._flush_input()

    def _flush_input(self) -> None:
        try:
            written = os.write(self.master, self._pending)
        except BlockingIOError:
            written = 0
        except OSError:
            self._pending.clear()
            written = 0
        del self._pending[:written]
        with contextlib.suppress(ValueError, OSError):
            if self._pending:
                self._loop.add_writer(self.master, self._flush_input)
            else:
                self._loop.remove_writer(self.master)

    def resize(self, cols: int, rows: int) -> None:
        """The player's window changed: set the pty's size and tell the game (SIGWINCH)."""
        self.size = (cols, rows)
        if self.master < 0 or self.exit_code is not None:
            return
        with contextlib.suppress(OSError):
            fcntl.ioctl(self.master, termios.TIOCSWINSZ, _winsize(cols, rows))
        self._signal(signal.SIGWINCH)

    # --- the end --------------------------------------------------------------------------

    def _signal(self, signum: int) -> None:
        if self.proc is not None and self.exit_code is None:
            with contextlib.suppress(ProcessLookupError):
                self.proc.send_signal(signum)

    async def hang_up(self, grace: float = HANG_UP_GRACE) -> None:
        """SIGHUP (Grue saves and leaves), SIGKILL after `grace` seconds; returns once reaped."""
        if self.proc is None:
            return
        self._signal(signal.SIGHUP)
        try:
            await asyncio.wait_for(self.done.wait(), grace)
        except TimeoutError:
            self._kill_group()
            await self.done.wait()

    def _kill_group(self) -> None:
        if self.proc is not None:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(self.proc.pid, signal.SIGKILL)

    async def _watch(self) -> None:
        assert self.proc is not None
        code = await self.proc.wait()
        self._kill_group()  # anything the game left running in its session
        self._drain()
        self._read_off()
        with contextlib.suppress(ValueError, OSError):
            self._loop.remove_writer(self.master)
        os.close(self.master)
        self.master = -1
        self.exit_code = code
        self.done.set()
        self.on_exit(code)

    def _drain(self) -> None:
        """What the game wrote just before it ended (a hang-up's terminal reset, an error)."""
        for _ in range(64):
            try:
                data = os.read(self.master, READ_CHUNK)
            except OSError:  # EAGAIN: nothing more; EIO: the pty is closed
                return
            if not data:
                return
            self.on_output(data)
