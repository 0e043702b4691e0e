"""`grue chat NAME` (start a chat with a character) and `grue characters` (list them).

Handlers return an exit status: 0 ok, 1 a reported error (one line on stderr), 2 bad usage.
"""

from __future__ import annotations

import argparse
import sys
from typing import Any

from tui.core.text import one_line


def register(subparsers: Any) -> None:
    from tui.cli import _add_play_options

    p_chat = subparsers.add_parser("chat", help="chat with a character (card name or file)")
    p_chat.add_argument("character", metavar="NAME", help="character name or card file")
    p_chat.add_argument("--persona", default=None,
                        help="your name in the chat ({{user}}); default: your last persona")
    p_chat.add_argument("--persona-description", default="",
                        help="who you are, told to the model")
    _add_play_options(p_chat)
    p_chat.set_defaults(func=cmd_chat)

    p_chars = subparsers.add_parser("characters", help="list character cards")
    p_chars.set_defaults(func=cmd_characters)


def cmd_chat(args: argparse.Namespace) -> int:
    from tui.cli import start
    from tui.engine.character_library import load_character

    card = load_character(_unique_prefix(args.character))  # a CardError is reported
    return start(card, args)  # persona, --lorebook books and the first save: engine/start.py


def _unique_prefix(name: str) -> str:
    """A name as typed, or the one card whose name or file starts with it ("maren")."""
    from tui.engine.character_library import find_character, list_characters

    if find_character(name) is not None:
        return name
    wanted = name.strip().casefold()
    matches = [e for e in list_characters() if e.error is None and wanted and (
        e.name.casefold().startswith(wanted) or e.path.stem.casefold().startswith(wanted))]
    return str(matches[0].path) if len(matches) == 1 else name


def cmd_characters(args: argparse.Namespace) -> int:
    from tui.engine.character_library import list_characters

    entries = list_characters()
    if not entries:
        print("no characters yet: add cards with 'grue import FILE'")
    for entry in entries:
        if entry.error is not None:
            print(f"{one_line(entry.path.name, 28):<28} (unreadable: {one_line(entry.error, 90)})")
            continue
        tags = one_line(", ".join(entry.tags), 24)
        origin = "bundled" if entry.bundled else "yours"
        print(f"{one_line(entry.name, 28):<28} {origin:<8} {tags:<24} "
              f"{one_line(entry.description, 70)}")
    sys.stdout.flush()
    return 0
