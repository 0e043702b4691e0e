"""KoboldAI story files as scenarios.

Layout: `gamestarted, prompt, memory, authorsnote, anotetemplate, actions[],
actions_metadata{}, worldinfo[...]` (KoboldAI United may add `worldinfo_v2`).

The story so far becomes the opening: the prompt followed by every action, joined the way
KoboldAI joins them (each action already carries its own `\\n\\n> ` or leading space). The
count of actions and the note template are kept in `extra["koboldai"]`. Grue brackets the
author's note itself, so `anotetemplate` (default `[Author's note: <|>]`) is not applied.
"""

from __future__ import annotations

from typing import Any

from tui.engine.formats.coerce import as_str
from tui.engine.lore import LoreEntry
from tui.engine.scenario import Scenario


def is_koboldai_story(data: Any) -> bool:
    if not isinstance(data, dict) or not isinstance(data.get("prompt"), str):
        return False
    if "gamestarted" in data:
        return True
    return "actions" in data and any(k in data for k in ("authorsnote", "worldinfo", "memory"))


def story_actions(data: dict[str, Any]) -> list[str]:
    """The actions in order: a list, or (United) a dict keyed by their index."""
    raw = data.get("actions")
    if isinstance(raw, dict):
        def index(key: Any) -> int:
            try:
                return int(key)
            except (TypeError, ValueError):
                return 1 << 30

        raw = [raw[k] for k in sorted(raw, key=index)]
    if not isinstance(raw, list):
        return []
    return [as_str(a) for a in raw if as_str(a)]


def scenario_from_koboldai(data: dict[str, Any], name: str, lore: list[LoreEntry]) -> Scenario:
    actions = story_actions(data)
    opening = as_str(data.get("prompt")) + "".join(actions)
    info: dict[str, Any] = {"actions": len(actions)}
    for key in ("anotetemplate", "gamestarted"):
        if data.get(key) is not None:
            info[key] = data[key]
    return Scenario(
        title=as_str(data.get("title")).strip() or name.rsplit(".", 1)[0],
        opening=opening,
        memory=as_str(data.get("memory")),
        authors_note=as_str(data.get("authorsnote")),
        lore=lore,
        source=name,
        extra={"format": "koboldai_story", "koboldai": info},
    )
