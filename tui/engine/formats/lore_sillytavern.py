"""SillyTavern world-info files (`{"entries": {"<uid>": {...}}}`) in and out.

Fields this module does not map stay in `LoreEntry.extensions` under their own names and are
written back on export, so an ST → Grue → ST round trip keeps them.
"""

from __future__ import annotations

from typing import Any

from tui.engine.formats.coerce import (
    as_bool,
    as_int,
    as_opt_int,
    as_str,
)
from tui.engine.lore import Lorebook, LoreEntry

LOGIC_FROM_ST = {0: "and_any", 1: "not_all", 2: "not_any", 3: "and_all"}
LOGIC_TO_ST = {v: k for k, v in LOGIC_FROM_ST.items()}
POSITION_FROM_ST = {
    0: "before",
    1: "after",
    2: "an_top",
    3: "an_bottom",
    4: "depth",
    5: "before_examples",
    6: "after_examples",
}
POSITION_TO_ST = {v: k for k, v in POSITION_FROM_ST.items()}

# The ST fields this module maps to LoreEntry fields.
MAPPED = frozenset(
    {
        "uid",
        "key",
        "keysecondary",
        "comment",
        "content",
        "constant",
        "selective",
        "selectiveLogic",
        "order",
        "position",
        "depth",
        "disable",
        "probability",
        "useProbability",
        "group",
        "groupOverride",
        "groupWeight",
        "scanDepth",
        "caseSensitive",
        "matchWholeWords",
        "excludeRecursion",
        "preventRecursion",
        "delayUntilRecursion",
        "sticky",
        "cooldown",
        "delay",
    }
)


# Grue's entry field -> the ST world field holding it, where only the name differs.
ST_FIELDS = {
    "name": "comment",
    "keys": "key",
    "secondary_keys": "keysecondary",
    "content": "content",
    "constant": "constant",
    "case_sensitive": "caseSensitive",
    "whole_words": "matchWholeWords",
    "order": "order",
    "depth": "depth",
    "scan_depth": "scanDepth",
    "group": "group",
    "group_weight": "groupWeight",
    "group_override": "groupOverride",
    "sticky": "sticky",
    "cooldown": "cooldown",
    "delay": "delay",
    "exclude_recursion": "excludeRecursion",
    "prevent_recursion": "preventRecursion",
    "delay_until_recursion": "delayUntilRecursion",
    "selective": "selective",
}


def position_from_st(value: Any, default: str = "before") -> str:
    return POSITION_FROM_ST.get(as_int(value, -1), default)


def position_to_st(position: str, constant: bool) -> int:
    if position == "auto":
        # ST has no "auto": constant lore goes before the card, triggered lore at depth.
        return 0 if constant else 4
    return POSITION_TO_ST.get(position, 0)


def entry_from_st(raw: dict[str, Any], uid: str = "") -> LoreEntry:
    """One ST world entry. Missing fields take ST's defaults."""
    use_probability = as_bool(raw.get("useProbability"), True)
    probability = max(0, min(100, as_int(raw.get("probability"), 100)))
    extensions = {k: v for k, v in raw.items() if k not in MAPPED}
    if not use_probability:
        # ST ignores the probability then; keep the number for the way back.
        extensions["useProbability"] = False
        extensions["probability"] = raw.get("probability")
        probability = 100
    logic = as_int(raw.get("selectiveLogic"), 0)
    values: dict[str, Any] = {ours: raw.get(theirs) for ours, theirs in ST_FIELDS.items()}
    values.update(
        uid=as_str(raw.get("uid"), uid) or uid,
        selective_logic=LOGIC_FROM_ST.get(logic, "and_any"),
        enabled=not as_bool(raw.get("disable"), False),
        probability=probability,
        position=position_from_st(raw.get("position")),
        extensions=extensions,
    )
    return LoreEntry.from_dict(values)  # one place coerces and clamps every field


def book_from_st(data: dict[str, Any], name: str = "") -> Lorebook:
    """A whole ST world file; `name` (usually the file name) is used when the file has none."""
    raw_entries = data.get("entries")
    if isinstance(raw_entries, list):  # some tools write a list
        items = [(str(i), e) for i, e in enumerate(raw_entries)]
    elif isinstance(raw_entries, dict):
        items = [(str(k), e) for k, e in raw_entries.items()]
    else:
        items = []
    entries = [entry_from_st(e, uid) for uid, e in items if isinstance(e, dict)]
    extensions = {k: v for k, v in data.items() if k not in ("entries", "name", "description")}
    return Lorebook(
        name=as_str(data.get("name")) or name,
        description=as_str(data.get("description")),
        entries=entries,
        extensions=extensions,
    )


def entry_to_st(entry: LoreEntry, uid: int) -> dict[str, Any]:
    out: dict[str, Any] = {
        k: v for k, v in entry.extensions.items() if k not in MAPPED and k not in _FOREIGN
    }
    probability = entry.probability
    use_probability = True
    if probability == 100 and entry.extensions.get("useProbability") is False:
        use_probability = False
        probability = as_int(entry.extensions.get("probability"), 100)
    out.update(
        {
            "uid": uid,
            "key": list(entry.keys),
            "keysecondary": list(entry.secondary_keys),
            "comment": entry.name,
            "content": entry.content,
            "constant": entry.constant,
            "selective": entry.selective,
            "selectiveLogic": LOGIC_TO_ST.get(entry.selective_logic, 0),
            "order": entry.order,
            "position": position_to_st(entry.position, entry.constant),
            "depth": entry.depth,
            "disable": not entry.enabled,
            "probability": probability,
            "useProbability": use_probability,
            "group": entry.group,
            "groupOverride": entry.group_override,
            "groupWeight": entry.group_weight,
            "scanDepth": entry.scan_depth,
            "caseSensitive": entry.case_sensitive,
            "matchWholeWords": entry.whole_words,
            "excludeRecursion": entry.exclude_recursion,
            "preventRecursion": entry.prevent_recursion,
            "delayUntilRecursion": entry.delay_until_recursion,
            "sticky": entry.sticky,
            "cooldown": entry.cooldown,
            "delay": entry.delay,
        }
    )
    return out


def book_to_st(book: Lorebook) -> dict[str, Any]:
    """An ST world file. Entry uids are renumbered 0.. unless they are all distinct integers."""
    uids = [as_opt_int(e.uid) for e in book.entries]
    if None in uids or len(set(uids)) != len(uids):
        uids = list(range(len(book.entries)))
    out: dict[str, Any] = {
        k: v for k, v in book.extensions.items() if k not in ("entries",) and k not in _FOREIGN
    }
    out["entries"] = {
        str(uid): entry_to_st(entry, uid) for uid, entry in zip(uids, book.entries, strict=True)
    }
    if book.name:
        out.setdefault("name", book.name)
    return out


# Extension keys that belong to other formats' mappings (card snake_case names written by ST);
# exporting them as ST fields would contradict the mapped ones.
_FOREIGN = frozenset(
    {
        "display_index",
        "selective_logic",
        "exclude_recursion",
        "prevent_recursion",
        "delay_until_recursion",
        "scan_depth",
        "match_whole_words",
        "case_sensitive",
        "group_override",
        "group_weight",
    }
)
