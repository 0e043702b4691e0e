"""Slash commands and key actions, shared by the two screens and the two line modes.

Front-ends parse a line with `parse_command`, run it with `run_command` (the one place that
checks the command applies to this game and that the model is idle), and render the effects
it returns. The table is in `table.py`; the effects in `effects.py`.
"""

from __future__ import annotations

from dataclasses import dataclass

from tui.core.text import one_line
from tui.engine.commands import story
from tui.engine.commands.context import ADVENTURE, CHAT, CommandContext, mode_of
from tui.engine.commands.effects import (
    STILL_WRITING,
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
)
from tui.engine.commands.table import ALIASES, COMMANDS, TABLE, CommandSpec, help_lines, help_rows
from tui.engine.formats.lorebooks import LoreFormatError
from tui.engine.saves import SaveError

__all__ = [
    "ADVENTURE", "ALIASES", "CHAT", "COMMANDS", "STILL_WRITING", "TABLE", "Command",
    "CommandContext", "CommandSpec", "Done", "EditText", "Effect", "Generate", "Notice",
    "OpenScreen", "Print", "Quit", "RoomRequest", "SendMessage", "StillWriting",
    "StoryChanged", "UnknownCommand",
    "help_lines", "help_rows", "mode_of", "parse_command", "refusal", "run_command", "save_edit",
]


@dataclass(frozen=True)
class Command:
    name: str
    arg: str = ""


class UnknownCommand(ValueError):
    pass


def parse_command(line: str) -> Command | None:
    """A `/command [arg]` line, or None when the line is not a command (`//` escapes)."""
    text = line.strip()
    if not text.startswith("/") or text.startswith("//"):
        return None
    word, _, arg = text[1:].partition(" ")
    name = ALIASES.get(word.lower(), word.lower())
    if name not in COMMANDS:
        raise UnknownCommand(f"unknown command /{word}; try /help")
    return Command(name, arg.strip())


def refusal(ctx: CommandContext, spec: CommandSpec) -> Notice | StillWriting | None:
    """Why this command cannot run now, or None when it can."""
    if ctx.mode not in spec.modes:
        other = "chats" if CHAT in spec.modes else "adventures"
        return Notice(f"/{spec.name} is for {other}")
    if spec.needs_idle and ctx.busy:
        return StillWriting()
    return None


def run_command(ctx: CommandContext, command: Command) -> list[Effect]:
    """Run one command: refused (and nothing changed) when it does not apply or needs the
    model idle while it writes; bad files and failed saves become an error notice."""
    spec = COMMANDS[command.name]
    refused = refusal(ctx, spec)
    if refused is not None:
        return [refused]
    try:
        return spec.run(ctx, command.arg)
    except (SaveError, LoreFormatError) as exc:
        return [Notice(one_line(str(exc), 300), "error")]


EDIT_TARGETS = {
    "edit": story.store_last,
    "memory": lambda ctx, text: story.store_field(ctx, "memory", text),
    "note": lambda ctx, text: story.store_field(ctx, "note", text),
    "summary": story.store_summary,
}


def save_edit(ctx: CommandContext, target: str, text: str) -> list[Effect]:
    """Store what the player wrote in the editor an `EditText` opened (checked like a
    command: the model may have started writing since)."""
    refused = refusal(ctx, COMMANDS[target])
    if refused is not None:
        return [refused]
    try:
        return EDIT_TARGETS[target](ctx, text)
    except SaveError as exc:
        return [Notice(one_line(str(exc), 300), "error")]
