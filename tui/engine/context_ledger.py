"""What a builder remembers between builds: token ids by content, and the ledger of the
previous build's history (merged messages and the prefix sums of their costs), so a build
only costs the messages after the unchanged prefix."""

from __future__ import annotations

from bisect import bisect_right
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, replace
from itertools import accumulate
from typing import Any

from tui.engine.context_layout import Layout, _Piece, apply_macros
from tui.engine.context_types import NARRATOR, NOTE, Message
from tui.engine.templates import InstructTemplate

Tokenize = Callable[[str, bool], list[int]]


class TokenCache:
    """Token ids by (text, special), so each piece is tokenized once."""

    def __init__(self, tokenize: Tokenize, max_entries: int = 50_000) -> None:
        self._tokenize = tokenize
        self._cache: OrderedDict[tuple[str, bool], list[int]] = OrderedDict()
        self._max = max_entries

    def ids(self, text: str, special: bool = False) -> list[int]:
        if not text:
            return []
        key = (text, special)
        hit = self._cache.get(key)
        if hit is not None:
            self._cache.move_to_end(key)
            return hit
        ids = self._tokenize(text, special)
        self._cache[key] = ids
        if len(self._cache) > self._max:
            self._cache.popitem(last=False)
        return ids

    def count(self, text: str) -> int:
        return len(self.ids(text))


def common_prefix(a: list[Any], b: list[Any]) -> int:
    """Length of the longest common prefix of two lists.

    Only whole-slice comparisons, which run in C and short-cut on identical items; it
    gallops back from the end first because edits are usually recent.
    """
    n = min(len(a), len(b))
    if (a == b) if len(a) == len(b) else (a[:n] == b[:n]):
        return n
    lo, hi = 0, n  # a[:lo] == b[:lo] and a[:hi] != b[:hi]
    step = 1
    while hi - step > lo:
        mid = hi - step
        if a[lo:mid] == b[lo:mid]:
            lo = mid
            break
        hi = mid
        step *= 2
    while hi - lo > 1:
        mid = (lo + hi) // 2
        if a[lo:mid] == b[lo:mid]:
            lo = mid
        else:
            hi = mid
    return lo


@dataclass(frozen=True)
class _Ledger:
    """One build's history, kept so the next build only costs what changed. Never mutated
    (a build makes a new one), so a build on another thread can still read the old one."""

    cache: TokenCache | None  # what the costs were counted with (identity)
    layout: Layout | None
    template: InstructTemplate | None
    macros: dict[str, str]
    count: Callable[[str], int] | None  # the lore scanner's token counter, kept stable
    source: list[Message]  # spec.history as given
    merged: list[Message]  # macros applied, consecutive narration merged
    texts: list[str]  # merged[i].text, or "" for a note kept in the story (lore is not
    # keyed by the game's own notes: they hold the state's names and lore already fired)
    origin: list[int]  # index in `source` of each merged message's first part
    prefix: list[int]  # prefix[i]: tokens of merged[:i], each rendered as not first


_NO_LEDGER = _Ledger(None, None, None, {}, None, [], [], [], [], [0])


def _counter(cache: TokenCache, macros: dict[str, str]) -> Callable[[str], int]:
    if not macros:
        return cache.count

    def count(text: str) -> int:
        return cache.count(apply_macros(text, macros))

    return count




def _cost(cache: TokenCache, pieces: list[_Piece]) -> int:
    return sum(len(cache.ids(p.text, p.special)) for p in pieces)


def next_ledger(
    old: _Ledger,
    source: list[Message],
    macros: dict[str, str],
    cache: TokenCache,
    layout: Layout,
    incremental: bool = True,
) -> _Ledger:
    """The merged, macro-applied history `source` and its costs, reusing `old` (the last
    build's ledger) for the unchanged prefix; `old` itself when nothing changed."""
    if (
        not incremental
        or old.cache is not cache
        or old.layout is not layout
        or old.template is not layout.template
        or old.macros != macros
    ):
        old = _NO_LEDGER
    same = common_prefix(source, old.source)
    if same == len(source) == len(old.source) and old is not _NO_LEDGER:
        return old
    # Redo the merged message holding the last unchanged source message: a new
    # narrator message may extend it. Its first part is unchanged, so the merge
    # decision at its start is the same as before.
    j = bisect_right(old.origin, same - 1) - 1 if same else 0
    start = old.origin[j] if same else 0
    merged = old.merged[:j]
    texts = old.texts[:j]
    origin = old.origin[:j]
    for i in range(start, len(source)):
        msg = source[i]
        if macros:
            msg = replace(msg, text=apply_macros(msg.text, macros))
        if merged and msg.role == NARRATOR and merged[-1].role == NARRATOR:
            merged[-1] = replace(merged[-1], text=merged[-1].text + msg.text)
        else:
            merged.append(msg)
            origin.append(i)
    new = merged[j:]
    texts.extend("" if m.role == NOTE else m.text for m in new)
    costs = [_cost(cache, layout.message(m, first=False)) for m in new]
    prefix = old.prefix[: j + 1]
    prefix.extend(accumulate(costs, initial=prefix[-1]))
    del prefix[j + 1]  # accumulate repeats its initial value
    # One counter per ledger: the lore scanner keeps its token counts while it is the same.
    count = old.count or _counter(cache, dict(macros))
    return _Ledger(cache, layout, layout.template, dict(macros), count,
                   list(source), merged, texts, origin, prefix)
