"""One scan: which entries fire this turn, in steps.

1. Candidates from the chat: sticky entries still running, constants, entries whose keys occur
   within their scan depth (those that wait for recursion are set aside), and entries whose
   keys occur in the world state's names (the place, items carried, people present: see
   docs/architecture.md, "World state"), as if in the newest message.
2. Each step's candidates are settled: timed effects (cooldown, delay) and the probability
   roll, inclusion groups, then the token budget in priority order. An entry that fires starts
   its sticky and cooldown timers.
3. Recursion: keys found in the content of the entries that just fired bring in more entries,
   for up to `max_recursion_steps` steps.
4. The report: fired entries in prompt order, dropped entries with the reason, the next
   turn's timers.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Sequence

from tui.engine.lore.budget import _Budget
from tui.engine.lore.cache import _CachedIndex
from tui.engine.lore.entries import (
    _POSITION_RANK,
    Activation,
    Dropped,
    Lorebook,
    LoreSettings,
    LoreState,
    ScanResult,
    resolve_position,
)
from tui.engine.lore.groups import _Groups
from tui.engine.lore.index import _Candidate, _Item, _secondary_ok
from tui.engine.lore.keys import Spec

_RECURSION = -1  # distance given to keys found in activated entries' content
_STATE = -2  # distance given to keys found in the world state's names: in range at any depth


class _Scan:
    """One scan: the steps, the budget, the report."""

    def __init__(
        self,
        scanner: _CachedIndex,
        books: list[Lorebook],
        messages: list[str],
        count_tokens: Callable[[str], int],
        window: int,
        settings: LoreSettings,
        state: LoreState | None,
        turn: int,
        seed: int,
        extra_text: str,
        state_texts: Sequence[tuple[str, str]] = (),
    ) -> None:
        self.scanner = scanner
        self.index = scanner._get_index(books, settings)
        self.count_tokens = count_tokens
        self.settings = settings
        self.state = state or LoreState()
        self.next_state = self.state.copy()
        self.turn = turn
        self.seed = seed
        self.budget = _Budget(settings.budget(window))
        self.dropped: list[Dropped] = []
        self.decided: set[int] = set()
        self.groups = _Groups(seed, turn)
        # Keys found in the chat, by distance from the newest message (0 = newest).
        texts = [extra_text] if extra_text else []
        depth = self.index.max_depth
        if depth > len(texts):
            want = depth - len(texts)
            texts.extend(reversed(messages[-want:]))
        self.chat_found: dict[Spec, int] = {}
        for distance, text in enumerate(texts[:depth]):
            for spec in scanner._find(self.index, text):
                self.chat_found.setdefault(spec, distance)
        # Keys found in the world state (what, name): "item", "brass lantern". The state's
        # reason wins over the chat's: what the state fires is placed in the world's own note,
        # which must not change with every mention in the story (see context_world). The
        # state is small and its names' keys are cached by text, so this costs the same at
        # any story length.
        self.state_source: dict[Spec, str] = {}
        for what, name in state_texts:
            for spec in scanner._find(self.index, name):
                if spec not in self.state_source:
                    self.chat_found[spec] = _STATE
                    self.state_source[spec] = f'{what} "{name}"'
        self.rec_source: dict[Spec, str] = {}
        self.deferred: list[int] = []  # delay_until_recursion entries matched in the chat
        self.accepted: list[tuple[int, Activation]] = []

    # -- steps

    def run(self) -> ScanResult:
        accepted = self._settle(self._first_candidates())
        for _ in range(max(0, self.settings.max_recursion_steps)):
            new_specs = self._recursion_specs(accepted)
            if not new_specs:
                break
            accepted = self._settle(self._recursion_candidates(new_specs))
        for i in self.deferred:
            if i not in self.decided:
                self._drop(self.index.items[i], "delay until recursion (no recursion happened)")
        self._report_errors()
        self._expire()
        self.accepted.sort(
            key=lambda pair: (
                _POSITION_RANK[pair[1].position],
                -pair[1].depth if pair[1].position == "depth" else 0,
                pair[1].entry.order,
                pair[0],
            )
        )
        activated = [a for _, a in self.accepted]
        return ScanResult(
            activated, self.dropped, self.next_state, self.budget.total, self.budget.used
        )

    def _first_candidates(self) -> list[_Candidate]:
        items = self.index.items
        chosen: dict[int, _Candidate] = {}
        for eid, until in self.state.sticky.items():
            i = self.index.by_eid.get(eid)
            if i is not None and until >= self.turn and items[i].entry.enabled:
                left = until - self.turn + 1
                chosen[i] = _Candidate(
                    items[i], f"sticky ({_plural(left, 'turn')} left)", "", sticky=True
                )
        for i in self.index.constants:
            if i not in chosen and items[i].entry.enabled:
                chosen[i] = _Candidate(items[i], "constant", "")
        for spec in self.chat_found:
            for i in self.index.by_spec.get(spec, ()):
                if i in chosen or i in self.deferred:
                    continue
                cand = self._keyed(items[i], self.chat_found)
                if cand is None:
                    continue
                if items[i].entry.delay_until_recursion:
                    self.deferred.append(i)
                    continue
                chosen[i] = cand
        return [chosen[i] for i in sorted(chosen)]

    def _keyed(self, item: _Item, found: dict[Spec, int]) -> _Candidate | None:
        """A candidate when the entry's keys are satisfied by `found` within its scan depth.

        Keys found in recursed content have distance _RECURSION, so they count at any depth.
        """
        if not item.entry.enabled:
            return None
        ref = next((r for r in item.primary if found.get(r.spec) == _STATE), None) or next(
            (r for r in item.primary if found.get(r.spec, item.depth) < item.depth), None)
        if ref is None or not _secondary_ok(item, found, item.depth):
            return None
        if found[ref.spec] == _RECURSION:
            source = self.rec_source[ref.spec]
            return _Candidate(item, f'recursion from "{source}" (key "{ref.text}")', ref.text)
        if found[ref.spec] == _STATE:
            source = self.state_source[ref.spec]
            return _Candidate(item, f'state: {source} (key "{ref.text}")', ref.text)
        return _Candidate(item, f'key "{ref.text}"', ref.text)

    def _recursion_specs(self, accepted: list[_Candidate]) -> set[Spec]:
        new: set[Spec] = set()
        for cand in accepted:
            entry = cand.item.entry
            if entry.prevent_recursion or not cand.item.recursive or not entry.content:
                continue
            for spec in self.scanner._find(self.index, entry.content):
                if spec not in self.rec_source:
                    self.rec_source[spec] = entry.label
                    new.add(spec)
        return new

    def _recursion_candidates(self, new_specs: set[Spec]) -> list[_Candidate]:
        found = dict(self.chat_found)
        for spec in self.rec_source:
            found[spec] = _RECURSION  # in range whatever the entry's scan depth
        pool: set[int] = {i for i in self.deferred if i not in self.decided}
        for spec in new_specs:
            pool.update(self.index.by_spec.get(spec, ()))
        chosen: list[_Candidate] = []
        for i in sorted(pool):
            item = self.index.items[i]
            if i in self.decided:
                continue
            if item.entry.exclude_recursion or not item.recursive:
                # Only its chat keys count; they can fire it now only if it waited for recursion.
                cand = self._keyed(item, self.chat_found) if i in self.deferred else None
            else:
                cand = self._keyed(item, found)
            if cand is not None:
                chosen.append(cand)
        return chosen

    def _settle(self, candidates: list[_Candidate]) -> list[_Candidate]:
        """Timed effects, probability, groups and budget for one step's candidates."""
        alive: list[_Candidate] = []
        for cand in candidates:
            item = cand.item
            self.decided.add(item.index)
            if not cand.sticky and self._blocked(item):
                continue
            alive.append(cand)
        alive, lost = self.groups.settle(alive)
        for item, reason in lost:
            self._drop(item, reason)
        alive.sort(
            key=lambda c: (
                not c.item.entry.constant,
                not c.sticky,
                -c.item.entry.budget_priority,
                -c.item.entry.order,
                c.item.index,
            )
        )
        accepted = []
        for cand in alive:
            if self._fits(cand):
                accepted.append(cand)
        return accepted

    def _blocked(self, item: _Item) -> bool:
        entry = item.entry
        until = self.state.cooldown.get(item.eid)
        if until is not None and until >= self.turn:
            left = until - self.turn + 1
            self._drop(item, f"cooldown ({_plural(left, 'turn')} left)")
            return True
        if self.turn < entry.delay:
            self._drop(item, f"delay until turn {entry.delay}")
            return True
        if entry.probability < 100:
            roll = _roll(self.seed, self.turn, item.eid)
            if roll > entry.probability:
                self._drop(item, f"probability roll {roll} > {entry.probability}")
                return True
        return False

    def _fits(self, cand: _Candidate) -> bool:
        item = cand.item
        entry = item.entry
        if self.budget.overflowed:
            self._drop(item, self.budget.full)
            return False
        tokens = self.scanner._count(self.count_tokens, entry.content)
        refused = self.budget.charge(item, tokens)
        if refused is not None:
            self._drop(item, refused)
            return False
        position = resolve_position(entry)
        self.accepted.append(
            (
                item.index,
                Activation(
                    entry, item.book.name, cand.reason, cand.key, tokens, position, entry.depth
                ),
            )
        )
        if not cand.sticky:
            self._start_timers(item)
        return True

    def _start_timers(self, item: _Item) -> None:
        entry = item.entry
        if entry.sticky > 0:
            self.next_state.sticky[item.eid] = self.turn + entry.sticky
        if entry.cooldown > 0:
            self.next_state.cooldown[item.eid] = self.turn + entry.sticky + entry.cooldown

    def _drop(self, item: _Item, reason: str) -> None:
        self.decided.add(item.index)
        self.dropped.append(Dropped(item.entry, item.book.name, reason))

    def _report_errors(self) -> None:
        for item in self.index.with_errors:
            if item.entry.enabled and item.index not in self.decided:
                self._drop(item, "; ".join(item.errors))

    def _expire(self) -> None:
        """Forget timers that cannot matter from the next turn on."""
        nxt = self.next_state
        nxt.sticky = {k: v for k, v in nxt.sticky.items() if v > self.turn}
        nxt.cooldown = {k: v for k, v in nxt.cooldown.items() if v > self.turn}


def _roll(*parts: object) -> int:
    """A deterministic number in 1..100 for the given parts."""
    digest = hashlib.blake2b(repr(parts).encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big") % 100 + 1


def _plural(n: int, word: str) -> str:
    return f"{n} {word}" if n == 1 else f"{n} {word}s"
