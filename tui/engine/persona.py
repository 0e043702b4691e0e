"""The player's persona for chats ({{user}}): a default kept in the home folder, and the
`/persona NAME[: description]` command that changes it for one chat."""

from __future__ import annotations

import tomllib

import tomli_w

from tui.core.paths import grue_home
from tui.core.text import clean
from tui.engine.campaign import Campaign
from tui.engine.chat_prompt import DEFAULT_PERSONA_NAME, Persona, persona_of


def default_persona() -> Persona:
    """The persona new chats start with (`<home>/persona.toml`), or the default one."""
    path = grue_home() / "persona.toml"
    try:
        with path.open("rb") as fh:
            return Persona.from_dict(tomllib.load(fh))
    except (OSError, ValueError, RecursionError):  # TOMLDecodeError is a ValueError
        return Persona()


def save_default_persona(persona: Persona) -> None:
    path = grue_home() / "persona.toml"
    tmp = path.with_suffix(".tmp")
    tmp.write_text(tomli_w.dumps(persona.to_dict()), encoding="utf-8")
    tmp.replace(path)


def parse_persona(arg: str) -> Persona:
    """`NAME` or `NAME: description`."""
    name, _, description = clean(arg).partition(":")
    return Persona(name.strip()[:60] or DEFAULT_PERSONA_NAME, description.strip())


def set_persona(campaign: Campaign, arg: str) -> Persona:
    """Change who the player is in this chat, and make it the default for new chats."""
    persona = parse_persona(arg)
    campaign.extra["persona"] = persona.to_dict()
    save_default_persona(persona)
    return persona


def describe_persona(campaign: Campaign) -> str:
    persona = persona_of(campaign)
    return f"{persona.name}: {persona.description}" if persona.description else persona.name
