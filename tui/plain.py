"""Plain line mode: play on stdin/stdout, for scripts, screen readers and dumb terminals.

The story is printed as it streams; each input line is one action; /commands work as in
the TUI. Everything printed from the model or a file is cleaned of control characters.
"""

from __future__ import annotations

import sys
import threading
from typing import TextIO

from tui.core.backend import Backend, BackendError
from tui.core.text import clean
from tui.engine.actions import Mode, split_prefix
from tui.engine.campaign import OPENING
from tui.engine.commands import Command, UnknownCommand, help_lines, parse_command
from tui.engine.context import ContextBuilder
from tui.engine.formats.lorebooks import LoreFormatError
from tui.engine.game import (
    Game,
    GenerationResult,
    TurnRequest,
    generate,
    make_builder,
    update_summary_if_due,
)
from tui.engine.lorebook_files import attach_lorebook, describe_books
from tui.engine.saves import SaveError

RECAP_TURNS = 3


class PlainSession:
    def __init__(self, game: Game, backend: Backend, out: TextIO, err: TextIO,
                 interactive: bool = False) -> None:
        self.game = game
        self.backend = backend
        self.out = out
        self.err = err
        self.interactive = interactive
        self.mode = Mode.DO
        self.builder: ContextBuilder | None = None
        self.warned_unsupported = ""

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
            self.say(f"[... {len(turns) - RECAP_TURNS} earlier turns ...]")
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
        name = self.game.campaign.settings.model or "SmolLM2-135M (embedded)"
        self.notice(f"Loading model {name}…")
        try:
            info = self.backend.load()
        except BackendError as exc:
            self.notice(f"error: {exc}")
            return False
        self.builder = make_builder(self.backend, self.game.campaign)
        style = self.builder.layout.template.name if self.builder.layout.template else "story"
        self.notice(f"Model {info.name} ready ({info.n_ctx} tokens, prompt style {style}).")
        return True

    def run(self, lines: TextIO) -> int:
        self.recap()
        if not self.load():
            return 1
        while True:
            if self.interactive:
                self.out.write(f"\n[{self.mode.value}] > ")
                self.out.flush()
            line = lines.readline()
            if not line:
                break
            try:
                keep_going = self.handle(line.rstrip("\n"))
            except (SaveError, BackendError, LoreFormatError) as exc:
                self.notice(f"error: {exc}")
                continue
            if not keep_going:
                break
        cid = self.game.campaign.id
        self.notice(f"Saved as {cid}. Resume with: grue resume {cid} --plain")
        return 0

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
        result = self.stream(request, lead="")
        if result is None:
            return None
        if not result.text.strip():
            self.notice("(the model wrote nothing; try /retry)")
        self.game.commit(request, result)
        self.update_summary()
        return result

    def stream(self, request: TurnRequest, lead: str | None) -> GenerationResult | None:
        """Print a generation as it streams: after a blank line and `lead` (None: straight
        on, for a continuation). None when the player stopped it with Ctrl+C."""
        assert self.builder is not None
        settings = self.game.campaign.settings
        sampler = settings.sampler
        if settings.seed is not None:
            sampler = sampler.with_changes(seed=settings.seed)
        if lead is not None:
            self.say("")
            self.out.write(clean(lead))

        def show(text: str) -> None:
            self.out.write(text)
            self.out.flush()

        try:
            result = generate(self.backend, self.builder, request, sampler, threading.Event(),
                              show)
        except KeyboardInterrupt:
            self.notice("[stopped]")
            return None
        self.out.write("\n")
        self.out.flush()
        unsupported = ", ".join(result.unsupported)
        if unsupported and unsupported != self.warned_unsupported:
            self.warned_unsupported = unsupported  # said once, not every turn
            self.notice("note: this backend ignores " + unsupported)
        return result

    def update_summary(self) -> None:
        """Long-term memory: fold old turns into the story so far when it is due."""
        assert self.builder is not None
        campaign = self.game.campaign
        before = campaign.summary_upto
        try:
            if update_summary_if_due(self.backend, self.builder, campaign, threading.Event()):
                self.game.save()
                self.notice(f"(the story so far now covers {campaign.summary_upto} turns; "
                            f"was {before})")
        except KeyboardInterrupt:
            self.notice("[summary skipped]")

    def run_command(self, command: Command) -> bool:
        game, name, arg = self.game, command.name, command.arg
        if name == "quit":
            game.save()
            return False
        if name == "help":
            for line in help_lines():
                self.say(line)
            self.say("Type an action (do), 'say ...' or 'story ...'; an empty line continues.")
        elif name == "retry":
            request = game.request_retry()
            if request is None:
                self.notice("nothing to retry")
            else:
                self.play(request)
        elif name == "continue":
            self.play(game.request_continue())
        elif name == "undo":
            turn = game.undo()
            self.notice("undone: " + (turn.action or "the last response") if turn else
                        "nothing to undo")
        elif name == "redo":
            turn = game.redo()
            if turn is None:
                self.notice("nothing to redo")
            else:
                self.say(turn.action)
                self.say(turn.response)
        elif name == "edit":
            if not arg:
                self.notice("usage: /edit NEW TEXT (replaces the last response)")
            elif game.edit_last(arg):
                self.notice("last response replaced")
        elif name in ("memory", "note"):
            attr = "memory" if name == "memory" else "authors_note"
            if arg:
                setattr(game.campaign, attr, clean(arg))
                game.save()
                self.notice(f"{name} set")
            else:
                self.say(getattr(game.campaign, attr) or f"(no {name})")
        elif name == "summary":
            campaign = game.campaign
            if arg.lower() in ("on", "off"):
                campaign.summary_enabled = arg.lower() == "on"
                game.save()
                self.notice(f"story so far {arg.lower()}")
            elif arg:
                campaign.summary = clean(arg)
                game.save()
                self.notice("story so far set")
            else:
                state = "on" if campaign.summary_enabled else "off"
                self.say(f"[story so far: {state}, covers {campaign.summary_upto} turns]")
                self.say(campaign.summary or "(nothing yet)")
        elif name == "lore":
            if arg:
                book = attach_lorebook(game.campaign, arg)
                game.save()
                self.notice(f"attached lorebook {book.name} ({len(book.entries)} entries)")
            else:
                for line in describe_books(game.campaign):
                    self.say(line)
        elif name == "save":
            path = game.save()
            self.notice(f"saved to {path}")
        elif name == "context":
            self.print_context()
        else:
            self.notice(f"/{name} is not available in line mode here (see /help)")
        return True

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
