"""AI Dungeon scenario exports as scenarios.

A scenario: `title, description, prompt, memory, authorsNote, mode, tags, quests, worldInfo,
options`, where the last three may be JSON strings (older exports) or already lists. A file
holds one scenario, a list of them, or `{"scenarios": [...]}`.

A scenario whose `options` are not empty is a menu: it becomes `Scenario.options`, each option
a full sub-scenario (its prompt, memory, note and world info are its own, as in AI Dungeon).
An option may be written out in place or be the `id`/`publicId` of another scenario in the
same file. `mode`, `quests` and the ids are kept in `extra["aidungeon"]`.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from tui.engine.formats.bounds import too_deep
from tui.engine.formats.coerce import as_str, as_str_list
from tui.engine.lore import LoreEntry
from tui.engine.scenario import Scenario, ScenarioError

MAX_DEPTH = 8  # menus of menus
_MARKERS = ("authorsNote", "worldInfo", "quests", "options", "mode", "isOption")

LoreOf = Callable[[dict[str, Any]], list[LoreEntry]]


def is_aidungeon_scenario(data: Any) -> bool:
    return isinstance(data, dict) and "prompt" in data and any(k in data for k in _MARKERS)


def scenario_list(data: Any) -> list[dict[str, Any]] | None:
    """The scenarios of a parsed file, or None when it is not an AI Dungeon export."""
    if isinstance(data, dict) and isinstance(data.get("scenarios"), list):
        data = data["scenarios"]
    if isinstance(data, list):
        items = [d for d in data if isinstance(d, dict)]
        if items and all(is_aidungeon_scenario(d) for d in items):
            return items
        return None
    return [data] if is_aidungeon_scenario(data) else None


def json_field(data: dict[str, Any], key: str) -> list[Any]:
    """A list field that may be written as a JSON string, null or a list."""
    value = data.get(key)
    if isinstance(value, str):
        if not value.strip():
            return []
        try:
            value = json.loads(value)
        except (ValueError, RecursionError) as exc:  # JSONDecodeError, or a 5000-digit number
            raise ScenarioError(f"'{key}' of \"{as_str(data.get('title'))[:40]}\" is not valid "
                                f"JSON") from exc
    if value is None:
        return []
    if too_deep(value):
        raise ScenarioError(f"'{key}' of \"{as_str(data.get('title'))[:40]}\" is nested too deeply")
    if not isinstance(value, list):
        raise ScenarioError(f"'{key}' of \"{as_str(data.get('title'))[:40]}\" is not a list")
    return value


def scenarios_from_aidungeon(items: list[dict[str, Any]], name: str,
                             lore_of: LoreOf) -> list[Scenario]:
    by_id: dict[str, dict[str, Any]] = {}
    for item in items:
        for key in ("id", "publicId"):
            if item.get(key) not in (None, ""):
                by_id[str(item[key])] = item
    return [_scenario(item, name, lore_of, by_id, 0) for item in items]


def _scenario(data: dict[str, Any], name: str, lore_of: LoreOf,
              by_id: dict[str, dict[str, Any]], depth: int) -> Scenario:
    info: dict[str, Any] = {}
    for key in ("id", "publicId", "mode"):
        if data.get(key) not in (None, ""):
            info[key] = data[key]
    quests = json_field(data, "quests")
    if quests:
        info["quests"] = quests
    options: list[Scenario] = []
    if depth < MAX_DEPTH:
        for raw in json_field(data, "options"):
            option = raw if isinstance(raw, dict) else by_id.get(as_str(raw))
            if option is not None and option is not data:
                options.append(_scenario(option, name, lore_of, by_id, depth + 1))
    return Scenario(
        title=as_str(data.get("title")).strip() or name.rsplit(".", 1)[0],
        opening=as_str(data.get("prompt")),
        description=as_str(data.get("description")),
        memory=as_str(data.get("memory")),
        authors_note=as_str(data.get("authorsNote")),
        lore=lore_of(data),
        tags=as_str_list(data.get("tags"), split_commas=True),
        source=name,
        options=options,
        extra={"format": "aidungeon", "aidungeon": info},
    )
