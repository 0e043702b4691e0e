"""Turns read when first used: a long campaign is ready to play before its old chunks are parsed.

A closed chunk whose bytes match the checksum its state recorded is our own writing and
parses; such a chunk is kept as bytes and its turns are placeholders (`LazyTurn`) that parse
the whole chunk the first time any of them is read or changed, then become plain `Turn`s.
Identity and `edit_stamp` are read without parsing, so a save does not force them either.
A chunk whose checksum does not match (edited by hand) is parsed at load, so a problem is
reported at load, never later (docs/architecture.md, saves).
"""

from __future__ import annotations

import copy
import threading
import tomllib
from typing import Any

from tui.engine.campaign import Turn

_FIELDS = frozenset({"mode", "action", "responses", "chosen", "changes", "reverts", "applied",
                     "world_note"})


class ChunkBytes:
    """One closed chunk's text, parsed once, on first need, into its placeholders."""

    def __init__(self, data: bytes, count: int) -> None:
        self._data: bytes | None = data
        self._lock = threading.Lock()
        self.turns: list[LazyTurn] = [LazyTurn.__new__(LazyTurn) for _ in range(count)]
        for turn in self.turns:
            object.__getattribute__(turn, "__dict__")["_chunk"] = self

    def parse(self) -> None:
        with self._lock:
            if self._data is None:
                return
            table = tomllib.loads(self._data.decode("utf-8"))
            real = [Turn.from_dict(t) for t in table["turns"]]
            for placeholder, turn in zip(self.turns, real, strict=True):
                slots = object.__getattribute__(placeholder, "__dict__")
                for key, value in vars(turn).items():
                    slots.setdefault(key, value)
                slots.pop("_chunk", None)
                object.__setattr__(placeholder, "__class__", Turn)
            self._data = None


def _parse(turn: Any) -> None:
    chunk = object.__getattribute__(turn, "__dict__").get("_chunk")
    if chunk is not None:
        chunk.parse()


class LazyTurn(Turn):
    """A turn whose chunk is not parsed yet; any use of its fields parses it (then it is a
    plain Turn: its class changes in place)."""

    def __getattribute__(self, name: str) -> Any:
        if name in _FIELDS:
            _parse(self)
        return object.__getattribute__(self, name)

    def __setattr__(self, name: str, value: Any) -> None:
        _parse(self)
        Turn.__setattr__(self, name, value)

    def __copy__(self) -> Turn:
        _parse(self)
        return copy.copy(self)

    def __deepcopy__(self, memo: dict[int, Any]) -> Turn:
        _parse(self)
        return copy.deepcopy(self, memo)

    def __reduce_ex__(self, protocol: Any) -> Any:
        _parse(self)
        return self.__reduce_ex__(protocol)


def _eq(self: LazyTurn, other: object) -> bool:
    _parse(self)
    return self == other


LazyTurn.__eq__ = _eq  # type: ignore[method-assign,assignment]
LazyTurn.__hash__ = None  # type: ignore[assignment]
