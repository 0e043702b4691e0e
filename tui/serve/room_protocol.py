"""Shared adventures ("rooms") of `grue serve`: names, the wire's events, and the rules of
who a player is called and how their action reads in the room's story.

The wire is the shared model's (`backends/shared_protocol.py`: a 4-byte length, then a JSON
object) on a second socket, `$GRUE_HOME/serve/rooms.sock`. The messages are listed in
docs/architecture.md, "grue serve".
"""

from __future__ import annotations

import re

from tui.core.text import one_line

ROOMS_ENV = "GRUE_ROOMS"  # a serve session's room service: its socket
NAME_ENV = "GRUE_PLAYER_NAME"  # the name a serve session's player is shown by
MAX_ROOM_NAME = 24
MAX_PLAYER_NAME = 20
_ROOM_NAME = re.compile(r"^[a-z0-9][a-z0-9_-]*$")
_NAME_CHARS = re.compile(r"[^\w .'-]")


def room_name(raw: str) -> str | None:
    """A room's name as typed, lowercased; None when it is not a name (a folder is made of
    it: letters, digits, - and _, at most 24)."""
    name = raw.strip().lower()
    if not name or len(name) > MAX_ROOM_NAME or not _ROOM_NAME.match(name):
        return None
    return name


def player_name(raw: str, fallback: str) -> str:
    """A display name: one clean line of letters, digits, spaces and . ' - (at most 20),
    capitalised; `fallback` when nothing is left."""
    name = " ".join(_NAME_CHARS.sub("", one_line(raw, 200)).split())[:MAX_PLAYER_NAME].strip()
    return (name[:1].upper() + name[1:]) if name else fallback


# --- who did what ---------------------------------------------------------------------------

_IRREGULAR = {"are": "is", "have": "has", "do": "does", "go": "goes", "were": "was"}
_MODALS = {"can", "could", "will", "would", "may", "might", "must", "shall", "should"}
_QUOTED = re.compile(r'("[^"]*")')
_PRONOUNS = {"your": "their", "yours": "theirs", "yourself": "themselves", "you": "them"}
_PRONOUN = re.compile(r"\b(your|yours|yourself|you)\b", re.IGNORECASE)


def third_person_verb(verb: str) -> str:
    """open → opens, carry → carries, push → pushes, go → goes, can → can."""
    low = verb.lower()
    if low in _IRREGULAR:
        return _IRREGULAR[low]
    if low in _MODALS or not low.isalpha():
        return verb
    if low.endswith(("s", "sh", "ch", "x", "z", "o")):
        return verb + "es"
    if len(low) > 1 and low.endswith("y") and low[-2] not in "aeiou":
        return verb[:-1] + "ies"
    return verb + "s"


def _pronouns(text: str) -> str:
    def swap(match: re.Match[str]) -> str:
        return _PRONOUNS[match.group(0).lower()]

    return "".join(part if part.startswith('"') else _PRONOUN.sub(swap, part)
                   for part in _QUOTED.split(text))


def by_player(action: str, name: str) -> str:
    """An action line as the room's story tells it: "> You open the door." becomes
    "> Ana opens the door.", '> You say "Hi."' becomes '> Ana says "Hi."'. The model reads
    a story told about named people, and every player sees who acted. Lines that are not
    "> You ..." (story text a player wrote) are kept as they are."""
    match = re.match(r"^> You (\S+)(.*)$", action, re.DOTALL)
    if match is None:
        return action
    verb, rest = match.groups()
    return f"> {name} {third_person_verb(verb)}{_pronouns(rest)}"

