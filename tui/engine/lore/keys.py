"""Key matching: plain keys (case folding, whole words at script-aware edges), "/regex/flags"
keys with guards against runaway patterns, and the trie matcher that finds every plain key of
one class in a text with a single regex."""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any

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
