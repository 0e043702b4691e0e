"""Commands of every game: turns (retry, undo, redo, continue, edit) and the texts the model
always sees (memory, author's note, story so far), lorebooks, saving and quitting."""

from __future__ import annotations

from tui.core.text import clean, count, one_line
from tui.engine.chat import display_text
from tui.engine.commands.context import CHAT, CommandContext, Handler
from tui.engine.commands.effects import (
    Done,
    EditText,
    Effect,
    Generate,
    Notice,
    OpenScreen,
    Quit,
    StoryChanged,
)
from tui.engine.lorebook_files import attach_lorebook, describe_books
from tui.engine.saves import SaveError

ON_OFF = ("on", "off")


def retry(ctx: CommandContext, arg: str) -> list[Effect]:
    request = ctx.game.request_retry()
    if request is None:
        return [Notice("nothing to retry")]
    return [Generate(request)]


def continue_(ctx: CommandContext, arg: str) -> list[Effect]:
    return [Generate(ctx.game.request_continue())]


def undo(ctx: CommandContext, arg: str) -> list[Effect]:
    turn = ctx.game.undo()
    if turn is None:
        return [Notice("nothing to undo")]
    what = one_line(turn.action or "the last response", 60)
    return [StoryChanged(), Done(f"undone: {what}")]


def redo(ctx: CommandContext, arg: str) -> list[Effect]:
    turn = ctx.game.redo()
    if turn is None:
        return [Notice("nothing to redo")]
    echo = tuple(text for text in (turn.action, turn.response) if text)
    return [StoryChanged(echo), Done(f"redone · {ctx.game.saved_word}")]


# --- texts the player edits -------------------------------------------------------------------


def last_text(ctx: CommandContext) -> tuple[str, str] | None:
    """(title, text) of what /edit changes: the last message of a chat, else the last
    response. None when there is nothing to edit."""
    if ctx.mode == CHAT:
        messages = ctx.chat.messages()
        if not messages:
            return None
        return f"Edit {messages[-1].speaker}'s last message", messages[-1].text
    turn = ctx.game.campaign.last_turn()
    if turn is None:
        return None
    return "Edit the last response", turn.response


def store_last(ctx: CommandContext, text: str) -> list[Effect]:
    if last_text(ctx) is None:
        return [Notice("nothing to edit yet")]
    if not ctx.game.edit_last(text):
        return []
    return [StoryChanged(), Done(f"edited · {ctx.game.saved_word}")]


def edit(ctx: CommandContext, arg: str) -> list[Effect]:
    if arg:
        return store_last(ctx, arg)
    found = last_text(ctx)
    if found is None:
        return [Notice("nothing to edit yet")]
    title, text = found
    shown = display_text(ctx.game.campaign, text) if ctx.mode == CHAT else text
    return [EditText("edit", title, text, "", (shown, "(/edit NEW TEXT replaces it)"))]


TEXT_FIELDS = {  # command -> (campaign attribute, label, editor hint)
    "memory": ("memory", "memory",
               "Memory: facts the model always sees, at the top of the prompt. Ctrl+S save · Esc"),
    "note": ("authors_note", "author's note",
             "Author's note: style and direction, a few actions from the end. Ctrl+S · Esc"),
}


def store_field(ctx: CommandContext, name: str, text: str) -> list[Effect]:
    attr, label, _hint = TEXT_FIELDS[name]
    setattr(ctx.game.campaign, attr, clean(text).strip())
    ctx.game.save()
    return [Done(f"{label} {ctx.game.saved_word}")]


def field_command(name: str) -> Handler:
    """/memory and /note: set the text with an argument, else show it for editing."""

    def run(ctx: CommandContext, arg: str) -> list[Effect]:
        if arg:
            return store_field(ctx, name, arg)
        attr, label, hint = TEXT_FIELDS[name]
        text = getattr(ctx.game.campaign, attr)
        return [EditText(name, f"Edit the {label}", text, hint, (text or f"(no {label})",))]

    run.__name__ = name
    return run


def store_summary(ctx: CommandContext, text: str) -> list[Effect]:
    ctx.game.campaign.summary = clean(text).strip()
    ctx.game.save()
    return [Done(f"story so far {ctx.game.saved_word}")]


def summary(ctx: CommandContext, arg: str) -> list[Effect]:
    """Show/edit the story so far, set it, or turn long-term memory on or off."""
    campaign = ctx.game.campaign
    word = arg.lower()
    if word in ON_OFF:
        campaign.summary_enabled = word == "on"
        ctx.game.save()
        return [Notice(f"story so far (long-term memory) {word}")]
    if arg:
        return store_summary(ctx, arg)
    hint = (f"Covers the first {count(campaign.summary_upto, 'turn')}; the model updates it "
            "in big steps as old turns leave the window. Ctrl+S save · Esc cancel")
    state = "on" if campaign.summary_enabled else "off"
    lines = (f"[story so far: {state}, covers {count(campaign.summary_upto, 'turn')}]",
             campaign.summary or "(nothing yet)")
    return [EditText("summary", "The story so far", campaign.summary, hint, lines)]


# --- lore, screens, saving ----------------------------------------------------------------------


def lore(ctx: CommandContext, arg: str) -> list[Effect]:
    """Attach a lorebook file, or open the world info (line mode lists the books)."""
    campaign = ctx.game.campaign
    if not arg:
        return [OpenScreen("world_info", tuple(describe_books(campaign)) or ("(no lorebooks)",))]
    book = attach_lorebook(campaign, arg)
    ctx.game.save()
    entries = count(len(book.entries), "entry", "entries")
    return [Notice(f"attached lorebook {one_line(book.name, 60)} ({entries})")]


def screen(name: str) -> Handler:
    def run(ctx: CommandContext, arg: str) -> list[Effect]:
        return [OpenScreen(name)]

    run.__name__ = name
    return run


def save(ctx: CommandContext, arg: str) -> list[Effect]:
    path = ctx.game.save()
    if path is None:
        return [Notice("saved")]
    return [Notice(f"saved to {path}" if ctx.game.writer is None else f"saving to {path}")]


def quit_(ctx: CommandContext, arg: str) -> list[Effect]:
    """Save and leave; while the model writes, leave without saving the half-written turn."""
    if ctx.busy:
        return [Quit()]
    try:
        ctx.game.save()
    except SaveError as exc:
        return [Notice(f"not saved: {one_line(str(exc), 200)}", "error"), Quit()]
    return [Quit()]
