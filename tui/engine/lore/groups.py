"""Inclusion groups: of the entries of one group that would fire, one wins (a sticky one, else
an override by priority, else a weighted roll) and the others are dropped. A group taken in an
earlier step of the same scan stays taken through recursion."""

from __future__ import annotations

import hashlib

from tui.engine.lore.entries import LoreEntry
from tui.engine.lore.index import _Candidate, _Item


class _Groups:
    def __init__(self, seed: int, turn: int) -> None:
        self.seed = seed
        self.turn = turn
        self.taken: dict[str, str] = {}  # group -> winner label

    def settle(self, alive: list[_Candidate]) -> tuple[list[_Candidate], list[tuple[_Item, str]]]:
        """`alive` without the losers of every group, and the losers with the reason."""
        lost: list[tuple[_Item, str]] = []
        members: dict[str, list[_Candidate]] = {}
        for cand in alive:
            for group in _groups_of(cand.item.entry):
                members.setdefault(group, []).append(cand)
        losers: set[int] = set()
        for group, cands in members.items():
            cands = [c for c in cands if c.item.index not in losers]
            if not cands:
                continue
            holder = self.taken.get(group)
            if holder is None and len(cands) == 1:
                self.taken[group] = cands[0].item.entry.label
                continue
            winner = None if holder is not None else self._winner(group, cands)
            if winner is not None:
                holder = winner.item.entry.label
                self.taken[group] = holder
            for cand in cands:
                if cand is winner or cand.sticky:
                    continue
                losers.add(cand.item.index)
                lost.append((cand.item, f'lost group "{group}" to "{holder}"'))
        return [c for c in alive if c.item.index not in losers], lost

    def _winner(self, group: str, cands: list[_Candidate]) -> _Candidate:
        sticky = [c for c in cands if c.sticky]
        if sticky:
            return sticky[0]
        override = [c for c in cands if c.item.entry.group_override]
        if override:
            return max(
                override,
                key=lambda c: (c.item.entry.budget_priority, c.item.entry.order, -c.item.index),
            )
        total = sum(max(0, c.item.entry.group_weight) for c in cands)
        if total <= 0:
            return cands[0]
        point = _fraction(self.seed, self.turn, "group", group) * total
        for cand in cands:
            point -= max(0, cand.item.entry.group_weight)
            if point < 0:
                return cand
        return cands[-1]


def _groups_of(entry: LoreEntry) -> list[str]:
    if not entry.group:
        return []
    return [g.strip() for g in entry.group.split(",") if g.strip()]


def _fraction(*parts: object) -> float:
    digest = hashlib.blake2b(repr(parts).encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big") / 2**64
