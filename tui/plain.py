"""Plain line mode: play on stdin/stdout, for scripts, screen readers and dumb terminals.

The story is printed as it streams; each input line is one action; /commands work as in
the TUI. Everything printed from the model or a file is cleaned of control characters.
"""

from __future__ import annotations

import contextlib
import signal
import sys
import threading
import time
from collections.abc import Iterator
from typing import TextIO

from tui.core.backend import Backend, BackendError, CacheTooLarge, NoJsonSchema
from tui.core.interrupt import Interrupt
from tui.core.log import log_exception, logger, take_log_problem
from tui.core.text import clean, count
from tui.engine.actions import Mode, split_prefix
from tui.engine.campaign import OPENING
from tui.engine.commands import (
    ADVENTURE,
    COMMANDS,
    STILL_WRITING,
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
    run_command,
)
from tui.engine.commands.effects import ROOMS_IN_TUI
from tui.engine.context import ContextBuilder, PromptSpec
from tui.engine.formats.lorebooks import LoreFormatError
from tui.engine.game import (
    Game,
    GenerationResult,
    TurnRequest,
    generate,
    make_builder,
    read_ahead,
    summary_in_idle,
    update_summary_if_due,
)
from tui.engine.saves import SaveError
from tui.engine.summary import SummaryDraft, apply_summary
from tui.engine.tidy import shown_so_far, tidy_response
from tui.engine.world.propose import UNAVAILABLE, WorldRequest, propose
from tui.plain_wrap import WrappingWriter, wrapped

RECAP_TURNS = 3
# A line that arrives this soon after its prompt is shown was typed ahead (no one reads a prompt,
# types a line and Enter in 30 ms): it is shown after the prompt, where its echo would have been.
TYPED_AHEAD = 0.03


@contextlib.contextmanager
def ctrl_c_sets(cancel: threading.Event) -> Iterator[None]:
    """While a generation runs, Ctrl+C (SIGINT) stops it as Esc does in the TUI: the model
    stops at its next token, and what it wrote so far is kept. A KeyboardInterrupt would land
    anywhere, in the middle of the model's cache bookkeeping too. Only the main thread may
    set a signal handler; elsewhere (tests) nothing changes."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    before = signal.signal(signal.SIGINT, lambda _signum, _frame: cancel.set())
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, before)


class HangUp(Exception):
    """SIGHUP or SIGTERM arrived while waiting for the player's next line."""


class PlainSession:
    command_mode = ADVENTURE
    HELP_FOOTER = "Type an action (do), 'say ...' or 'story ...'; an empty line continues."

    def __init__(self, game: Game, backend: Backend, out: TextIO, err: TextIO,
                 interactive: bool = False) -> None:
        self.game = game
        self.backend = backend
        self.out = wrapped(out)  # word-wrapped on a terminal
        self.err = err
        self.interactive = interactive
        self.mode = Mode.DO
        self.builder: ContextBuilder | None = None
        self.warned_unsupported = ""
        self.stop = threading.Event()  # set on a hang-up: the model stops, nothing is committed
        self.turn_cancel: threading.Event | None = None  # the generation's: Ctrl+C or a hang-up
        self.hung_up = 0  # the signal that ended the session
        self.reading = False  # waiting for the player's line
        self.read_ahead_job: tuple[threading.Thread, threading.Event] | None = None
        # The idle work's story-so-far update: (draft, its prompt all read).
        self.idle_summary: tuple[SummaryDraft | None, bool] = (None, False)
        # The world state's update after a narration: asked for, then its proposal (the text,
        # or why the backend cannot), written in the wait for a line and recorded after it.
        self.world_due: WorldRequest | None = None
        self.world_proposal: tuple[WorldRequest, str] | None = None
        self.world_unavailable = ""  # why not: said once, then never asked again
        self.world_said = False

    # --- output -----------------------------------------------------------------------------

    def say(self, text: str = "") -> None:
        self.out.write(clean(text) + "\n")
        self.out.flush()

    def notice(self, text: str) -> None:
        self.err.write(clean(text).replace("\n", " ") + "\n")
        self.err.flush()

    def recap(self) -> None:
        campaign = self.game.campaign
        self.say(f"== {campaign.title} ==")
        turns = campaign.turns
        if len(turns) > RECAP_TURNS:
            self.say(f"[... {count(len(turns) - RECAP_TURNS, 'earlier turn')} ...]")
            turns = turns[-RECAP_TURNS:]
        for turn in turns:
            if turn.action:
                self.say("")
                self.say(turn.action)
            if turn.response:
                self.say("" if turn.mode != OPENING else "")
                self.say(turn.response)

    # --- play -------------------------------------------------------------------------------

    def load(self) -> bool:
        settings = self.game.campaign.settings
        name = settings.model or "the server's model"
        if settings.backend in ("", "local"):
            from tui.models.naming import model_display_name

            name = model_display_name(settings.model)
        self.notice(f"Loading model {name}…")
        try:
            info = self.backend.load()
        except BackendError as exc:
            self.notice(f"error: {exc}")
            return False
        self.builder = make_builder(self.backend, self.game.campaign)
        style = self.builder.layout.template.name if self.builder.layout.template else "story"
        self.notice(f"Model {info.name} ready ({info.n_ctx} tokens, prompt style {style}).")
        if problem := take_log_problem():  # a full disk, a read-only home: said once
            self.notice(problem)
        self.world_due = self.game.world_update_owed()  # one the player quit before
        return True

    def run(self, lines: TextIO) -> int:
        self.recap()
        if not self.load():
            return 1
        while not self.hung_up:
            try:
                if self.interactive:
                    self.out.write(f"\n[{self.mode.value}] > ")
                    self.out.flush()
                asked = time.monotonic()
                self.start_read_ahead()
                self.reading = True
                line = lines.readline()
                self.reading = False
                if self.interactive and line and time.monotonic() - asked < TYPED_AHEAD:
                    # Typed ahead: the terminal echoed it while the model wrote, so the
                    # prompt stands alone and what follows would start mid-line.
                    self.out.write(clean(line.rstrip("\n")) + "\n")
                if isinstance(self.out, WrappingWriter):
                    self.out.line_read()
                self.stop_read_ahead()
                if not line:
                    break
                keep_going = self.run_line(line.rstrip("\n"))
            except (HangUp, OSError):  # OSError: the terminal that went away
                if not self.hung_up:
                    raise
                break
            except KeyboardInterrupt:
                if not self.reading:
                    raise
                self.say("")  # Ctrl+C at the prompt leaves as /quit does, saying how to resume
                break
            finally:
                self.reading = False
                self.stop_read_ahead()
            if not keep_going:
                break
        if self.hung_up:
            return self.end_after_hang_up()
        cid = self.game.campaign.id
        if self.game.unsaved:
            self.notice(f"Left with the last changes NOT saved ({self.game.unsaved}); the save "
                        f"on disk is from before. Resume with: grue resume {cid} --plain")
            return 1
        self.notice(f"Saved as {cid}. Resume with: grue resume {cid} --plain")
        return 0

    def say_not_saved(self, exc: SaveError) -> None:
        self.notice(f"NOT saved: {exc} (the save before it is kept; /save tries again)")

    def save_idle_work(self) -> bool:
        """Save what the pause's work stored (outside a line's own handling, where a
        failed save is said the same way); False when it could not be written."""
        try:
            self.game.save()
        except SaveError as exc:
            self.say_not_saved(exc)
            return False
        return True

    def run_line(self, line: str) -> bool:
        """One line of input as the loop runs it: a problem is one line and the game goes
        on (a save that failed is kept in memory; the next save writes it). False to stop."""
        try:
            return self.handle(line)
        except SaveError as exc:
            self.say_not_saved(exc)
        except (BackendError, LoreFormatError) as exc:
            self.notice(f"error: {exc}")
        return True

    def hang_up(self, signum: int) -> None:
        """SIGHUP/SIGTERM (a signal handler, on the main thread): stop the model; a wait for
        input ends at once, a generation at its next token (and is not committed)."""
        self.hung_up = signum
        self.stop.set()
        if self.turn_cancel is not None:
            self.turn_cancel.set()
        if self.reading:
            raise HangUp()

    @contextlib.contextmanager
    def model_work(self) -> Iterator[threading.Event]:
        """The cancel event of model work the player waits for (a turn, a story-so-far
        update): set by Ctrl+C while it runs, and by a hang-up (before it, too)."""
        cancel = Interrupt()
        if self.stop.is_set():
            cancel.set()
        self.turn_cancel = cancel
        try:
            with ctrl_c_sets(cancel):
                yield cancel
        finally:
            self.turn_cancel = None

    def end_after_hang_up(self) -> int:
        """Save what was committed and leave; the terminal may be gone (no error for it)."""
        try:
            self.game.save()
        except (SaveError, OSError) as exc:
            with contextlib.suppress(OSError, ValueError):
                self.notice(f"Hung up; NOT saved: {exc}")
            return 128 + self.hung_up
        with contextlib.suppress(OSError, ValueError):
            self.notice(f"Hung up; saved as {self.game.campaign.id}.")
        return 128 + self.hung_up

    # --- reading ahead while the player types (docs/architecture.md, "Reading ahead") ------

    def start_read_ahead(self) -> None:
        """Have the model read the next prompt up to the action while we wait for a line:
        on its own thread, which `stop_read_ahead` ends before the model is used again."""
        if self.builder is None or self.hung_up or \
                not (self.backend.reads_ahead or self.world_due is not None):
            return
        cancel = Interrupt()
        spec = self.game.read_ahead_spec(mode=self.mode)
        thread = threading.Thread(target=self._idle_work, args=(spec, cancel),
                                  name="grue-read-ahead", daemon=True)
        self.read_ahead_job = (thread, cancel)
        thread.start()

    def _idle_work(self, spec: PromptSpec, cancel: threading.Event) -> None:
        """Read the next prompt ahead, then the story-so-far update when due, as the TUI's
        pause does; the update is stored on the main thread (`stop_read_ahead`)."""
        assert self.builder is not None
        try:
            if self.backend.reads_ahead:
                read_ahead(self.backend, self.builder, spec, cancel)
            self._propose_world(cancel)
            if not cancel.is_set() and self.backend.reads_ahead:
                self.idle_summary = summary_in_idle(
                    self.backend, self.builder, self.game.campaign,
                    lambda c: self.game.read_ahead_spec(mode=self.mode, campaign=c), cancel,
                    self.idle_summary[0])
        except Exception as exc:  # noqa: BLE001 - the turn reads it instead; logged
            log_exception("reading ahead failed", exc)

    def _propose_world(self, cancel: threading.Event) -> None:
        """The world state's update, on the idle thread; recorded by `store_world`."""
        request = self.world_due
        if request is None or cancel.is_set():
            return
        assert self.builder is not None
        try:
            text = propose(self.backend, self.builder, request, cancel)
        except NoJsonSchema as exc:
            logger().info("state updates unavailable: %s", exc)
            self.world_unavailable = str(exc) if isinstance(exc, CacheTooLarge) else UNAVAILABLE
            self.world_due = None
            return
        if not cancel.is_set():
            self.world_due = None
            self.world_proposal = (request, text)

    def stop_read_ahead(self) -> None:
        if self.read_ahead_job is not None:
            thread, cancel = self.read_ahead_job
            cancel.set()
            thread.join()
            self.read_ahead_job = None
            self.store_world()
            self.store_summary()

    def store_world(self) -> None:
        """Record a proposal the wait for a line finished and print its quiet line (or say
        once that this backend cannot make them)."""
        if self.world_unavailable and not self.world_said:
            self.world_said = True
            self.notice(f"({self.world_unavailable})")
        proposal, self.world_proposal = self.world_proposal, None
        if proposal is None or self.hung_up:
            return
        outcome = self.game.settle_world(*proposal)
        if outcome.refused:
            logger().info("state update refused: %s", "; ".join(outcome.refused))
        if not outcome.stale:
            self.save_idle_work()  # the changes, and that the turns owe their update no more
        if outcome.applied:
            self.notice(f"({outcome.line})")

    def store_summary(self) -> None:
        """Store an update the wait for a line finished, with its prompt read; one still
        being read is kept for the next wait."""
        draft, ready = self.idle_summary
        if not ready or draft is None or self.hung_up:
            return
        self.idle_summary = (None, False)
        campaign = self.game.campaign
        before = campaign.summary_upto
        if apply_summary(campaign, *draft):
            self.save_idle_work()
            self.notice(f"(the story so far now covers {count(campaign.summary_upto, 'turn')}; "
                        f"was {before})")

    def handle(self, line: str) -> bool:
        try:
            command = parse_command(line)
        except UnknownCommand as exc:
            self.notice(str(exc))
            return True
        if command is not None:
            return self.run_command(command)
        mode, raw = split_prefix(line, self.mode)
        request = self.game.request_action(mode, raw)
        if request.action and request.action.text:
            self.say("")
            self.say(request.action.text)
        self.play(request)
        return True

    def play(self, request: TurnRequest) -> GenerationResult | None:
        if request.kind == "retry":
            self.say("")
            self.say("[retry: a new take of the last response]")
        result = self.stream(request, lead="")
        if result is None:
            return None
        if not result.text.strip() and not result.cancelled:
            self.notice("(the model wrote nothing; try /retry)")
        self.game.commit(request, result)
        settings = self.game.campaign.settings
        self.world_due = None
        if settings.world_updates and not self.world_unavailable and not result.cancelled:
            self.world_due = self.game.world_update_due()
        self.update_summary()
        return result

    def stream(self, request: TurnRequest, lead: str | None) -> GenerationResult | None:
        """Print a generation as it streams: after a blank line and `lead` (None: straight
        on, for a continuation). None on a hang-up, or when Ctrl+C stopped an action before
        the model wrote a word (a turn stopped later keeps what was written)."""
        assert self.builder is not None
        settings = self.game.campaign.settings
        sampler = settings.sampler
        if settings.seed is not None:
            sampler = sampler.with_changes(seed=settings.seed)
        if lead is not None:
            self.say("")
            self.out.write(clean(lead))

        # What is printed is what is saved: text is held back until a sentence is complete
        # (the end-of-response trim never cuts before that), and leading space is not shown.
        given = request.spec.reply_start  # the reply's first words, typed by the player
        written = [given]  # all the text so far
        printed = [0, 0]  # characters printed; where the sentence search goes on from

        def show(text: str) -> None:
            written[0] += text
            body = written[0].lstrip()
            safe = shown_so_far(body, printed[1])
            printed[1] = safe
            if safe > printed[0]:
                self.out.write(body[printed[0]:safe])
                self.out.flush()
                printed[0] = safe

        with self.model_work() as cancel:
            result = generate(self.backend, self.builder, request, sampler, cancel, show)
        if self.stop.is_set():  # hung up: what was written is not kept
            return None
        final = tidy_response(given + result.text,
                              continuing=request.kind == "continue").lstrip()
        shown = written[0].lstrip()[: printed[0]]
        rest = final[len(shown):] if final.startswith(shown) else "\n" + final
        self.out.write(rest + "\n")
        self.out.flush()
        if result.cancelled:
            if not final.strip() and request.kind == "action":
                self.notice("[stopped before a word: nothing kept; send the line again]")
                return None
            self.notice("[stopped: what was written is kept; /undo takes it back]"
                        if final.strip() else "[stopped: nothing kept]")
        unsupported = ", ".join(result.unsupported)
        if unsupported and unsupported != self.warned_unsupported:
            self.warned_unsupported = unsupported  # said once, not every turn
            self.notice("note: this backend ignores " + unsupported)
        return result

    def update_summary(self) -> None:
        """Long-term memory: fold old turns into the story so far when it is due. Where the
        model's cache is ours, the wait for the next line does it (`_idle_work`)."""
        assert self.builder is not None
        if self.backend.reads_ahead:
            return
        campaign = self.game.campaign
        before = campaign.summary_upto
        with self.model_work() as cancel:
            changed = update_summary_if_due(self.backend, self.builder, campaign, cancel)
        if changed:
            self.game.save()
            self.notice(f"(the story so far now covers {count(campaign.summary_upto, 'turn')}; "
                        f"was {before})")
        elif cancel.is_set() and not self.hung_up:
            self.notice("[summary skipped]")

    def run_command(self, command: Command) -> bool:
        """Run a command from the table and render what it returns; False to stop."""
        # Line mode reads the next line only after a generation ends: never busy here.
        ctx = CommandContext(self.game, self.command_mode)
        spec = COMMANDS.get(command.name)
        if spec is not None and spec.needs_idle:  # it may change the story the draft told
            self.idle_summary = (None, False)
        keep_going = True
        for effect in run_command(ctx, command):
            keep_going = self.render(effect) and keep_going
        return keep_going

    def render(self, effect: Effect) -> bool:
        """Show one effect of a command in line mode; False for `Quit`."""
        match effect:
            case Notice(text=text) | Done(text=text):
                self.notice(text)
            case Print(lines=lines) | StoryChanged(echo=lines) | EditText(lines=lines):
                for line in lines:
                    self.say(line)
            case Generate(request=request):
                self.play(request)
            case OpenScreen():
                self.open_screen(effect)
            case SendMessage(text=text):
                self.send(text)
            case StillWriting():
                self.notice(STILL_WRITING)
            case RoomRequest():
                self.notice(ROOMS_IN_TUI)
            case Quit():
                return False
        return True

    def open_screen(self, effect: OpenScreen) -> None:
        if effect.name == "help":
            for line in effect.lines:
                self.say(line)
            self.say(self.HELP_FOOTER)
        elif effect.name == "context":
            self.print_context()
        elif effect.lines:
            for line in effect.lines:
                self.say(line)
        else:
            self.notice(f"/{effect.name} is not available in line mode here (see /help)")

    def send(self, text: str) -> None:
        self.notice("/send is for chats")

    def print_context(self) -> None:
        """What the next turn would send: segments, lore fired and dropped, totals."""
        assert self.builder is not None
        report = self.builder.build(self.game.request_continue().spec)
        for kind, tokens in report.tokens_by_kind().items():
            self.say(f"{kind:<12} {tokens:>6} tokens")
        self.say(f"{'total':<12} {report.total_tokens:>6} of {report.budget} "
                 f"(window {report.window})")
        for a in report.fired:
            self.say(f"fired: {a.entry.name or a.entry.keys[:1]} ({a.reason})")
        for d in report.dropped:
            self.say(f"dropped: {d.entry.name} ({d.reason})")
        for t in report.trimmed:
            self.say(f"left out: {t.what} ({t.reason})")


def pick_line(title: str, options: list[str]) -> int | None:
    """Ask on stdin for one of a scenario's options by number (None at end of input)."""
    heading, _, prompt = title.partition("\n\n")
    print(f"== {clean(heading)} ==")
    if prompt:
        print(clean(prompt))
    for i, option in enumerate(options, 1):
        print(f"{i}. {clean(option)}")
    while True:
        print("Pick a number: ", end="", flush=True)
        line = sys.stdin.readline()
        if not line:
            return None
        if line.strip().isdigit() and 1 <= int(line) <= len(options):
            return int(line) - 1
        print(f"(a number from 1 to {len(options)})")


def ask_line(question: str, default: str) -> str | None:
    """Ask one scenario question on stdin; an empty line takes the default."""
    suffix = f" [{clean(default)}]" if default else ""
    print(f"{clean(question)}{suffix}: ", end="", flush=True)
    line = sys.stdin.readline()
    if not line:
        return default or None
    return clean(line.strip()) or default
