"""Adventure scenarios: the opening, memory, author's note and lore a campaign starts from."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tui.core.paths import bundled_dir, home_subdir
from tui.core.text import one_line
from tui.engine.lore import LoreEntry
from tui.engine.tomlfile import read_toml_file
from tui.engine.world.state import WorldState


@dataclass
class Scenario:
    """A starting point for an adventure.

    `placeholders` are `${...}` prompts the player fills in at start (AI Dungeon style);
    `options` makes the scenario a menu of sub-scenarios to pick from.
    """

    title: str
    opening: str = ""
    description: str = ""
    memory: str = ""
    authors_note: str = ""
    lore: list[LoreEntry] = field(default_factory=list)
    tags: list[str] = field(default_factory=list)
    source: str = ""  # file it came from, for messages
    placeholders: list[str] = field(default_factory=list)
    options: list[Scenario] = field(default_factory=list)
    extra: dict[str, Any] = field(default_factory=dict)
    world: WorldState = field(default_factory=WorldState)  # the starting world state


class ScenarioError(Exception):
    """A scenario file could not be used; the message is one line naming the file."""


MAX_SCENARIO_BYTES = 10 * 1024 * 1024


MAX_OPTION_DEPTH = 8


# An opening longer than this is cut from the top at a paragraph: a 437 KB NovelAI story once
# filled the whole window, pushing memory and instructions out (docs/architecture.md).
MAX_OPENING_CHARS = 4000
OPENING_TRIMMED = "opening_trimmed_from"  # extra key: the opening's length before the cut


def trimmed_opening(text: str, limit: int = MAX_OPENING_CHARS) -> str:
    """The last `limit` characters of `text` or fewer, starting at a paragraph (else a line,
    else a word) so the story picks up where it left off."""
    if len(text) <= limit:
        return text
    tail = text[-limit:]
    for mark in ("\n\n", "\n", ". ", " "):
        cut = tail.find(mark)
        if 0 <= cut < limit // 2:
            return tail[cut + len(mark):].lstrip()
    return tail


def trim_opening(scenario: Scenario) -> bool:
    """Trim an over-long opening (of the scenario and its options) in place; True if cut.
    The original length is kept in `extra[OPENING_TRIMMED]`."""
    cut = False
    if len(scenario.opening) > MAX_OPENING_CHARS:
        scenario.extra[OPENING_TRIMMED] = len(scenario.opening)
        scenario.opening = trimmed_opening(scenario.opening)
        cut = True
    for option in scenario.options:
        cut = trim_opening(option) or cut
    return cut


def scenario_from_dict(data: dict[str, Any], source: str, depth: int = 0) -> Scenario:
    def text(key: str) -> str:
        value = data.get(key, "")
        if not isinstance(value, str):
            raise ScenarioError(f"{source}: '{key}' must be text")
        return value

    lore_raw = data.get("world_info", [])
    if not isinstance(lore_raw, list) or not all(isinstance(e, dict) for e in lore_raw):
        raise ScenarioError(f"{source}: 'world_info' must be a list of tables")
    title = text("title").strip() or source.rsplit(".", 1)[0]
    options_raw = data.get("options", [])
    if not isinstance(options_raw, list) or not all(isinstance(o, dict) for o in options_raw):
        raise ScenarioError(f"{source}: 'options' must be a list of tables")
    if options_raw and depth >= MAX_OPTION_DEPTH:
        raise ScenarioError(f"{source}: options nested too deeply")
    extra = data.get("extra", {})
    world = data.get("world", {})
    if not isinstance(world, dict):
        raise ScenarioError(f"{source}: '[world]' must be a table")
    tags = data.get("tags", [])
    return Scenario(
        title=title,
        opening=text("opening"),
        description=text("description"),
        memory=text("memory"),
        authors_note=text("authors_note"),
        lore=[LoreEntry.from_dict(e) for e in lore_raw],
        tags=[str(t) for t in tags] if isinstance(tags, list) else [str(tags)],
        source=source,
        options=[scenario_from_dict(o, source, depth + 1) for o in options_raw],
        extra=dict(extra) if isinstance(extra, dict) else {},
        world=WorldState.from_dict(world),
    )


def load_scenario(path: Path) -> Scenario:
    """A scenario file; any problem is a one-line ScenarioError naming it."""
    data = read_toml_file(path, MAX_SCENARIO_BYTES, ScenarioError, "scenario file")
    try:
        scenario = scenario_from_dict(data, path.name)
        trim_opening(scenario)
        return scenario
    except (TypeError, ValueError, KeyError, AttributeError, OverflowError,
            RecursionError) as exc:
        problem = one_line(str(exc) or type(exc).__name__, 120)
        raise ScenarioError(f"{path.name}: damaged scenario file: {problem}") from exc


def scenario_folders() -> list[Path]:
    folders = [p for p in (bundled_dir("scenarios"),) if p is not None]
    folders.append(home_subdir("scenarios"))
    return folders


def list_scenarios() -> list[tuple[Path, Scenario | ScenarioError]]:
    """Bundled and the player's scenarios; a broken file is listed with its error."""
    out: list[tuple[Path, Scenario | ScenarioError]] = []
    for folder in scenario_folders():
        for path in sorted(folder.glob("*.toml")):
            try:
                out.append((path, load_scenario(path)))
            except ScenarioError as exc:
                out.append((path, exc))
    return out


def find_scenario(name: str) -> Scenario:
    """A scenario by file path, file stem or title (case-insensitive, unique prefix ok)."""
    direct = Path(name).expanduser()
    if direct.is_file():
        return load_scenario(direct)
    wanted = name.lower().strip()
    found = list_scenarios()
    for path, item in found:
        title = item.title.lower() if isinstance(item, Scenario) else ""
        if wanted in (path.stem.lower(), title):
            if isinstance(item, ScenarioError):
                raise item
            return item
    matches = [
        (p, s) for p, s in found
        if isinstance(s, Scenario) and (p.stem.lower().startswith(wanted)
                                        or s.title.lower().startswith(wanted))
    ]
    if len(matches) == 1:
        return matches[0][1]
    names = ", ".join(p.stem for p, _ in found)
    raise ScenarioError(f"{name}: no such scenario (have: {names})")
