"""KoboldAI world info in: a list of entries, alone or as a story file's `worldinfo`.

Entries: `key` (comma-separated), `keysecondary`, `content`, `comment`, `selective`,
`constant`, `folder`. KoboldAI United's `worldinfo_v2` (`{"entries": {uid: {...}}}` with
`title`, keys as lists) is read too. Unmapped fields go to `extensions["koboldai"]`.
"""

from __future__ import annotations

from typing import Any

from tui.engine.formats.coerce import as_bool, as_str, as_str_list
from tui.engine.lore import Lorebook, LoreEntry

_MAPPED = frozenset(
    {"key", "keysecondary", "content", "comment", "title", "selective", "constant", "uid"}
)


def entry_from_koboldai(raw: dict[str, Any], index: int = 0) -> LoreEntry:
    keys = as_str_list(raw.get("key"), split_commas=True)
    secondary = as_str_list(raw.get("keysecondary"), split_commas=True)
    rest = {k: v for k, v in raw.items() if k not in _MAPPED}
    uid = raw.get("uid")
    return LoreEntry(
        uid=as_str(uid) if uid is not None else str(index),
        name=as_str(raw.get("title")) or as_str(raw.get("comment")),
        keys=keys,
        secondary_keys=secondary,
        content=as_str(raw.get("content")),
        constant=as_bool(raw.get("constant"), False),
        selective=as_bool(raw.get("selective"), bool(secondary)),
        # KoboldAI matches keys as case-insensitive substrings.
        whole_words=False,
        extensions={"koboldai": rest} if rest else {},
    )


def book_from_koboldai(entries: list[Any], name: str = "") -> Lorebook:
    return Lorebook(
        name=name,
        entries=[entry_from_koboldai(e, i) for i, e in enumerate(entries) if isinstance(e, dict)],
    )


def entries_of_story(data: dict[str, Any]) -> list[Any] | None:
    """The world-info list of a KoboldAI story file (prefers `worldinfo_v2`)."""
    v2 = data.get("worldinfo_v2")
    if isinstance(v2, dict) and isinstance(v2.get("entries"), dict) and v2["entries"]:
        return list(v2["entries"].values())
    for key in ("worldinfo", "world_info"):
        if isinstance(data.get(key), list):
            return data[key]
    return None
