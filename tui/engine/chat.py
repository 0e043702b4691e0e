"""Character chat: starting a chat from a card, and the right Game for a campaign.

The prompt is built in `chat_prompt.py`; swipes, continues and message edits are in
`chat_game.py`. This module is the entry point the CLI and screens use.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from tui.engine.campaign import OPENING, Campaign, Settings, Turn
from tui.engine.cards import Card, card_to_v3_dict
from tui.engine.chat_game import ChatGame, ChatMessage, chat_messages
from tui.engine.chat_prompt import (
    CHAT,
    DEFAULT_PERSONA_NAME,
    Persona,
    card_of,
    char_name,
    chat_spec,
    display_text,
    persona_of,
)
from tui.engine.formats.coerce import toml_safe
from tui.engine.formats.lorebooks import LoreFormatError, from_character_book
from tui.engine.game import Game
from tui.engine.lore import Lorebook

__all__ = [
    "CHAT",
    "ChatGame",
    "ChatMessage",
    "Persona",
    "campaign_from_card",
    "card_lorebook",
    "card_of",
    "chat_messages",
    "chat_spec",
    "display_text",
    "game_for",
    "persona_of",
]


def _saveable(value: Any) -> Any:
    """Card JSON as a save keeps it: no None (TOML has no null), `\n` line ends (a TOML
    multi-line string cannot keep a `\r`), so a resumed chat sees the very same card."""
    value = toml_safe(value)
    if isinstance(value, str):
        return value.replace("\r\n", "\n").replace("\r", "\n")
    if isinstance(value, dict):
        return {k: _saveable(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_saveable(v) for v in value]
    return value


def card_lorebook(card: Card) -> Lorebook | None:
    """The card's embedded `character_book` as a Lorebook (None when it has none or it's junk)."""
    if not isinstance(card.character_book, dict):
        return None
    try:
        book = from_character_book(card.character_book, card.name)
    except LoreFormatError:
        return None
    if not book.name:
        book.name = f"{char_name(card)}'s lorebook"
    return book


def campaign_from_card(
    card: Card,
    persona_name: str = DEFAULT_PERSONA_NAME,
    persona_description: str = "",
    settings: Settings | None = None,
) -> Campaign:
    """A fresh chat: the greeting (alternate greetings as its swipes) is the opening turn."""
    persona = Persona(persona_name.strip() or DEFAULT_PERSONA_NAME, persona_description)
    campaign = Campaign(title=char_name(card), kind=CHAT, settings=settings or Settings())
    campaign.extra["card"] = _saveable(card_to_v3_dict(card))
    campaign.extra["persona"] = persona.to_dict()
    card = card_of(campaign)  # the card as saved, so a resumed chat reads the same text
    greetings = card.greetings
    if greetings:
        campaign.turns.append(Turn(mode=OPENING, responses=list(greetings)))
    book = card_lorebook(card)
    if book is not None:
        campaign.lorebooks.append(book)
    return campaign


def game_for(campaign: Campaign, save_folder: Path | None = None, autosave: bool = True) -> Game:
    """The Game that plays this campaign: a ChatGame for chats, else an adventure Game."""
    if campaign.kind == CHAT:
        return ChatGame(campaign, save_folder, autosave)
    return Game(campaign, save_folder, autosave)
