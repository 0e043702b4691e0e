"""Save format versions: read the version, refuse newer ones, bring older ones up step by step.

Each step takes the whole save as one table (state and turns together) in the version it
names and returns it in the next one. Add a step (and a stored save of the old version under
tests/data/saves/) whenever the format changes; see saves/README.md.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from tui.engine.saves.errors import SaveError

FORMAT_VERSION = 4


def _from_1(data: dict[str, Any]) -> dict[str, Any]:
    """1 -> 2: one file per campaign became a folder; the tables kept their meaning."""
    return {**data, "format": 2}


def _from_2(data: dict[str, Any]) -> dict[str, Any]:
    """2 -> 3: the author's note goes just before the newest action (depth 1) by default, so
    a turn re-reads only the tail of the prompt. Depth 3, the old default, could not be set
    by a player, so it becomes the new default."""
    out = {**data, "format": 3}
    if out.get("note_depth") == 3:
        out["note_depth"] = 1
    return out


def _from_3(data: dict[str, Any]) -> dict[str, Any]:
    """3 -> 4: a world state beside the story (docs/architecture.md, "World state"); a
    campaign begun before it starts with an empty one, filled by the player or the model."""
    return {**data, "format": 4, "world": data.get("world", {})}


# version -> the step that turns a save of that version into the next one, oldest first
STEPS: list[tuple[int, Callable[[dict[str, Any]], dict[str, Any]]]] = [
    (1, _from_1),
    (2, _from_2),
    (3, _from_3),
]


def format_of(data: dict[str, Any], name: str) -> int:
    """The format version a save says it has (saves older than the key are format 1)."""
    version = data.get("format", 1)
    if isinstance(version, bool) or not isinstance(version, int) or version < 1:
        raise SaveError(f"{name}: damaged save: format {str(version)[:20]!r} is not a version")
    if version > FORMAT_VERSION:
        raise SaveError(
            f"{name}: saved by a newer Grue (save format {version}; this Grue reads up to "
            f"{FORMAT_VERSION}): update Grue to open it; the save is left as it is"
        )
    return version


def upgrade(data: dict[str, Any], name: str) -> dict[str, Any]:
    """`data` brought to FORMAT_VERSION through every step after its own version, in order."""
    version = format_of(data, name)
    for step_from, step in STEPS:
        if step_from >= version:
            data = step(data)
    data["format"] = FORMAT_VERSION
    return data
