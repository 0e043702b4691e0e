"""`/room`: shared adventures of `grue serve` (docs/architecture.md, "grue serve").

The engine only checks the words; the front-end talks to the room service (the TUI) or says
rooms are not played there (line mode).
"""

from __future__ import annotations

import re

from tui.engine.commands.context import CommandContext
from tui.engine.commands.effects import Effect, Notice, RoomRequest

VERBS = {"open": "[NAME]", "join": "NAME", "leave": "", "who": "", "kick": "PLAYER", "undo": ""}
USAGE = "/room open [NAME] | join NAME | leave | who | kick PLAYER | undo"


def room(ctx: CommandContext, arg: str) -> list[Effect]:
    verb, _, rest = arg.strip().partition(" ")
    verb, rest = verb.lower(), rest.strip()
    if verb not in VERBS:
        return [Notice(f"usage: {USAGE}", "warning")]
    needs = VERBS[verb]
    if needs and not needs.startswith("[") and not rest:
        return [Notice(f"usage: /room {verb} {needs}", "warning")]
    if verb == "open" and not rest:
        rest = slug(ctx.game.campaign.title)
    return [RoomRequest(verb, rest)]


def slug(title: str) -> str:
    """A room name from an adventure's title: "The Lantern Road" → "the-lantern-road"."""
    words = re.sub(r"[^a-z0-9]+", "-", title.lower()).strip("-")
    return words[:24].rstrip("-") or "room"
