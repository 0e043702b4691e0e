"""Commands only a character chat has: swipes, persona, impersonation, messages."""

from __future__ import annotations

from tui.core.text import one_line
from tui.engine.chat import ChatMessage, display_text
from tui.engine.commands.context import CommandContext
from tui.engine.commands.effects import (
    Done,
    Effect,
    Generate,
    Notice,
    Print,
    SendMessage,
    StoryChanged,
)
from tui.engine.context import NARRATOR
from tui.engine.persona import describe_persona, set_persona

NEXT = ("next", "+", "")
PREVIOUS = ("prev", "previous", "-")


def shown(ctx: CommandContext, msg: ChatMessage) -> str:
    return f"{msg.speaker}: {display_text(ctx.game.campaign, msg.text)}"


def swiped(ctx: CommandContext) -> list[Effect]:
    """The last message after a swipe: redraw it (line mode prints it) and say which it is."""
    last = ctx.chat.messages()[-1]
    what = "greeting" if last.part == "greeting" else "reply"
    return [StoryChanged((shown(ctx, last),)),
            Done(f"{what} {last.chosen + 1}/{last.swipes} (/swipe next|prev)")]


def swipe(ctx: CommandContext, arg: str) -> list[Effect]:
    """Another reply: `next` (past the last: a new one), `prev`, or number N."""
    chat, word = ctx.chat, arg.strip().lower()
    messages = chat.messages()
    last = messages[-1] if messages and messages[-1].role == NARRATOR else None
    if word in NEXT:
        if last is not None and chat.swipe(1):
            return swiped(ctx)
        request = chat.request_swipe()
        if request is None:
            return [Notice("no more greetings")]
        return [Generate(request)]
    if last is None:
        return [Notice("nothing to swipe: the last message is yours")]
    if word in PREVIOUS:
        return swiped(ctx) if chat.swipe(-1) else [Notice("this is the first one")]
    if not word.isdigit() or not 1 <= int(word) <= last.swipes:
        return [Notice(f"usage: /swipe next|prev|N (N from 1 to {last.swipes})")]
    chat.swipe(int(word) - 1 - last.chosen)
    return swiped(ctx)


def persona(ctx: CommandContext, arg: str) -> list[Effect]:
    """Show who the player is, or change it (`NAME[: description]`)."""
    campaign = ctx.game.campaign
    if not arg:
        return [Notice(f"you are {describe_persona(campaign)}")]
    set_persona(campaign, arg)
    ctx.game.save()
    return [StoryChanged(), Notice(f"you are {describe_persona(campaign)}")]


def impersonate(ctx: CommandContext, arg: str) -> list[Effect]:
    return [Generate(ctx.chat.request_impersonate(arg))]


def send(ctx: CommandContext, arg: str) -> list[Effect]:
    return [SendMessage(arg)]


def messages(ctx: CommandContext, arg: str) -> list[Effect]:
    lines = []
    for msg in ctx.chat.messages():
        swipes = f" [{msg.chosen + 1}/{msg.swipes}]" if msg.swipes > 1 else ""
        text = one_line(display_text(ctx.game.campaign, msg.text), 70)
        lines.append(f"#{msg.index} {msg.speaker}{swipes}: {text}")
    return [Print(tuple(lines) or ("(no messages)",))]


def delete(ctx: CommandContext, arg: str) -> list[Effect]:
    if not arg.isdigit():
        return [Notice("usage: /delete N (see /messages for the numbers)")]
    if not ctx.chat.delete_message(int(arg)):
        return [Notice(f"no message #{arg}")]
    return [StoryChanged(), Notice(f"message #{arg} deleted")]
