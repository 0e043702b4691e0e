"""A campaign as TOML tables: the state (everything but the turns) and the turns."""

from __future__ import annotations

import re
from typing import Any

import tomli_w

from tui.engine.campaign import Campaign, Settings, Turn
from tui.engine.lore import Lorebook, LoreState
from tui.engine.world import WorldState, change_to_dict
from tui.engine.world.owed import MAX_OWED


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
        "world": c.world_state().to_dict(),
    }
    if c.world_owed:
        data["world_owed"] = c.world_owed
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
        note_depth=int(data.get("note_depth", 1)),
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
    for turn in c.redo_stack:  # undone: their changes are not in the state
        object.__setattr__(turn, "applied", -1)
    c.world = WorldState.from_dict(data.get("world", {}))
    c.world_owed = max(0, min(int(data.get("world_owed", 0)), MAX_OWED))  # the newest turns
    return c


def _has_cr(value: Any) -> bool:
    if isinstance(value, str):
        return "\r" in value
    if isinstance(value, dict):
        return any(_has_cr(v) for v in value.values())
    if isinstance(value, list):
        return any(_has_cr(v) for v in value)
    return False


def dumps_table(data: dict[str, Any]) -> str:
    """TOML with multi-line strings where text has line breaks, unless some text holds a
    carriage return (a multi-line string would read it back as part of a line break)."""
    return tomli_w.dumps(data, multiline_strings=not _has_cr(data))


def turn_key(t: Turn) -> tuple[Any, ...]:
    """What a turn's TOML depends on (compared to know whether it changed)."""
    return (t.mode, t.action, tuple(t.responses), t.chosen,
            tuple(map(tuple, t.changes)), tuple(t.reverts), t.world_note)


# Long text goes in multi-line literal strings ('''...'''): no escapes to read, and a TOML
# parser finds their end with one search instead of a step per character (several times
# faster to load). Text that a literal string cannot hold is written as a basic string.
LITERAL_FROM = 80
_NOT_IN_LITERAL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f]|'''|'$")


def toml_string(text: str) -> str:
    """`text` as a TOML string value."""
    if (len(text) >= LITERAL_FROM or "\n" in text) and not _NOT_IN_LITERAL.search(text):
        return "'''\n" + text + "'''"  # the newline after the opening quotes is not part of it
    # a carriage return in a multi-line string would be read back as part of a line break
    return tomli_w.dumps({"v": text}, multiline_strings="\r" not in text)[4:-1]


def turn_text(t: Turn) -> str:
    """One `[[turns]]` table; concatenated, these make a chunk's array of tables."""
    lines = ["[[turns]]", f"mode = {toml_string(t.mode)}", f"action = {toml_string(t.action)}"]
    if t.responses:
        lines.append("responses = [")
        lines.extend(f"    {toml_string(r)}," for r in t.responses)
        lines.append("]")
    else:
        lines.append("responses = []")
    lines.append(f"chosen = {int(t.chosen)}")
    if any(t.changes):
        takes = ", ".join("[" + ", ".join(map(_inline_change, take)) + "]" for take in t.changes)
        lines.append(f"changes = [{takes}]")
    if t.reverts:
        lines.append("reverts = [" + ", ".join(map(_inline_change, t.reverts)) + "]")
    if t.world_note:
        lines.append(f"world_note = {toml_string(t.world_note)}")
    return "\n".join(lines) + "\n"


def _inline_change(change: Any) -> str:
    """A world change as a one-line TOML inline table (its texts are single lines)."""
    return "{ " + ", ".join(f"{key} = {_inline_value(value)}"
                            for key, value in change_to_dict(change).items()) + " }"


def _inline_value(value: Any) -> str:
    if isinstance(value, list):
        return "[" + ", ".join(map(_inline_value, value)) + "]"
    return tomli_w.dumps({"v": value})[4:-1]  # a bool, an int or a one-line string


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
