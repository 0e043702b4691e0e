"""World info (lorebook) entries and the scanner that decides which of them enter the prompt.

The scanner follows SillyTavern's semantics where they are documented (key logic, groups,
timed effects, recursion, budget) with two deliberate choices:

* Whole-word matching puts a boundary only at an edge of the key that is a word character of a
  script written with spaces, so "C++", "R2-D2" and "Dr. Who" match sensibly and CJK/Thai keys
  match as substrings. Multi-word keys match as phrases with those boundaries at their ends.
* Timed effects (sticky, cooldown, delay) are counted in turns, the unit the campaign commits.

Speed: keys are grouped by (case sensitivity, whole words) and each group is compiled once into a
single trie-shaped regex; matches are found per message and cached by message text, so a scan
of a long campaign only looks at messages it has not seen. Token counts are cached by content.
"""

from __future__ import annotations

import hashlib
import re
import threading
from collections import OrderedDict
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field, fields
from operator import attrgetter
from typing import Any

from tui.engine.formats.coerce import (
    as_bool,
    as_int,
    as_opt_bool,
    as_opt_int,
    as_str,
    as_str_list,
    toml_safe,
)

LOGICS = ("and_any", "and_all", "not_any", "not_all")
POSITIONS = (
    "auto",
    "before",
    "after",
    "an_top",
    "an_bottom",
    "depth",
    "before_examples",
    "after_examples",
)
# Where each resolved position lands in the prompt, top first (DESIGN.md section 3).
_POSITION_RANK = {
    "before": 0,
    "after": 1,
    "before_examples": 2,
    "after_examples": 3,
    "an_top": 4,
    "an_bottom": 5,
    "depth": 6,
}


# ---------------------------------------------------------------------------------------------
# Data

# Bumped whenever a field of any entry or book is assigned, so a scanner can tell in O(1)
# that nothing it compiled can have changed (settings are compared by value instead).
# (Editing a key list in place is not seen: assign a new list, or call
# LoreScanner.invalidate().)
_edits = [0]


class _Tracked:
    def __setattr__(self, name: str, value: Any) -> None:
        object.__setattr__(self, name, value)
        _edits[0] += 1


@dataclass
class LoreEntry(_Tracked):
    uid: str = ""
    name: str = ""
    keys: list[str] = field(default_factory=list)
    secondary_keys: list[str] = field(default_factory=list)
    selective_logic: str = "and_any"
    content: str = ""
    enabled: bool = True
    constant: bool = False
    case_sensitive: bool | None = None
    whole_words: bool | None = None
    probability: int = 100
    order: int = 100
    priority: int | None = None
    position: str = "auto"
    depth: int = 4
    scan_depth: int | None = None
    group: str = ""
    group_weight: int = 100
    group_override: bool = False
    sticky: int = 0
    cooldown: int = 0
    delay: int = 0
    exclude_recursion: bool = False
    prevent_recursion: bool = False
    delay_until_recursion: bool = False
    # Secondary keys apply only when selective (SillyTavern's and the card spec's flag).
    selective: bool = True
    extensions: dict[str, Any] = field(default_factory=dict)

    @property
    def label(self) -> str:
        """A name to show: the name, else the first key, else the uid."""
        return self.name or (self.keys[0] if self.keys else "") or self.uid or "(unnamed)"

    @property
    def budget_priority(self) -> int:
        return self.order if self.priority is None else self.priority

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for f in fields(self):
            value = getattr(self, f.name)
            if value is None:
                continue
            if f.name == "extensions":
                if value:
                    out[f.name] = toml_safe(value)
                continue
            out[f.name] = list(value) if isinstance(value, list) else value
        return out

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> LoreEntry:
        if not isinstance(d, dict):
            return cls()
        known = {f.name for f in fields(cls)}
        ext = dict(d["extensions"]) if isinstance(d.get("extensions"), dict) else {}
        ext.update({k: v for k, v in d.items() if k not in known})
        logic = as_str(d.get("selective_logic"), "and_any")
        position = as_str(d.get("position"), "auto")
        return cls(
            uid=as_str(d.get("uid")),
            name=as_str(d.get("name")),
            keys=as_str_list(d.get("keys")),
            secondary_keys=as_str_list(d.get("secondary_keys")),
            selective_logic=logic if logic in LOGICS else "and_any",
            content=as_str(d.get("content")),
            enabled=as_bool(d.get("enabled"), True),
            constant=as_bool(d.get("constant"), False),
            case_sensitive=as_opt_bool(d.get("case_sensitive")),
            whole_words=as_opt_bool(d.get("whole_words")),
            probability=max(0, min(100, as_int(d.get("probability"), 100))),
            order=as_int(d.get("order"), 100),
            priority=as_opt_int(d.get("priority")),
            position=position if position in POSITIONS else "auto",
            depth=max(0, as_int(d.get("depth"), 4)),
            scan_depth=_opt_nonneg(d.get("scan_depth")),
            group=as_str(d.get("group")),
            group_weight=max(0, as_int(d.get("group_weight"), 100)),
            group_override=as_bool(d.get("group_override"), False),
            sticky=max(0, as_int(d.get("sticky"), 0)),
            cooldown=max(0, as_int(d.get("cooldown"), 0)),
            delay=max(0, as_int(d.get("delay"), 0)),
            exclude_recursion=as_bool(d.get("exclude_recursion"), False),
            prevent_recursion=as_bool(d.get("prevent_recursion"), False),
            delay_until_recursion=as_bool(d.get("delay_until_recursion"), False),
            selective=as_bool(d.get("selective"), True),
            extensions=ext,
        )


@dataclass
class Lorebook(_Tracked):
    name: str = ""
    description: str = ""
    entries: list[LoreEntry] = field(default_factory=list)
    scan_depth: int | None = None
    token_budget: int | None = None
    recursive_scanning: bool | None = None
    extensions: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"name": self.name, "description": self.description}
        for key in ("scan_depth", "token_budget", "recursive_scanning"):
            value = getattr(self, key)
            if value is not None:
                out[key] = value
        if self.extensions:
            out["extensions"] = toml_safe(self.extensions)
        out["entries"] = [e.to_dict() for e in self.entries]
        return out

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Lorebook:
        if not isinstance(d, dict):
            return cls()
        known = {f.name for f in fields(cls)}
        ext = dict(d["extensions"]) if isinstance(d.get("extensions"), dict) else {}
        ext.update({k: v for k, v in d.items() if k not in known})
        raw_entries = d.get("entries")
        entries = raw_entries if isinstance(raw_entries, list) else []
        return cls(
            name=as_str(d.get("name")),
            description=as_str(d.get("description")),
            entries=[LoreEntry.from_dict(e) for e in entries if isinstance(e, dict)],
            scan_depth=_opt_nonneg(d.get("scan_depth")),
            token_budget=_opt_nonneg(d.get("token_budget")),
            recursive_scanning=as_opt_bool(d.get("recursive_scanning")),
            extensions=ext,
        )


@dataclass
class LoreSettings:
    """Scan settings. Not change-tracked: the scanner's quick check compares the fields the
    index depends on by value, and a PromptSpec makes a new one per prompt, which would
    otherwise bump `_edits` and force a full fingerprint of every entry on every build."""

    scan_depth: int = 2
    budget_percent: int = 25
    budget_tokens: int | None = None
    recursive: bool = True
    max_recursion_steps: int = 3
    whole_words: bool = True
    case_sensitive: bool = False

    def budget(self, window: int) -> int:
        if self.budget_tokens is not None:
            return max(0, self.budget_tokens)
        return max(0, window * self.budget_percent // 100)


@dataclass
class LoreState:
    """Timed effects across turns, keyed by `entry_id`.

    `sticky[id]` is the last turn the entry stays active without its keys; `cooldown[id]` is the
    last turn it cannot fire.
    """

    sticky: dict[str, int] = field(default_factory=dict)
    cooldown: dict[str, int] = field(default_factory=dict)

    def copy(self) -> LoreState:
        return LoreState(dict(self.sticky), dict(self.cooldown))

    def to_dict(self) -> dict[str, Any]:
        return {"sticky": dict(self.sticky), "cooldown": dict(self.cooldown)}

    @classmethod
    def from_dict(cls, d: dict[str, Any] | None) -> LoreState:
        if not isinstance(d, dict):
            return cls()

        def table(value: Any) -> dict[str, int]:
            if not isinstance(value, dict):
                return {}
            return {str(k): as_int(v, 0) for k, v in value.items()}

        return cls(table(d.get("sticky")), table(d.get("cooldown")))


@dataclass
class Activation:
    entry: LoreEntry
    book: str
    reason: str
    key: str
    tokens: int
    position: str = "depth"  # resolved: never "auto"
    depth: int = 4


@dataclass
class Dropped:
    entry: LoreEntry
    book: str
    reason: str


@dataclass
class ScanResult:
    activated: list[Activation]
    dropped: list[Dropped]
    next_state: LoreState
    budget: int
    used: int


def entry_id(book: str, entry: LoreEntry, index: int) -> str:
    """The id timed effects are saved under: book name and uid (or index when no uid)."""
    return f"{book}/{entry.uid or f'#{index}'}"


def resolve_position(entry: LoreEntry) -> str:
    """ "auto" becomes "before" for constant entries and "depth" (near the end) otherwise."""
    if entry.position in _POSITION_RANK:
        return entry.position
    return "before" if entry.constant else "depth"


def _opt_nonneg(value: Any) -> int | None:
    result = as_opt_int(value)
    return None if result is None else max(0, result)


# ---------------------------------------------------------------------------------------------
# Key matching

_WORD = re.compile(r"\w")
_REGEX_KEY = re.compile(r"^/(.+)/([a-zA-Z]*)$", re.DOTALL)
_MAX_REGEX = 1000
# A repeated group that itself repeats, e.g. "(a+)+" or "(\w+\s?)*": catastrophic backtracking.
_NESTED_REPEAT = re.compile(r"\((?:[^()\\]|\\.)*[+*](?:[^()\\]|\\.)*\)(?:[+*]|\{\d*,)")
_MAX_TRIE_KEY = 200  # longer plain keys are matched one by one (the trie builder recurses)

# Scripts written without spaces between words: a key edge in one of these gets no boundary.
_NO_SPACE_RANGES = (
    (0x0E00, 0x0EFF),  # Thai, Lao
    (0x1000, 0x109F),  # Myanmar
    (0x1780, 0x17FF),  # Khmer
    (0x2E80, 0x2FDF),  # CJK radicals
    (0x3040, 0x31FF),  # kana, bopomofo, Hangul compatibility jamo
    (0x3400, 0x4DBF),  # CJK extension A
    (0x4E00, 0x9FFF),  # CJK unified ideographs
    (0xA960, 0xA97F),  # Hangul jamo extended
    (0xAC00, 0xD7FF),  # Hangul syllables
    (0xF900, 0xFAFF),  # CJK compatibility ideographs
    (0xFF66, 0xFFDC),  # half-width kana and Hangul
    (0x20000, 0x3FFFF),  # CJK extensions B and later
)


def _no_space_script(ch: str) -> bool:
    code = ord(ch)
    return any(lo <= code <= hi for lo, hi in _NO_SPACE_RANGES)


def _needs_boundary(ch: str) -> bool:
    return bool(_WORD.match(ch)) and not _no_space_script(ch)


# A key class: (case_sensitive, whole_words); regex keys use the class "re".
Cls = tuple[bool, bool] | str
Spec = tuple[Cls, str]  # (class, normalised key or regex source)


def _fold(text: str, case_sensitive: bool) -> str:
    return text if case_sensitive else text.casefold()


def parse_regex_key(key: str) -> re.Pattern[str] | None | str:
    """The compiled regex of a "/pattern/flags" key, None if the key is plain, or an error string.

    Flags: i (ignore case), m (multiline), s (dot matches newline), x (verbose); JavaScript's g,
    y, u and d change nothing here and are accepted.
    """
    m = _REGEX_KEY.match(key)
    if not m:
        return None
    source, flag_text = m.groups()
    if len(source) > _MAX_REGEX:
        return f"longer than {_MAX_REGEX} characters"
    if _NESTED_REPEAT.search(source):
        return "nested repetition (can take forever on some text)"
    flags = 0
    for ch in flag_text:
        if ch == "i":
            flags |= re.IGNORECASE
        elif ch == "m":
            flags |= re.MULTILINE
        elif ch == "s":
            flags |= re.DOTALL
        elif ch == "x":
            flags |= re.VERBOSE
        elif ch not in "gyud":
            return f"unknown regex flag {ch!r}"
    try:
        return re.compile(source, flags)
    except (re.error, RecursionError, OverflowError) as exc:
        return str(exc)


def match_plain(key: str, text: str, *, case_sensitive: bool, whole_words: bool) -> bool:
    """Whether a plain key occurs in `text` (the slow reference; the scanner uses a trie)."""
    return (
        _single_pattern(_fold(key, case_sensitive), whole_words).search(_fold(text, case_sensitive))
        is not None
    )


def _single_pattern(folded_key: str, whole_words: bool) -> re.Pattern[str]:
    start = r"(?<!\w)" if whole_words and _needs_boundary(folded_key[0]) else ""
    end = r"(?!\w)" if whole_words and _needs_boundary(folded_key[-1]) else ""
    return re.compile(start + re.escape(folded_key) + end)


class _TrieMatcher:
    """All keys of one class in one regex; reports every key present in a text."""

    def __init__(self, keys: Iterable[str], whole_words: bool) -> None:
        self.whole_words = whole_words
        unique = sorted({k for k in keys if k})
        self.long = [(k, _single_pattern(k, whole_words)) for k in unique if len(k) > _MAX_TRIE_KEY]
        short = [k for k in unique if len(k) <= _MAX_TRIE_KEY]
        trie: dict[str, Any] = {}
        for key in short:
            node = trie
            for ch in key:
                node = node.setdefault(ch, {})
            node[""] = True
        # For each key, the shorter keys that are its prefixes: they match wherever it matches
        # except, possibly, for their end boundary.
        self.prefixes: dict[str, list[tuple[str, bool]]] = {}
        for key in short:
            node = trie
            found: list[tuple[str, bool]] = []
            for i, ch in enumerate(key[:-1]):
                node = node[ch]
                if "" in node:
                    found.append((key[: i + 1], whole_words and _needs_boundary(ch)))
            if found:
                self.prefixes[key] = found
        self.regex = re.compile("(?=(" + self._emit(trie, "", top=True) + "))") if trie else None

    def _emit(self, node: dict[str, Any], last: str, top: bool = False) -> str:
        alts = []
        for ch in sorted(c for c in node if c):
            head = r"(?<!\w)" if top and self.whole_words and _needs_boundary(ch) else ""
            alts.append(head + re.escape(ch) + self._emit(node[ch], ch))
        if "" in node:
            alts.append(r"(?!\w)" if self.whole_words and _needs_boundary(last) else "")
        if len(alts) == 1:
            return alts[0]
        return "(?:" + "|".join(alts) + ")"

    def find(self, text: str) -> set[str]:
        found: set[str] = set()
        if self.regex is not None:
            size = len(text)
            for m in self.regex.finditer(text):
                key = m.group(1)
                found.add(key)
                for prefix, bounded in self.prefixes.get(key, ()):
                    end = m.start() + len(prefix)
                    if not bounded or end >= size or not _WORD.match(text, end):
                        found.add(prefix)
        for key, pattern in self.long:
            if pattern.search(text):
                found.add(key)
        return found


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


def _roll(*parts: object) -> int:
    """A deterministic number in 1..100 for the given parts."""
    digest = hashlib.blake2b(repr(parts).encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big") % 100 + 1


def _fraction(*parts: object) -> float:
    digest = hashlib.blake2b(repr(parts).encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big") / 2**64


def _plural(n: int, word: str) -> str:
    return f"{n} {word}" if n == 1 else f"{n} {word}s"


# ---------------------------------------------------------------------------------------------
# Scanning


@dataclass
class _Candidate:
    item: _Item
    reason: str
    key: str
    sticky: bool = False


class LoreScanner:
    """A scanner with caches: compiled keys, keys found per message text, token counts.

    Keep one per campaign (or use the module-level `scan_lore`, which shares one). Thread-safe.
    """

    def __init__(self, cache_size: int = 4096) -> None:
        self._lock = threading.Lock()
        self._index: _Index | None = None
        self._fingerprint: list[Any] | None = None
        self._quick: tuple[Any, ...] | None = None
        self._found: OrderedDict[str, frozenset[Spec]] = OrderedDict()
        self._tokens: dict[str, int] = {}
        self._counter: Callable[[str], int] | None = None
        self._cache_size = cache_size

    def invalidate(self) -> None:
        with self._lock:
            self._index = None
            self._fingerprint = None
            self._quick = None
            self._found.clear()

    # -- caches

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

    # -- public

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
    ) -> ScanResult:
        settings = settings or LoreSettings()
        with self._lock:
            return _Scan(
                self, books, messages, count_tokens, window, settings, state, turn, seed, extra_text
            ).run()


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


_RECURSION = -1  # distance given to keys found in activated entries' content


class _Scan:
    """One scan: the steps, the budget, the report."""

    def __init__(
        self,
        scanner: LoreScanner,
        books: list[Lorebook],
        messages: list[str],
        count_tokens: Callable[[str], int],
        window: int,
        settings: LoreSettings,
        state: LoreState | None,
        turn: int,
        seed: int,
        extra_text: str,
    ) -> None:
        self.scanner = scanner
        self.index = scanner._get_index(books, settings)
        self.count_tokens = count_tokens
        self.settings = settings
        self.state = state or LoreState()
        self.next_state = self.state.copy()
        self.turn = turn
        self.seed = seed
        self.budget = settings.budget(window)
        self.used = 0
        self.overflowed = False
        self.book_used: dict[int, int] = {}
        self.dropped: list[Dropped] = []
        self.decided: set[int] = set()
        self.groups_taken: dict[str, str] = {}  # group -> winner label
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
        return ScanResult(activated, self.dropped, self.next_state, self.budget, self.used)

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
        ref = next((r for r in item.primary if found.get(r.spec, item.depth) < item.depth), None)
        if ref is None or not _secondary_ok(item, found, item.depth):
            return None
        if found[ref.spec] == _RECURSION:
            source = self.rec_source[ref.spec]
            return _Candidate(item, f'recursion from "{source}" (key "{ref.text}")', ref.text)
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
        alive = self._groups(alive)
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

    def _groups(self, alive: list[_Candidate]) -> list[_Candidate]:
        members: dict[str, list[_Candidate]] = {}
        for cand in alive:
            for group in _groups_of(cand.item.entry):
                members.setdefault(group, []).append(cand)
        losers: set[int] = set()
        for group, cands in members.items():
            cands = [c for c in cands if c.item.index not in losers]
            if not cands:
                continue
            holder = self.groups_taken.get(group)
            if holder is None and len(cands) == 1:
                self.groups_taken[group] = cands[0].item.entry.label
                continue
            winner = None if holder is not None else self._group_winner(group, cands)
            if winner is not None:
                holder = winner.item.entry.label
                self.groups_taken[group] = holder
            for cand in cands:
                if cand is winner or cand.sticky:
                    continue
                losers.add(cand.item.index)
                self._drop(cand.item, f'lost group "{group}" to "{holder}"')
        return [c for c in alive if c.item.index not in losers]

    def _group_winner(self, group: str, cands: list[_Candidate]) -> _Candidate:
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

    def _fits(self, cand: _Candidate) -> bool:
        item = cand.item
        entry = item.entry
        if self.overflowed:
            self._drop(item, f"world-info budget full ({self.budget} tokens)")
            return False
        tokens = self.scanner._count(self.count_tokens, entry.content)
        cap = item.book.token_budget
        book_used = self.book_used.get(item.book_index, 0)
        if cap is not None and book_used + tokens > cap:
            self._drop(item, f'book "{item.book.name}" budget full ({cap} tokens)')
            return False
        if self.used + tokens > self.budget:
            self.overflowed = True
            self._drop(item, f"world-info budget full ({self.budget} tokens)")
            return False
        self.used += tokens
        self.book_used[item.book_index] = book_used + tokens
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


def _groups_of(entry: LoreEntry) -> list[str]:
    if not entry.group:
        return []
    return [g.strip() for g in entry.group.split(",") if g.strip()]


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
) -> ScanResult:
    """Which entries enter the prompt for the turn `turn`, and which matched but were dropped.

    `messages` are oldest first; `extra_text` (the pending action) is scanned as the newest
    message. `next_state` carries the timed effects; commit it only when the turn completes.
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
    )


def explain_matches(
    books: list[Lorebook], text: str, settings: LoreSettings | None = None
) -> list[tuple[LoreEntry, str]]:
    """For the "what would this text trigger" box: matching entries and the key that matched."""
    return _DEFAULT_SCANNER.explain(books, text, settings)
