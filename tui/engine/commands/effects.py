"""What running a command asks the front-end to do.

A command never prints or draws: it changes the game through the engine and returns a list
of these effects, which each front-end (the two screens, the two line modes) renders its own
way. See docs/architecture.md, "How to add a command".
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from tui.engine.game import TurnRequest

Severity = Literal["information", "warning", "error"]


@dataclass(frozen=True)
class Notice:
    """A one-line message: a notification in the TUI, a line on stderr in line mode."""

    text: str
    severity: Severity = "information"


@dataclass(frozen=True)
class Done:
    """A short confirmation ("memory saved"): the TUI's status line, a notice in line mode."""

    text: str


@dataclass(frozen=True)
class Print:
    """Text for the player to read: printed in line mode, a notice in the TUI."""

    lines: tuple[str, ...]


@dataclass(frozen=True)
class StoryChanged:
    """The story changed outside a generation: the TUI redraws it; line mode, which cannot
    redraw, prints `echo` (the part that changed, if worth showing)."""

    echo: tuple[str, ...] = ()


@dataclass(frozen=True)
class Generate:
    """Start this generation request (the front-end checks that the model is loaded)."""

    request: TurnRequest


@dataclass(frozen=True)
class EditText:
    """Show a text for editing: the TUI opens an editor and hands the result to
    `save_edit(target, text)`; line mode prints `lines` instead."""

    target: str  # a key of `EDIT_TARGETS`
    title: str
    text: str
    hint: str
    lines: tuple[str, ...]


@dataclass(frozen=True)
class OpenScreen:
    """Open a screen of the TUI (`help`, `world_info`, `context`, `models`, `settings`);
    line mode prints `lines`, or says the screen is not available there."""

    name: str
    lines: tuple[str, ...] = ()


@dataclass(frozen=True)
class SendMessage:
    """Send `text` as the player's message (empty: what /impersonate wrote, if anything)."""

    text: str


@dataclass(frozen=True)
class StillWriting:
    """Refused: the command needs the model idle and it is writing. Nothing changed. Front-ends
    say `STILL_WRITING` (the TUI names the player's stop key)."""


@dataclass(frozen=True)
class RoomRequest:
    """A shared adventure's request (`grue serve` only): open, join, leave, who, kick, undo.
    The TUI hands it to the room service; line mode says rooms are played in the TUI."""

    verb: str
    arg: str = ""


@dataclass(frozen=True)
class Quit:
    """Leave the game (it was saved, unless the model was writing)."""


Effect = (Notice | Done | Print | StoryChanged | Generate | EditText | OpenScreen | SendMessage
          | StillWriting | RoomRequest | Quit)

STILL_WRITING = "The model is still writing (Esc stops it)."
ROOMS_IN_TUI = "rooms (shared adventures) are played in grue serve's TUI"
