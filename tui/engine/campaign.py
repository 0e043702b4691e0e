"""A campaign: the story so far and everything that shapes the next prompt."""

from __future__ import annotations

import math
import os
import re
import time
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass, field, fields
from typing import Any, ClassVar

from tui.core.backend import API_KEY_ENV, BackendConfig, stall_timeout
from tui.core.sampler import NEUTRAL, Sampler
from tui.core.text import one_line
from tui.engine.lore import Lorebook, LoreEntry, LoreState
from tui.engine.presets import DEFAULT_SAMPLER
from tui.engine.scenario import Scenario
from tui.engine.templates import UnknownTemplate, get_template
from tui.engine.world import Change, WorldState, change_from_dict, change_to_dict
from tui.engine.world import history as world_history

OPENING = "opening"


class _EditCount:
    """Counts edits of existing turns, so prompt caches can skip re-reading old turns.

    Assigning any field of a Turn (after it is made) or calling its methods counts; so the
    only edits not counted are in-place changes of a `responses` list, which the caches
    still see on the newest turns (see adventure.TAIL_TURNS).
    """

    value = 0


TURN_EDITS = _EditCount()


def _count_edit(turn: Turn) -> None:
    TURN_EDITS.value += 1
    object.__setattr__(turn, "edit_stamp", TURN_EDITS.value)


@dataclass
class Turn:
    """One player action and the model's response to it.

    `responses` holds the alternatives (retries in an adventure, swipes in a chat);
    `chosen` is the one in the story. The opening is a turn with no action. Change an old
    turn by assigning its fields or through its methods (see `_EditCount`).
    """

    mode: str
    action: str = ""
    responses: list[str] = field(default_factory=list)
    chosen: int = 0
    # The world state's changes made while each take was chosen (docs/architecture.md,
    # "World state"); `reverts` undoes those of take `applied` (-1: none applied).
    changes: list[list[Change]] = field(default_factory=list)
    reverts: list[Change] = field(default_factory=list)
    applied: int = field(default=-1, compare=False)
    # The world state's lines and the lore they fire, as placed in the story just before this
    # turn's action when they differed from the last placed (docs/architecture.md, "World
    # state"): kept, so later prompts repeat this turn's exact text and its cache holds.
    world_note: str = ""
    # TURN_EDITS.value at this turn's last counted edit; saves compare it with the value when
    # they wrote the turn, to rewrite only the chunks holding edited turns (engine/saves).
    edit_stamp: ClassVar[int] = 0

    def __setattr__(self, name: str, value: Any) -> None:
        if name in self.__dict__:  # an edit, not the first assignment in __init__
            _count_edit(self)
        object.__setattr__(self, name, value)

    @property
    def response(self) -> str:
        return self.responses[self.chosen] if self.responses else ""

    def set_response(self, text: str) -> None:
        _count_edit(self)
        if self.responses:
            self.responses[self.chosen] = text
        else:
            self.responses.append(text)

    def add_alternative(self, text: str) -> None:
        _count_edit(self)
        self.responses.append(text)
        self.chosen = len(self.responses) - 1

    def to_dict(self) -> dict[str, Any]:
        data: dict[str, Any] = {
            "mode": self.mode,
            "action": self.action,
            "responses": list(self.responses),
            "chosen": self.chosen,
        }
        if any(self.changes):
            data["changes"] = [[change_to_dict(c) for c in take] for take in self.changes]
        if self.reverts:
            data["reverts"] = [change_to_dict(c) for c in self.reverts]
        if self.world_note:
            data["world_note"] = self.world_note
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Turn:
        raw = data.get("responses", [])
        responses = [capped_text(str(r)) for r in (raw if isinstance(raw, list) else [raw])]
        chosen = int(data.get("chosen", 0))
        if responses and not 0 <= chosen < len(responses):
            chosen = len(responses) - 1
        turn = cls(str(data.get("mode", "do"))[:40], capped_text(str(data.get("action", ""))),
                   responses, chosen)
        changes, reverts = data.get("changes", []), data.get("reverts", [])
        if changes or reverts:
            if not isinstance(changes, list) or not all(isinstance(t, list) for t in changes):
                raise ValueError("a turn's 'changes' is not a list of lists")
            if not isinstance(reverts, list):
                raise ValueError("a turn's 'reverts' is not a list")
            turn.changes = [[change_from_dict(c) for c in take] for take in changes]
            turn.reverts = [change_from_dict(c) for c in reverts]
        note = data.get("world_note", "")
        if note:
            turn.world_note = capped_text(str(note))
        # as saved, the state holds the chosen take's changes (see world.history)
        object.__setattr__(turn, "applied", turn.chosen)
        return turn


# Longest text a saved field may hold once loaded (a save with a 50 MB memory once took
# minutes and gigabytes to show its context); longer text is cut, and says so.
MAX_FIELD_CHARS = 200_000
MAX_TITLE_CHARS = 300


def capped_text(text: str, limit: int = MAX_FIELD_CHARS) -> str:
    """`text`, or its first `limit` characters and a line saying how long it was."""
    if len(text) <= limit:
        return text
    return f"{text[:limit]}\n\n[trimmed on loading: this text had {len(text):,} characters]"


@dataclass
class Settings:
    """How the campaign is played: model, window and sampling."""

    model: str = ""  # path or catalog name; "" = the embedded default
    backend: str = "local"
    url: str = ""
    n_ctx: int = 4096
    max_new_tokens: int = 160
    seed: int | None = None
    preset: str = ""
    template: str = "auto"  # "auto" = the model's own, else a name from templates.py
    prompt_style: str = "auto"  # "auto" | "instruct" | "story"
    sampler: Sampler = DEFAULT_SAMPLER
    # After each narration the model proposes the world state's changes (docs/architecture.md,
    # "World state"); saved only when off, so older saves (no key) read as on.
    world_updates: bool = True
    # For this run only, never saved (not in to_dict): the server's key or KoboldCpp password
    # from the settings screen ("" = $GRUE_API_KEY, which `grue --api-key` sets).
    api_key: str = field(default="", repr=False)
    # What from_dict could not use and replaced by a default (not saved; see settings_problems).
    problems: list[str] = field(default_factory=list, compare=False, repr=False)

    def backend_config(self) -> BackendConfig:
        """What the backend factory needs to build this campaign's model engine."""
        return BackendConfig(kind=self.backend, model=self.model, url=self.url,
                             n_ctx=self.n_ctx, seed=self.seed,
                             repeat_window=self.sampler.repetition_range,
                             api_key=self.api_key or os.environ.get(API_KEY_ENV, ""),
                             timeout=stall_timeout())

    def to_dict(self) -> dict[str, Any]:
        data: dict[str, Any] = {
            "model": self.model,
            "backend": self.backend,
            "url": self.url,
            "n_ctx": self.n_ctx,
            "max_new_tokens": self.max_new_tokens,
            "preset": self.preset,
            "template": self.template,
            "prompt_style": self.prompt_style,
            "sampler": self.sampler.to_dict(),
        }
        if self.seed is not None:
            data["seed"] = self.seed
        if not self.world_updates:
            data["world_updates"] = False
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Settings:
        """Settings from a save; a value that cannot be used falls back to the default and
        is named in `problems` (shown to the player once, see `settings_problems`)."""
        default = cls()
        if not isinstance(data, dict):
            data = {}
        problems: list[str] = []

        def text(key: str, allowed: Callable[[str], bool] = lambda _v: True) -> str:
            fallback: str = getattr(default, key)
            value = data.get(key, fallback)
            if isinstance(value, str) and len(value) <= 4096 and allowed(value):
                return value
            problems.append(f"{key} {_shown(value)} is not usable; using {fallback!r}")
            return fallback

        def number(key: str, low: int, high: int, optional: bool = False) -> Any:
            fallback = getattr(default, key)
            value = data.get(key, fallback)
            if value is None and optional:
                return None
            if isinstance(value, float) and value.is_integer():
                value = int(value)
            if isinstance(value, int) and not isinstance(value, bool) and low <= value <= high:
                return value
            problems.append(f"{key} {_shown(value)} is not usable; using {fallback!r}")
            return fallback

        settings = cls(
            model=text("model"),
            backend=text("backend"),
            url=text("url"),
            n_ctx=number("n_ctx", 16, 10_000_000),
            max_new_tokens=number("max_new_tokens", 1, 1_000_000),
            seed=number("seed", -(2**63), 2**64 - 1, optional=True),
            preset=text("preset"),
            template=text("template", _known_template),
            prompt_style=text("prompt_style", lambda v: v in PROMPT_STYLES),
            sampler=_sampler_from(data.get("sampler"), problems) if "sampler" in data
            else default.sampler,
            world_updates=data.get("world_updates", True) is not False,
        )
        settings.problems = problems
        return settings


PROMPT_STYLES = ("auto", "instruct", "story")


def _known_template(name: str) -> bool:
    if name in ("", "auto"):
        return True
    try:
        get_template(name)
    except UnknownTemplate:
        return False
    return True


def _shown(value: Any) -> str:
    return one_line(repr(value), 40)


def _sampler_from(raw: Any, problems: list[str]) -> Sampler:
    """A sampler from a save: each knob of the right type and finite, else its default."""
    if not isinstance(raw, dict):
        problems.append("sampler is not a table; using the default sampler")
        return DEFAULT_SAMPLER
    values: dict[str, Any] = {}
    for f in fields(Sampler):
        if f.name not in raw:
            continue
        value = _knob(f.name, raw[f.name])
        if value is _UNUSABLE:
            value = getattr(DEFAULT_SAMPLER, f.name)
            problems.append(f"sampler {f.name} {_shown(raw[f.name])} is not usable; "
                            f"using {value!r}")
        values[f.name] = value
    return Sampler.from_dict(values) if values else DEFAULT_SAMPLER


_UNUSABLE = object()


def _knob(name: str, value: Any) -> Any:
    """`value` as the type of sampler knob `name` (finite, in range), or `_UNUSABLE`."""
    if isinstance(value, bool):
        return _UNUSABLE
    if name == "seed":
        ok = value is None or (isinstance(value, int) and abs(value) < 2**63)
        return value if ok else _UNUSABLE
    if isinstance(getattr(NEUTRAL, name), float):
        if isinstance(value, int) and abs(value) < 2**53:
            value = float(value)
        ok = isinstance(value, float) and math.isfinite(value) and abs(value) < 1e9
        return value if ok else _UNUSABLE
    if isinstance(value, float) and value.is_integer() and abs(value) < 2**53:
        value = int(value)
    return value if isinstance(value, int) and abs(value) < 2**31 else _UNUSABLE


def settings_problems(settings: Settings) -> list[str]:
    """What `Settings.from_dict` could not use (one line each)."""
    return list(getattr(settings, "problems", ()))


def slugify(text: str) -> str:
    """A file-name-safe id part from a title; letters of any script are kept (a name all in
    CJK makes a slug of its own, not "campaign")."""
    text = unicodedata.normalize("NFKC", text).lower()
    slug = "".join(ch if _slug_char(ch) else "-" for ch in text)
    slug = re.sub(r"-{2,}", "-", slug).strip("-")
    return slug[:40].strip("-") or "campaign"


def _slug_char(ch: str) -> bool:
    if ch.isascii():
        return ch.isalnum()
    return unicodedata.category(ch)[0] in "LMN"


@dataclass
class Campaign:
    title: str
    kind: str = "adventure"  # "adventure" | "chat"
    id: str = ""
    scenario: str = ""
    memory: str = ""
    authors_note: str = ""
    note_depth: int = 1
    world_info: Lorebook = field(default_factory=lambda: Lorebook(name="World info"))
    lorebooks: list[Lorebook] = field(default_factory=list)  # attached books
    lore_state: LoreState = field(default_factory=LoreState)
    turns: list[Turn] = field(default_factory=list)
    redo_stack: list[Turn] = field(default_factory=list)
    settings: Settings = field(default_factory=Settings)
    summary: str = ""
    summary_enabled: bool = True
    summary_upto: int = 0  # turns [0, summary_upto) are covered by the summary
    created: float = field(default_factory=time.time)
    updated: float = field(default_factory=time.time)
    extra: dict[str, Any] = field(default_factory=dict)
    # The world state after the newest turn's chosen take (see world.history); read it
    # through `world_state()`, which swaps in a newly chosen take first.
    world: WorldState = field(default_factory=WorldState)
    # How many of the newest turns still owe their world update (`world/owed.py`): saved, so
    # an update the player quit before is asked at the next start.
    world_owed: int = 0
    # What could not be used as saved (over-long fields, unusable settings): one line each,
    # for the front end to show once. Not saved.
    problems: list[str] = field(default_factory=list, compare=False, repr=False)

    def __post_init__(self) -> None:
        self._cap_fields()
        self.problems.extend(settings_problems(self.settings))
        if not self.id:
            stamp = time.strftime("%Y%m%d-%H%M%S", time.localtime(self.created))
            self.id = f"{slugify(self.title)}-{stamp}"

    def _cap_fields(self) -> None:
        """Over-long text fields are cut to MAX_FIELD_CHARS (the summary keeps its end)."""
        if len(self.title) > MAX_TITLE_CHARS:
            self.title = self.title[:MAX_TITLE_CHARS]
        for name in ("memory", "authors_note", "summary"):
            text = getattr(self, name)
            if len(text) <= MAX_FIELD_CHARS:
                continue
            kept = text[-MAX_FIELD_CHARS:] if name == "summary" else text[:MAX_FIELD_CHARS]
            setattr(self, name, kept)
            self.problems.append(f"{name.replace('_', ' ')} was {len(text):,} characters; "
                                 f"only {MAX_FIELD_CHARS:,} are kept")

    # --- the story -------------------------------------------------------------------------

    @property
    def all_lorebooks(self) -> list[Lorebook]:
        return [self.world_info, *self.lorebooks]

    @property
    def player_turn_count(self) -> int:
        return sum(1 for t in self.turns if t.mode != OPENING)

    def begin_turn(self, mode: str, action: str) -> Turn:
        """Append a turn waiting for its response. A new action forgets what undo kept."""
        turn = Turn(mode=mode, action=action)
        self.turns.append(turn)
        self.redo_stack.clear()
        return turn

    def can_undo(self) -> bool:
        return bool(self.turns) and self.turns[-1].mode != OPENING

    def undo(self) -> Turn | None:
        """Take back the last whole turn (action and response); redo brings it back."""
        if not self.can_undo():
            return None
        world_history.sync(self)
        turn = self.turns.pop()
        world_history.unapply(self.world, turn)
        self.redo_stack.append(turn)
        return turn

    def redo(self) -> Turn | None:
        if not self.redo_stack:
            return None
        turn = self.redo_stack.pop()
        self.turns.append(turn)
        world_history.sync(self)
        return turn

    def world_state(self) -> WorldState:
        """The world as of the newest turn's chosen take."""
        return world_history.sync(self)

    def last_turn(self) -> Turn | None:
        return self.turns[-1] if self.turns else None

    def edit_last_response(self, text: str) -> bool:
        turn = self.last_turn()
        if turn is None:
            return False
        turn.set_response(text)
        return True

    def story_text(self) -> str:
        """The whole story as a reader sees it."""
        parts: list[str] = []
        for turn in self.turns:
            if turn.action:
                parts.append(turn.action)
            if turn.response:
                parts.append(turn.response)
        return "\n\n".join(parts)

    def messages(self) -> list[str]:
        """Each action and response as a message, oldest first (what world info scans)."""
        out: list[str] = []
        for turn in self.turns:
            if turn.action:
                out.append(turn.action)
            if turn.response:
                out.append(turn.response)
        return out

    def add_lore(self, entry: LoreEntry) -> None:
        self.world_info.entries.append(entry)


def campaign_from_scenario(scenario: Scenario, settings: Settings | None = None) -> Campaign:
    """A fresh adventure: the scenario's opening becomes the first (narrator) turn."""
    campaign = Campaign(
        title=scenario.title,
        scenario=scenario.title,
        memory=scenario.memory.strip(),
        authors_note=scenario.authors_note.strip(),
        settings=settings or Settings(),
        world=scenario.world.copy(),
    )
    campaign.world_info = Lorebook(name="World info", entries=list(scenario.lore))
    if scenario.opening.strip():
        campaign.turns.append(Turn(mode=OPENING, responses=[scenario.opening.strip()]))
    return campaign
