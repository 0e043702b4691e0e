"""The world state's notes kept in the story (docs/architecture.md, "World state").

The state's lines and the lore its names fire change only when the state does, yet in the late
note they were read again every turn (the note moves down the story with each turn). So,
before a new action, they are placed as a note of their own; the turn keeps that text
(`Turn.world_note`) and later prompts hold it where it was read, so the model's cache holds it
too.

A note holds only what the story does not hold already: each piece of lore the state fires
that no kept note holds, and the state's lines unless the newest note with lines has the same
ones. A note is kept while fewer than `WORLD_REPEAT_TURNS` player actions follow it (and it is
in the window), so what still applies is placed again near the end of the prompt now and then.
Taking the lines alone into a new note when only they changed (an item picked up, a step
down the road) places ~90 tokens, not the lines and every piece of lore again.
"""

from __future__ import annotations

from tui.engine.context_types import NOTE, PLAYER, Message
from tui.engine.lore import Activation
from tui.engine.world.prompt import LINES_START, WORLD_KIND

WORLD_REPEAT_TURNS = 6
STATE_REASON = "state: "  # how the lore scan says an entry fired from the state's names


def fired_by_state(activation: Activation) -> bool:
    return activation.reason.startswith(STATE_REASON)


def world_note_text(lore_texts: list[str], world: str) -> str:
    """A note: the lore the state fires, then the state's lines (which start `LINES_START`)."""
    return "\n".join(t.strip() for t in [*lore_texts, world] if t.strip())


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


def new_world_note(lore_texts: list[str], lines: str, kept: list[str]) -> str:
    """What a new note must hold, given the texts of the kept notes (newest first): the
    lore no kept note holds, and the lines unless the newest kept lines are the same."""
    lore = [t.strip() for t in lore_texts if t.strip()]
    missing = [t for t in lore if not any(t in note for note in kept)]
    newest_lines = next((found for note in kept if (found := note_lines(note)) is not None),
                        None)
    lines = lines.strip()
    return world_note_text(missing, "" if lines == newest_lines else lines)
