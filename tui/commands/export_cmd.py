"""`grue export SAVE --format md|jsonl|toml` and `grue export-card NAME --format png|json`."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any


def register(subparsers: Any) -> None:
    p = subparsers.add_parser("export", help="export a saved game (Markdown, SillyTavern chat)")
    p.add_argument("save", nargs="?", default=None, help="save name (the newest by default)")
    p.add_argument("--format", choices=["md", "jsonl", "toml"], default="md")
    p.add_argument("-o", "--output", default=None, help="file to write (default: stdout)")
    p.set_defaults(func=cmd_export)

    c = subparsers.add_parser("export-card", help="export a character card (PNG or JSON)")
    c.add_argument("character", help="character name or card file")
    c.add_argument("--format", choices=["png", "json"], default="png")
    c.add_argument("-o", "--output", default=None, help="file (default: NAME.png/.json here)")
    c.set_defaults(func=cmd_export_card)


def cmd_export(args: argparse.Namespace) -> int:
    from tui.engine.formats.markdown import campaign_markdown
    from tui.engine.saves import dumps, find_save, load_save

    campaign = load_save(find_save(args.save))
    if args.format == "jsonl":
        if campaign.kind != "chat":
            print(f"grue: {campaign.id}: jsonl is SillyTavern's chat format; this save is an "
                  "adventure (try --format md)", file=sys.stderr)
            return 1
        from tui.engine.formats.st_chat import dumps_st_chat

        text = dumps_st_chat(campaign)
    elif args.format == "toml":
        text = dumps(campaign)
    else:
        text = campaign_markdown(campaign)
    if args.output:
        Path(args.output).write_text(text, encoding="utf-8")
        print(f"wrote {args.output}", file=sys.stderr)
    else:
        sys.stdout.write(text)
    return 0


def cmd_export_card(args: argparse.Namespace) -> int:
    from tui.core.text import one_line
    from tui.engine.cards import safe_filename, write_card_json, write_card_png
    from tui.engine.character_library import characters_named, load_character

    same_name = [] if Path(args.character).expanduser().is_file() \
        else characters_named(args.character)
    if len(same_name) > 1:  # never pick one of two cards silently
        print(f"grue: {len(same_name)} cards are named {one_line(args.character, 60)}; "
              "name the file to export:", file=sys.stderr)
        for entry in same_name:
            where = "bundled" if entry.bundled else "yours"
            print(f"  grue export-card {_quoted(str(entry.path))}   ({where})", file=sys.stderr)
        return 2
    card = load_character(args.character)
    out = Path(args.output or f"{safe_filename(card.name)}.{args.format}")
    if args.format == "png":
        write_card_png(card, out)
    else:
        write_card_json(card, out)
    print(f"wrote {out}", file=sys.stderr)
    return 0


def _quoted(path: str) -> str:
    import shlex

    from tui.core.text import one_line

    return shlex.quote(one_line(path, 300))
