"""The model proposes the world state's changes after a narration (docs/architecture.md,
"World state"): a short JSON list that a grammar forces into shape, parsed into changes,
checked against the state, and recorded on the turn it was asked for.

Three steps, on two threads, so the model thread never changes the campaign:
1. `world_request(campaign, story)` (the UI thread): the prompt and which turn and take it is
   for;
2. `propose(backend, builder, request, cancel)` (the model thread): the constrained text,
   generated beside the story's KV cache (`Backend.keeping_cache`, as the story-so-far
   update does), so the next turn does not read the story again; on a server, which keeps
   one cache, and where the local cache is too large to set aside, asked after the story's
   own next prompt instead (`AFTER_STORY`);
3. `settle(campaign, request, text)` (the UI thread): parsed, validated and recorded with
   `history.record` on the newest turn's chosen take -- or dropped when that turn or take is
   no longer the newest (the player retried, undid or continued meanwhile).
"""

from __future__ import annotations

import json
import re
import threading
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from tui.core.backend import Backend, CacheTooLarge, Prompt
from tui.core.sampler import Sampler
from tui.engine.campaign import Campaign, Turn
from tui.engine.context import NARRATOR, PLAYER, ContextBuilder, HeaderPart, Message, PromptSpec
from tui.engine.world.changes import (
    AddItem,
    AddQuest,
    Change,
    DropItem,
    FinishQuest,
    Meet,
    Move,
    SetFact,
    UpdatePerson,
    change_from_dict,
    describe,
)
from tui.engine.world.history import record
from tui.engine.world.prompt import as_words, segment_lines

MAX_CHANGES = 3  # a turn changes little; a long list is a model rambling
NAME_CHARS = 48  # an item, place, person, quest or fact key, as the model may write it
TEXT_CHARS = 96  # a quest, a fact's value
MAX_TOKENS = 512  # enough for MAX_CHANGES changes with every string at its cap
NARRATION_CHARS = 2000  # the end of a long narration is what changed the state
UNAVAILABLE = "state updates unavailable on this server"
TOO_LARGE = ("state updates paused: this model's cache of the story is too large to set aside "
             "on every turn, and replies this short leave no room to ask after the story "
             "(a higher \"Max new tokens\" in settings does; /inv, /move and /quest still "
             "correct the state)")
# Low temperature: the update should say what the narration says, not invent. No repetition
# penalty: JSON repeats its own punctuation.
WORLD_SAMPLER = Sampler(temperature=0.2, top_p=0.9, top_k=40, repetition_penalty=1.0,
                        max_tokens=MAX_TOKENS)

INSTRUCTIONS = (
    "You keep the record of a text adventure. Read the newest turn and list only what "
    "changed in it, as JSON: {\"changes\": [...]}, at most "
    f"{MAX_CHANGES} changes, an empty list when "
    "nothing changed. Changes: add_item (the player picked up or was given an item), "
    "drop_item (the player lost, gave away or used up an item carried), move (the player "
    "went to another place), meet (a new person appeared), update_person (someone met "
    "changed attitude or died: alive false), add_quest (the player took on a task), "
    "finish_quest (an open quest was done), set_fact (something worth remembering: key "
    "and value). Use the names as written in the turn or the state."
)


def _name(maximum: int = NAME_CHARS) -> dict[str, Any]:
    return {"type": "string", "minLength": 1, "maxLength": maximum}


def _op(op: str, required: dict[str, Any], optional: dict[str, Any] | None = None
        ) -> dict[str, Any]:
    return {"type": "object",
            "properties": {"op": {"const": op}, **required, **(optional or {})},
            "required": ["op", *required], "additionalProperties": False}


# What the model may propose: the corrections only a player makes (forget, remove or
# reopen a quest) are left out.
CHANGE_SCHEMAS: list[dict[str, Any]] = [
    _op("add_item", {"item": _name()}),
    _op("drop_item", {"item": _name()}),
    _op("move", {"place": _name()}),
    _op("meet", {"name": _name()}, {"attitude": _name()}),
    _op("update_person", {"name": _name()},
        {"attitude": _name(), "alive": {"type": "boolean"}}),
    _op("add_quest", {"quest": _name(TEXT_CHARS)}),
    _op("finish_quest", {"quest": _name(TEXT_CHARS)}),
    _op("set_fact", {"key": _name(), "value": _name(TEXT_CHARS)}),
]
MODEL_OPS = frozenset(s["properties"]["op"]["const"] for s in CHANGE_SCHEMAS)
SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {"changes": {"type": "array", "items": {"anyOf": CHANGE_SCHEMAS},
                               "maxItems": MAX_CHANGES}},
    "required": ["changes"],
    "additionalProperties": False,
}


@dataclass(frozen=True, eq=False)
class WorldRequest:
    """An update asked for after one narration: the prompt, and the turn and take it is
    for (compared by identity when it comes back)."""

    turn: Turn
    take: int
    response: str
    spec: PromptSpec
    # The next turn's prompt, nothing typed: where the update is asked after the story (a
    # server; a local cache too large to set aside).
    story: PromptSpec | None = None
    # Turns before `turn` read too, oldest first: their updates were cancelled (`owed`).
    earlier: tuple[Turn, ...] = ()

    @property
    def turns(self) -> tuple[Turn, ...]:
        """Every turn the update reads, the newest last."""
        return (*self.earlier, self.turn)

    def read_text(self) -> str:
        """The actions and narrations the update reads: what its changes must name."""
        return "\n".join(f"{t.action}\n{t.response}" for t in self.turns)


@dataclass
class Outcome:
    """What came of a proposal: the changes recorded, the reasons of those refused (for the
    log), and whether it was dropped unseen (its turn is gone)."""

    applied: list[Change] = field(default_factory=list)
    refused: list[str] = field(default_factory=list)
    stale: bool = False

    @property
    def line(self) -> str:
        """The quiet line the player sees ("" when nothing changed)."""
        return describe(self.applied)


# Two worked examples as earlier exchanges, read once (the instructions and they stay cached
# between updates). Without them SmolLM2 filled nearly every update to its limit ("meet The
# cottage" four times, 87 tokens); as a plain example in the instructions it copied the
# example's changes into every answer.
EXAMPLES = (
    ("The state before this turn:\nWhere: the smithy\nCarrying: (nothing)\n\n"
     "The player: You take the rusty key and go out to the yard.\n"
     "The narrator: The yard is cold. Mara, the smith's daughter, waves at you from the "
     "well.\n\nWhat changed, as JSON:",
     '{"changes":[{"op":"add_item","item":"rusty key"},{"op":"move","place":"the yard"},'
     '{"op":"meet","name":"Mara","attitude":"friendly"}]}'),
    ("The state before this turn:\nWhere: the yard\nCarrying: rusty key\n"
     "Present: Mara (friendly)\n\nThe player: You look around.\n"
     "The narrator: Dust drifts in the lamplight; nothing moves.\n\nWhat changed, as JSON:",
     '{"changes":[]}'),
)
EXAMPLE_MESSAGES = tuple(Message(role, text, "world update example", "world")
                         for question, answer in EXAMPLES
                         for role, text in ((PLAYER, question), (NARRATOR, answer)))


def request_text(campaign: Campaign, turns: Sequence[Turn]) -> str:
    """The state's lines, then the turns to read (the newest last: earlier ones only when
    their update was cancelled, `owed`) -- nothing older.

    Short on purpose: the prompt is read beside the story's cache, so every token of it is
    read afresh at every update (on a 7B model at 20-50 prompt tokens/s, 500 tokens are
    10-25 s of the player's pause), and the state already holds what older turns changed.
    A turn owed is written as its own cancelled update wrote it, and the next follows it
    ("And the turn after it:"), so the update's cache still holds what the cancelled one
    read: on a slow model an update Enter keeps cutting short goes on where it stopped.
    """
    lines = segment_lines(campaign.world_state()) or ["(nothing recorded yet)"]
    parts = ["The state before this turn:", *lines, ""]
    for turn in turns:
        if turn is not turns[0]:
            parts += ["", "And the turn after it:"]
        narration = turn.response.strip()
        if len(narration) > NARRATION_CHARS:
            narration = "…" + narration[-NARRATION_CHARS:]
        if turn.action.strip():
            parts.append(f"The player: {turn.action.strip()}")
        parts.append(f"The narrator: {narration}")
    asked = "What changed" if len(turns) == 1 else f"What changed in these {len(turns)} turns"
    parts += ["", f"{asked}, as JSON:"]
    return "\n".join(parts)


# Asked after the story, in the room the story keeps for an action and its reply (a
# 160-token reply leaves ~220 tokens): short, so the answer fits, and without the state's
# lines, which the story's world notes hold; the grammar gives the shape.
AFTER_STORY = (
    "[Out of the story, for the game's record: what changed in the newest turn? JSON, at "
    f"most {MAX_CHANGES} changes, [] if nothing: add_item or drop_item (taken; lost, given or "
    "used up), move, meet (someone new), update_person (attitude; alive false if they "
    "died), add_quest, finish_quest, set_fact.]")
AFTER_STORY_QUESTION = Message(PLAYER, AFTER_STORY, "world update request", "world")


def after_story_question(turns: int) -> Message:
    """The question for the newest `turns` turns (more than one when earlier updates were
    cancelled: `owed`)."""
    if turns <= 1:
        return AFTER_STORY_QUESTION
    text = AFTER_STORY.replace("the newest turn", f"the last {turns} turns")
    return Message(PLAYER, text, "world update request", "world")


# Every answer starts so (the grammar's order): the local model is given it in the prompt.
OPENING = '{"changes":['
# Tokens: room for the empty list or one change (a longer answer cut short is refused); less,
# and the update is not asked after the story. Replies of 60 tokens leave ~30 once the window
# is full (the question is ~80 of the reply's and the action's room).
MIN_ANSWER = 24


def world_request(campaign: Campaign, story: PromptSpec | None = None,
                  owed: Sequence[Turn] = ()) -> WorldRequest | None:
    """The update to ask for after the newest narration; None when there is none to read
    (a chat, no turn, an empty reply). `story`: the next turn's prompt with nothing typed
    (`Game.read_ahead_spec`), where `propose` asks the update after it (a server; a local
    cache too large to set aside); without it the update is a prompt apart or not asked.
    `owed`: the turns whose update is still owed (`OwedTurns.turns`), read before the newest.
    On the thread that changes the campaign."""
    turn = campaign.last_turn()
    if campaign.kind == "chat" or turn is None or not turn.response.strip():
        return None
    earlier = tuple(t for t in owed if t is not turn and t.response.strip())
    spec = PromptSpec(
        header=[HeaderPart("system", "world update instructions", INSTRUCTIONS)],
        history=list(EXAMPLE_MESSAGES),
        pending=Message(PLAYER, request_text(campaign, [*earlier, turn]),
                        "world update request", "world"),
    )
    return WorldRequest(turn, turn.chosen, turn.response, spec, story, earlier)


# The update's own prompt stays aside between updates: its instructions, read once, are
# found cached the next time (its cache is small: a few hundred tokens).
_KEEP = threading.Event()
_KEEP.set()


def propose(backend: Backend, builder: ContextBuilder, request: WorldRequest,
            cancel: threading.Event, sampler: Sampler = WORLD_SAMPLER) -> str:
    """The model's proposal as constrained JSON text ("" when cancelled); NoJsonSchema where
    the backend cannot constrain it. On the model's owner thread; the story's cache is put
    back afterwards, finished or cancelled."""
    if cancel.is_set():
        return ""
    if request.story is not None and (not backend.keeps_side_prompts_apart
                                      or not backend.can_keep_cache()):
        # A server keeps one cache, of the last prompt, and a local cache too large to copy
        # aside (a 13B model's 4,096 tokens are over 3 GB) cannot be kept across a prompt
        # of its own: either way that prompt would evict the story, and every next turn
        # would read the whole window again. Asked in the next action's place, in the next
        # turn's window, the update reads only its question and the next turn finds the
        # story cached up to the action (the tail past it is dropped as the turn reads on).
        question = after_story_question(len(request.turns))
        tokens, text = builder.ask_after(request.story, question)
        room = min(MAX_TOKENS, builder.n_ctx - len(tokens))
        if room >= MIN_ANSWER:
            return _answer(backend, Prompt(tokens, text), sampler.with_changes(max_tokens=room),
                           cancel)
    if not backend.can_keep_cache():
        # No room after the story (a reply length set very short), and run in place the
        # update would evict the story: the next turn would read all of it again.
        raise CacheTooLarge(TOO_LARGE)
    report = builder.aside().build(request.spec)  # the story's builder keeps its memory
    with backend.keeping_cache(resume=_KEEP, slot="world"):
        return _answer(backend, Prompt(report.tokens, report.text),
                       sampler.with_changes(max_tokens=MAX_TOKENS), cancel)


def _answer(backend: Backend, prompt: Prompt, sampler: Sampler, cancel: threading.Event
            ) -> str:
    """The constrained answer to `prompt`, its opening given; "" when cancelled."""
    answer = backend.complete_json(prompt, SCHEMA, sampler, cancel, OPENING)
    return "" if cancel.is_set() else answer


def parse(text: str) -> tuple[list[Change], list[str]]:
    """The changes in a proposal, and the reasons of those that could not be read."""
    try:
        data = json.loads(text)
    except ValueError:
        return [], [f"the proposal is not JSON (cut off after {len(text)} characters?)"]
    raw = data.get("changes") if isinstance(data, dict) else None
    if not isinstance(raw, list):
        return [], ["the proposal has no list of changes"]
    changes: list[Change] = []
    refused: list[str] = []
    for item in raw[:MAX_CHANGES]:
        op = item.get("op") if isinstance(item, dict) else None
        if op not in MODEL_OPS:
            refused.append(f"{str(op)[:40]!r} is not a change the model may propose")
            continue
        try:
            changes.append(change_from_dict(item))
        except ValueError as exc:
            refused.append(str(exc))
    if len(raw) > MAX_CHANGES:
        refused.append(f"{len(raw) - MAX_CHANGES} changes past the first {MAX_CHANGES}")
    return changes, refused


_WORD = re.compile(r"[^\W\d_]+")
# Words that name nothing by themselves: "the old lantern" is grounded by "lantern" only.
_FILLER = frozenset({"a", "an", "the", "of", "and", "or", "to", "in", "on", "at", "by", "with",
                     "from", "old", "new", "small", "large", "big", "little", "your", "my",
                     "his", "her", "their", "its"})


def _words(name: str) -> set[str]:
    return {w for w in _WORD.findall(name.casefold()) if w}


def _naming(name: str) -> set[str]:
    """The words of a name that could show it is in a text (singular, fillers left out)."""
    return {w.removesuffix("s") for w in _words(name) - _FILLER if len(w) > 2}


# Sentence punctuation and identifier characters (brackets may stay: a name is shown as text).
_NOT_IN_NAMES = re.compile(r"[!?;:_{}<>|\\*=+#@$%^~`\"]")
NAME_WORDS = 6  # "the rusted key to the tower door" is about as long as a name gets


def _looks_like_a_name(name: str) -> bool:
    """Not a sentence or an identifier: SmolLM2 recorded "Awesome! I'm glad you're here"
    as an item, and "warden_ille_selve_1234..." as a place."""
    return len(name.split()) <= NAME_WORDS and not _NOT_IN_NAMES.search(name) \
        and not name.rstrip().endswith(",") \
        and _WORD.search(name) is not None  # "warden,"; "1.0.1.2.1.1" (asked after the story)


TEXT_WORDS = 16  # a quest or a fact's value: a short line
LONGEST_WORD = 30  # letters; "MikeMikeMike..." is a model repeating itself, not a word


def _looks_like_text(text: str, words: int = TEXT_WORDS) -> bool:
    """Words a person would write: SmolLM2 asked without examples wrote the quests
    "new_fact", "1" and "Fantasy: 2019-01-22 20:30:52.167" and the fact key
    "update_person"."""
    found = _WORD.findall(text)
    return bool(found) and len(text.split()) <= words and not _NOT_IN_NAMES.search(text) \
        and any(len(w) > 2 for w in found) and max(map(len, found)) <= LONGEST_WORD


def _written(change: Change) -> list[str]:
    """What a quest or a fact change says in words (a quest finished must also be an open
    one, which the state checks)."""
    if isinstance(change, AddQuest | FinishQuest):
        return [change.quest]
    if isinstance(change, SetFact):
        return [change.key, change.value]
    return []


def _named(change: Change) -> str | None:
    """What a change says the turn was about: the item, place or person (None: a quest or
    a fact, which a turn may imply without naming)."""
    if isinstance(change, AddItem | DropItem):
        return change.item
    if isinstance(change, Move):
        return change.place
    if isinstance(change, Meet | UpdatePerson):
        return change.name
    return None


def implausible(campaign: Campaign, change: Change, turn_text: str = "") -> str | None:
    """Why a change the model proposed is likely a misreading, though it fits the state. A
    small model invents (SmolLM2 "met Awesome (moohoorr)", in no text), "meets" someone
    already met under part of their name ("Adele" for Adele Crane) and takes them as an
    item ("warden,"); so an item, place or person must be named in the turn's action or
    narration and not be someone met, and a quest or a fact's key must
    share a word with it and read as words. The player's own commands are not
    second-guessed like this."""
    named = _named(change)
    if named is not None and not _looks_like_a_name(named):
        return f"{named[:40]!r} is not a name"
    said = {w.removesuffix("s") for w in _words(turn_text)}
    if named is not None and turn_text and not _naming(named) & said:
        return f"{named} is not in the turn's text"
    written = _written(change)
    for text in written:
        if text and not _looks_like_text(text):
            return f"{text[:40]!r} is not text"
    if written and turn_text and not _naming(written[0]) & said:
        return f"{written[0]} is not in the turn's text"
    if isinstance(change, AddItem | Move):
        what = "a thing" if isinstance(change, AddItem) else "a place"
        if named and _only_spoken_to(named, turn_text):
            return f"{named} is spoken to, not {what}"
        words = _words(named or "")
        for person in campaign.world_state().people:
            if words and words <= _words(person.name):  # "Warden" for Warden Ilse
                return f"{named} is someone met, not {what}"
    if not isinstance(change, Meet):
        return None
    new = _words(change.name)
    for person in campaign.world_state().people:
        known = _words(person.name)
        if new and known and (new <= known or known <= new):
            return f"{change.name} is probably {person.name}, already met"
    return None


_OPENS_A_QUOTE = re.compile(r"[\"“‘]\s*$")
_THEN_A_COMMA = re.compile(r"\s*,")


def _only_spoken_to(name: str, text: str) -> bool:
    """Whether the turn names `name` only as someone spoken to, at the start of a line of
    speech (`"Sufface, I found your letter"`: SmolLM2's garbling of "Warden", recorded as
    a carried item)."""
    found = list(as_words(name).finditer(text))
    return bool(found) and all(_OPENS_A_QUOTE.search(text, 0, m.start())
                               and _THEN_A_COMMA.match(text, m.end()) for m in found)


def _sensible(change: Change) -> Change:
    """A proposal tidied: an attitude that only repeats the person's name is no attitude."""
    if isinstance(change, Meet) and change.attitude.casefold() == change.name.casefold():
        return Meet(change.name, change.where, "", change.alive, change.at)
    return change


def is_current(campaign: Campaign, request: WorldRequest) -> bool:
    """Whether the request's turn is still the newest, with the same take and text."""
    turn = campaign.last_turn()
    return turn is request.turn and turn.chosen == request.take \
        and turn.response == request.response


def settle(campaign: Campaign, request: WorldRequest, text: str) -> Outcome:
    """Record a proposal on its turn's take (validated against the state as it is now), or
    drop it when that turn or take is no longer the newest. On the thread that changes the
    campaign; the caller saves when `applied` is not empty."""
    if not is_current(campaign, request):
        return Outcome(stale=True)
    changes, refused = parse(text)
    turn_text = request.read_text()
    plausible: list[Change] = []
    for change in map(_sensible, changes):
        reason = implausible(campaign, change, turn_text)
        if reason is None:
            plausible.append(change)
        else:
            refused.append(reason)
    applied, not_fitting = record(campaign, plausible)
    return Outcome(applied, refused + not_fitting)
