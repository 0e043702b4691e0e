"""The world state as the narrator reads it: a few lines in a fixed order, placed in the story
in a world note just before a new action (docs/architecture.md, "World state"; the late note
holds them for a Continue), so a change costs only the tail of the prompt."""

from __future__ import annotations

import re

from tui.engine.world.state import Person, WorldState

WORLD_KIND = "world"
WORLD_LABEL = "world state"
LINES_START = "Where: "  # the state's lines always start with the place (a note finds them)


def _person(p: Person) -> str:
    return f"{p.name} ({p.attitude})" if p.attitude else p.name


def place_line(state: WorldState) -> str:
    where = state.place or "unknown"
    if state.description:
        where += f" ({state.description})"
    exits = ", ".join(state.exits) or "none known"
    return f"{LINES_START}{where}; exits: {exits}"


def as_words(name: str) -> re.Pattern[str]:
    """`name` where a text says it: whole (no letter, digit, "_" or "-" either side), in
    any case."""
    return re.compile(rf"(?<![\w-]){re.escape(name)}(?![\w-])", re.IGNORECASE)


def named_in(name: str, text: str) -> bool:
    """Whether `text` names the person: any word of their name ("Warden Ilse": "the
    warden", "Ilse") as a whole word, in any case."""
    words = [w for w in re.findall(r"[^\W\d_][\w'-]*", name) if len(w) > 1]
    return any(as_words(w).search(text) for w in words)


def segment_lines(state: WorldState, recent: str | None = None) -> list[str]:
    """Where, Carrying, Present, Quests, then the dead and the facts; empty lines left out
    (Carrying stays: "nothing" tells the narrator as much as a list).

    `recent`: the story the narrator reads last (the new action, the turn before it). When
    given, the dead are listed only if it names them: a small model given "Dead: Bram"
    every turn brings Bram back to talk (docs/architecture.md, "World state"); the reminder
    is there when the story turns to them. None lists them all (the update, /state)."""
    if state.is_empty():
        return []
    lines = [place_line(state), f"Carrying: {', '.join(state.items) or 'nothing'}"]
    present = state.present()
    if present:
        lines.append(f"Present: {', '.join(map(_person, present))}")
    if state.quests:
        lines.append(f"Quests: {'; '.join(state.quests)}")
    dead = [p.name for p in state.people
            if not p.alive and (recent is None or named_in(p.name, recent))]
    if dead:
        lines.append(f"Dead: {', '.join(dead)}")
    if state.facts:
        lines.append("Facts: " + "; ".join(f"{k}: {state.facts[k]}"
                                           for k in sorted(state.facts, key=str.casefold)))
    return lines


def segment_text(state: WorldState, recent: str | None = None) -> str:
    return "\n".join(segment_lines(state, recent))


def lore_names(state: WorldState) -> list[tuple[str, str]]:
    """The names whose lore keys fire from the state (docs/architecture.md, "World state"):
    the place, each item carried, each living person present. A dead person's lore does not
    fire from the state; the story may still name them."""
    names = [("place", state.place)] if state.place else []
    names.extend(("item", item) for item in state.items)
    names.extend(("person", p.name) for p in state.present())
    return names


def report_lines(state: WorldState) -> list[str]:
    """The whole state for the player (/state): the segment plus people elsewhere and the
    finished quests."""
    if state.is_empty():
        return ["the world state is empty (/move PLACE, /inv add ITEM, /quest add TEXT)"]
    lines = segment_lines(state)
    away = [p for p in state.people if p.alive and p not in state.present()]
    if away:
        lines.append("Elsewhere: " + ", ".join(f"{_person(p)} at {p.where}" for p in away))
    if state.done:
        lines.append(f"Done: {'; '.join(state.done)}")
    return lines
