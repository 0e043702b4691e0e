"""The status file a running server keeps (`serve/status.json`) and `grue serve --status`.

The server rewrites it (atomically) when it starts, whenever a session starts or ends, and
when the shared model's queue changed (asked every few seconds), and removes it on a clean
shutdown; `--status` reads it and checks that its process still lives."""

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
from tui.serve.files import short_fingerprint


@dataclass
class SessionStatus:
    player: str  # the short fingerprint
    since: float
    term: str
    size: str  # "80x24"
    address: str
    child: int | None  # the game's process id


@dataclass
class QueueStatus:
    """The shared model's line, from its `stats` reply (players by short fingerprint)."""

    up: bool = False  # the model process answered
    running: dict[str, Any] | None = None  # {"player", "id", "since"}: the job generating
    waiting: dict[str, int] = field(default_factory=dict)  # jobs waiting per player
    tokens_read: dict[str, int] = field(default_factory=dict)  # prompt tokens read per player

    @classmethod
    def from_stats(cls, stats: dict[str, Any] | None) -> QueueStatus:
        if not isinstance(stats, dict) or "error" in stats:
            return cls()
        running = stats.get("running")
        if isinstance(running, dict):
            running = {"player": short_fingerprint(str(running.get("player", ""))),
                       "id": running.get("id"), "since": running.get("since")}
        else:
            running = None
        return cls(up=True, running=running,
                   waiting=_per_player(stats.get("waiting_by_player")),
                   tokens_read=_per_player(stats.get("tokens_read")))


def _per_player(counts: Any) -> dict[str, int]:
    if not isinstance(counts, dict):
        return {}
    return {short_fingerprint(str(k)): int(v) for k, v in counts.items()
            if isinstance(v, int)}


@dataclass
class ServerStatus:
    pid: int
    port: int
    started: float
    max_sessions: int
    sessions: list[SessionStatus] = field(default_factory=list)
    queue: QueueStatus | None = None  # None: no shared model (--model-per-game)
    rooms: list[dict[str, Any]] = field(default_factory=list)

    def write(self, path: Path) -> None:
        data = json.dumps(asdict(self), indent=1).encode()
        write_atomic(path, data, sync_folder=False)


def read_status(path: Path) -> ServerStatus | None:
    """The status file, or None if there is none or it cannot be read."""
    try:
        data: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
        sessions = [SessionStatus(**s) for s in data.pop("sessions", [])]
        queue = data.pop("queue", None)
        return ServerStatus(**data, sessions=sessions,
                            queue=QueueStatus(**queue) if isinstance(queue, dict) else None)
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
    if status.queue is not None:
        lines += queue_lines(status.queue)
    lines.append(f"rooms: {len(status.rooms)}" if status.rooms else "rooms: none")
    for room in status.rooms:
        taking = clean(str(room.get("taking", "")))
        lines.append(f"  {one_line(clean(str(room.get('name', '?'))), 24)}"
                     f"  {room.get('turns', '?')} turns"
                     f"  host {one_line(clean(str(room.get('host', '?'))), 20)}"
                     f"  players {one_line(clean(str(room.get('players', '?'))), 80)}"
                     + (f"  {one_line(taking, 20)} taking a turn" if taking else ""))
    return 0, lines


def queue_lines(queue: QueueStatus) -> list[str]:
    """The shared model's line: the job running, who waits with how many, tokens read."""
    if not queue.up:
        return ["model queue: the shared model process is not answering (starting?)"]
    running = queue.running
    if running:
        took = max(time.time() - float(running.get("since") or time.time()), 0.0)
        now = f"{running.get('player')} (job {running.get('id')}, {took:.0f} s)"
    else:
        now = "nothing"
    waiting = ", ".join(f"{p} {n}" for p, n in queue.waiting.items()) or "nobody"
    lines = [f"model queue: running {now}; waiting: {waiting}"]
    if queue.tokens_read:
        read = ", ".join(f"{p} {n}" for p, n in sorted(queue.tokens_read.items(),
                                                       key=lambda item: -item[1]))
        lines.append(f"  prompt tokens read: {read}")
    return lines


def remove_status(path: Path) -> None:
    with contextlib.suppress(OSError):
        path.unlink()
