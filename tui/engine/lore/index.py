"""The compiled index of a set of books: each entry's keys resolved to match specs, entries by
spec, constants, regexes and one trie matcher per key class; and the key logic that decides
whether the specs found in a text satisfy an entry."""

from __future__ import annotations

import re
from dataclasses import dataclass

from tui.engine.lore.entries import Lorebook, LoreEntry, LoreSettings, entry_id
from tui.engine.lore.keys import Spec, _fold, _TrieMatcher, parse_regex_key


@dataclass
class _KeyRef:
    spec: Spec
    text: str  # the key as written, for reasons


@dataclass
class _Item:
    index: int  # position in the index's item list
    book_index: int
    entry_index: int
    book: Lorebook
    entry: LoreEntry
    eid: str
    primary: list[_KeyRef]
    secondary: list[_KeyRef]
    errors: list[str]
    depth: int
    recursive: bool  # the book takes part in recursion


class _Index:
    """Compiled keys of a set of books; rebuilt when a key-relevant field changes."""

    def __init__(self, books: list[Lorebook], settings: LoreSettings) -> None:
        self.items: list[_Item] = []
        self.by_spec: dict[Spec, list[int]] = {}
        self.constants: list[int] = []
        self.by_eid: dict[str, int] = {}
        self.regexes: dict[str, re.Pattern[str]] = {}
        plain: dict[tuple[bool, bool], set[str]] = {}
        self.max_depth = 0
        for bi, book in enumerate(books):
            book_depth = book.scan_depth if book.scan_depth is not None else settings.scan_depth
            recursive = (
                settings.recursive
                if book.recursive_scanning is None
                else bool(book.recursive_scanning)
            )
            for ei, entry in enumerate(book.entries):
                cs = entry.case_sensitive
                cs = settings.case_sensitive if cs is None else cs
                ww = settings.whole_words if entry.whole_words is None else entry.whole_words
                errors: list[str] = []
                primary = self._refs(entry.keys, (cs, ww), plain, errors)
                secondary = self._refs(entry.secondary_keys, (cs, ww), plain, errors)
                depth = entry.scan_depth if entry.scan_depth is not None else book_depth
                self.max_depth = max(self.max_depth, depth)
                item = _Item(
                    len(self.items),
                    bi,
                    ei,
                    book,
                    entry,
                    entry_id(book.name, entry, ei),
                    primary,
                    secondary,
                    errors,
                    depth,
                    recursive,
                )
                self.items.append(item)
                self.by_eid.setdefault(item.eid, item.index)
                if entry.constant:
                    self.constants.append(item.index)
                for ref in primary:
                    bucket = self.by_spec.setdefault(ref.spec, [])
                    if not bucket or bucket[-1] != item.index:
                        bucket.append(item.index)
        self.matchers = {cls: _TrieMatcher(keys, cls[1]) for cls, keys in plain.items()}
        self.with_errors = [item for item in self.items if item.errors]

    def _refs(
        self,
        keys: list[str],
        cls: tuple[bool, bool],
        plain: dict[tuple[bool, bool], set[str]],
        errors: list[str],
    ) -> list[_KeyRef]:
        refs = []
        for raw in keys:
            key = raw.strip()
            if not key:
                continue
            compiled = parse_regex_key(key)
            if compiled is None:
                folded = _fold(key, cls[0])
                plain.setdefault(cls, set()).add(folded)
                refs.append(_KeyRef((cls, folded), key))
            elif isinstance(compiled, str):
                errors.append(f'invalid regex key "{key}": {compiled}')
            else:
                self.regexes[key] = compiled
                refs.append(_KeyRef(("re", key), key))
        return refs

    def find(self, text: str) -> frozenset[Spec]:
        """Every key spec present in `text`."""
        found: set[Spec] = set()
        if not text:
            return frozenset()
        folded = None
        for cls, matcher in self.matchers.items():
            assert isinstance(cls, tuple)
            if cls[0]:
                subject = text
            else:
                folded = folded if folded is not None else text.casefold()
                subject = folded
            found.update((cls, k) for k in matcher.find(subject))
        for source, pattern in self.regexes.items():
            if pattern.search(text):
                found.add(("re", source))
        return frozenset(found)


@dataclass
class _Candidate:
    """An entry a scan step proposes, with the reason and the key that matched."""

    item: _Item
    reason: str
    key: str
    sticky: bool = False


def _first_key(refs: list[_KeyRef], found: dict[Spec, int], depth: int) -> str | None:
    for ref in refs:
        d = found.get(ref.spec)
        if d is not None and d < depth:
            return ref.text
    return None


def _secondary_ok(item: _Item, found: dict[Spec, int], depth: int) -> bool:
    entry = item.entry
    if not entry.selective or not item.secondary:
        return True
    hits = [(found.get(r.spec, depth) < depth) for r in item.secondary]
    logic = entry.selective_logic
    if logic == "and_all":
        return all(hits)
    if logic == "not_any":
        return not any(hits)
    if logic == "not_all":
        return not all(hits)
    return any(hits)


def _logic_label(logic: str) -> str:
    return {
        "and_any": "AND ANY",
        "and_all": "AND ALL",
        "not_any": "NOT ANY",
        "not_all": "NOT ALL",
    }.get(logic, logic)
