"""The world beside the story: a structured state kept by the game (docs/architecture.md,
"World state"). No Textual here."""

from tui.engine.world.changes import (
    KINDS,
    AddItem,
    AddQuest,
    Change,
    ChangeRefused,
    DropItem,
    FinishQuest,
    Forget,
    Meet,
    Move,
    RemoveQuest,
    ReopenQuest,
    SetFact,
    UpdatePerson,
    apply,
    apply_unchecked,
    change_from_dict,
    change_to_dict,
    describe,
    validate,
)
from tui.engine.world.state import Person, WorldState

__all__ = [
    "KINDS", "AddItem", "AddQuest", "Change", "ChangeRefused", "DropItem", "FinishQuest",
    "Forget", "Meet", "Move", "Person", "ReopenQuest", "RemoveQuest", "SetFact", "UpdatePerson",
    "WorldState", "apply", "apply_unchecked", "change_from_dict", "change_to_dict", "describe",
    "validate",
]
