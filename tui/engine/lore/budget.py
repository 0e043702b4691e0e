"""The world-info token budget: a total for all entries and an optional cap per book.

Once an entry overflows the total, every later entry of the scan is dropped too (entries are
offered in priority order, so a smaller one must not jump the queue).
"""

from __future__ import annotations

from tui.engine.lore.index import _Item


class _Budget:
    def __init__(self, total: int) -> None:
        self.total = total
        self.used = 0
        self.overflowed = False
        self.book_used: dict[int, int] = {}

    @property
    def full(self) -> str:
        return f"world-info budget full ({self.total} tokens)"

    def charge(self, item: _Item, tokens: int) -> str | None:
        """Spend `tokens` on `item`; or, when they do not fit, why (and spend nothing)."""
        cap = item.book.token_budget
        book_used = self.book_used.get(item.book_index, 0)
        if cap is not None and book_used + tokens > cap:
            return f'book "{item.book.name}" budget full ({cap} tokens)'
        if self.used + tokens > self.total:
            self.overflowed = True
            return self.full
        self.used += tokens
        self.book_used[item.book_index] = book_used + tokens
        return None
