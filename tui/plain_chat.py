"""Plain line mode for character chats: each input line is a message.

Adds to the adventure's line mode: names before messages, `/swipe N|next|prev`,
`/impersonate` (and `/send` to send what it wrote), `/messages` and `/delete N`.
`/retry` makes a new swipe of the last reply; `/edit TEXT` replaces the last message.
"""

from __future__ import annotations

import argparse
import sys
from typing import TextIO

from tui.core.backend import Backend
from tui.core.text import count, one_line
from tui.engine.actions import Mode
from tui.engine.campaign import Campaign
from tui.engine.chat import ChatGame, ChatMessage, display_text, game_for, persona_of
from tui.engine.chat_prompt import card_of, char_name
from tui.engine.game import Game, GenerationResult, TurnRequest
from tui.engine.persona import describe_persona, set_persona
from tui.plain import PlainSession

RECAP_MESSAGES = 6
CHAT_HELP = [
    "/swipe     show another reply: /swipe next, /swipe prev, /swipe N (next past the last "
    "makes a new one)",
    "/impersonate  let the model write your next message; /send sends it",
    "/messages  list the messages with their numbers",
    "/delete N  delete message N (a reply with all its swipes)",
]


class PlainChatSession(PlainSession):
    """Line mode for a `ChatGame`."""

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
        word, _, arg = line.strip().partition(" ")
        handler = {
            "/swipe": self.cmd_swipe,
            "/impersonate": self.cmd_impersonate,
            "/persona": self.cmd_persona,
            "/send": self.cmd_send,
            "/messages": self.cmd_messages,
            "/delete": self.cmd_delete,
        }.get(word.lower())
        if handler is not None:
            handler(arg.strip())
            return True
        if word.lower() in ("/help", "/h", "/?"):
            super().handle(line)
            for text in CHAT_HELP:
                self.say(text)
            return True
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
            self.suggestion = self.chat.impersonation_text(result)
            self.notice("/send sends this as your message; or type your own")
            return result
        if not result.text.strip():
            self.notice("(the model wrote nothing; try /retry)")
        self.chat.commit(request, result)
        messages = self.chat.messages()
        if messages:
            self.swipe_notice(messages[-1])
        self.update_summary()
        return result

    # --- chat commands ----------------------------------------------------------------------

    def cmd_swipe(self, arg: str) -> None:
        messages = self.chat.messages()
        if not messages or messages[-1].role != "narrator":
            self.notice("nothing to swipe: the last message is yours")
            return
        last = messages[-1]
        word = arg.lower() or "next"
        if word in ("next", "prev", "previous", "+", "-"):
            delta = 1 if word in ("next", "+") else -1
            if self.chat.swipe(delta):
                self.show(self.chat.messages()[-1])
                self.swipe_notice(self.chat.messages()[-1])
            elif delta > 0:
                request = self.chat.request_swipe()
                if request is None:
                    self.notice("no more greetings")
                else:
                    self.play(request)
            else:
                self.notice("this is the first one")
            return
        if not word.isdigit() or not 1 <= int(word) <= last.swipes:
            self.notice(f"usage: /swipe next|prev|N (N from 1 to {last.swipes})")
            return
        self.chat.swipe(int(word) - 1 - last.chosen)
        self.show(self.chat.messages()[-1])
        self.swipe_notice(self.chat.messages()[-1])

    def cmd_persona(self, arg: str) -> None:
        if arg:
            set_persona(self.chat.campaign, arg)
            self.chat.save()
        self.notice(f"you are {describe_persona(self.chat.campaign)}")

    def cmd_impersonate(self, arg: str) -> None:
        self.play(self.chat.request_impersonate())

    def cmd_send(self, arg: str) -> None:
        text = arg or self.suggestion
        if not text:
            self.notice("nothing to send: /impersonate first, or type a message")
            return
        self.suggestion = ""
        self.handle(text)

    def cmd_messages(self, arg: str) -> None:
        for msg in self.chat.messages():
            swipes = f" [{msg.chosen + 1}/{msg.swipes}]" if msg.swipes > 1 else ""
            text = one_line(display_text(self.chat.campaign, msg.text), 70)
            self.say(f"#{msg.index} {msg.speaker}{swipes}: {text}")

    def cmd_delete(self, arg: str) -> None:
        if not arg.isdigit():
            self.notice("usage: /delete N (see /messages for the numbers)")
            return
        if self.chat.delete_message(int(arg)):
            self.notice(f"message #{arg} deleted")
        else:
            self.notice(f"no message #{arg}")


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
        print(f"grue: {one_line(str(exc), 300)}", file=sys.stderr)
        return 1
    session = session_for(game, backend, sys.stdout, sys.stderr,
                          interactive=sys.stdin.isatty())
    try:
        return session.run(sys.stdin)
    finally:
        backend.close()
