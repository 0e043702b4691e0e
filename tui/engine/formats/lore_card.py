"""Character-card lorebooks: `character_book` (V2/V3) and the standalone `lorebook_v3` file.

SillyTavern keeps its own per-entry settings (position 0..6, depth, probability, groups, timers,
recursion flags, ...) in each entry's `extensions`; those are read here and written back.
The entry's whole `extensions` dict is kept in `LoreEntry.extensions`, so fields nobody here
knows survive a round trip.
"""

from __future__ import annotations

import re
from typing import Any

from tui.engine.formats.coerce import (
    as_bool,
    as_int,
    as_opt_bool,
    as_opt_int,
    as_str,
    as_str_list,
)
from tui.engine.formats.lore_sillytavern import (
    LOGIC_FROM_ST,
    LOGIC_TO_ST,
    position_from_st,
    position_to_st,
)
from tui.engine.formats.lore_sillytavern import (
    MAPPED as ST_MAPPED,
)
from tui.engine.lore import Lorebook, LoreEntry

# Top-level card entry fields mapped here; anything else is kept in extensions["card"].
CARD_FIELDS = frozenset(
    {
        "keys",
        "content",
        "extensions",
        "enabled",
        "insertion_order",
        "case_sensitive",
        "name",
        "priority",
        "id",
        "comment",
        "selective",
        "secondary_keys",
        "constant",
        "position",
        "use_regex",
    }
)
_REGEX_KEY = re.compile(r"^/.+/[a-zA-Z]*$", re.DOTALL)


# Grue's entry field -> the card entry field holding it, where only the name differs.
CARD_ENTRY_FIELDS = {
    "secondary_keys": "secondary_keys",
    "content": "content",
    "enabled": "enabled",
    "constant": "constant",
    "order": "insertion_order",
    "priority": "priority",
    "selective": "selective",
}
# ... and the ones SillyTavern keeps in the entry's `extensions` (snake_case there).
CARD_EXT_FIELDS = {
    "whole_words": "match_whole_words",
    "depth": "depth",
    "scan_depth": "scan_depth",
    "group": "group",
    "group_weight": "group_weight",
    "group_override": "group_override",
    "sticky": "sticky",
    "cooldown": "cooldown",
    "delay": "delay",
    "exclude_recursion": "exclude_recursion",
    "prevent_recursion": "prevent_recursion",
    "delay_until_recursion": "delay_until_recursion",
}


def entry_from_card(raw: dict[str, Any], index: int = 0) -> LoreEntry:
    ext_raw = raw.get("extensions")
    ext: dict[str, Any] = dict(ext_raw) if isinstance(ext_raw, dict) else {}
    extra = {k: v for k, v in raw.items() if k not in CARD_FIELDS}
    extensions = dict(ext)
    if extra:
        extensions["card"] = extra
    name = as_str(raw.get("name"))
    comment = as_str(raw.get("comment"))
    if comment and comment != name:
        extensions["card_comment"] = comment
    case_sensitive = as_opt_bool(raw.get("case_sensitive"))
    if case_sensitive is None:
        case_sensitive = as_opt_bool(ext.get("case_sensitive"))
    keys = as_str_list(raw.get("keys"))
    if as_bool(raw.get("use_regex"), False):
        flags = "" if case_sensitive else "i"
        keys = [k if _REGEX_KEY.match(k) else f"/{k}/{flags}" for k in keys]
        extensions["use_regex"] = True
    # A card's own position is before_char / after_char; ST's number in extensions wins.
    position = "after" if as_str(raw.get("position")) == "after_char" else "before"
    if "position" in ext:
        position = position_from_st(ext.get("position"), position)
    use_probability = as_bool(ext.get("useProbability"), True)
    probability = max(0, min(100, as_int(ext.get("probability"), 100))) if use_probability else 100
    uid = raw.get("id")
    values: dict[str, Any] = {ours: ext.get(theirs) for ours, theirs in CARD_EXT_FIELDS.items()}
    values.update({ours: raw.get(theirs) for ours, theirs in CARD_ENTRY_FIELDS.items()})
    values.update(
        uid=as_str(uid) if uid is not None else str(index),
        name=name or comment,
        keys=keys,
        selective_logic=LOGIC_FROM_ST.get(as_int(ext.get("selectiveLogic"), 0), "and_any"),
        case_sensitive=case_sensitive,
        probability=probability,
        position=position,
        extensions=extensions,
    )
    return LoreEntry.from_dict(values)  # one place coerces and clamps every field


def book_from_card(data: dict[str, Any], name: str = "") -> Lorebook:
    """A `character_book` dict (or the `data` of a `lorebook_v3` file)."""
    raw_entries = data.get("entries")
    if isinstance(raw_entries, dict):  # seen in the wild: entries keyed by id
        raw_entries = list(raw_entries.values())
    entries = raw_entries if isinstance(raw_entries, list) else []
    known = {
        "name",
        "description",
        "scan_depth",
        "token_budget",
        "recursive_scanning",
        "extensions",
        "entries",
    }
    ext_raw = data.get("extensions")
    extensions: dict[str, Any] = dict(ext_raw) if isinstance(ext_raw, dict) else {}
    extra = {k: v for k, v in data.items() if k not in known}
    if extra:
        extensions["card"] = extra
    return Lorebook(
        name=as_str(data.get("name")) or name,
        description=as_str(data.get("description")),
        entries=[entry_from_card(e, i) for i, e in enumerate(entries) if isinstance(e, dict)],
        scan_depth=_nonneg(data.get("scan_depth")),
        token_budget=_nonneg(data.get("token_budget")),
        recursive_scanning=as_opt_bool(data.get("recursive_scanning")),
        extensions=extensions,
    )


def entry_to_card(entry: LoreEntry, index: int) -> dict[str, Any]:
    ext = {
        k: v
        for k, v in entry.extensions.items()
        if k not in ("card", "card_comment", "use_regex") and k not in ST_MAPPED
    }
    probability = entry.probability
    use_probability = True
    if probability == 100 and entry.extensions.get("useProbability") is False:
        use_probability = False
        probability = as_int(entry.extensions.get("probability"), 100)
    st_position = position_to_st(entry.position, entry.constant)
    ext.update(
        {
            "position": st_position,
            "depth": entry.depth,
            "probability": probability,
            "useProbability": use_probability,
            "selectiveLogic": LOGIC_TO_ST.get(entry.selective_logic, 0),
            "group": entry.group,
            "group_override": entry.group_override,
            "group_weight": entry.group_weight,
            "exclude_recursion": entry.exclude_recursion,
            "prevent_recursion": entry.prevent_recursion,
            "delay_until_recursion": entry.delay_until_recursion,
            "scan_depth": entry.scan_depth,
            "match_whole_words": entry.whole_words,
            "case_sensitive": entry.case_sensitive,
            "sticky": entry.sticky,
            "cooldown": entry.cooldown,
            "delay": entry.delay,
        }
    )
    uid = as_opt_int(entry.uid)
    out: dict[str, Any] = dict(entry.extensions.get("card") or {})
    out.update(
        {
            "keys": list(entry.keys),
            "content": entry.content,
            "extensions": ext,
            "enabled": entry.enabled,
            "insertion_order": entry.order,
            "name": entry.name,
            "priority": entry.budget_priority,
            "id": uid if uid is not None else index,
            "comment": as_str(entry.extensions.get("card_comment")) or entry.name,
            "selective": entry.selective,
            "secondary_keys": list(entry.secondary_keys),
            "constant": entry.constant,
            "position": "after_char" if st_position == 1 else "before_char",
        }
    )
    if entry.case_sensitive is not None:
        out["case_sensitive"] = entry.case_sensitive
    if entry.extensions.get("use_regex"):
        out["use_regex"] = True
    return out


def book_to_card(book: Lorebook) -> dict[str, Any]:
    """A `character_book` dict for a V2/V3 card."""
    out: dict[str, Any] = dict(book.extensions.get("card") or {})
    ext = {k: v for k, v in book.extensions.items() if k != "card"}
    out.update(
        {
            "name": book.name,
            "description": book.description,
            "extensions": ext,
            "entries": [entry_to_card(e, i) for i, e in enumerate(book.entries)],
        }
    )
    for key in ("scan_depth", "token_budget", "recursive_scanning"):
        value = getattr(book, key)
        if value is not None:
            out[key] = value
    return out


def _nonneg(value: Any) -> int | None:
    result = as_opt_int(value)
    return None if result is None else max(0, result)
