"""Plain line mode for character chats: each input line is a message.

Adds to the adventure's line mode: names before messages, and what the chat-only commands
of the table need (`/send` sends what `/impersonate` wrote). `/retry` makes a new swipe of
the last reply; `/edit TEXT` replaces the last message.
"""

from __future__ import annotations

import argparse
import contextlib
import signal
import sys
from typing import TextIO

from tui.core.backend import Backend
from tui.core.log import log_exception
from tui.core.text import count, one_line
from tui.engine.actions import Mode
from tui.engine.campaign import Campaign
from tui.engine.chat import ChatGame, ChatMessage, display_text, game_for, persona_of
from tui.engine.chat_prompt import card_of, char_name
from tui.engine.commands import CHAT
from tui.engine.game import Game, GenerationResult, TurnRequest
from tui.plain import PlainSession

RECAP_MESSAGES = 6


class PlainChatSession(PlainSession):
    """Line mode for a `ChatGame`."""

    command_mode = CHAT
    HELP_FOOTER = "Type a message; an empty line continues the last reply."

    def __init__(self, game: ChatGame, backend: Backend, out: TextIO, err: TextIO,
                 interactive: bool = False) -> None:
        super().__init__(game, backend, out, err, interactive)
        self.chat = game
        self.mode = Mode.SAY  # the interactive prompt reads "[say] >"
        self.suggestion = ""

    @property
    def char(self) -> str:
        return char_name(card_of(self.chat.campaign))

    @property
    def user(self) -> str:
        return persona_of(self.chat.campaign).name

    # --- output -----------------------------------------------------------------------------

    def show(self, msg: ChatMessage) -> None:
        self.say("")
        self.say(f"{msg.speaker}: {display_text(self.chat.campaign, msg.text)}")

    def swipe_notice(self, msg: ChatMessage) -> None:
        if msg.swipes > 1:
            what = "greeting" if msg.part == "greeting" else "reply"
            self.notice(f"[{what} {msg.chosen + 1}/{msg.swipes}; /swipe next|prev]")

    def recap(self) -> None:
        self.say(f"== {display_text(self.chat.campaign, self.chat.campaign.title)} ==")
        messages = self.chat.messages()
        if len(messages) > RECAP_MESSAGES:
            self.say(f"[... {count(len(messages) - RECAP_MESSAGES, 'earlier message')} ...]")
            messages = messages[-RECAP_MESSAGES:]
        for msg in messages:
            self.show(msg)
        if messages:
            self.swipe_notice(messages[-1])

    # --- play -------------------------------------------------------------------------------

    def handle(self, line: str) -> bool:
        if line.strip().startswith("/"):
            return super().handle(line)
        request = self.chat.request_action(Mode.SAY, line)
        if request.kind == "action" and request.action is not None:
            self.say("")
            self.say(f"{self.user}: {display_text(self.chat.campaign, request.action.text)}")
        self.play(request)
        return True

    def play(self, request: TurnRequest) -> GenerationResult | None:
        """Stream a generation; commit it, except an impersonation, which is kept to send."""
        speaker = self.user if request.kind == "impersonate" else self.char
        result = self.stream(request, None if request.kind == "continue" else f"{speaker}: ")
        if result is None:
            return None
        if request.kind == "impersonate":
            self.suggestion = self.chat.impersonation_text(request, result)
            self.notice("/send sends this as your message; or type your own")
            return result
        if not result.text.strip() and not result.cancelled:
            self.notice("(the model wrote nothing; try /retry)")
        self.chat.commit(request, result)
        messages = self.chat.messages()
        if messages:
            self.swipe_notice(messages[-1])
        self.update_summary()
        return result

    def send(self, text: str) -> None:
        """`/send`: TEXT, or what `/impersonate` wrote."""
        text = text or self.suggestion
        if not text:
            self.notice("nothing to send: /impersonate first, or type a message")
            return
        self.suggestion = ""
        self.handle(text)


def session_for(game: Game, backend: Backend, out: TextIO, err: TextIO,
                interactive: bool = False) -> PlainSession:
    """The line-mode session for this game: the chat one for chats."""
    if isinstance(game, ChatGame):
        return PlainChatSession(game, backend, out, err, interactive)
    return PlainSession(game, backend, out, err, interactive)


def run_plain(campaign: Campaign, args: argparse.Namespace) -> int:
    """Play `campaign` in line mode on stdin/stdout (chats and adventures alike)."""
    from tui.backends.factory import make_backend

    game = game_for(campaign)
    try:
        backend = make_backend(campaign.settings.backend_config())
    except Exception as exc:  # noqa: BLE001 - any failure is one line for the player
        log_exception("could not make the backend", exc)
        print(f"grue: {one_line(str(exc), 300)}", file=sys.stderr)
        return 1
    session = session_for(game, backend, sys.stdout, sys.stderr,
                          interactive=sys.stdin.isatty())
    previous = {}
    for signum in (signal.SIGHUP, signal.SIGTERM):  # a dropped terminal, a shutdown
        with contextlib.suppress(ValueError, AttributeError, OSError):  # not the main thread
            previous[signum] = signal.signal(signum, lambda n, _frame: session.hang_up(n))
    try:
        return session.run(sys.stdin)
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)
        backend.close()
