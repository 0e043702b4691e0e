"""Small typed changes to the world state: checked against it, applied, and taken back.

`validate(state, change)` says why a change cannot apply (None: it can); `apply` applies a
valid change and returns its inverse, which puts the state back exactly (the inverse is
applied with `apply_unchecked`: taking back a death is not a resurrection the model may
propose). `describe` is the one quiet line the player sees (docs/architecture.md,
"World state").
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields
from typing import Any, ClassVar

from tui.engine.world.state import (
    MAX_ENTRIES,
    MAX_TEXT,
    Person,
    WorldState,
    index_of,
    name_text,
    same,
)


class ChangeRefused(ValueError):
    """A change that does not fit the state; the message is the reason, one line."""


@dataclass(frozen=True)
class AddItem:
    op: ClassVar[str] = "add_item"
    item: str
    at: int = -1  # where in the list (-1: at the end); inverses restore the old place

    def check(self, s: WorldState) -> str | None:
        if index_of(s.items, self.item) is not None:
            return f"already carrying {self.item}"
        return _full(s.items, "items")

    def run(self, s: WorldState) -> Change:
        _insert(s.items, self.at, self.item)
        return DropItem(self.item)

    def describe(self) -> str:
        return f"+ {self.item}"


@dataclass(frozen=True)
class DropItem:
    op: ClassVar[str] = "drop_item"
    item: str

    def check(self, s: WorldState) -> str | None:
        return None if index_of(s.items, self.item) is not None else f"not carrying {self.item}"

    def run(self, s: WorldState) -> Change:
        i = index_of(s.items, self.item)
        if i is None:
            return DropItem(self.item)
        name = s.items.pop(i)
        return AddItem(name, i)

    def describe(self) -> str:
        return f"- {self.item}"


@dataclass(frozen=True)
class Move:
    op: ClassVar[str] = "move"
    place: str
    description: str = ""
    exits: tuple[str, ...] = ()

    def check(self, s: WorldState) -> str | None:
        if same(self.place, s.place) and self.description in ("", s.description) \
                and (not self.exits or list(self.exits) == s.exits):
            return f"already at {self.place}"
        return None

    def run(self, s: WorldState) -> Change:
        back = Move(s.place, s.description, tuple(s.exits))
        new_place = not same(self.place, s.place)
        s.place = self.place
        if self.description or new_place:
            s.description = self.description
        if self.exits or new_place:
            s.exits = list(self.exits)
        return back

    def describe(self) -> str:
        return f"→ {self.place}"


@dataclass(frozen=True)
class Meet:
    op: ClassVar[str] = "meet"
    name: str
    where: str = ""  # "" at the player's place
    attitude: str = ""
    alive: bool = True
    at: int = -1

    def check(self, s: WorldState) -> str | None:
        if s.person(self.name) is not None:
            return f"already met {self.name}"
        return _full(s.people, "people")

    def run(self, s: WorldState) -> Change:
        where = self.where or s.place
        _insert(s.people, self.at, Person(self.name, where, self.attitude, self.alive))
        return Forget(self.name)

    def describe(self) -> str:
        return f"met {self.name}" + (f" ({self.attitude})" if self.attitude else "")


@dataclass(frozen=True)
class UpdatePerson:
    op: ClassVar[str] = "update_person"
    name: str
    where: str | None = None
    attitude: str | None = None
    alive: bool | None = None

    def check(self, s: WorldState) -> str | None:
        p = s.person(self.name)
        if p is None:
            return f"no one called {self.name} has been met"
        wants = {k: v for k, v in (("where", self.where), ("attitude", self.attitude),
                                   ("alive", self.alive)) if v is not None}
        if all(getattr(p, k) == v for k, v in wants.items()):
            return f"nothing changes for {p.name}"
        if not p.alive:
            return f"{p.name} is dead"
        return None

    def run(self, s: WorldState) -> Change:
        p = s.person(self.name)
        if p is None:
            return Forget(self.name)
        back = UpdatePerson(p.name, p.where, p.attitude, p.alive)
        if self.where is not None:
            p.where = self.where
        if self.attitude is not None:
            p.attitude = self.attitude
        if self.alive is not None:
            p.alive = self.alive
        return back

    def describe(self) -> str:
        if self.alive is False:
            return f"† {self.name}"
        parts = [x for x in (self.attitude, f"at {self.where}" if self.where else "") if x]
        return f"{self.name}: {', '.join(parts) or 'alive'}"


@dataclass(frozen=True)
class Forget:
    op: ClassVar[str] = "forget"
    name: str

    def check(self, s: WorldState) -> str | None:
        return None if s.person(self.name) is not None else f"no one called {self.name}"

    def run(self, s: WorldState) -> Change:
        i = s.person_index(self.name)
        if i is None:
            return Forget(self.name)
        p = s.people.pop(i)
        return Meet(p.name, p.where, p.attitude, p.alive, i)

    def describe(self) -> str:
        return f"forgot {self.name}"


@dataclass(frozen=True)
class AddQuest:
    op: ClassVar[str] = "add_quest"
    quest: str
    at: int = -1

    def check(self, s: WorldState) -> str | None:
        if index_of(s.quests, self.quest) is not None:
            return f"already a quest: {self.quest}"
        return _full(s.quests, "quests")

    def run(self, s: WorldState) -> Change:
        _insert(s.quests, self.at, self.quest)
        return RemoveQuest(self.quest)

    def describe(self) -> str:
        return f"quest: {self.quest}"


@dataclass(frozen=True)
class RemoveQuest:
    op: ClassVar[str] = "remove_quest"
    quest: str

    def check(self, s: WorldState) -> str | None:
        return None if index_of(s.quests, self.quest) is not None else \
            f"no open quest {self.quest}"

    def run(self, s: WorldState) -> Change:
        i = index_of(s.quests, self.quest)
        if i is None:
            return RemoveQuest(self.quest)
        return AddQuest(s.quests.pop(i), i)

    def describe(self) -> str:
        return f"dropped quest: {self.quest}"


@dataclass(frozen=True)
class FinishQuest:
    op: ClassVar[str] = "finish_quest"
    quest: str

    def check(self, s: WorldState) -> str | None:
        return None if index_of(s.quests, self.quest) is not None else \
            f"no open quest {self.quest}"

    def run(self, s: WorldState) -> Change:
        i = index_of(s.quests, self.quest)
        if i is None:
            return ReopenQuest(self.quest)
        name = s.quests.pop(i)
        s.done.append(name)
        return ReopenQuest(name, i)

    def describe(self) -> str:
        return f"✓ {self.quest}"


@dataclass(frozen=True)
class ReopenQuest:
    op: ClassVar[str] = "reopen_quest"
    quest: str
    at: int = -1

    def check(self, s: WorldState) -> str | None:
        if index_of(s.done, self.quest) is None:
            return f"no finished quest {self.quest}"
        return _full(s.quests, "quests")

    def run(self, s: WorldState) -> Change:
        i = index_of(s.done, self.quest)
        name = s.done.pop(i) if i is not None else self.quest
        _insert(s.quests, self.at, name)
        return FinishQuest(name)

    def describe(self) -> str:
        return f"reopened: {self.quest}"


@dataclass(frozen=True)
class SetFact:
    op: ClassVar[str] = "set_fact"
    key: str
    value: str = ""  # "" forgets the fact

    def check(self, s: WorldState) -> str | None:
        key = s.fact_key(self.key)
        if key is None:
            return f"no fact {self.key}" if not self.value else _full(list(s.facts), "facts")
        if s.facts[key] == self.value:
            return f"{key} is already {self.value}"
        return None

    def run(self, s: WorldState) -> Change:
        key = s.fact_key(self.key)
        old = s.facts.pop(key) if key is not None else ""
        if self.value:
            s.facts[key or self.key] = self.value
        return SetFact(key or self.key, old)

    def describe(self) -> str:
        return f"{self.key} = {self.value}" if self.value else f"forgot {self.key}"


Change = (AddItem | DropItem | Move | Meet | UpdatePerson | Forget | AddQuest | RemoveQuest
          | FinishQuest | ReopenQuest | SetFact)
KINDS: dict[str, type[Change]] = {k.op: k for k in (
    AddItem, DropItem, Move, Meet, UpdatePerson, Forget, AddQuest, RemoveQuest, FinishQuest,
    ReopenQuest, SetFact)}
_LONG = frozenset({"description", "value"})  # fields that hold a sentence, not a name


def _insert(names: list[Any], at: int, value: Any) -> None:
    if 0 <= at <= len(names):
        names.insert(at, value)
    else:
        names.append(value)


def _full(names: list[Any], what: str) -> str | None:
    return f"too many {what} (the most is {MAX_ENTRIES})" if len(names) >= MAX_ENTRIES else None


def _needs_name(change: Change) -> str | None:
    first = fields(change)[0]
    value = getattr(change, first.name)
    return f"{change.op} needs a {first.name}" if not value else None


def validate(state: WorldState, change: Change) -> str | None:
    """Why `change` cannot apply to `state`, or None when it can."""
    return _needs_name(change) or change.check(state)


def apply(state: WorldState, change: Change) -> Change:
    """Apply a change that `validate` accepts; return its inverse. ChangeRefused otherwise."""
    reason = validate(state, change)
    if reason is not None:
        raise ChangeRefused(reason)
    return change.run(state)


def apply_unchecked(state: WorldState, change: Change) -> Change:
    """Apply an inverse (or a change known to fit); a misfit does nothing harmful."""
    return change.run(state)


def describe(changes: list[Change]) -> str:
    """The quiet line: `+ brass lantern · → Thornwood edge`."""
    return " · ".join(c.describe() for c in changes)


def change_to_dict(change: Change) -> dict[str, Any]:
    data: dict[str, Any] = {"op": change.op}
    for key, value in asdict(change).items():
        if value is None or (key == "at" and value == -1):
            continue
        data[key] = list(value) if isinstance(value, tuple) else value
    return data


def change_from_dict(data: Any) -> Change:
    """A change from a save or a model's proposal; ValueError naming what is wrong."""
    if not isinstance(data, dict):
        raise ValueError("a change is not a table")
    kind = KINDS.get(str(data.get("op", "")))
    if kind is None:
        raise ValueError(f"unknown change {name_text(data.get('op', ''), 40)!r}")
    args: dict[str, Any] = {}
    for f in fields(kind):
        if f.name not in data or data[f.name] is None:
            continue
        value = data[f.name]
        if f.name == "exits":
            value = tuple(name_text(v) for v in value if name_text(v))[:MAX_ENTRIES] \
                if isinstance(value, list) else ()
        elif f.name == "alive":
            value = bool(value)
        elif f.name == "at":
            value = value if isinstance(value, int) and not isinstance(value, bool) else -1
        else:
            value = name_text(value, MAX_TEXT if f.name in _LONG else 120)
        args[f.name] = value
    try:
        return kind(**args)
    except TypeError as exc:
        raise ValueError(f"{kind.op}: {exc}") from exc
