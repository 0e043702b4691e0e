"""The chat layer: a character chat campaign and a pending message, as a prompt specification.

A chat campaign keeps its card (V3 JSON) in `campaign.extra["card"]` and the player's persona
in `campaign.extra["persona"]`; everything here reads them from there, so a save resumes the
exact same prompt.
"""

from __future__ import annotations

import re
from collections.abc import Hashable
from dataclasses import dataclass
from typing import Any

from tui.core.text import clean
from tui.engine.adventure import TurnMessageCache
from tui.engine.campaign import OPENING, Campaign
from tui.engine.cards import Card, CardError, card_from_dict
from tui.engine.context import (
    NARRATOR,
    NOTE,
    PLAYER,
    HeaderPart,
    Message,
    PromptSpec,
    apply_macros,
)
from tui.engine.world.prompt import WORLD_KIND

CHAT = "chat"  # Turn.mode of a player's chat message

DEFAULT_SYSTEM_PROMPT = (
    "Write {{char}}'s next reply in a fictional roleplay chat between {{char}} and {{user}}. "
    "Stay in character, write only {{char}}'s reply (never {{user}}'s words or actions), and "
    "keep the story moving with vivid, concrete detail."
)
DEFAULT_POST_HISTORY = ""  # what `{{original}}` stands for in post-history instructions
IMPERSONATE_PROMPT = "Write {{user}}'s next message in this chat, in {{user}}'s voice, briefly."

_ORIGINAL = re.compile(r"\{\{original\}\}", re.IGNORECASE)
_START = re.compile(r"<START>", re.IGNORECASE)


# `{{user}}` before the player names themselves (`/persona NAME`). Not "You": a card's
# greeting says "Are you coming up, {{user}}, or..." and the prompt labels the player's
# lines with it; a stranger is what the player is to a character they have just met.
DEFAULT_PERSONA_NAME = "Stranger"


@dataclass(frozen=True)
class Persona:
    """Who the player is in a chat: `{{user}}` and an optional description."""

    name: str = DEFAULT_PERSONA_NAME
    description: str = ""

    def to_dict(self) -> dict[str, str]:
        return {"name": self.name, "description": self.description}

    @classmethod
    def from_dict(cls, data: Any) -> Persona:
        if not isinstance(data, dict):
            return cls()
        name = str(data.get("name") or "").strip() or DEFAULT_PERSONA_NAME
        return cls(name, str(data.get("description") or ""))


def card_of(campaign: Campaign) -> Card:
    """The chat's card, from the save. A damaged or missing card is a bare one named by title."""
    raw = campaign.extra.get("card")
    if isinstance(raw, dict):
        try:
            return card_from_dict(raw, campaign.title)
        except CardError:
            pass
    return Card(name=campaign.title)


def persona_of(campaign: Campaign) -> Persona:
    return Persona.from_dict(campaign.extra.get("persona"))


def char_name(card: Card) -> str:
    """The name the character goes by: the V3 nickname, else the name."""
    return card.display_name.strip() or "Character"


def chat_macros(char: str, user: str) -> dict[str, str]:
    return {"{{char}}": char, "<BOT>": char, "{{user}}": user, "<USER>": user}


def campaign_macros(campaign: Campaign) -> dict[str, str]:
    return chat_macros(char_name(card_of(campaign)), persona_of(campaign).name)


def display_text(campaign: Campaign, text: str) -> str:
    """A message as the player should see it: macros replaced, control characters gone."""
    if campaign.kind == CHAT:
        text = apply_macros(text, campaign_macros(campaign))
    return clean(text)


def with_original(text: str, original: str) -> str:
    """A card's instruction with `{{original}}` standing for the default one."""
    return _ORIGINAL.sub(lambda _m: original, text)


def split_examples(mes_example: str) -> list[str]:
    """Example dialogues: the blocks of `mes_example` between `<START>` markers."""
    return [block.strip() for block in _START.split(mes_example) if block.strip()]


def card_header(card: Card, persona: Persona) -> list[HeaderPart]:
    """System prompt, the card's text, the persona and the example dialogues (droppable)."""
    system = card.system_prompt.strip()
    system = with_original(system, DEFAULT_SYSTEM_PROMPT) if system else DEFAULT_SYSTEM_PROMPT
    parts = [HeaderPart("system", "system prompt", system, instruct_only=True)]
    if card.description.strip():
        parts.append(HeaderPart("card", "description", card.description))
    if card.personality.strip():
        parts.append(HeaderPart("card", "personality",
                                f"{{{{char}}}}'s personality: {card.personality.strip()}"))
    if card.scenario.strip():
        parts.append(HeaderPart("card", "scenario", f"Scenario: {card.scenario.strip()}"))
    if persona.description.strip():
        parts.append(HeaderPart("persona", "persona", persona.description))
    for i, block in enumerate(split_examples(card.mes_example), 1):
        parts.append(HeaderPart("examples", f"example dialogue {i}",
                                f"Example dialogue:\n{block}", droppable=True))
    return parts


def _chat_messages(
    mode: str, action: str, response: str, world_note: str, number: int, names: Hashable
) -> list[Message]:
    char, user = names  # type: ignore[misc]
    if mode == OPENING:
        return [Message(NARRATOR, response, "greeting", "story", char)] if response else []
    out = []
    if world_note and action:  # the lore its prompt placed (see context_world)
        out.append(Message(NOTE, world_note, f"message {number} world note", WORLD_KIND))
    if action:
        out.append(Message(PLAYER, action, f"message {number}", "action", user))
    if response:
        out.append(Message(NARRATOR, response, f"reply {number}", "story", char))
    return out


# Messages per turn, remade only from the first changed turn (see TurnMessageCache).
_TURNS = TurnMessageCache(_chat_messages)


def history_messages(campaign: Campaign, char: str, user: str) -> list[Message]:
    """The chat so far: the greeting and replies are the character's, the rest the player's."""
    return list(_TURNS.snapshot(campaign.turns, (char, user)).messages)


def chat_spec(
    campaign: Campaign,
    pending_user_text: str | None,
    *,
    continuing: bool = False,
    impersonate: bool = False,
    reply_start: str = "",
) -> PromptSpec:
    """What the next chat prompt holds.

    `pending_user_text` is the player's message being answered (None for a continue, the
    inspector or an impersonation). `continuing` writes more of the last reply;
    `impersonate` has the model write the player's next message instead, going on from
    `reply_start` (what the player typed of it).
    """
    card, persona = card_of(campaign), persona_of(campaign)
    char, user = char_name(card), persona.name
    header = card_header(card, persona)
    if campaign.memory.strip():
        header.append(HeaderPart("memory", "memory", campaign.memory))
    if campaign.summary_enabled and campaign.summary.strip():
        header.append(HeaderPart("summary", "story so far", campaign.summary))
    snap = _TURNS.snapshot(campaign.turns, (char, user))
    history = list(snap.messages)
    player_turns = snap.player_turns  # campaign.player_turn_count, without a Python loop
    min_start = 0
    if campaign.summary_enabled and campaign.summary.strip() and campaign.summary_upto:
        min_start = min(snap.messages_before(campaign.summary_upto), max(0, len(history) - 1))
    pending = None
    if pending_user_text:
        number = player_turns + 1
        pending = Message(PLAYER, pending_user_text, f"message {number}", "action", user)
    trailing = with_original(card.post_history_instructions, DEFAULT_POST_HISTORY)
    if impersonate:
        trailing = IMPERSONATE_PROMPT
    return PromptSpec(
        header=header,
        history=history,
        pending=pending,
        continue_last=continuing and not impersonate,
        # Keyword lore is placed in the chat before the message it fired for, and kept.
        anchor_world=pending is not None and not continuing and not impersonate,
        note=campaign.authors_note,
        # Post-history instructions share the note's block in the builder; with no author's
        # note, depth 0 puts that block after the newest message, where they belong.
        note_depth=campaign.note_depth if campaign.authors_note.strip() else 0,
        lorebooks=campaign.all_lorebooks,
        lore_state=campaign.lore_state,
        turn=player_turns + 1,
        seed=campaign.settings.seed or 0,
        macros=chat_macros(char, user),
        min_start=min_start,
        trailing_instruction=trailing,
        reply_role=PLAYER if impersonate else NARRATOR,
        reply_speaker=user if impersonate else char,
        reply_start=reply_start if impersonate else "",
        extra_stops=[f"\n{char}:"] if impersonate else [f"\n{user}:"],
    )
