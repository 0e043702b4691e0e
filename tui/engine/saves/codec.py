"""A campaign as TOML tables: the state (everything but the turns) and the turns."""

from __future__ import annotations

from typing import Any

import tomli_w

from tui.engine.campaign import Campaign, Settings, Turn
from tui.engine.lore import Lorebook, LoreState


def state_to_dict(c: Campaign) -> dict[str, Any]:
    """Everything in a campaign except its turns (the redo stack is short and stays here)."""
    data: dict[str, Any] = {
        "id": c.id,
        "title": c.title,
        "kind": c.kind,
        "scenario": c.scenario,
        "created": c.created,
        "updated": c.updated,
        "memory": c.memory,
        "authors_note": c.authors_note,
        "note_depth": c.note_depth,
        "summary": c.summary,
        "summary_enabled": c.summary_enabled,
        "summary_upto": c.summary_upto,
        "settings": c.settings.to_dict(),
        "world_info": c.world_info.to_dict(),
        "lorebooks": [b.to_dict() for b in c.lorebooks],
        "lore_state": c.lore_state.to_dict(),
        "redo": [t.to_dict() for t in c.redo_stack],
    }
    if c.extra:
        data["extra"] = c.extra
    return data


def campaign_to_dict(c: Campaign, format_version: int) -> dict[str, Any]:
    """The whole campaign as one table (the single-file form: `grue export --format toml`)."""
    data = {"format": format_version, **state_to_dict(c)}
    data["turns"] = [t.to_dict() for t in c.turns]
    return data


def campaign_from_dict(data: dict[str, Any]) -> Campaign:
    """A campaign from its table; TypeError/ValueError/KeyError/AttributeError when damaged."""
    if not isinstance(data.get("turns", []), list):
        raise ValueError("'turns' is not a list")
    c = Campaign(
        title=str(data.get("title", "Untitled")),
        kind=str(data.get("kind", "adventure")),
        id=str(data.get("id", "")),
        scenario=str(data.get("scenario", "")),
        memory=str(data.get("memory", "")),
        authors_note=str(data.get("authors_note", "")),
        note_depth=int(data.get("note_depth", 3)),
        summary=str(data.get("summary", "")),
        summary_enabled=bool(data.get("summary_enabled", True)),
        summary_upto=int(data.get("summary_upto", 0)),
        created=float(data.get("created", 0.0)),
        updated=float(data.get("updated", 0.0)),
        settings=Settings.from_dict(data.get("settings", {})),
        extra=dict(data.get("extra", {})),
    )
    if "world_info" in data:
        c.world_info = Lorebook.from_dict(data["world_info"])
    c.lorebooks = [Lorebook.from_dict(b) for b in data.get("lorebooks", [])]
    c.lore_state = LoreState.from_dict(data.get("lore_state", {}))
    c.turns = [Turn.from_dict(t) for t in data.get("turns", [])]
    c.redo_stack = [Turn.from_dict(t) for t in data.get("redo", [])]
    return c


def dumps_table(data: dict[str, Any]) -> str:
    return tomli_w.dumps(data, multiline_strings=True)


def turn_key(t: Turn) -> tuple[str, str, tuple[str, ...], int]:
    """What a turn's TOML depends on (compared to know whether it changed)."""
    return (t.mode, t.action, tuple(t.responses), t.chosen)


def turn_text(t: Turn) -> str:
    """One `[[turns]]` table; concatenated, these make a chunk's array of tables."""
    return tomli_w.dumps({"turns": [t.to_dict()]}, multiline_strings=True)


CACHED_TABLES = ("world_info", "lorebooks")  # large, and rarely changed between two saves


def dumps_state(state: dict[str, Any], cache: dict[str, tuple[Any, str]]) -> str:
    """`state` as TOML, reusing the text of its lore tables when they did not change.

    Root-level TOML tables can follow one another in any order, so each cached table is
    written as its own document after the rest (which holds every plain value).
    """
    head = dict(state)
    tails: list[str] = []
    for key in CACHED_TABLES:
        value = head.get(key)
        is_table = isinstance(value, dict)
        is_array_of_tables = (isinstance(value, list) and bool(value)
                              and all(isinstance(v, dict) for v in value))
        if not (is_table or is_array_of_tables):
            continue
        del head[key]
        hit = cache.get(key)
        if hit is None or hit[0] != value:
            hit = (value, dumps_table({key: value}))
            cache[key] = hit
        tails.append(hit[1])
    return "\n".join([dumps_table(head), *tails])
