"""NovelAI lorebooks (`.lorebook` JSON, or the `content.lorebook` of a `.story` file) in.

NovelAI measures its search range in characters and inserts by lines; Grue counts messages.
The mapping keeps the meaning where one exists (forceActivation = constant, budgetPriority =
priority, a non-negative insertionPosition = the top) and stores every NovelAI field
in `extensions["novelai"]` so nothing is lost.
"""

from __future__ import annotations

from typing import Any

from tui.engine.formats.coerce import as_bool, as_int, as_opt_int, as_str, as_str_list
from tui.engine.lore import Lorebook, LoreEntry

_MAPPED = frozenset(
    {"text", "displayName", "keys", "enabled", "forceActivation", "nonStoryActivatable", "id"}
)


def entry_from_novelai(raw: dict[str, Any], index: int = 0) -> LoreEntry:
    config = raw.get("contextConfig")
    config = config if isinstance(config, dict) else {}
    # NovelAI counts insertion positions in lines (or sentences, tokens); only the side is kept:
    # from the top means the top, from the bottom means Grue's default place near the end.
    position = "before" if as_int(config.get("insertionPosition"), -1) >= 0 else "auto"
    return LoreEntry(
        uid=as_str(raw.get("id")) or str(index),
        name=as_str(raw.get("displayName")),
        keys=as_str_list(raw.get("keys")),
        content=as_str(raw.get("text")),
        enabled=as_bool(raw.get("enabled"), True),
        constant=as_bool(raw.get("forceActivation"), False),
        priority=as_opt_int(config.get("budgetPriority")),
        position=position,
        # "Cascading activation": fired by other entries' text, not by the story.
        delay_until_recursion=as_bool(raw.get("nonStoryActivatable"), False),
        # NovelAI matches keys as substrings, case-insensitively.
        whole_words=False,
        extensions={"novelai": {k: v for k, v in raw.items() if k not in _MAPPED}},
    )


def book_from_novelai(data: dict[str, Any], name: str = "") -> Lorebook:
    raw_entries = data.get("entries")
    entries = raw_entries if isinstance(raw_entries, list) else []
    return Lorebook(
        name=as_str(data.get("name")) or name,
        entries=[entry_from_novelai(e, i) for i, e in enumerate(entries) if isinstance(e, dict)],
        extensions={"novelai": {k: v for k, v in data.items() if k != "entries"}},
    )


def lorebook_of_story(data: dict[str, Any]) -> dict[str, Any] | None:
    """The lorebook inside a NovelAI `.story` file, if there is one."""
    content = data.get("content")
    if isinstance(content, dict) and isinstance(content.get("lorebook"), dict):
        return content["lorebook"]
    return None
