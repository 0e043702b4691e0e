"""The caches behind a scanner: the compiled index (rebuilt only when a key-relevant field
changes), the keys found per message text, and token counts by content."""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable
from operator import attrgetter
from typing import Any

from tui.engine.lore.entries import Lorebook, LoreSettings, _edits
from tui.engine.lore.index import _Index
from tui.engine.lore.keys import Spec

# The entry fields the compiled index depends on; everything else is read live at scan time.
_INDEXED = attrgetter(
    "keys", "secondary_keys", "case_sensitive", "whole_words", "constant", "scan_depth", "uid"
)


def _fingerprint(books: list[Lorebook], settings: LoreSettings) -> list[Any]:
    """What the index was built from. Compared by value each scan, so in-place edits of key
    lists are seen; `map` with `attrgetter` keeps this cheap for large books."""
    parts: list[Any] = [
        settings.case_sensitive,
        settings.whole_words,
        settings.scan_depth,
        settings.recursive,
    ]
    for book in books:
        parts.append((id(book), book.name, book.scan_depth, book.recursive_scanning))
        parts.append(list(map(id, book.entries)))
        parts.append(list(map(_INDEXED, book.entries)))
    return parts


def _snapshot(fingerprint: list[Any]) -> list[Any]:
    """A copy of a fingerprint whose key lists cannot change under it."""
    out = list(fingerprint[:4])
    for i in range(4, len(fingerprint), 3):
        out.append(fingerprint[i])
        out.append(fingerprint[i + 1])
        out.append([(list(k), list(s), *rest) for k, s, *rest in fingerprint[i + 2]])
    return out


class _CachedIndex:
    """The caches of one scanner; callers hold the scanner's lock."""

    def __init__(self, cache_size: int = 4096) -> None:
        self._index: _Index | None = None
        self._fingerprint: list[Any] | None = None
        self._quick: tuple[Any, ...] | None = None
        self._found: OrderedDict[str, frozenset[Spec]] = OrderedDict()
        self._tokens: dict[str, int] = {}
        self._counter: Callable[[str], int] | None = None
        self._cache_size = cache_size

    def _forget_index(self) -> None:
        """Drop the compiled index and the keys found with it (token counts stay valid)."""
        self._index = None
        self._fingerprint = None
        self._quick = None
        self._found.clear()

    def _get_index(self, books: list[Lorebook], settings: LoreSettings) -> _Index:
        quick = (
            _edits[0],
            settings.case_sensitive,
            settings.whole_words,
            settings.scan_depth,
            settings.recursive,
            tuple((id(b), tuple(map(id, b.entries))) for b in books),
        )
        if self._index is not None and quick == self._quick:
            return self._index
        fp = _fingerprint(books, settings)
        if self._index is None or fp != self._fingerprint:
            self._index = _Index(books, settings)
            self._fingerprint = _snapshot(fp)
            self._found.clear()
        self._quick = quick
        return self._index

    def _find(self, index: _Index, text: str) -> frozenset[Spec]:
        hit = self._found.get(text)
        if hit is not None:
            self._found.move_to_end(text)
            return hit
        found = index.find(text)
        self._found[text] = found
        if len(self._found) > self._cache_size:
            self._found.popitem(last=False)
        return found

    def _count(self, count_tokens: Callable[[str], int], text: str) -> int:
        if self._counter is None or self._counter != count_tokens:
            self._counter = count_tokens
            self._tokens.clear()
        hit = self._tokens.get(text)
        if hit is None:
            hit = max(0, int(count_tokens(text))) if text else 0
            if len(self._tokens) > 8 * self._cache_size:
                self._tokens.clear()
            self._tokens[text] = hit
        return hit
