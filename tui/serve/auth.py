"""Who may come in: public keys only, checked against an allowlist read on every attempt (or
any key with `--open`), and a per-address limit on connections and refused keys.

A player is their key's SHA256 fingerprint; the SSH user name is ignored."""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable
from pathlib import Path

import asyncssh


class Allowlist:
    """An `authorized_keys` file, read again for every key offered, so an edit (a key added or
    removed) counts from the next attempt on, without a restart. `None` with `open_door`: any
    key may register."""

    def __init__(self, path: Path | None, open_door: bool, log: Callable[[str], None]) -> None:
        self.path = path
        self.open_door = open_door
        self.log = log

    def allows(self, key: asyncssh.SSHKey, host: str, addr: str) -> bool:
        if self.open_door:
            return True
        if self.path is None:
            return False
        try:
            listed = asyncssh.read_authorized_keys(str(self.path))
        except (OSError, ValueError, asyncssh.KeyImportError) as exc:
            self.log(f"cannot read the allowlist {self.path}: {exc}; refusing every key")
            return False
        return listed.validate(key, host, addr) is not None


class RateLimit:
    """At most `limit` events (connections, refused keys) per address in `window` seconds."""

    def __init__(self, limit: int, window: float,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.limit = limit
        self.window = window
        self.clock = clock
        self._events: dict[str, deque[float]] = {}

    def _recent(self, addr: str) -> deque[float]:
        now = self.clock()
        events = self._events.setdefault(addr, deque())
        while events and now - events[0] > self.window:
            events.popleft()
        return events

    def over(self, addr: str) -> bool:
        """Whether `addr` has used up its allowance (without counting this question)."""
        over = len(self._recent(addr)) >= self.limit
        self._forget_quiet()
        return over

    def count(self, addr: str) -> None:
        self._recent(addr).append(self.clock())

    def _forget_quiet(self) -> None:
        """Drop addresses with no recent events, so the table cannot grow without bound."""
        if len(self._events) < 1024:
            return
        for addr in [a for a, events in self._events.items() if not self._recent(a)]:
            del self._events[addr]
