"""Scenarios of other programs: detect the format, import into `Scenario`, save as Grue TOML.

Readers (one module each): KoboldAI story files (`scenario_koboldai`), NovelAI `.story` and
`.scenario` files (`scenario_novelai`), AI Dungeon scenario exports (`scenario_aidungeon`).
The world info inside them goes through the lorebook importers (`formats/lore_*.py`), so a
story's lore reads exactly as the same lore imported alone. A Grue `.toml` scenario is read
too, so one call imports any scenario file.

Every imported scenario lists its `${...}` questions in `Scenario.placeholders` (see
`tui.engine.placeholders`; fill them with `fill_placeholders` before starting a campaign) and
names its format in `extra["format"]`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from tui.engine.formats.bounds import bounded
from tui.engine.formats.coerce import toml_safe
from tui.engine.formats.jsonfile import read_json_file
from tui.engine.formats.lore_aidungeon import book_from_aidungeon
from tui.engine.formats.lore_koboldai import book_from_koboldai, entries_of_story
from tui.engine.formats.lore_novelai import book_from_novelai
from tui.engine.formats.lorebooks import MAX_CONTENT_CHARS, MAX_ENTRIES, MAX_FILE_BYTES
from tui.engine.formats.scenario_aidungeon import (
    json_field,
    scenario_list,
    scenarios_from_aidungeon,
)
from tui.engine.formats.scenario_koboldai import is_koboldai_story, scenario_from_koboldai
from tui.engine.formats.scenario_novelai import (
    is_novelai_scenario,
    is_novelai_story,
    scenario_from_novelai_scenario,
    scenario_from_novelai_story,
)
from tui.engine.lore import Lorebook, LoreEntry
from tui.engine.placeholders import scenario_placeholders
from tui.engine.scenario import Scenario, ScenarioError, load_scenario, trim_opening

FORMATS = ("koboldai_story", "novelai_story", "novelai_scenario", "aidungeon")


def detect_scenario(data: Any) -> str | None:
    """The scenario format of parsed JSON `data` (one of FORMATS), or None."""
    if is_novelai_story(data):
        return "novelai_story"
    if is_novelai_scenario(data):
        return "novelai_scenario"
    if is_koboldai_story(data):
        return "koboldai_story"
    if scenario_list(data) is not None:
        return "aidungeon"
    return None


def parse_scenarios(data: Any, name: str) -> list[Scenario]:
    """Scenarios from parsed JSON; raises ScenarioError (without the file name) if unknown."""
    fmt = detect_scenario(data)
    if fmt is None:
        raise ScenarioError(
            "not a scenario in any known format (KoboldAI story, NovelAI story or scenario, "
            "AI Dungeon scenario)"
        )
    if fmt == "koboldai_story":
        entries = entries_of_story(data) or []
        found = [scenario_from_koboldai(data, name, _checked(book_from_koboldai(entries)))]
    elif fmt == "novelai_story":
        found = [scenario_from_novelai_story(data, name, _novelai_lore(data["content"]))]
    elif fmt == "novelai_scenario":
        found = [scenario_from_novelai_scenario(data, name, _novelai_lore(data))]
    else:
        items = scenario_list(data) or []
        found = scenarios_from_aidungeon(items, name, _aidungeon_lore)
    for scenario in found:
        trim_opening(scenario)
        _list_placeholders(scenario)
    return found


def import_scenario_file(path: str | Path) -> list[Scenario]:
    """Every scenario in a file of any known format (a Grue `.toml` gives one).

    Raises ScenarioError with one line naming the file and the problem.
    """
    path = Path(path)
    label = path.name
    if path.suffix.lower() == ".toml":
        return [load_scenario(path)]
    if not path.exists():
        raise ScenarioError(f"{label}: no such file")
    data = read_json_file(path, MAX_FILE_BYTES, ScenarioError, "a scenario")
    try:
        found = parse_scenarios(data, label)
    except ScenarioError as exc:
        raise ScenarioError(f"{label}: {exc}") from exc
    except RecursionError as exc:
        raise ScenarioError(f"{label}: nested too deeply") from exc
    if not found:
        raise ScenarioError(f"{label}: holds no scenarios")
    return found


def scenario_to_toml_dict(scenario: Scenario) -> dict[str, Any]:
    """The scenario as a Grue scenario TOML table (what `scenario_from_dict` reads).

    No None values (TOML has no null). Options become `[[options]]` tables of the same
    shape and `extra` an `[extra]` table; placeholders are not written, they are found again
    in the text.
    """
    data: dict[str, Any] = {
        "title": scenario.title,
        "description": scenario.description,
        "tags": list(scenario.tags),
        "opening": scenario.opening,
        "memory": scenario.memory,
        "authors_note": scenario.authors_note,
        "world_info": [entry.to_dict() for entry in scenario.lore],
    }
    if scenario.options:
        data["options"] = [scenario_to_toml_dict(o) for o in scenario.options]
    if scenario.extra:
        data["extra"] = toml_safe(scenario.extra)
    return toml_safe(data)


# --- helpers ---------------------------------------------------------------------------------


def _list_placeholders(scenario: Scenario) -> None:
    scenario.placeholders = [p.describe() for p in scenario_placeholders(scenario)]
    scenario.extra = bounded(scenario.extra)
    for option in scenario.options:
        _list_placeholders(option)


def _checked(book: Lorebook) -> list[LoreEntry]:
    for entry in book.entries:  # unknown fields kept small (formats/bounds.py)
        entry.extensions = bounded(entry.extensions)
    if len(book.entries) > MAX_ENTRIES:
        raise ScenarioError(f"too many world info entries ({len(book.entries)})")
    for entry in book.entries:
        if len(entry.content) > MAX_CONTENT_CHARS:
            raise ScenarioError(f'world info entry "{entry.label[:40]}" is too long')
    return book.entries


def _novelai_lore(holder: dict[str, Any]) -> list[LoreEntry]:
    lorebook = holder.get("lorebook")
    return _checked(book_from_novelai(lorebook)) if isinstance(lorebook, dict) else []


def _aidungeon_lore(data: dict[str, Any]) -> list[LoreEntry]:
    return _checked(book_from_aidungeon(json_field(data, "worldInfo")))
