"""The shared model's queue: round-robin across players, first come first served within one.

A player with jobs waiting sits in a rotation; the model takes the first job of the first
player, who then goes to the back (if they have more). So between two jobs of one player,
every other player with a job waiting gets one: no player waits for two jobs of another
(docs/architecture.md, "grue serve"). One model thread takes jobs one at a time, so each
player has at most one job in flight.

Jobs nobody is waiting for (`background`: a world state or story-so-far update, run in a
player's pause) are taken only when no player's next job is one somebody waits for, so
another player's update never stands between Enter and the first word.
"""

from __future__ import annotations

import threading
from collections import deque
from collections.abc import Callable
from typing import Generic, Protocol, TypeVar


class HasPlayer(Protocol):
    player: str


J = TypeVar("J", bound=HasPlayer)


class FairQueue(Generic[J]):
    def __init__(self, background: Callable[[J], bool] | None = None) -> None:
        self._background = background or (lambda _job: False)
        self._cond = threading.Condition()
        self._waiting: dict[str, deque[J]] = {}
        self._rotation: deque[str] = deque()
        self._closed = False

    def put(self, job: J) -> None:
        with self._cond:
            if job.player not in self._waiting:
                self._waiting[job.player] = deque()
                self._rotation.append(job.player)
            self._waiting[job.player].append(job)
            self._cond.notify()

    def take(self, timeout: float | None = None) -> J | None:
        """The next job in turn (blocks up to `timeout`); None on timeout or when closed."""
        with self._cond:
            if not self._cond.wait_for(lambda: self._rotation or self._closed, timeout):
                return None
            if self._closed:
                return None
            return self._pop(self._waiting, self._rotation)

    def _pop(self, waiting: dict[str, deque[J]], rotation: deque[str]) -> J:
        """The next job of the first player in `rotation` whose next job is waited for (else
        of the first player), who then goes to the back if they have more."""
        player = next((p for p in rotation if not self._background(waiting[p][0])),
                      rotation[0])
        rotation.remove(player)
        jobs = waiting[player]
        job = jobs.popleft()
        if jobs:
            rotation.append(player)
        else:
            del waiting[player]
        return job

    def remove(self, which: Callable[[J], bool]) -> list[J]:
        """Take the waiting jobs `which` picks out of the queue (cancelled, disconnected)."""
        removed: list[J] = []
        with self._cond:
            for player in list(self._rotation):
                jobs = self._waiting[player]
                kept = deque(job for job in jobs if not which(job))
                removed += [job for job in jobs if which(job)]
                if kept:
                    self._waiting[player] = kept
                else:
                    del self._waiting[player]
                    self._rotation.remove(player)
        return removed

    def order(self) -> list[J]:
        """Every waiting job in the order the model will take them (if nothing else comes)."""
        with self._cond:
            waiting = {player: deque(jobs) for player, jobs in self._waiting.items()}
            rotation = deque(self._rotation)
        order: list[J] = []
        while rotation:
            order.append(self._pop(waiting, rotation))
        return order

    def waiting(self) -> dict[str, int]:
        """Jobs waiting per player, players in rotation order."""
        with self._cond:
            return {player: len(self._waiting[player]) for player in self._rotation}

    def __len__(self) -> int:
        with self._cond:
            return sum(len(jobs) for jobs in self._waiting.values())

    def close(self) -> None:
        with self._cond:
            self._closed = True
            self._cond.notify_all()
