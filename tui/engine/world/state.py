"""The world beside the story: where the player is, what they carry, who they met, their
quests and free-form facts (docs/architecture.md, "World state").

Names are matched without regard to case; what is shown keeps the case it was given in.
Every text is one cleaned line, capped, so a save or a model cannot put markup, control
characters or a novel into the state.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from tui.core.text import one_line

MAX_NAME = 120  # an item, person, place, exit, quest or fact key
MAX_TEXT = 400  # a place's description, a fact's value
MAX_ENTRIES = 200  # per list: items, exits, people, quests, facts


def name_text(value: Any, limit: int = MAX_NAME) -> str:
    """`value` as one cleaned line of at most `limit` characters."""
    return one_line(str(value), limit) if value is not None else ""


def same(a: str, b: str) -> bool:
    return a.casefold() == b.casefold()


def index_of(names: list[str], name: str) -> int | None:
    """Where `name` is in `names` (any case), or None."""
    folded = name.casefold()
    for i, other in enumerate(names):
        if other.casefold() == folded:
            return i
    return None


@dataclass
class Person:
    name: str
    where: str = ""
    attitude: str = ""
    alive: bool = True

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "where": self.where, "attitude": self.attitude,
                "alive": self.alive}

    @classmethod
    def from_dict(cls, data: Any) -> Person | None:
        if not isinstance(data, dict) or not name_text(data.get("name", "")):
            return None
        return cls(name_text(data["name"]), name_text(data.get("where", "")),
                   name_text(data.get("attitude", "")), data.get("alive", True) is not False)


@dataclass
class WorldState:
    place: str = ""
    description: str = ""
    exits: list[str] = field(default_factory=list)
    items: list[str] = field(default_factory=list)
    people: list[Person] = field(default_factory=list)
    quests: list[str] = field(default_factory=list)  # open, oldest first
    done: list[str] = field(default_factory=list)  # finished, oldest first
    facts: dict[str, str] = field(default_factory=dict)

    def person_index(self, name: str) -> int | None:
        return index_of([p.name for p in self.people], name)

    def person(self, name: str) -> Person | None:
        i = self.person_index(name)
        return None if i is None else self.people[i]

    def fact_key(self, key: str) -> str | None:
        """The stored spelling of fact `key` (any case), or None."""
        return next((k for k in self.facts if same(k, key)), None)

    def present(self) -> list[Person]:
        """The living people at the player's place (or with no place noted)."""
        return [p for p in self.people
                if p.alive and (not p.where or (self.place and same(p.where, self.place)))]

    def is_empty(self) -> bool:
        return self == WorldState()

    def copy(self) -> WorldState:
        return WorldState.from_dict(self.to_dict())

    def to_dict(self) -> dict[str, Any]:
        return {
            "place": self.place,
            "description": self.description,
            "exits": list(self.exits),
            "items": list(self.items),
            "people": [p.to_dict() for p in self.people],
            "quests": list(self.quests),
            "done": list(self.done),
            "facts": dict(self.facts),
        }

    @classmethod
    def from_dict(cls, data: Any) -> WorldState:
        """A state from a save or a scenario; what cannot be used is left out, never fatal."""
        if not isinstance(data, dict):
            return cls()
        people = [p for p in map(Person.from_dict, _list(data.get("people"))) if p is not None]
        facts_raw = data.get("facts", {})
        facts: dict[str, str] = {}
        if isinstance(facts_raw, dict):
            for key, value in list(facts_raw.items())[:MAX_ENTRIES]:
                if name_text(key) and not isinstance(value, (dict, list)):
                    facts[name_text(key)] = name_text(value, MAX_TEXT)
        return cls(
            place=name_text(data.get("place", "")),
            description=name_text(data.get("description", ""), MAX_TEXT),
            exits=_names(data.get("exits")),
            items=_names(data.get("items")),
            people=people[:MAX_ENTRIES],
            quests=_names(data.get("quests")),
            done=_names(data.get("done")),
            facts=facts,
        )


def _list(value: Any) -> list[Any]:
    return value[:MAX_ENTRIES] if isinstance(value, list) else []


def _names(value: Any) -> list[str]:
    out: list[str] = []
    for raw in _list(value):
        if isinstance(raw, (dict, list)):
            continue
        text = name_text(raw)
        if text and index_of(out, text) is None:
            out.append(text)
    return out
