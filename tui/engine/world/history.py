"""The world state moves with the turns (docs/architecture.md, "World state").

Each turn keeps, per take (response), the changes made while that take was chosen: the
model's proposal and the player's corrections alike. The campaign keeps the current state
(`Campaign.world`, saved with it), so nothing is folded again at any length: a turn keeps
the inverses of its applied changes (`Turn.reverts`), undo applies them, redo applies the
take again, and choosing another take of the newest turn (retry, swipe) swaps the takes'
changes. Only the newest turn can change takes, so a sync looks at the newest turn only.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

from tui.engine.world.changes import Change, apply_unchecked, validate
from tui.engine.world.state import WorldState


class Turn(Protocol):
    """What this module needs of a campaign's turn (tui.engine.campaign.Turn)."""

    chosen: int
    changes: list[list[Change]]
    reverts: list[Change]
    applied: int


class Campaign(Protocol):
    """What this module needs of a campaign (tui.engine.campaign.Campaign)."""

    world: WorldState

    @property
    def turns(self) -> Sequence[Turn]: ...


def take_changes(turn: Turn) -> list[Change]:
    """The changes of the turn's chosen take."""
    return turn.changes[turn.chosen] if 0 <= turn.chosen < len(turn.changes) else []


def unapply(world: WorldState, turn: Turn) -> None:
    """Take the turn's applied changes out of `world`."""
    for inverse in reversed(turn.reverts):
        apply_unchecked(world, inverse)
    if turn.reverts:
        turn.reverts = []
    if turn.applied != -1:
        turn.applied = -1


def apply_take(world: WorldState, turn: Turn) -> list[str]:
    """Apply the turn's chosen take; a change that no longer fits (the state moved on while
    it was undone) is skipped: its reason is returned."""
    refused: list[str] = []
    reverts: list[Change] = []
    for change in take_changes(turn):
        reason = validate(world, change)
        if reason is not None:
            refused.append(reason)
            continue
        reverts.append(change.run(world))
    turn.reverts = reverts
    turn.applied = turn.chosen
    return refused


def sync(campaign: Campaign) -> WorldState:
    """The current state, after swapping in the newest turn's chosen take if it changed."""
    last = campaign.turns[-1] if campaign.turns else None
    if last is not None and last.applied != last.chosen:
        unapply(campaign.world, last)
        apply_take(campaign.world, last)
    return campaign.world


def before_last(campaign: Campaign) -> WorldState:
    """A copy of the state as it was before the newest turn's changes (what a retry's
    prompt sees: the take it replaces has not happened)."""
    world = sync(campaign).copy()
    last = campaign.turns[-1] if campaign.turns else None
    if last is not None:
        for inverse in reversed(last.reverts):
            apply_unchecked(world, inverse)
    return world


def record(campaign: Campaign, changes: list[Change]) -> tuple[list[Change], list[str]]:
    """Apply `changes` in order as part of the newest turn's chosen take (or to the starting
    state when there is no turn): (the changes applied, the reasons of those refused)."""
    world = sync(campaign)
    last = campaign.turns[-1] if campaign.turns else None
    done: list[Change] = []
    refused: list[str] = []
    for change in changes:
        reason = validate(world, change)
        if reason is not None:
            refused.append(reason)
            continue
        inverse = change.run(world)
        done.append(change)
        if last is not None:
            while len(last.changes) <= last.chosen:
                last.changes.append([])
            last.changes[last.chosen].append(change)
            last.reverts.append(inverse)
            last.applied = last.chosen
    return done, refused
