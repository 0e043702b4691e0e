"""The world notes kept in the story (docs/architecture.md, "World state").

The state's lines, the lore its names fire and the lore the story's words fire change far
less often than every turn, yet in the late note they were read again every turn (the note
moves down the story with each turn). So, before a new action, they are placed as a note of
its own; the turn keeps that text (`Turn.world_note`) and later prompts hold it where it was
read, so the model's cache holds it too.

A note holds only what the story does not hold already: each piece of fired lore that no note
in the window holds, and the state's lines unless the newest note with lines, fewer than
`WORLD_REPEAT_TURNS` player actions back, has the same ones (the lines are what the narrator
must not contradict: they come back near the end of the prompt now and then). A change of
the lines alone (an item picked up, a step down the road) places ~90 tokens, not the lines
and every piece of lore again.
"""

from __future__ import annotations

from tui.engine.context_types import NOTE, PLAYER, Message
from tui.engine.lore import Activation
from tui.engine.world.prompt import LINES_START, WORLD_KIND, WORLD_LABEL

WORLD_REPEAT_TURNS = 6
AUTHORS_NOTE_POSITIONS = ("an_top", "an_bottom")  # lore set to go with the author's note
STATE_REASON = "state: "  # how the lore scan says an entry fired from the state's names


def fired_by_state(activation: Activation) -> bool:
    return activation.reason.startswith(STATE_REASON)


def placed_in_story(activation: Activation) -> bool:
    """Whether fired lore goes in the world note (kept in the story) rather than the late
    note: what the state fires, and any keyword entry not set to go with the author's note.
    A keyword entry fires on many turns in a row; in the late note, which moves every turn,
    it was read again on each (an imported SillyTavern book's ~480 tokens, every turn)."""
    entry = activation.entry
    if fired_by_state(activation):
        return True
    return not entry.constant and entry.position not in AUTHORS_NOTE_POSITIONS


Part = tuple[str, str, str]  # (kind, label, text): a piece of a note, as Layout.note takes it


def world_note_text(parts: list[Part]) -> str:
    """A note's text as the turn keeps it: its parts, a line each (lore, then the lines)."""
    return "\n".join(text for _kind, _label, text in parts)


def note_lines(text: str) -> str | None:
    """The state's lines a note holds (its end, from the last line that starts them)."""
    if text.startswith(LINES_START):
        return text
    at = text.rfind("\n" + LINES_START)
    return text[at + 1:] if at >= 0 else None


def world_notes(history: list[Message], first: int = 0,
                turns: int = WORLD_REPEAT_TURNS) -> tuple[list[int], int]:
    """Indices in `history` (from `first` on: the caller bounds it by the window, so this
    costs the same at any length) of the world notes, newest first, and how many of them
    (the first ones) lie fewer than `turns` player actions back."""
    found: list[int] = []
    recent = -1
    seen = 0
    for index in range(len(history) - 1, first - 1, -1):
        message = history[index]
        if message.role == NOTE and message.kind == WORLD_KIND:
            found.append(index)
        elif message.role == PLAYER and recent < 0:
            seen += 1
            if seen >= turns:
                recent = len(found)
    return found, len(found) if recent < 0 else recent


def new_world_note(lore: list[Part], lines: str, notes: list[str], recent: int
                   ) -> tuple[list[Part], set[int]]:
    """What a new note must hold, given the texts of the world notes in the window (newest
    first; the first `recent` are fewer than `WORLD_REPEAT_TURNS` actions back): the lore no
    note holds, and the lines unless the newest recent lines are the same. Also which notes
    (positions in `notes`) it relies on: if the window loses one, what it held is missing.

    Lore stays where it was placed while it is in the window: it is background, read once.
    The lines are what the narrator must not contradict: they come back near the end."""
    used: set[int] = set()
    missing: list[Part] = []
    for kind, label, text in lore:
        text = text.strip()
        holder = next((k for k, note in enumerate(notes) if text in note), None) \
            if text else None
        if holder is None and text:
            missing.append((kind, label, text))
        elif holder is not None:
            used.add(holder)
    lines = lines.strip()
    newest = next(((k, found) for k, note in enumerate(notes[:recent])
                   if (found := note_lines(note)) is not None), None)
    if newest is not None and newest[1] == lines:
        used.add(newest[0])
    elif lines:
        missing.append((WORLD_KIND, WORLD_LABEL, lines))
    return missing, used
