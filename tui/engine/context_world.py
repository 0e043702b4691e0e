"""The world notes kept in the story (docs/architecture.md, "World state").

The state's lines, the lore its names fire and the lore the story's words fire change far
less often than every turn, yet in the late note they were read again every turn (the note
moves down the story with each turn). So, before a new action, they are placed as a note of
its own; the turn keeps that text (`Turn.world_note`) and later prompts hold it where it was
read, so the model's cache holds it too.

A note holds only what the story does not hold already: each piece of fired lore that no kept
note holds, and the state's lines unless the newest note with lines has the same ones. A note
is kept while fewer than `WORLD_REPEAT_TURNS` player actions follow it (and it is in the
window), so what still applies is placed again near the end of the prompt now and then.
A change of the lines alone (an item picked up, a step down the road) places ~90 tokens, not
the lines and every piece of lore again.
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


def kept_world_notes(history: list[Message], first: int = 0,
                     turns: int = WORLD_REPEAT_TURNS) -> list[int]:
    """Indices in `history` (from `first` on) of the world notes fewer than `turns` player
    actions back, newest first; looks at those messages only, so it costs the same at any
    length."""
    kept: list[int] = []
    seen = 0
    for index in range(len(history) - 1, first - 1, -1):
        message = history[index]
        if message.role == NOTE and message.kind == WORLD_KIND:
            kept.append(index)
        elif message.role == PLAYER:
            seen += 1
            if seen >= turns:
                break
    return kept


def new_world_note(lore: list[Part], lines: str, kept: list[str]) -> list[Part]:
    """What a new note must hold, given the texts of the kept notes (newest first): the
    lore no kept note holds, and the lines unless the newest kept lines are the same."""
    parts = [(kind, label, text.strip()) for kind, label, text in lore if text.strip()]
    missing = [p for p in parts if not any(p[2] in note for note in kept)]
    newest_lines = next((found for note in kept if (found := note_lines(note)) is not None),
                        None)
    lines = lines.strip()
    if lines and lines != newest_lines:
        missing.append((WORLD_KIND, WORLD_LABEL, lines))
    return missing
