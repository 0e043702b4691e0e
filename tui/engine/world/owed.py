"""The turns whose world update is still owed (docs/architecture.md, "World state").

An update runs in the pause after a narration, and Enter ends the pause: on a 7B-13B model on
a CPU an update reads for seconds, so a player who reads fast and types the next action
cancels it. Dropped, that turn's changes (the lantern taken) would be lost for good. So a
turn stays owed until an update answers for it, and the next update reads the owed turns
with the newest; its changes are recorded on the newest turn (only the newest turn can take
changes: `history`).

When the turn that carried such an answer is undone, or another take of it chosen (retry,
swipe), the earlier turns it answered for are owed again: the changes went with that take.
The count of owed turns is saved with the campaign (`Campaign.world_owed`), so an update the
player quit before is asked at the next start.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # campaign imports the world package: no import at run time
    from tui.engine.campaign import Campaign, Turn

MAX_OWED = 3  # turns one update reads: the newest and two before it (each read costs tokens)


@dataclass(frozen=True, eq=False)
class _Answer:
    """The last update answered: the turn and take it was recorded on, and the earlier
    turns it answered for."""

    turn: Turn
    take: int
    earlier: tuple[Turn, ...]


def _recent(campaign: Campaign) -> list[Turn]:
    """The last few turns, oldest first: all an update may read (cheap at any length)."""
    return list(campaign.turns[-MAX_OWED:])


def _among(turn: Turn, turns: Sequence[Turn]) -> bool:
    return any(t is turn for t in turns)


class OwedTurns:
    """The turns, oldest first, that the next world update must read."""

    def __init__(self) -> None:
        self._owed: list[Turn] = []
        self._answer: _Answer | None = None

    def restore(self, campaign: Campaign, count: int) -> None:
        """Owe the newest `count` turns (a save's `world_owed`)."""
        self._owed = list(campaign.turns[-count:]) if count > 0 else []
        self._answer = None

    def narrated(self, campaign: Campaign) -> None:
        """The newest turn has a new narration (a new turn, a retry, a continuation): it is
        owed, as are the earlier turns still owed."""
        newest = campaign.turns[-1] if campaign.turns else None
        if newest is not None and not _among(newest, self._owed):
            self._owed.append(newest)

    def turns(self, campaign: Campaign) -> list[Turn]:
        """The owed turns still in the story, oldest first, at most `MAX_OWED`."""
        recent = _recent(campaign)
        answer = self._answer
        if answer is not None and (not _among(answer.turn, recent)
                                   or answer.turn.chosen != answer.take):
            # Its take is gone (undone, retried, swiped): so are the changes it recorded.
            self._owed.extend(t for t in answer.earlier if not _among(t, self._owed))
            self._answer = None
        self._owed = [t for t in recent if _among(t, self._owed)]
        return list(self._owed)

    def answered(self, turns: Sequence[Turn], take: int) -> None:
        """An update read `turns` (the newest last) and its answer was recorded on the
        newest's take `take`: none of them is owed now."""
        self._owed = [t for t in self._owed if not _among(t, turns)]
        if turns:
            self._answer = _Answer(turns[-1], take, tuple(turns[:-1]))
