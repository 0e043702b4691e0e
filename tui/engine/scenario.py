"""Adventure scenarios: the opening, memory, author's note and lore a campaign starts from."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from tui.engine.lore import LoreEntry


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
