"""One process plays a save at a time: a lock file in the campaign folder saying who holds it.

The lock is an `flock` on `<folder>/lock`, so the kernel drops it when its process dies, however
it dies: a lock left by a dead process is simply taken over. The file's text (pid, host, start
time) is only there to name the holder in the refusal. Where `flock` does not exist, the file's
existence is the lock and a dead holder's pid on this host means it is stale.
"""

from __future__ import annotations

import atexit
import os
import socket
import threading
import time
from pathlib import Path

from tui.core.text import one_line
from tui.engine.saves.errors import SaveError

try:
    import fcntl
except ImportError:  # pragma: no cover - not POSIX
    fcntl = None  # type: ignore[assignment]

LOCK_NAME = "lock"

_held: dict[Path, int] = {}  # folder -> open lock file descriptor, for this process
_guard = threading.Lock()


def _describe(text: str) -> str:
    fields: dict[str, str] = {}
    for line in text.splitlines():
        key, _, value = line.partition("=")
        fields[key.strip()] = value.strip().strip('"')
    pid, host, started = fields.get("pid", "?"), fields.get("host", "?"), fields.get("started", "")
    since = f" since {started}" if started else ""
    return one_line(f"pid {pid} on {host}{since}", 120)


def _my_text() -> bytes:
    started = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime())
    host = socket.gethostname().replace('"', "")
    return f'pid = {os.getpid()}\nhost = "{host}"\nstarted = "{started}"\n'.encode()


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:
        return True
    return True


def _refusal(folder: Path, holder: str) -> SaveError:
    return SaveError(f"{folder.name}: in use by another Grue ({holder}); close that one first")


def acquire(folder: Path) -> None:
    """Hold `folder`'s lock for this process (again: no-op). SaveError naming the holder."""
    key = folder.resolve()
    with _guard:
        if key in _held:
            return
        path = folder / LOCK_NAME
        try:
            fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
        except OSError as exc:
            raise SaveError(f"{folder.name}: cannot take the lock: {exc.strerror or exc}") from exc
        if fcntl is not None:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except OSError:
                try:
                    holder = _describe(os.read(fd, 4096).decode("utf-8", "replace"))
                finally:
                    os.close(fd)
                raise _refusal(folder, holder) from None
        else:  # pragma: no cover - not POSIX
            text = os.read(fd, 4096).decode("utf-8", "replace")
            pid_line = [ln for ln in text.splitlines() if ln.startswith("pid")]
            if pid_line:
                try:
                    pid = int(pid_line[0].partition("=")[2])
                except ValueError:
                    pid = 0
                if pid and pid != os.getpid() and _pid_alive(pid):
                    os.close(fd)
                    raise _refusal(folder, _describe(text))
        os.ftruncate(fd, 0)
        os.lseek(fd, 0, os.SEEK_SET)
        os.write(fd, _my_text())
        _held[key] = fd


def holds(folder: Path) -> bool:
    return folder.resolve() in _held


def release(folder: Path) -> None:
    """Let another process play this save (the lock file stays; its flock goes)."""
    with _guard:
        fd = _held.pop(folder.resolve(), None)
    if fd is None:
        return
    try:
        if fcntl is None:  # pragma: no cover - not POSIX
            os.ftruncate(fd, 0)
    finally:
        os.close(fd)


def release_all() -> None:
    for folder in list(_held):
        release(folder)


atexit.register(release_all)
