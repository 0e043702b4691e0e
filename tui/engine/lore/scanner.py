"""The scanner: a thread-safe owner of the caches, and the module-level `scan_lore` and
`explain_matches` that share one."""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence

from tui.engine.lore.cache import _CachedIndex
from tui.engine.lore.entries import Lorebook, LoreEntry, LoreSettings, LoreState, ScanResult
from tui.engine.lore.index import _first_key, _logic_label, _secondary_ok
from tui.engine.lore.scan import _Scan


class LoreScanner(_CachedIndex):
    """A scanner with caches: compiled keys, keys found per message text, token counts.

    Keep one per campaign (or use the module-level `scan_lore`, which shares one). Thread-safe.
    """

    def __init__(self, cache_size: int = 4096) -> None:
        super().__init__(cache_size)
        self._lock = threading.Lock()

    def invalidate(self) -> None:
        with self._lock:
            self._forget_index()

    def explain(
        self, books: list[Lorebook], text: str, settings: LoreSettings | None = None
    ) -> list[tuple[LoreEntry, str]]:
        """Entries whose keys `text` satisfies, with the key that matched (no budget, no rolls)."""
        settings = settings or LoreSettings()
        with self._lock:
            index = self._get_index(books, settings)
            found = {spec: 0 for spec in self._find(index, text)}
        out: list[tuple[LoreEntry, str]] = []
        for item in index.items:
            if not item.entry.enabled:
                continue
            key = _first_key(item.primary, found, 1)
            if key is None or not _secondary_ok(item, found, 1):
                continue
            reason = f'key "{key}"'
            if item.entry.selective and item.secondary:
                reason += f" ({_logic_label(item.entry.selective_logic)} secondary keys)"
            out.append((item.entry, reason))
        return out

    def scan(
        self,
        books: list[Lorebook],
        messages: list[str],
        *,
        count_tokens: Callable[[str], int],
        window: int,
        settings: LoreSettings | None = None,
        state: LoreState | None = None,
        turn: int = 0,
        seed: int = 0,
        extra_text: str = "",
        state_texts: Sequence[tuple[str, str]] = (),
    ) -> ScanResult:
        settings = settings or LoreSettings()
        with self._lock:
            return _Scan(
                self, books, messages, count_tokens, window, settings, state, turn, seed,
                extra_text, state_texts,
            ).run()


_DEFAULT_SCANNER = LoreScanner()


def scan_lore(
    books: list[Lorebook],
    messages: list[str],
    *,
    count_tokens: Callable[[str], int],
    window: int,
    settings: LoreSettings | None = None,
    state: LoreState | None = None,
    turn: int = 0,
    seed: int = 0,
    extra_text: str = "",
    state_texts: Sequence[tuple[str, str]] = (),
) -> ScanResult:
    """Which entries enter the prompt for the turn `turn`, and which matched but were dropped.

    `messages` are oldest first; `extra_text` (the pending action) is scanned as the newest
    message. `state_texts` are names from the world state, `(what, name)` such as
    `("item", "brass lantern")`: their keys fire entries as if in the newest message, with the
    reason `state: item "brass lantern" (key "lantern")`. `next_state` carries the timed
    effects; commit it only when the turn completes.
    """
    return _DEFAULT_SCANNER.scan(
        books,
        messages,
        count_tokens=count_tokens,
        window=window,
        settings=settings,
        state=state,
        turn=turn,
        seed=seed,
        extra_text=extra_text,
        state_texts=state_texts,
    )


def explain_matches(
    books: list[Lorebook], text: str, settings: LoreSettings | None = None
) -> list[tuple[LoreEntry, str]]:
    """For the "what would this text trigger" box: matching entries and the key that matched."""
    return _DEFAULT_SCANNER.explain(books, text, settings)
