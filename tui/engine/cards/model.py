"""The Card: the fields of character card V2/V3, plus where it came from.

Every text field is untrusted as read from the file: nothing is cleaned here. The UI cleans
on display, and a name becomes a path only through `safe_filename`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

SPEC_V1 = "chara_card_v1"  # no spec field: a flat V1 card (the name is ours, not the spec's)
SPEC_V2 = "chara_card_v2"
SPEC_V3 = "chara_card_v3"


@dataclass
class Card:
    """A character card. `==` compares the card's content, not its origin (`spec`, `raw`)."""

    name: str = ""
    description: str = ""
    personality: str = ""
    scenario: str = ""
    first_mes: str = ""
    mes_example: str = ""
    creator_notes: str = ""
    system_prompt: str = ""
    post_history_instructions: str = ""
    alternate_greetings: list[str] = field(default_factory=list)
    character_book: dict[str, Any] | None = None  # raw lorebook; the lore engine converts it
    tags: list[str] = field(default_factory=list)
    creator: str = ""
    character_version: str = ""
    extensions: dict[str, Any] = field(default_factory=dict)
    # V3 additions
    nickname: str = ""
    creator_notes_multilingual: dict[str, str] = field(default_factory=dict)
    source: list[str] = field(default_factory=list)
    group_only_greetings: list[str] = field(default_factory=list)
    creation_date: int | None = None  # unix seconds
    modification_date: int | None = None
    assets: list[dict[str, Any]] = field(default_factory=list)
    # Origin: not part of the card's content.
    spec: str = field(default=SPEC_V3, compare=False)
    raw: dict[str, Any] = field(default_factory=dict, compare=False, repr=False)
    image_png: bytes | None = field(default=None, compare=False, repr=False)

    @property
    def display_name(self) -> str:
        """What `{{char}}` becomes: the V3 nickname when set, else the name."""
        return self.nickname or self.name

    @property
    def greetings(self) -> list[str]:
        """The first message followed by the alternates (offered as swipes)."""
        return [g for g in [self.first_mes, *self.alternate_greetings] if g]
