"""The world state's note kept in the story (docs/architecture.md, "World state").

The state's lines and the lore its names fire change only when the state does, yet in the late
note they were read again every turn (the note moves down the story with each turn). So,
before a new action, they are placed once as a note of their own; the turn keeps that text
(`Turn.world_note`) and later prompts hold it where it was read, so the model's cache holds it
too. A new note is placed when the text changes, or when the last one is more than
`WORLD_REPEAT_TURNS` actions back (the narrator is reminded near the end of its prompt).
"""

from __future__ import annotations

from tui.engine.context_types import NOTE, PLAYER, Message
from tui.engine.lore import Activation
from tui.engine.world.prompt import WORLD_KIND

WORLD_REPEAT_TURNS = 6
STATE_REASON = "state: "  # how the lore scan says an entry fired from the state's names


def fired_by_state(activation: Activation) -> bool:
    return activation.reason.startswith(STATE_REASON)


def world_note_text(lore_texts: list[str], world: str) -> str:
    """The note: the lore the state fires, then the state's lines."""
    return "\n".join(t.strip() for t in [*lore_texts, world] if t.strip())


def kept_world_note(history: list[Message], turns: int = WORLD_REPEAT_TURNS) -> int | None:
    """Index in `history` of the newest world note, if fewer than `turns` player actions
    come after it; looks at those messages only, so it costs the same at any length."""
    seen = 0
    for index in range(len(history) - 1, -1, -1):
        message = history[index]
        if message.role == NOTE and message.kind == WORLD_KIND:
            return index
        if message.role == PLAYER:
            seen += 1
            if seen >= turns:
                return None
    return None

