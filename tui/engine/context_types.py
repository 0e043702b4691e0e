"""The context builder's types: what a prompt is built from (roles, messages, header parts,
the PromptSpec) and what a build reports (segments, trimmed parts, the ContextReport)."""

from __future__ import annotations

from dataclasses import dataclass, field

from tui.engine.lore import Activation, Dropped, Lorebook, LoreSettings, LoreState

PLAYER = "player"
NARRATOR = "narrator"
NOTE = "note"


@dataclass(frozen=True)
class Message:
    role: str  # PLAYER | NARRATOR
    text: str
    label: str
    kind: str = "story"  # segment kind shown in the report
    speaker: str = ""  # chat: the name shown before the text in plain story style


@dataclass
class HeaderPart:
    kind: str  # "system", "memory", "card", "lore", "summary", ...
    label: str
    text: str
    instruct_only: bool = False  # instructions that only make sense to an instruct model
    droppable: bool = False  # e.g. example dialogues: pushed out first as the story grows


@dataclass
class PromptSpec:
    """What to fit, independent of the window: built by the adventure or chat layer."""

    header: list[HeaderPart]
    history: list[Message]  # oldest first
    pending: Message | None = None  # the player's action being answered
    continue_last: bool = False  # generate more of the last narrator message
    note: str = ""
    world: str = ""  # the world state's lines, placed with the note (see "World state")
    # Place the world state's lines and the keyword lore that fired in the story before the
    # pending action, what the story's world notes do not hold yet: kept there by the turn
    # (its `world_note`), they are not read again every turn as the late note is.
    anchor_world: bool = False
    # Names from the world state whose lore keys fire as if in the newest message:
    # (what, name), e.g. ("item", "brass lantern") (see "World state").
    world_names: list[tuple[str, str]] = field(default_factory=list)
    note_depth: int = 3  # player actions from the end
    lorebooks: list[Lorebook] = field(default_factory=list)
    lore_settings: LoreSettings = field(default_factory=LoreSettings)
    lore_state: LoreState | None = None
    turn: int = 0
    seed: int = 0
    min_start: int = 0  # history before this index is covered by the summary
    macros: dict[str, str] = field(default_factory=dict)
    trailing_instruction: str = ""  # e.g. a card's post-history instructions
    reply_role: str = NARRATOR  # PLAYER to have the model write the player's line
    reply_speaker: str = ""  # chat: "Name:" starts the reply in plain story style
    reply_start: str = ""  # the reply's first words, given: an impersonation goes on from them
    extra_stops: list[str] = field(default_factory=list)
    # Room kept for an action not typed yet (reading the next prompt ahead): the history is
    # trimmed as if the action cost this many tokens, so the real one finds the same start.
    reserve_tokens: int = 0
    # The pending action stands for one not typed yet: reading ahead stops before it. A
    # typed action is read too, the whole prompt, so Enter samples at once.
    pending_is_placeholder: bool = False


@dataclass(frozen=True)
class Segment:
    kind: str
    label: str
    text: str
    tokens: int
    start: int  # token offset in the prompt


@dataclass(frozen=True)
class TrimDrop:
    """Something left out of the prompt for lack of room."""

    what: str
    reason: str


@dataclass
class ContextReport:
    tokens: list[int]
    text: str
    segments: list[Segment]
    fired: list[Activation]
    dropped: list[Dropped]
    trimmed: list[TrimDrop]
    total_tokens: int
    window: int  # n_ctx
    budget: int  # n_ctx - max_new_tokens
    history_start: int  # first history message in the prompt
    history_total: int
    stop: list[str]
    lore_next_state: LoreState | None = None
    # Token offset where the pending action begins (len(tokens) when there is none): what
    # comes before it can be read ahead while the player types.
    pending_start: int = -1
    # The world note this prompt placed before the pending action ("" when the story's notes
    # already hold all of it): the turn keeps it, so later prompts hold it where it was read.
    world_note: str = ""

    def tokens_by_kind(self) -> dict[str, int]:
        out: dict[str, int] = {}
        for seg in self.segments:
            out[seg.kind] = out.get(seg.kind, 0) + seg.tokens
        return out

