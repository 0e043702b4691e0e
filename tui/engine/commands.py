"""Slash commands shared by the TUI and plain line mode."""

from __future__ import annotations

from dataclasses import dataclass

COMMANDS: dict[str, str] = {
    "retry": "regenerate the last response",
    "undo": "take back the last turn",
    "redo": "bring back a turn you undid",
    "edit": "edit the last response (/edit NEW TEXT in line mode)",
    "continue": "let the story go on without an action (or send an empty line)",
    "memory": "show or set the memory (/memory TEXT)",
    "note": "show or set the author's note (/note TEXT)",
    "summary": "the story so far (long-term memory): show/edit, or /summary on|off",
    "lore": "list the lorebooks, or attach one (/lore FILE)",
    "context": "show the exact prompt of the next turn and what went in",
    "models": "pick or download a model (TUI)",
    "settings": "sampler preset, window, template, backend (TUI)",
    "persona": "chat: who you are ({{user}}): /persona NAME[: description]",
    "swipe": "chat: another reply (/swipe next|prev|N)",
    "impersonate": "chat: let the model write your next message",
    "delete": "chat: delete message N (/delete N)",
    "save": "save now (the game also saves after every turn)",
    "help": "list the commands",
    "quit": "save and leave",
}

ALIASES = {"r": "retry", "u": "undo", "q": "quit", "exit": "quit", "h": "help", "?": "help"}


@dataclass(frozen=True)
class Command:
    name: str
    arg: str


class UnknownCommand(ValueError):
    pass


def parse_command(line: str) -> Command | None:
    """A `/command [arg]` line, or None when the line is not a command."""
    text = line.strip()
    if not text.startswith("/") or text.startswith("//"):
        return None
    word, _, arg = text[1:].partition(" ")
    name = ALIASES.get(word.lower(), word.lower())
    if name not in COMMANDS:
        raise UnknownCommand(f"unknown command /{word}; try /help")
    return Command(name, arg.strip())


def help_lines() -> list[str]:
    return [f"/{name:<9} {text}" for name, text in COMMANDS.items()]
