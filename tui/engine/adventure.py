"""The adventure layer: a campaign and a pending action, as a prompt specification."""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable, Hashable
from dataclasses import dataclass, field, replace
from operator import attrgetter

from tui.engine.campaign import OPENING, TURN_EDITS, Campaign, Turn
from tui.engine.context import (
    NARRATOR,
    NOTE,
    PLAYER,
    HeaderPart,
    Message,
    PromptSpec,
    common_prefix,
    gc_paused,
)
from tui.engine.world.prompt import WORLD_KIND, lore_names, segment_text

NARRATOR_PROMPT = (
    "You are the narrator of an interactive text adventure. The player's actions follow "
    '">". Describe what happens next in vivid second person ("you"), in one or two short '
    "paragraphs, and move the story forward. Never write the player's actions or dialogue."
)

# (mode, action, response, world note, player turn number, tag) -> the turn's messages
MakeMessages = Callable[[str, str, str, str, int, Hashable], list[Message]]

_MODE = attrgetter("mode")
_ACTION = attrgetter("action")
_RESPONSE = attrgetter("response")
_WORLD_NOTE = attrgetter("world_note")


@dataclass(frozen=True)
class TurnsSnapshot:
    """The turns' texts as last seen and the messages made from them. Never mutated."""

    modes: list[str]
    actions: list[str]
    responses: list[str]
    notes: list[str]  # each turn's world_note
    messages: list[Message]
    offsets: list[int]  # offsets[i]: index in `messages` of turn i's first message; len n + 1
    player_turns: int  # turns that are not the opening (Campaign.player_turn_count)
    objs: list[Turn] = field(default_factory=list)  # the Turn objects read
    edits: int = -1  # TURN_EDITS when they were read

    def messages_before(self, n_turns: int) -> int:
        """How many messages the first `n_turns` turns make (`turns[:n_turns]`, as sliced)."""
        return self.offsets[len(range(len(self.modes))[:n_turns])]


_EMPTY = TurnsSnapshot([], [], [], [], [], [0], 0)

# The newest turns are always read again in full: in-place changes of a `responses` list
# (which TURN_EDITS cannot count) happen to the turn being played.
TAIL_TURNS = 64


class TurnMessageCache:
    """Prompt messages for a campaign's turns, remade only from the first changed turn.

    Turns are mutable (edits, retries, swipes change them in place), so each call reads every
    turn's mode, action and chosen response (C-speed `map`s) and compares them with the last
    snapshot by value; only turns from the first difference on get new messages. Unchanged
    turns keep their Message objects, which lets the context builder see in C that its
    history prefix is unchanged. Snapshots are kept per story (its first Turn object) and tag,
    so a retry's shortened copy of a campaign shares the campaign's snapshot. Thread-safe.
    """

    def __init__(self, make: MakeMessages, slots: int = 8) -> None:
        self._make = make
        self._slots = slots
        self._lock = threading.Lock()
        self._snaps: OrderedDict[tuple[int, Hashable], TurnsSnapshot] = OrderedDict()

    def snapshot(self, turns: list[Turn], tag: Hashable = None) -> TurnsSnapshot:
        edits = TURN_EDITS.value  # read first: an edit while we read forces a full read later
        key = (id(turns[0]) if turns else 0, tag)
        with self._lock:
            old = self._snaps.get(key, _EMPTY)
        objs = list(turns)
        trusted = 0
        if old.edits == edits:
            # No turn was edited since the last read: the same Turn objects still hold the
            # same texts, so only the newest turns need reading (O(1) in the story's length).
            trusted = max(0, min(common_prefix(objs, old.objs), len(objs) - TAIL_TURNS))
        tail = objs[trusted:]
        modes = old.modes[:trusted] + list(map(_MODE, tail))
        actions = old.actions[:trusted] + list(map(_ACTION, tail))
        responses = old.responses[:trusted] + list(map(_RESPONSE, tail))
        notes = old.notes[:trusted] + list(map(_WORLD_NOTE, tail))
        same = min(
            common_prefix(modes, old.modes),
            common_prefix(actions, old.actions),
            common_prefix(responses, old.responses),
            common_prefix(notes, old.notes),
        )
        if same == len(turns) == len(old.modes):
            snap = replace(old, objs=objs, edits=edits)
        else:
            messages = old.messages[: old.offsets[same]]
            offsets = old.offsets[: same + 1]
            number = same - modes[:same].count(OPENING)
            for i in range(same, len(turns)):
                if modes[i] != OPENING:
                    number += 1
                messages.extend(self._make(modes[i], actions[i], responses[i], notes[i],
                                           number, tag))
                offsets.append(len(messages))
            snap = TurnsSnapshot(modes, actions, responses, notes, messages, offsets, number,
                                 objs, edits)
        with self._lock:
            self._snaps[key] = snap
            self._snaps.move_to_end(key)
            while len(self._snaps) > self._slots:
                self._snaps.popitem(last=False)
        return snap


def _adventure_messages(
    mode: str, action: str, response: str, world_note: str, number: int, _tag: Hashable
) -> list[Message]:
    if mode == OPENING:
        return [Message(NARRATOR, response, "opening", "story")] if response else []
    out = []
    if world_note and action:
        # Lore and the state's lines, as placed (context_world): "note", not "state".
        out.append(Message(NOTE, world_note, f"turn {number} world note", WORLD_KIND))
    if action:
        out.append(Message(PLAYER, action, f"turn {number} action", "action"))
    if response:
        out.append(Message(NARRATOR, response, f"turn {number} response", "story"))
    return out


_TURNS = TurnMessageCache(_adventure_messages)


def turn_messages(campaign: Campaign) -> list[Message]:
    """The story as prompt messages: actions are the player's, responses the narrator's."""
    return list(_TURNS.snapshot(campaign.turns).messages)


@gc_paused()  # the spec's history list is as long as the story: see gc_paused
def adventure_spec(
    campaign: Campaign,
    pending_action: str | None,
    *,
    continuing: bool = False,
) -> PromptSpec:
    """What the next turn's prompt holds.

    `pending_action` is the formatted action being answered (None for the context
    inspector or a Continue). With `continuing`, the model writes more of the last response.
    """
    header = [HeaderPart("system", "narrator instructions", NARRATOR_PROMPT, instruct_only=True)]
    if campaign.memory.strip():
        header.append(HeaderPart("memory", "memory", campaign.memory))
    if campaign.summary_enabled and campaign.summary.strip():
        header.append(HeaderPart("summary", "story so far", campaign.summary))
    snap = _TURNS.snapshot(campaign.turns)
    history = list(snap.messages)
    player_turns = snap.player_turns
    min_start = 0
    if campaign.summary_enabled and campaign.summary.strip() and campaign.summary_upto:
        min_start = snap.messages_before(campaign.summary_upto)
    pending = (
        Message(PLAYER, pending_action, f"turn {player_turns + 1} action", "action")
        if pending_action
        else None
    )
    world = campaign.world_state()
    last = campaign.turns[-1] if campaign.turns else None
    recent = "\n".join([last.action, last.response] if last else []) + f"\n{pending_action or ''}"
    return PromptSpec(
        header=header,
        history=history,
        pending=pending,
        continue_last=continuing,
        note=campaign.authors_note,
        world=segment_text(world, recent),
        world_names=lore_names(world),
        anchor_world=pending is not None and not continuing,
        note_depth=campaign.note_depth,
        lorebooks=campaign.all_lorebooks,
        lore_state=campaign.lore_state,
        turn=player_turns + 1,
        seed=campaign.settings.seed or 0,
        min_start=min(min_start, max(0, len(history) - 1)),
        extra_stops=["\n>"],  # the model must not play the player
    )


def story_blocks(campaign: Campaign) -> list[tuple[str, str]]:
    """The adventure as the story view draws it: (text, kind) blocks, actions marked
    ("action") and narration ("story"); a room's story is sent to its players the same way."""
    blocks: list[tuple[str, str]] = []
    for turn in campaign.turns:
        if turn.mode != OPENING and turn.action:
            blocks.append((turn.action, "action" if turn.action.startswith(">") else "story"))
        if turn.response.strip():
            blocks.append((turn.response.strip(), "story"))
    return blocks
