"""One game in play: what the next generation is, and what happens when it finishes.

The UI (TUI or plain mode) asks for a `TurnRequest`, runs `generate()` on the model's owner
thread, streams the text, and calls `Game.commit()` on its own thread. Saving happens on
commit: serialised there and then (a consistent snapshot), written at once, or by a
`SaveWriter` thread when the front-end gave the game one (the TUI: its status line says
"saved" when the writer reports the write done; docs/architecture.md, "Saves").
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path

from tui.core.backend import Backend, Prompt
from tui.core.sampler import Sampler
from tui.core.text import clean
from tui.engine.actions import Action, Mode, make_action
from tui.engine.adventure import adventure_spec
from tui.engine.campaign import Campaign, Turn
from tui.engine.context import ContextBuilder, ContextReport, PromptSpec
from tui.engine.jinja_template import template_from_jinja
from tui.engine.saves import SaveError, commit_save, prepare_save
from tui.engine.saves.writer import SaveResult, SaveWriter
from tui.engine.stream_cut import ActionLineCut
from tui.engine.summary import SummaryDraft, apply_summary, draft_summary, needs_summary
from tui.engine.templates import InstructTemplate, get_template
from tui.engine.tidy import tidy_response
from tui.engine.world import history as world_history
from tui.engine.world.owed import OwedTurns
from tui.engine.world.propose import Outcome, WorldRequest, settle, world_request


@dataclass
class TurnRequest:
    """A generation to run: a new action, a retry of the last turn, or a continue."""

    kind: str  # "action" | "retry" | "continue"
    spec: PromptSpec
    action: Action | None = None
    cut_actions: bool = True  # adventure: cut where the model starts a new "> " action


@dataclass
class GenerationResult:
    text: str
    report: ContextReport
    cancelled: bool = False
    seconds: float = 0.0
    tokens_out: int = 0
    unsupported: list[str] = field(default_factory=list)


def choose_template(campaign: Campaign, chat_template: str | None, bos_token: str = "",
                    eos_token: str = "") -> InstructTemplate | None:
    """The instruct template for this model, or None for plain story text.

    `prompt_style` "story" forces plain text; an explicit `template` wins; else the model's
    own Jinja template (from its GGUF metadata), rendered with its BOS/EOS tokens, decides.
    A template that cannot be rendered falls back to the preset its markers suggest (named
    "(guessed)"), then to Alpaca for `prompt_style` "instruct", else to plain story text.
    """
    settings = campaign.settings
    if settings.prompt_style == "story":
        return None
    if settings.template and settings.template != "auto":
        return get_template(settings.template)
    own = template_from_jinja(chat_template, bos_token, eos_token)
    if own is not None:
        return own
    if settings.prompt_style == "instruct":
        return get_template("Alpaca")  # the guide's default
    return None


def make_builder(backend: Backend, campaign: Campaign) -> ContextBuilder:
    """A context builder for the loaded model (call on the model's owner thread)."""
    info = backend.info
    template = choose_template(campaign, info.chat_template, info.bos_token, info.eos_token)
    prefix = backend.prefix_tokens() if hasattr(backend, "prefix_tokens") else []
    max_new = min(campaign.settings.max_new_tokens, backend.n_ctx // 2)
    # A backend that shifts its cache (context shifting) makes per-message trimming free;
    # otherwise the window is trimmed in quarter-window steps so the prefix is reused.
    shifts = bool(getattr(backend, "can_shift", lambda: False)())
    return ContextBuilder(backend.tokenize, backend.n_ctx, max_new, template, prefix,
                          chunk_fraction=0.0 if shifts else 0.25)


def generate(
    backend: Backend,
    builder: ContextBuilder,
    request: TurnRequest,
    sampler: Sampler,
    cancel: threading.Event,
    on_text: Callable[[str], None],
) -> GenerationResult:
    """Build the prompt and stream the response. Runs on the model's owner thread."""
    report = builder.build(request.spec)
    started = time.monotonic()
    pieces: list[str] = []
    sampler = sampler.with_changes(max_tokens=builder.max_new_tokens)
    cutter = ActionLineCut() if request.cut_actions else None
    cut_at: int | None = None
    received = 0

    # O(1) per piece: clean() works character by character, so the pieces are cleaned and
    # shown one at a time, and the cut is found incrementally (stream_cut.py).
    for piece in backend.stream(Prompt(report.tokens, report.text), sampler, report.stop, cancel):
        received += 1
        start = cutter.length if cutter else 0
        cut_at = cutter.feed(piece) if cutter else None
        if cut_at is not None:
            piece = piece[: max(0, cut_at - start)]
        pieces.append(piece)
        safe = clean(piece)
        if safe:
            on_text(safe)
        if cut_at is not None:
            break  # the model began a new action line: the player's turn
    final = "".join(pieces)
    final = clean(final[:cut_at] if cut_at is not None else final)
    return GenerationResult(
        text=final,
        report=report,
        cancelled=cancel.is_set(),
        seconds=time.monotonic() - started,
        tokens_out=received,
        unsupported=backend.unsupported_samplers(sampler),
    )


# Room kept for the action while reading ahead: most actions are shorter, so the real
# prompt keeps the same history start (a longer one moves it, which costs a shift).
READ_AHEAD_RESERVE = 64
_PLACEHOLDER = "\u2026"  # stands for the action not typed yet; cut off before reading


def read_ahead(backend: Backend, builder: ContextBuilder, spec: PromptSpec,
               cancel: threading.Event) -> int:
    """Read the next prompt ahead while the player reads and types (docs/architecture.md,
    "Reading ahead"), from `Game.read_ahead_spec`: up to where the action goes while none is
    typed (Enter then reads the action's tokens), else the whole prompt with the typed action
    (Enter reads nothing if the player sends what was read: the first word is sampled from
    the logits of its last token, read last). Tokens read; on the model's owner thread."""
    report = builder.build(spec)
    if spec.pending_is_placeholder:
        return backend.read_ahead(report.tokens[: report.pending_start], cancel, whole=False)
    return backend.read_ahead(report.tokens, cancel)


# Requests whose empty result adds nothing: there is no player text to keep.
EMPTY_IS_NOTHING = ("continue", "retry")


class Game:
    """The engine side of play: requests, commits, undo/redo, and saving after each turn."""

    def __init__(self, campaign: Campaign, save_folder: Path | None = None,
                 autosave: bool = True) -> None:
        self.campaign = campaign
        self.save_folder = save_folder
        self.autosave = autosave
        self.last_saved: Path | None = None
        self.writer: SaveWriter | None = None  # None: saves are written on the calling thread
        self.on_saved: Callable[[SaveResult], None] | None = None  # called on the writer thread
        self.unsaved = ""  # without a writer: why the last save failed ("" once one succeeds)
        self.world_owed = OwedTurns()
        self.world_owed.restore(campaign, campaign.world_owed)

    # --- requests ---------------------------------------------------------------------------

    def _spec(self, campaign: Campaign, pending: str | None, continuing: bool) -> PromptSpec:
        """An action's prompt keeps the room reading ahead kept for it, so both choose the
        same history start: with more room, the start could move back to take in a message
        that did not fit (the window under `min_fill`), and the whole prompt is read again."""
        spec = adventure_spec(campaign, pending, continuing=continuing)
        return replace(spec, reserve_tokens=READ_AHEAD_RESERVE) if pending else spec

    def request_action(self, mode: Mode, raw: str) -> TurnRequest:
        action = make_action(mode, raw)
        if action.mode is Mode.CONTINUE:
            return self.request_continue()
        spec = self._spec(self.campaign, action.text, False)
        return TurnRequest("action", spec, action)

    def read_ahead_spec(self, typed: str = "", mode: Mode = Mode.DO,
                        campaign: Campaign | None = None) -> PromptSpec:
        """The next action's prompt, with room kept for the action: what `read_ahead` reads
        while the player types. `typed` is what the input holds so far: the lore it fires
        is read ahead too, and so is the typed action itself (see `read_ahead`). With
        `campaign` (this one with a new story so far, not stored yet): its prompt, with no
        action typed."""
        request = self.request_action(mode, typed) if typed.strip() and not campaign else None
        if request is None or request.kind != "action":
            spec = replace(self._spec(campaign or self.campaign, _PLACEHOLDER, False),
                           pending_is_placeholder=True)
        else:
            spec = request.spec
        return replace(spec, reserve_tokens=READ_AHEAD_RESERVE)

    def request_continue(self) -> TurnRequest:
        spec = self._spec(self.campaign, None, True)
        return TurnRequest("continue", spec, make_action(Mode.CONTINUE, ""))

    def request_retry(self) -> TurnRequest | None:
        """Regenerate the last response (kept as an alternative). None if nothing to retry."""
        last = self.campaign.last_turn()
        if last is None or not self.campaign.can_undo():
            return None
        before = replace(self.campaign, turns=self.campaign.turns[:-1], redo_stack=[],
                         world=world_history.before_last(self.campaign))
        continuing = last.mode == Mode.CONTINUE
        spec = self._spec(before, last.action or None, continuing)
        return TurnRequest("retry", spec)

    # --- results ----------------------------------------------------------------------------

    def commit(self, request: TurnRequest, result: GenerationResult) -> Turn | None:
        """Put a finished (or cancelled-but-kept) response into the story, then save.

        None when nothing was recorded: an empty continuation or retry is never a turn or a
        take (it would put two model turns back to back in the next prompt).
        """
        text = tidy_response(result.text, continuing=request.kind == "continue")
        if not text.strip() and request.kind in EMPTY_IS_NOTHING:
            return None
        if request.kind == "retry":
            turn = self.campaign.turns[-1]
            turn.add_alternative(text)
        else:
            assert request.action is not None
            turn = self.campaign.begin_turn(request.action.mode.value, request.action.text)
            turn.responses.append(text)
        self._keep_world_note(request, turn, result)
        if self.campaign.kind != "chat" and self.campaign.settings.world_updates:
            self.world_owed.narrated(self.campaign)  # saved with it: asked even after a quit
        if result.report.lore_next_state is not None:
            self.campaign.lore_state = result.report.lore_next_state
        self.save()
        return turn

    @staticmethod
    def _keep_world_note(request: TurnRequest, turn: Turn, result: GenerationResult) -> None:
        """The turn keeps the world note its prompt placed (a Continue's placed none)."""
        if request.kind != "continue" and turn.world_note != result.report.world_note:
            turn.world_note = result.report.world_note

    def undo(self) -> Turn | None:
        turn = self.campaign.undo()
        if turn is not None:
            self.save(deliberate_shrink=True)
        return turn

    def redo(self) -> Turn | None:
        turn = self.campaign.redo()
        if turn is not None:
            self.save()
        return turn

    def edit_last(self, text: str) -> bool:
        changed = self.campaign.edit_last_response(clean(text).strip())
        if changed:
            self.save()
        return changed

    def save(self, deliberate_shrink: bool = False) -> Path | None:
        """Save the campaign as it is now. With a writer the state is serialised here and
        written on the writer's thread (`on_saved` hears how it went); without one it is
        written before this returns. SaveError when it cannot be (or, inline, was not)."""
        if not self.autosave:
            return None
        self.campaign.updated = time.time()
        self.campaign.world_owed = len(self.world_owed.turns(self.campaign))
        if self.writer is None:
            try:
                plan = prepare_save(self.campaign, self.save_folder,
                                    allow_fewer_turns=deliberate_shrink)
                self.last_saved = commit_save(plan)
            except SaveError as exc:
                self.unsaved = str(exc)
                raise
            self.unsaved = ""
        else:
            plan = prepare_save(self.campaign, self.save_folder,
                                allow_fewer_turns=deliberate_shrink)
            self.writer.submit(plan, self.on_saved)
            self.last_saved = plan.folder
        return self.last_saved

    # --- the world state's update (docs/architecture.md, "World state") --------------------

    def world_update_owed(self) -> WorldRequest | None:
        """The update still owed when play starts (the player quit before it ran), or None;
        the story's prompt is built only when one is."""
        if not self.campaign.settings.world_updates or \
                not self.world_owed.turns(self.campaign):
            return None
        return self.world_update_due()

    def world_update_due(self) -> WorldRequest | None:
        """The update to ask in the pause after a narration: it reads the newest turn, and
        the turns before it whose update Enter cancelled (`OwedTurns`), with the next
        turn's prompt, nothing typed, where `propose` may ask it after the story."""
        self.world_owed.narrated(self.campaign)
        return world_request(self.campaign, self.read_ahead_spec(),
                             self.world_owed.turns(self.campaign))

    def settle_world(self, request: WorldRequest, text: str) -> Outcome:
        """Record the model's answer to `request` (`propose.settle`); its turns are owed no
        more unless the answer came too late for them (stale). The caller saves when it was
        not stale (the changes, and the count of turns owed)."""
        outcome = settle(self.campaign, request, text)
        if not outcome.stale:
            self.world_owed.answered(request.turns, request.take)
        return outcome

    @property
    def saved_word(self) -> str:
        """What a confirmation says about the save just made: "saved" once written, or
        "saving…" while a writer thread has it (the TUI turns it into "saved" when done)."""
        return "saving…" if self.writer is not None else "saved"

    def flush_saves(self, timeout: float | None = None) -> bool:
        """Wait until every save made so far is written (or failed). False on timeout."""
        return self.writer.flush(timeout) if self.writer is not None else True


def update_summary_if_due(backend: Backend, builder: ContextBuilder, campaign: Campaign,
                          cancel: threading.Event) -> bool:
    """Long-term memory: when enough old turns have left the window, have the model fold them
    into the "story so far". Runs on the model's owner thread, between turns.
    True when the summary changed (the caller saves). Chats too, told in the third person."""
    draft = summary_draft_if_due(backend, builder, campaign, cancel)
    return draft is not None and apply_summary(campaign, *draft)


def summary_in_idle(backend: Backend, builder: ContextBuilder, campaign: Campaign,
                    next_spec: Callable[[Campaign], PromptSpec], cancel: threading.Event,
                    draft: SummaryDraft | None = None) -> tuple[SummaryDraft | None, bool]:
    """The story-so-far update as a pause between turns runs it (docs/architecture.md,
    "Reading ahead"): draft it when due (or go on with `draft`, from an earlier pause), then
    read the prompt it makes (`next_spec` of the campaign with it stored) beside the story's
    cache. (draft, ready): store the draft only when ready -- its prompt is all read, so no
    turn waits for the re-read a new story so far causes; else keep it for the next pause."""
    if draft is None:
        draft = summary_draft_if_due(backend, builder, campaign, cancel)
        if draft is None:
            return None, False
    trial = replace(campaign, problems=[])
    if not apply_summary(trial, *draft):
        return None, False  # stale (the summary already covers more): nothing to store
    report = builder.build(next_spec(trial))
    return draft, backend.read_beside(report.tokens[: report.pending_start], cancel)


def summary_draft_if_due(backend: Backend, builder: ContextBuilder, campaign: Campaign,
                         cancel: threading.Event) -> SummaryDraft | None:
    """The new "story so far" when one is due, not yet stored (`apply_summary` stores it): the
    TUI stores it on its own thread, so the model thread never changes the campaign while the
    player's commands do (docs/architecture.md, "One turn")."""
    if not campaign.summary_enabled:
        return None
    if campaign.kind == "chat":
        from tui.engine.chat_prompt import chat_spec

        report = builder.build(chat_spec(campaign, None))
    else:
        report = builder.build(adventure_spec(campaign, None))
    if cancel.is_set() or not needs_summary(campaign, report):
        return None
    return draft_summary(backend, builder, campaign, report, cancel)
