"""The server's own folder, `$GRUE_HOME/serve/`: host key, player homes, logs, status file.

Every player gets a folder of their own under `players/`, named from their key's fingerprint;
it is that player's `GRUE_HOME` (saves, characters, settings), so players never share files.
"""

from __future__ import annotations

import os
import stat
import time
from dataclasses import dataclass
from pathlib import Path

from tui.core.paths import grue_home

PRIVATE_DIR = 0o700


def fingerprint_name(fingerprint: str) -> str:
    """A folder name for a key: `SHA256:ab+c/d` -> `sha256-ab-c_d` (URL-safe, no padding).

    Unrecognised input still becomes a safe name: anything but [A-Za-z0-9_-] is dropped."""
    kind, _, digest = fingerprint.partition(":")
    digest = digest.replace("+", "-").replace("/", "_").rstrip("=")
    name = f"{kind.lower()}-{digest}" if digest else kind
    safe = "".join(c for c in name if c.isalnum() or c in "-_")
    return safe or "unnamed"


def short_fingerprint(fingerprint: str) -> str:
    """Enough of a fingerprint to tell players apart in a list: `SHA256:abcdefghijkl`."""
    kind, _, digest = fingerprint.partition(":")
    return f"{kind}:{digest[:12]}" if digest else fingerprint[:19]


def private_dir(path: Path) -> Path:
    path.mkdir(parents=True, exist_ok=True)
    os.chmod(path, PRIVATE_DIR)
    return path


@dataclass(frozen=True)
class ServeFiles:
    root: Path

    @classmethod
    def default(cls) -> ServeFiles:
        return cls(grue_home() / "serve")

    @property
    def host_key(self) -> Path:
        return self.root / "host_ed25519_key"

    @property
    def players(self) -> Path:
        return self.root / "players"

    @property
    def logs(self) -> Path:
        return self.root / "logs"

    @property
    def status(self) -> Path:
        return self.root / "status.json"

    def make(self) -> None:
        for folder in (self.root, self.players, self.logs):
            private_dir(folder)

    def player_home(self, fingerprint: str) -> Path:
        return self.players / fingerprint_name(fingerprint)

    def session_log(self, fingerprint: str, number: int) -> Path:
        stamp = time.strftime("%Y%m%d-%H%M%S")
        return self.logs / f"{stamp}-{fingerprint_name(fingerprint)[:19]}-{number}.log"

    @property
    def model_socket(self) -> Path:
        """The shared model process's Unix socket (0600; the folder is 0700)."""
        return self.root / "model.sock"

    @property
    def rooms_socket(self) -> Path:
        """The room service's Unix socket (shared adventures; 0600)."""
        return self.root / "rooms.sock"

    @property
    def rooms(self) -> Path:
        """Each room's campaign, a save folder per room name."""
        return self.root / "rooms"

    @property
    def model_log(self) -> Path:
        return self.logs / "model.log"

    @property
    def server_log(self) -> Path:
        return self.logs / "server.log"


def host_key_problem(path: Path) -> str | None:
    """Why an existing host key must not be used (readable by others), or None."""
    mode = stat.S_IMODE(path.stat().st_mode)
    if mode & 0o077:
        return f"{path}: the host key is readable by others (mode {mode:o}); chmod 600 it"
    return None


class EventLog:
    """Timestamped lines appended to one file (opened per line: events are rare)."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def __call__(self, line: str) -> None:
        stamp = time.strftime("%Y-%m-%d %H:%M:%S")
        try:
            with self.path.open("a", encoding="utf-8") as log:
                log.write(f"{stamp} {line}\n")
        except OSError:
            pass  # a log that cannot be written never stops a game
