"""The adventure screen: the story, the input line and the status line.

It arranges and forwards: the engine (`Game`) decides what a turn is, the model host runs
the model on its own thread, and this screen streams text into the story view in batches.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Callable
from dataclasses import dataclass

from textual import work
from textual.app import App, ComposeResult
from textual.containers import Horizontal
from textual.message import Message
from textual.screen import Screen
from textual.timer import Timer
from textual.widgets import Input

from tui.core.backend import BackendError, CacheTooLarge, NoJsonSchema
from tui.core.interrupt import Interrupt
from tui.core.log import log_exception, logger, take_log_problem
from tui.core.text import clean, one_line
from tui.engine import adventure, commands
from tui.engine.actions import Mode, split_prefix
from tui.engine.campaign import Campaign, Settings, Turn
from tui.engine.commands import (
    ADVENTURE,
    COMMANDS,
    Command,
    CommandContext,
    Done,
    EditText,
    Effect,
    Generate,
    Notice,
    OpenScreen,
    Print,
    Quit,
    RoomRequest,
    SendMessage,
    StillWriting,
    StoryChanged,
    UnknownCommand,
    parse_command,
)
from tui.engine.context import PromptSpec
from tui.engine.game import Game, GenerationResult, TurnRequest
from tui.engine.saves import SaveError
from tui.engine.saves.writer import SaveResult
from tui.engine.summary import SummaryDraft, apply_summary
from tui.engine.world.prompt import report_lines
from tui.engine.world.propose import UNAVAILABLE, WorldRequest
from tui.keys import BY_ID, bindings_for, first_key, help_rows
from tui.model_host import ModelHost
from tui.screens.context_inspector import ContextInspectorScreen
from tui.screens.dialogs import HelpDialog, TextEditDialog
from tui.screens.guard import guarded
from tui.screens.models import ModelsScreen
from tui.screens.room import enter_room
from tui.screens.settings import SettingsScreen
from tui.screens.world_info import WorldInfoScreen
from tui.widgets.action_bar import ActionBar
from tui.widgets.key_footer import KeyFooter
from tui.widgets.status_bar import StatusBar
from tui.widgets.story_view import StoryView
from tui.widgets.world_panel import WorldPanel

FLUSH_SECONDS = 0.05  # batch streamed text: ~20 screen updates a second at most
TYPING_PAUSE = 0.6  # seconds without a key before reading ahead with what is typed
NOTICE_LINES = 12  # a command's printed text, shown as a notice, keeps its last lines
LEAVE_FLUSH_SECONDS = 30.0  # leaving a game waits this long for saves still being written


def shown_lines(lines: tuple[str, ...]) -> str:
    """A command's printed lines as one notice, the last `NOTICE_LINES` of them."""
    if len(lines) > NOTICE_LINES:
        lines = (f"… {len(lines) - NOTICE_LINES} more above", *lines[-NOTICE_LINES:])
    return "\n".join(one_line(line, 120) for line in lines)


class StreamBuffer:
    """Text from the model thread, collected until the UI's next flush."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._parts: list[str] = []

    def push(self, text: str) -> None:
        with self._lock:
            self._parts.append(text)

    def take(self) -> str:
        with self._lock:
            text = "".join(self._parts)
            self._parts.clear()
        return text


@dataclass
class GenerationDone(Message):
    request: TurnRequest
    result: GenerationResult


@dataclass
class GenerationFailed(Message):
    request: TurnRequest
    error: str


@dataclass
class ModelLoaded(Message):
    name: str
    n_ctx: int
    style: str


@dataclass
class ModelFailed(Message):
    error: str


@dataclass
class LoadProgress(Message):
    fraction: float


@dataclass
class QueuePlace(Message):
    """The turn's place in the shared model's queue (`grue serve`); 0 = it runs."""

    place: int


def ordinal(n: int) -> str:
    suffix = "th" if 10 <= n % 100 <= 20 else {1: "st", 2: "nd", 3: "rd"}.get(n % 10, "th")
    return f"{n}{suffix}"


@dataclass
class SaveFinished(Message):
    """The save writer's thread wrote a save (or could not)."""

    result: SaveResult


SAVING, SAVED, NOT_SAVED = "saving…", "saved", "NOT saved"


class AdventureScreen(Screen[None]):
    KEY_SCREEN = "adventure"  # this screen's keys in tui/keys.py
    BINDINGS = bindings_for(KEY_SCREEN)
    HAS_WORLD = True  # a chat has no world state, so no world panel

    def __init__(self, game: Game, host: ModelHost) -> None:
        super().__init__()
        self.game = game
        self.host = host
        self.buffer = StreamBuffer()
        self.cancel_event: threading.Event | None = None
        self.pending: TurnRequest | None = None
        self.sent_line = ""  # the line the pending action was typed as (see finish_generation)
        self.model_ready = False
        self.warned_unsupported = ""
        self.summarizing = False
        self.summary_cancel = Interrupt()
        self.read_ahead_cancel = threading.Event()
        self.typing_timer: Timer | None = None
        self.summary_due = False  # a reply came: see if the story so far needs updating
        # An update written but not stored yet: the prompt it makes is still being read.
        self.summary_draft: SummaryDraft | None = None
        self.summary_dropped = False  # the story changed under the update being written
        # The world state's update after a narration (docs/architecture.md, "World state"):
        # asked for in the pause after it, settled on this thread.
        self.world_due: WorldRequest | None = None
        self.world_cancel = Interrupt()
        self.world_updating = False
        self.world_unavailable = False  # the backend cannot constrain JSON: said once
        self.leaving = False  # a turn cut short by leaving (Ctrl+Q, a hang-up) is not kept

    # --- layout -----------------------------------------------------------------------------

    def compose(self) -> ComposeResult:
        with Horizontal(id="main"):
            yield StoryView(id="story")
            if self.HAS_WORLD:
                yield WorldPanel()
        yield ActionBar(refuses=self.refuses_line)
        yield StatusBar()
        yield KeyFooter()

    @property
    def story(self) -> StoryView:
        return self.query_one(StoryView)

    @property
    def status(self) -> StatusBar:
        return self.query_one(StatusBar)

    @property
    @guarded
    def action_bar(self) -> ActionBar:
        return self.query_one(ActionBar)

    def on_mount(self) -> None:
        # Saves are written on the app's writer thread (docs/architecture.md, "One turn"):
        # the status line says "saved" when it reports the write done.
        self.game.on_saved = lambda result: self.post_message(SaveFinished(result))
        # A shared model (grue serve) says where the turn waits in its queue.
        self.host.on_queue = lambda place: self.post_message(QueuePlace(place))
        self.title = one_line(self.game.campaign.title, 60)
        self.redraw()
        self.status.set(model="loading model…", ctx_total=self.game.campaign.settings.n_ctx,
                        state="loading 0%")
        self.action_bar.input.focus()
        self.set_interval(FLUSH_SECONDS, self.flush_stream)
        self.load_model()

    # --- what the story shows (the chat screen shows it differently) -----------------------

    def story_blocks(self) -> list[tuple[str, str]]:
        return adventure.story_blocks(self.game.campaign)

    def redraw(self) -> None:
        self.story.show_blocks(self.story_blocks())

    @guarded
    def action_text(self, text: str) -> str:
        return text

    def reply_text(self, turn: Turn) -> str:
        return turn.response.strip()

    # --- the model --------------------------------------------------------------------------

    @work(thread=True, exclusive=True, group="load")
    def load_model(self) -> None:
        settings = self.game.campaign.settings
        try:
            info = self.host.load(settings, lambda f: self.post_message(LoadProgress(f)))
            style = self.host.template_name(self.game.campaign)
        except BackendError as exc:
            self.post_message(ModelFailed(str(exc)))
            return
        except Exception as exc:  # noqa: BLE001 - never a traceback on screen
            log_exception("loading the model failed", exc)
            self.post_message(ModelFailed(f"could not load the model: {exc}"))
            return
        self.post_message(ModelLoaded(info.name, info.n_ctx, style))

    def on_load_progress(self, message: LoadProgress) -> None:
        if not self.model_ready:
            self.status.set(state=f"loading {int(message.fraction * 100)}%")

    def on_model_loaded(self, message: ModelLoaded) -> None:
        self.model_ready = True
        self.status.set(model=message.name, ctx_total=message.n_ctx,
                        state=f"ready · {self.key_hint('game.help', 'help', '/help')} · "
                              f"{message.style}")
        if problem := take_log_problem():  # a full disk, a read-only home: said once
            self.notify(problem, severity="warning", timeout=10)
        # An update the player quit before: asked in this first pause.
        self.world_due = self.game.world_update_owed()
        self.start_read_ahead()

    def on_queue_place(self, message: QueuePlace) -> None:
        place = message.place
        self.status.set(background=f"queued: {ordinal(place)}" if place > 0 else "")

    def on_model_failed(self, message: ModelFailed) -> None:
        self.status.set(model="no model", state="model failed")
        self.notify(one_line(message.error, 300), severity="error", timeout=10)

    # --- input ------------------------------------------------------------------------------

    @guarded
    def action_cycle_mode(self) -> None:
        if isinstance(self.focused, Input):
            self.action_bar.cycle_mode()
        else:
            self.focus_next()

    @guarded
    def on_action_bar_submitted(self, message: ActionBar.Submitted) -> None:
        line = message.text
        try:
            command = parse_command(line)
        except UnknownCommand as exc:
            self.notify(str(exc), severity="warning", markup=False)
            return
        if self._refuses(command):  # taken, then the line before it set the model writing
            self.action_bar.keep_refused(line)
        elif command is not None:
            self.run_command(command)
        else:
            self.send_line(line, message.mode)

    def refuses_line(self, line: str) -> bool:
        """Whether Enter on `line` is refused now, telling the player why (the bar asks as
        the key is read; the line then stays in the input). An unknown command stays too,
        to be mended, not typed again."""
        try:
            return self._refuses(parse_command(line))
        except UnknownCommand as exc:
            self.notify(str(exc), severity="warning", markup=False)
            return True

    def _refuses(self, command: Command | None) -> bool:
        """An action (None) while the model writes or loads; a command that needs the model
        idle while it writes."""
        if command is None:
            return not self._can_generate()
        refused = commands.refusal(self.command_context(), COMMANDS[command.name])
        if isinstance(refused, StillWriting):
            self.render_effect(refused)
            return True
        return False

    def send_line(self, line: str, mode: Mode | None = None) -> None:
        """Play what the player typed, in `mode` (the bar's when None); kept in the input when
        the model cannot take it."""
        if not self._can_generate():
            self.action_bar.keep_refused(line)
            return
        mode, raw = split_prefix(line, mode or self.action_bar.mode)
        request = self.game.request_action(mode, raw)
        if request.action and request.action.text:
            self.story.add_action(self.action_text(request.action.text))
        self.start(request)
        self.sent_line = line

    # --- commands: the engine's table runs them, this screen renders what they return ------

    command_mode = ADVENTURE

    def command_context(self) -> CommandContext:
        return CommandContext(self.game, self.command_mode, busy=self.pending is not None)

    @guarded
    def run_command(self, command: Command) -> None:
        """Run a slash command or a key's action through the engine's command table."""
        effects = commands.run_command(self.command_context(), command)
        self._discard_summary_after(command.name, effects)
        for effect in effects:
            self.render_effect(effect)
        self.refresh_world()  # /inv, /move, /undo, /redo... may have changed the state

    def dispatch(self, name: str, arg: str = "") -> None:
        self.run_command(Command(name, arg))

    def render_effect(self, effect: Effect) -> None:
        match effect:
            case Notice(text=text, severity=severity):
                self.notify(one_line(text, 300), severity=severity, markup=False)
            case Done(text=text):
                self.status.set(state=text)
            case Print(lines=lines):
                self.notify(shown_lines(lines), timeout=15, markup=False)
            case StoryChanged():
                self.redraw()
                self.start_read_ahead()
            case Generate(request=request):
                self.start_request(request)
            case EditText():
                self.open_editor(effect)
            case OpenScreen(name=name):
                self.open_screen(name)
            case SendMessage(text=text):
                self.send_message(text)
            case StillWriting():
                stop = self.key_hint("game.stop", "stops it", "Esc stops it")
                self.notify(f"The model is still writing ({stop}).", severity="warning")
            case RoomRequest():
                enter_room(self.app, self.game, effect)
            case Quit():
                self.leave()

    def start_request(self, request: TurnRequest) -> None:
        if not self._can_generate():
            return
        turn = self.game.campaign.last_turn()
        if request.kind == "retry" and turn is not None and turn.response \
                and self.story.children:
            self.story.children[-1].remove()  # the take being replaced
        self.start(request)

    def open_editor(self, edit: EditText) -> None:
        def store(text: str | None) -> None:
            if text is not None:
                effects = commands.save_edit(self.command_context(), edit.target, text)
                self._discard_summary_after(edit.target, effects)
                for effect in effects:
                    self.render_effect(effect)
                self.refresh_world()

        self.app.push_screen(TextEditDialog(edit.title, edit.text, edit.hint), store)

    def open_screen(self, name: str) -> None:
        screens = {
            "help": self.action_help,
            "world_info": self.show_world_info,
            "context": self.show_context,
            "models": self.show_models,
            "settings": self.show_settings,
        }
        screens[name]()

    def send_message(self, text: str) -> None:
        if not text:
            self.notify("nothing to send: type a message", severity="warning")
            return
        self.send_line(text)

    def leave(self) -> None:
        self.stop_and_save()  # the table's /quit saved already; this stops the model
        self.app.exit()

    def _can_generate(self) -> bool:
        # A story-so-far update in progress needs no refusal: the model's one owner thread
        # runs the next generation as soon as the update is done.
        if self.pending is not None:
            self.render_effect(StillWriting())
            return False
        if not self.model_ready:
            self.notify("The model is still loading.", severity="warning")
            return False
        return True

    # --- generation -------------------------------------------------------------------------

    def start(self, request: TurnRequest) -> None:
        self.pending = request
        self.summary_due = False  # checked again after this turn
        self.world_due = None  # not asked: its turn stays owed and the next update reads it
        # Enter ends the idle work: a story-so-far update waits for the next pause, and
        # what was read ahead so far is kept in the cache.
        self.read_ahead_cancel.set()
        self.summary_cancel.set()
        self.world_cancel.set()
        self.cancel_event = Interrupt()
        self.buffer.take()
        self.story.start_live()
        if request.spec.reply_start:  # an impersonation going on from the words typed
            self.story.append_live(clean(request.spec.reply_start))
        self.status.set(state=f"generating… ({self.key_hint('game.stop', 'stops', 'Esc')})")
        self.generate(request, self.cancel_event)

    @work(thread=True, group="generate")
    def generate(self, request: TurnRequest, cancel: threading.Event) -> None:
        try:
            result = self.host.generate(self.game.campaign, request, cancel, self.buffer.push)
        except BackendError as exc:
            self.post_message(GenerationFailed(request, str(exc)))
            return
        except Exception as exc:  # noqa: BLE001 - reported, never a traceback on screen
            log_exception("generation failed", exc)
            self.post_message(GenerationFailed(request, f"generation failed: {exc}"))
            return
        self.post_message(GenerationDone(request, result))

    def flush_stream(self) -> None:
        text = self.buffer.take()
        if text and self.pending is not None:
            self.story.append_live(text)

    @guarded
    def on_generation_done(self, message: GenerationDone) -> None:
        self.finish_generation(message)
        self.refresh_world()  # a retry's take replaced the one whose changes applied

    def finish_generation(self, message: GenerationDone) -> None:
        """Commit and show a finished generation (the chat screen extends this)."""
        self.flush_stream()
        self.pending = None
        sent, self.sent_line = self.sent_line, ""
        result = message.result
        if self.leaving:
            return
        if result.cancelled and not result.text.strip():
            self.story.finish_live(None)
            self.redraw()
            self.status.set(state="stopped")
            if message.request.kind == "action":  # nothing recorded: the line is not lost
                self.action_bar.give_back(sent)
            self.start_read_ahead()
            return
        try:
            turn = self.game.commit(message.request, result)
        except SaveError as exc:
            self.notify(one_line(str(exc), 300), severity="error", timeout=10)
            turn = self.game.campaign.turns[-1]
            saved = f"{NOT_SAVED}: {one_line(str(exc), 200)}"
        else:
            saved = self.game.saved_word
        if turn is None:  # an empty continuation or retry: nothing was recorded
            self.story.finish_live(None)
            self.redraw()
            retry = self.key_hint("game.retry", "(retry)", "/retry")
            self.notify(f"The model wrote nothing; try again or {retry}.", severity="warning")
            self.status.set(state="nothing written")
            self.start_read_ahead()
            return
        self.story.finish_live(self.reply_text(turn))
        undo = self.key_hint("adventure.undo", "undo", "/undo")
        state = f"stopped · kept ({undo})" if result.cancelled else saved
        if message.request.kind == "retry" and len(turn.responses) > 1:
            state += f" · take {turn.chosen + 1}/{len(turn.responses)}"
        if not turn.response.strip():
            retry = self.key_hint("game.retry", "(retry)", "/retry")
            self.notify(f"The model wrote nothing; try {retry}.", severity="warning")
        unsupported = ", ".join(result.unsupported)
        if unsupported and unsupported != self.warned_unsupported:
            self.warned_unsupported = unsupported  # said once, not every turn
            self.notify("This backend ignores: " + unsupported, severity="information")
        self.status.set(ctx_used=result.report.total_tokens, ctx_total=result.report.window,
                        state=state)
        if not result.cancelled and message.request.kind != "impersonate":
            self.summary_due = True  # checked once the next prompt is read ahead
            settings = self.game.campaign.settings
            if settings.world_updates and not self.world_unavailable:
                self.world_due = self.game.world_update_due()
        self.start_read_ahead()

    # --- long-term memory ---------------------------------------------------------------------
    # The model thread only drafts the update; this (the UI) thread stores it, so a command
    # the player runs meanwhile never races it: a command that changes the story drops the
    # draft (it is written again after the next turn), and so does a turn asked for meanwhile
    # (`start`). Quitting cancels the update between prompt chunks and tokens
    # (docs/architecture.md, "One turn").

    def start_summary(self) -> None:
        """Between turns, let the model fold trimmed turns into the story so far (if due)."""
        self.summarizing = True
        self.summary_cancel = Interrupt()
        self.update_summary(self.summary_cancel, self.app)

    @work(thread=True, group="summary")
    def update_summary(self, cancel: threading.Event, app: App[object]) -> None:
        """`app` is passed in: once the player left this screen, `self.app` is not found."""
        draft, ready, error = self.summary_draft, False, ""
        try:
            draft, ready = self.host.update_summary(
                self.game.campaign, cancel, lambda c: self.game.read_ahead_spec(campaign=c),
                draft)
        except Exception as exc:  # noqa: BLE001 - a notice, never a traceback
            if not cancel.is_set():  # a dropped draft may have read a story being changed
                log_exception("story-so-far update failed", exc)
            draft, error = None, one_line(str(exc), 200)
        with contextlib.suppress(RuntimeError):  # the app has closed: nothing to show
            app.call_from_thread(self._summary_done, cancel, draft, ready, error)

    def _discard_summary_after(self, command: str, effects: list[Effect]) -> None:
        """A command that changed the story (undo, edit, delete...) drops an update being
        written or waiting to be stored (a turn asked for stops it too, in `start`: never
        between Enter and the first word; it goes on at the next pause)."""
        spec = commands.COMMANDS.get(command)
        changed = not any(isinstance(e, (StillWriting, Generate)) for e in effects)
        if spec is not None and spec.needs_idle and changed:
            self.summary_draft = None
            if self.summarizing:
                self.summary_dropped = True
                self.summary_cancel.set()

    def _summary_done(self, cancel: threading.Event, draft: SummaryDraft | None,
                      ready: bool, error: str) -> None:
        if cancel is not self.summary_cancel:
            return  # an older update's late answer
        self.summarizing = False
        self.summary_cancel = Interrupt()
        dropped, self.summary_dropped = self.summary_dropped, False
        stored = ready and not cancel.is_set() and not dropped and not error
        # Kept for the next pause unless stored, dropped or failed.
        self.summary_draft = None if stored or dropped or error else draft
        if error:
            self.notify(f"Story-so-far update failed: {error}", severity="warning")
        elif stored and draft is not None and apply_summary(self.game.campaign, *draft):
            self._saved_quietly()
            self.status.set(state=f"story so far updated "
                                  f"({self.game.campaign.summary_upto} turns)")
        self.start_read_ahead()

    # --- reading ahead (docs/architecture.md, "Reading ahead") ------------------------------

    def start_read_ahead(self) -> None:
        """While the player reads and types, have the model read the next prompt up to where
        the action goes, with the lore what is typed so far fires; called after anything
        that changes the prompt, and when typing pauses. A newer call cancels an older one;
        Enter cancels it and keeps what was read."""
        bars = self.query(ActionBar)  # none once the screen is being taken down
        if not self.model_ready or self.pending is not None or self.summarizing or \
                self.world_updating or self.leaving or not bars:
            return
        if not self.host.reads_ahead:  # a server keeps its own cache: nothing to read
            self._after_read_ahead()
            return
        self.read_ahead_cancel.set()
        self.read_ahead_cancel = threading.Event()
        mode, raw = self.typed_action()
        spec = self.game.read_ahead_spec(raw, mode)
        self.status.set(background="reading…")
        self.read_ahead(spec, self.read_ahead_cancel)

    def typed_text(self) -> str:
        """What the input holds so far, "" for none or a command (not words of a turn)."""
        bars = self.query(ActionBar)
        typed = bars.first().input.value if bars else ""
        return "" if typed.lstrip().startswith("/") else typed

    def typed_action(self) -> tuple[Mode, str]:
        """The action the input holds so far: its mode and text ("" for none or a command)."""
        return split_prefix(self.typed_text(), self.action_bar.mode)

    @work(thread=True, group="read-ahead")
    def read_ahead(self, spec: PromptSpec, cancel: threading.Event) -> None:
        try:
            self.host.read_ahead(self.game.campaign, spec, cancel)
        except Exception as exc:  # noqa: BLE001 - the turn reads it instead; logged
            log_exception("reading ahead failed", exc)
        self.app.call_from_thread(self._read_ahead_done, cancel)

    def _read_ahead_done(self, cancel: threading.Event) -> None:
        """The next prompt is read first (Enter then costs the action), then the story-so-far
        update, if due, uses the rest of the pause; it keeps the story's cache."""
        status = self.query(StatusBar)  # none once the screen is being taken down
        if cancel is not self.read_ahead_cancel or not status:  # or a newer one is reading
            return
        status.first().set(background="")
        if not cancel.is_set():
            self._after_read_ahead()

    def _after_read_ahead(self) -> None:
        """The rest of the pause: the world state's update (short), then the story so far."""
        if self.pending is not None or self.leaving:
            return
        if self.world_due is not None:
            request, self.world_due = self.world_due, None
            self.start_world_update(request)
        elif self.summary_due:
            self.summary_due = False
            self.start_summary()

    # --- the world state's update (docs/architecture.md, "World state") ---------------------
    # The model thread only writes the proposal; this thread records it, on the turn it was
    # asked for (dropped when that turn or take is gone), so nothing changes the campaign on
    # two threads. Enter, Esc and leaving cancel it; its turn stays owed, and the next
    # update reads it with the newest (`Game.world_update_due`).

    def start_world_update(self, request: WorldRequest) -> None:
        self.world_updating = True
        self.world_cancel = Interrupt()
        self.update_world(request, self.world_cancel, self.app)

    @work(thread=True, group="world")
    def update_world(self, request: WorldRequest, cancel: threading.Event,
                     app: App[object]) -> None:
        text, error, unavailable = "", "", False
        try:
            text = self.host.propose_world(self.game.campaign, request, cancel)
        except NoJsonSchema as exc:
            unavailable = True
            error = one_line(str(exc), 200) if isinstance(exc, CacheTooLarge) else UNAVAILABLE
            logger().info("state updates unavailable: %s", one_line(str(exc), 200))
        except Exception as exc:  # noqa: BLE001 - a notice, never a traceback
            log_exception("world state update failed", exc)
            error = one_line(str(exc), 200)
        with contextlib.suppress(RuntimeError):  # the app has closed: nothing to show
            app.call_from_thread(self._world_done, request, cancel, text, error, unavailable)

    def _world_done(self, request: WorldRequest, cancel: threading.Event, text: str,
                    error: str, unavailable: bool) -> None:
        if cancel is self.world_cancel:
            self.world_updating = False
        if self.leaving or not self.query(StatusBar):
            return
        if unavailable:
            if not self.world_unavailable:  # once, not every turn
                self.world_unavailable = True
                self.notify(error, severity="information", markup=False)
        elif error:
            self.notify(f"State update failed: {error}", severity="warning", markup=False)
        elif text and not cancel.is_set() and self._record_world(request, text):
            self.start_read_ahead()  # the state's lines in the prompt changed
            return
        if not cancel.is_set():
            self._after_read_ahead()  # what was read ahead still holds: on to the summary

    def _record_world(self, request: WorldRequest, text: str) -> bool:
        """Settle a proposal; True when it changed the state (saved, its line shown)."""
        outcome = self.game.settle_world(request, text)
        if outcome.refused:
            logger().info("state update refused: %s", "; ".join(outcome.refused))
        if outcome.stale:
            return False
        try:
            self.game.save()  # the changes, and that the turns owe their update no more
        except SaveError as exc:
            self.notify(one_line(str(exc), 300), severity="error")
        if not outcome.applied:
            return False
        self.notify(outcome.line, timeout=6, markup=False)
        self.refresh_world()
        return True

    def on_input_changed(self, event: Input.Changed) -> None:
        """Typing paused: read ahead again with the lore the words typed so far fire."""
        if self.typing_timer is not None:
            self.typing_timer.stop()
        self.typing_timer = self.set_timer(TYPING_PAUSE, self.start_read_ahead)

    @guarded
    def on_generation_failed(self, message: GenerationFailed) -> None:
        self.flush_stream()
        self.pending = None
        self.story.finish_live(None)
        self.redraw()
        self.status.set(state="error")
        self.notify(one_line(message.error, 300), severity="error", timeout=10)
        self.start_read_ahead()

    # --- actions ----------------------------------------------------------------------------

    @guarded
    def action_cancel(self) -> None:
        if self.world_updating:
            self.world_cancel.set()
            if self.pending is None and not self.summarizing:
                return
        if self.summarizing:
            self.summary_cancel.set()
            if self.pending is None:
                return
        if self.cancel_event is not None and self.pending is not None:
            self.cancel_event.set()
            self.status.set(state="stopping…")

    @guarded
    def action_continue(self) -> None:
        self.dispatch("continue")

    @guarded
    def action_retry(self) -> None:
        self.dispatch("retry")

    @guarded
    def action_undo(self) -> None:
        self.dispatch("undo")

    @guarded
    def action_redo(self) -> None:
        self.dispatch("redo")

    @guarded
    def action_edit_last(self) -> None:
        self.dispatch("edit")

    @guarded
    def action_memory(self) -> None:
        self.dispatch("memory")

    @guarded
    def action_note(self) -> None:
        self.dispatch("note")

    @guarded
    def action_help(self) -> None:
        self.app.push_screen(HelpDialog([("Keys", self.help_keys())], self.command_mode))

    def help_keys(self) -> list[tuple[str, str]]:
        """This screen's keys (with the player's keymap) for the F1 help."""
        return help_rows(self.KEY_SCREEN, self.keymap)

    @property
    def keymap(self) -> dict[str, str]:
        return getattr(self.app, "keymap", {})

    def key_hint(self, spec_id: str, what: str, otherwise: str) -> str:
        """`F6 undo` with the key that does `spec_id` on this screen (the player's keymap
        applied), or `otherwise` (a command) where no key does it (undo in a chat)."""
        spec = BY_ID.get(spec_id)
        key = first_key(spec_id, self.keymap) if spec and self.KEY_SCREEN in spec.screens \
            else None
        return f"{key} {what}" if key else otherwise

    # --- the world panel (docs/architecture.md, "World state") ----------------------------------

    @guarded
    def action_world_panel(self) -> None:
        """Show or hide the world state beside the story."""
        panels = self.query(WorldPanel)
        if not panels:
            return
        panel = panels.first()
        panel.toggle_class("shown")
        self.refresh_world()

    def refresh_world(self) -> None:
        """Redraw the world panel from the campaign's state: after a command, a finished turn,
        or a state update from the model. A hidden panel costs nothing (it is drawn when
        shown); unchanged lines are not repainted."""
        panels = self.query(WorldPanel)
        if panels and panels.first().has_class("shown"):
            panels.first().show_lines(report_lines(self.game.campaign.world_state()))

    # --- other screens ------------------------------------------------------------------------

    def inspector_spec(self) -> Callable[[Campaign], PromptSpec]:
        """The prompt the next Enter sends: the typed action's, or a continuation's when the
        input holds none, so the inspector's "Next turn: reads N" is what Enter will read."""
        mode, raw = self.typed_action()
        if raw.strip():
            return lambda _campaign: self.game.request_action(mode, raw).spec
        return lambda _campaign: self.game.request_continue().spec

    @guarded
    def action_world_info(self) -> None:
        self.dispatch("lore")

    @guarded
    def action_context(self) -> None:
        self.dispatch("context")

    @guarded
    def action_models(self) -> None:
        self.dispatch("models")

    @guarded
    def action_settings(self) -> None:
        self.dispatch("settings")

    def show_world_info(self) -> None:
        self.app.push_screen(WorldInfoScreen(self.game.campaign, self._saved_quietly))

    def show_context(self) -> None:
        self.app.push_screen(
            ContextInspectorScreen(self.game.campaign, self.host, self.inspector_spec())
        )

    def show_models(self) -> None:
        settings = self.game.campaign.settings
        self.app.push_screen(ModelsScreen(settings.model, self._pick_model, n_ctx=settings.n_ctx))

    def show_settings(self) -> None:
        self.app.push_screen(SettingsScreen(self.game.campaign.settings, self._apply_settings))

    def _saved_quietly(self) -> None:
        try:
            self.game.save()
        except SaveError as exc:
            self.notify(one_line(str(exc), 300), severity="error")
        self.start_read_ahead()  # memory, note, lore or settings may have changed

    def on_save_finished(self, message: SaveFinished) -> None:
        """A save was written or failed: "saving…" on the status line becomes "saved" once no
        other save waits; a failure is a notice and "NOT saved: <reason>"."""
        result = message.result
        if not result.ok:
            self.notify(result.error, severity="error", timeout=10)
            self.status.set(state=f"{NOT_SAVED}: {result.error}")
            return
        if self.game.writer is not None and self.game.writer.waiting:
            return  # a newer save is on its way; its own report settles the line
        state = self.status.state
        if SAVING in state:
            self.status.set(state=state.replace(SAVING, SAVED))
        elif state.startswith(NOT_SAVED):
            self.status.set(state=SAVED)  # a later save wrote everything the failed one had

    def _pick_model(self, model: str) -> None:
        self.game.campaign.settings.model = model
        self._saved_quietly()
        self._reload_if_needed()

    def _apply_settings(self, settings: Settings) -> None:
        self.game.campaign.settings = settings
        self._saved_quietly()
        self._reload_if_needed()

    def _reload_if_needed(self) -> None:
        if self.host.needs_load(self.game.campaign.settings):
            self.model_ready = False
            self.status.set(model="loading model…", state="loading 0%")
            self.load_model()
        else:
            self.load_model()  # same model: refreshes the prompt style shown

    @guarded
    def action_save(self) -> None:
        self.dispatch("save")

    def stop_and_save(self) -> None:
        """Leaving: stop the model (a turn or an update), save what is committed, and wait
        for every save to be on disk."""
        self.leaving = True
        if self.cancel_event is not None:
            self.cancel_event.set()
        self.summary_cancel.set()
        self.world_cancel.set()
        self.read_ahead_cancel.set()
        try:
            if self.pending is None:
                self.game.save()
        except SaveError:
            pass
        self.game.flush_saves(LEAVE_FLUSH_SECONDS)

    @guarded
    def action_quit(self) -> None:
        self.dispatch("quit")

    @guarded
    def action_home(self) -> None:
        """Ctrl+Q: save and go back to the home screen (Ctrl+Q there quits)."""
        self.stop_and_save()
        go_home = getattr(self.app, "go_home", None)
        if go_home is None:  # a bare test app without a home screen
            self.app.exit()
        else:
            go_home()

    def set_mode(self, mode: Mode) -> None:
        self.action_bar.set_mode(mode)
