"""Grue in a real pseudo-terminal, for tests of what reaches the terminal's bytes.

`PtyGrue` starts a Python command in a pty of a given size, collects everything the program
writes (a reader thread drains the master side so the program never blocks on a full pty),
and writes keys to it, a whole burst in one `os.write()` if asked."""

from __future__ import annotations

import contextlib
import fcntl
import os
import pty
import signal
import struct
import sys
import termios
import threading
import time
from collections.abc import Sequence
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]

KEYS = {
    "tab": b"\t", "enter": b"\r", "escape": b"\x1b", "ctrl+s": b"\x13", "ctrl+q": b"\x11",
    "f1": b"\x1bOP", "f2": b"\x1bOQ", "f3": b"\x1bOR", "f4": b"\x1bOS", "f5": b"\x1b[15~",
    "f6": b"\x1b[17~", "f7": b"\x1b[18~", "f8": b"\x1b[19~", "f9": b"\x1b[20~",
    "f10": b"\x1b[21~",
}


def keys(*parts: str) -> bytes:
    """Bytes for a burst: text parts as typed, `<name>` parts as the key's escape sequence."""
    out = b""
    for part in parts:
        if part.startswith("<") and part.endswith(">"):
            out += KEYS[part[1:-1]]
        else:
            out += part.encode()
    return out


class PtyGrue:
    def __init__(self, args: Sequence[str], home: Path, size: tuple[int, int] = (80, 24),
                 env: dict[str, str] | None = None) -> None:
        environ = {**os.environ, "GRUE_HOME": str(home), "TERM": "xterm-256color",
                   "PYTHONPATH": str(REPO), "COLUMNS": str(size[0]), "LINES": str(size[1]),
                   **(env or {})}
        environ.pop("NO_COLOR", None)
        self.pid, self.fd = pty.fork()
        if self.pid == 0:  # the child: the command in a real terminal
            try:
                os.execve(sys.executable, [sys.executable, *args], environ)
            finally:
                os._exit(127)
        fcntl.ioctl(self.fd, termios.TIOCSWINSZ, struct.pack("HHHH", size[1], size[0], 0, 0))
        self._lock = threading.Lock()
        self._data = bytearray()
        self.status: int | None = None
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        while True:
            try:
                chunk = os.read(self.fd, 65536)
            except OSError:
                return
            if not chunk:
                return
            with self._lock:
                self._data += chunk

    @property
    def output(self) -> bytes:
        with self._lock:
            return bytes(self._data)

    def text(self) -> str:
        return self.output.decode("utf-8", "replace")

    def mark(self) -> int:
        """Where the output is now: `since(mark)` is what came after."""
        return len(self.output)

    def since(self, mark: int) -> bytes:
        return self.output[mark:]

    def wait_for(self, needle: bytes | str, timeout: float = 60.0, start: int = 0) -> None:
        raw = needle.encode() if isinstance(needle, str) else needle
        deadline = time.monotonic() + timeout
        while raw not in self.output[start:]:
            if self.exited():
                raise AssertionError(f"exited ({self.status}) before {raw!r}:\n"
                                     f"{self.text()[-3000:]}")
            if time.monotonic() > deadline:
                raise AssertionError(f"timed out waiting for {raw!r}:\n{self.text()[-3000:]}")
            time.sleep(0.05)

    def wait_for_words(self, needle: str, timeout: float = 60.0, start: int = 0) -> None:
        """Like `wait_for`, for line-mode prose: line mode word-wraps on a terminal, so any run
        of spaces and line breaks in the output matches one space in `needle`."""
        words = needle.split()
        deadline = time.monotonic() + timeout
        while " ".join(words) not in " ".join(self.output[start:].decode("utf-8", "replace")
                                              .split()):
            if self.exited() or time.monotonic() > deadline:
                self.wait_for(needle, 0, start)  # fails with the output
            time.sleep(0.05)

    def write(self, data: bytes) -> None:
        """One `write()`: the program reads the burst as a terminal delivers it."""
        assert os.write(self.fd, data) == len(data)

    def exited(self) -> bool:
        if self.status is not None:
            return True
        done, status = os.waitpid(self.pid, os.WNOHANG)
        if done:
            self.status = status
        return done != 0

    def wait_exit(self, timeout: float = 30.0) -> int:
        """The exit status (or -signal); fails if the process is still running."""
        deadline = time.monotonic() + timeout
        while not self.exited():
            if time.monotonic() > deadline:
                raise AssertionError(f"still running after {timeout} s:\n{self.text()[-2000:]}")
            time.sleep(0.02)
        self._reader.join(2)
        assert self.status is not None
        return os.waitstatus_to_exitcode(self.status)

    def signal(self, signum: int) -> None:
        os.kill(self.pid, signum)

    def close(self) -> None:
        if not self.exited():
            with contextlib.suppress(ProcessLookupError):
                os.kill(self.pid, signal.SIGKILL)
            with contextlib.suppress(ChildProcessError):
                os.waitpid(self.pid, 0)
        with contextlib.suppress(OSError):
            os.close(self.fd)

    def __enter__(self) -> PtyGrue:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
