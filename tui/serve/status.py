"""The status file a running server keeps (`serve/status.json`) and `grue serve --status`.

The server rewrites it (atomically) when it starts and whenever a session starts or ends, and
removes it on a clean shutdown; `--status` reads it and checks that its process still lives."""

from __future__ import annotations

import contextlib
import json
import os
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from tui.core.files import write_atomic
from tui.core.text import clean, one_line


@dataclass
class SessionStatus:
    player: str  # the short fingerprint
    since: float
    term: str
    size: str  # "80x24"
    address: str
    child: int | None  # the game's process id


@dataclass
class ServerStatus:
    pid: int
    port: int
    started: float
    max_sessions: int
    sessions: list[SessionStatus] = field(default_factory=list)

    def write(self, path: Path) -> None:
        data = json.dumps(asdict(self), indent=1).encode()
        write_atomic(path, data, sync_folder=False)


def read_status(path: Path) -> ServerStatus | None:
    """The status file, or None if there is none or it cannot be read."""
    try:
        data: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
        sessions = [SessionStatus(**s) for s in data.pop("sessions", [])]
        return ServerStatus(**data, sessions=sessions)
    except (OSError, ValueError, TypeError):
        return None


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _when(stamp: float) -> str:
    today = time.strftime("%Y-%m-%d") == time.strftime("%Y-%m-%d", time.localtime(stamp))
    return time.strftime("%H:%M:%S" if today else "%Y-%m-%d %H:%M", time.localtime(stamp))


def status_lines(path: Path) -> tuple[int, list[str]]:
    """What `grue serve --status` prints, and its exit status (1: no server runs)."""
    status = read_status(path)
    if status is None:
        return 1, [f"grue serve: no server is running (no status file at {path})"]
    if not alive(status.pid):
        return 1, [f"grue serve: no server is running (process {status.pid} named in {path}"
                   " is gone)"]
    lines = [f"grue serve: process {status.pid}, port {status.port}, up since"
             f" {_when(status.started)}; {len(status.sessions)} of {status.max_sessions}"
             " sessions"]
    for s in status.sessions:
        term = one_line(clean(s.term), 24)
        lines.append(f"  {s.player:<19} since {_when(s.since):<16} {term:<16} {s.size:>9}"
                     f"  from {s.address}  game pid {s.child}")
    return 0, lines


def remove_status(path: Path) -> None:
    with contextlib.suppress(OSError):
        path.unlink()
