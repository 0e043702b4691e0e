"""SillyTavern chat files (`.jsonl`): export a chat campaign, import one as a chat campaign.

Line 1 is the chat header `{user_name, character_name, create_date, chat_metadata}`; each
further line is one message `{name, is_user, is_system, send_date, mes, extra, swipes,
swipe_id, swipe_info}`. Swipes travel both ways: a reply's swipes are its turn's alternatives,
the greeting's swipes are the card's greetings. SillyTavern stores messages with `{{user}}` and
`{{char}}` already replaced, so export writes them replaced too.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tui.core.text import clean, count, one_line
from tui.engine.campaign import OPENING, Campaign, Settings, Turn
from tui.engine.cards import Card, CardError, load_card
from tui.engine.character_library import list_characters
from tui.engine.chat import campaign_from_card
from tui.engine.chat_prompt import (
    CHAT,
    DEFAULT_PERSONA_NAME,
    card_of,
    char_name,
    display_text,
    persona_of,
)
from tui.engine.formats.bounds import MAX_FILE_DEPTH, bounded, too_deep
from tui.engine.formats.coerce import toml_safe

MAX_CHAT_BYTES = 64 * 1024 * 1024


class StChatError(ValueError):
    """A chat file that cannot be read; one line naming the file (and line) and the problem."""


@dataclass
class StMessage:
    name: str
    is_user: bool
    mes: str
    is_system: bool = False
    swipes: list[str] = field(default_factory=list)
    swipe_id: int = 0
    send_date: str = ""


@dataclass
class StChat:
    user_name: str
    character_name: str
    create_date: str = ""
    metadata: dict[str, Any] = field(default_factory=dict)
    messages: list[StMessage] = field(default_factory=list)


# --- reading ------------------------------------------------------------------------------


def _header(obj: Any) -> bool:
    return isinstance(obj, dict) and ("character_name" in obj or "chat_metadata" in obj
                                      or "user_name" in obj) and "mes" not in obj


def looks_like_st_chat(first_line: str) -> bool:
    """Whether a file's first line is a SillyTavern chat header."""
    try:
        return _header(json.loads(first_line))
    except (RecursionError, ValueError):
        return False


def _message(obj: Any, where: str) -> StMessage:
    if not isinstance(obj, dict):
        raise StChatError(f"{where}: a message must be a JSON object")
    mes = obj.get("mes")
    if not isinstance(mes, str):
        raise StChatError(f"{where}: message has no text ('mes')")
    raw_swipes = obj.get("swipes")
    swipes = [clean(s) for s in raw_swipes if isinstance(s, str)] \
        if isinstance(raw_swipes, list) else []
    swipe_id = obj.get("swipe_id", 0)
    if isinstance(swipe_id, bool) or not isinstance(swipe_id, int):
        swipe_id = 0
    return StMessage(
        name=str(obj.get("name") or ""),
        is_user=obj.get("is_user") is True,
        is_system=obj.get("is_system") is True,
        mes=clean(mes),
        swipes=swipes,
        swipe_id=swipe_id,
        send_date=one_line(str(obj.get("send_date") or ""), 80),
    )


def parse_st_chat(text: str, label: str) -> StChat:
    """A chat from the text of a `.jsonl` file; `label` names the file in errors."""
    lines = text.splitlines()
    numbered = [(n, line) for n, line in enumerate(lines, 1) if line.strip()]
    if not numbered:
        raise StChatError(f"{label}: empty file, not a SillyTavern chat")
    parsed: list[tuple[int, Any]] = []
    for n, line in numbered:
        try:
            parsed.append((n, json.loads(line)))
        except json.JSONDecodeError as exc:
            raise StChatError(f"{label}: line {n}: not valid JSON ({exc.msg})") from exc
        except RecursionError as exc:
            raise StChatError(f"{label}: line {n}: JSON nested too deeply") from exc
        except ValueError as exc:  # e.g. an integer longer than Python will convert
            raise StChatError(f"{label}: line {n}: not valid JSON ({one_line(str(exc), 100)})"
                              ) from exc
        if too_deep(parsed[-1][1]):
            raise StChatError(f"{label}: line {n}: JSON nested more than {MAX_FILE_DEPTH} "
                              "levels deep")
    first_n, head = parsed[0]
    if not _header(head):
        raise StChatError(f"{label}: line {first_n}: not a SillyTavern chat header "
                          "(no character_name)")
    metadata = head.get("chat_metadata")
    chat = StChat(
        user_name=str(head.get("user_name") or DEFAULT_PERSONA_NAME),
        character_name=str(head.get("character_name") or ""),
        create_date=str(head.get("create_date") or ""),
        metadata=metadata if isinstance(metadata, dict) else {},
    )
    for n, obj in parsed[1:]:
        chat.messages.append(_message(obj, f"{label}: line {n}"))
    _names_from_messages(chat, label)
    return chat


# What current SillyTavern writes in the header instead of the names.
_PLACEHOLDER_NAMES = frozenset({"", "unused"})


def _names_from_messages(chat: StChat, label: str) -> None:
    """The names the messages carry win over the header's (which may say "unused")."""
    users = [m.name for m in chat.messages if m.is_user and m.name.strip()]
    chars = [m.name for m in chat.messages
             if not m.is_user and not m.is_system and m.name.strip()]
    if users:
        chat.user_name = Counter(users).most_common(1)[0][0]
    elif chat.user_name.strip().lower() in _PLACEHOLDER_NAMES:
        chat.user_name = DEFAULT_PERSONA_NAME
    if chars:
        chat.character_name = Counter(chars).most_common(1)[0][0]
    elif chat.character_name.strip().lower() in _PLACEHOLDER_NAMES:
        chat.character_name = Path(label).stem


def read_st_chat(path: str | os.PathLike[str]) -> StChat:
    path = Path(path)
    try:
        size = path.stat().st_size
        if size > MAX_CHAT_BYTES:
            raise StChatError(f"{path.name}: too large for a chat ({size} bytes)")
        text = path.read_bytes().decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise StChatError(f"{path.name}: not UTF-8 text (byte {exc.start})") from exc
    except OSError as exc:
        raise StChatError(f"{path.name}: cannot read ({exc.strerror or exc})") from exc
    return parse_st_chat(text, path.name)


def _alternatives(msg: StMessage) -> tuple[list[str], int]:
    """A message's swipes and the chosen one; `mes` is what was shown, so it wins."""
    swipes = list(msg.swipes) or [msg.mes]
    chosen = msg.swipe_id if 0 <= msg.swipe_id < len(swipes) else len(swipes) - 1
    swipes[chosen] = msg.mes
    return swipes, chosen


def campaign_from_st_chat(chat: StChat, card: Card | None = None,
                          settings: Settings | None = None) -> Campaign:
    """A chat campaign holding the file's messages (system messages are left out).

    Without the character's card a minimal one named by the chat stands in.
    """
    card = card or Card(name=chat.character_name or "Character")
    campaign = campaign_from_card(card, chat.user_name, settings=settings)
    campaign.turns = []
    if chat.metadata:
        campaign.extra["st_chat_metadata"] = toml_safe(bounded(chat.metadata))
    dates = {_text_key(m.mes): m.send_date for m in chat.messages if m.send_date}
    if dates:
        campaign.extra[SEND_DATES] = dates
    for i, msg in enumerate(m for m in chat.messages if not m.is_system):
        last = campaign.turns[-1] if campaign.turns else None
        if msg.is_user:
            campaign.turns.append(Turn(mode=CHAT, action=msg.mes))
            continue
        swipes, chosen = _alternatives(msg)
        if i == 0:
            campaign.turns.append(Turn(mode=OPENING, responses=swipes, chosen=chosen))
        elif last is not None and last.mode == CHAT and not last.responses:
            last.responses, last.chosen = swipes, chosen
        else:
            campaign.turns.append(Turn(mode=CHAT, responses=swipes, chosen=chosen))
    return campaign


# The imported messages' own dates, by message text (so edits and deletions elsewhere in
# the chat do not shift them); export writes them back.
SEND_DATES = "st_send_dates"


def _text_key(text: str) -> str:
    return hashlib.sha1(text.encode("utf-8", "surrogatepass")).hexdigest()[:16]


def _library_card(name: str) -> Card | None:
    """The player's or a bundled card with exactly this name, if any."""
    wanted = name.strip().casefold()
    for entry in list_characters():
        if entry.error is None and entry.name.strip().casefold() == wanted:
            try:
                return load_card(entry.path)
            except CardError:
                continue
    return None


def import_st_chat(path: str | os.PathLike[str], settings: Settings | None = None) -> Campaign:
    """Read a SillyTavern chat file, with its character's card from the library if there."""
    chat = read_st_chat(path)
    return campaign_from_st_chat(chat, _library_card(chat.character_name), settings)


# --- writing ------------------------------------------------------------------------------


def _send_date(stamp: float) -> str:
    """SillyTavern's human-readable message date, e.g. 'May 11, 2024 5:38pm'."""
    t = time.localtime(stamp)
    hour = t.tm_hour % 12 or 12
    return f"{time.strftime('%B', t)} {t.tm_mday}, {t.tm_year} {hour}:{t.tm_min:02d}" \
        f"{'am' if t.tm_hour < 12 else 'pm'}"


def st_chat_records(campaign: Campaign) -> list[dict[str, Any]]:
    """The chat as SillyTavern's records: the header, then one dict per message."""
    char = char_name(card_of(campaign))
    user = persona_of(campaign).name
    now = _send_date(campaign.updated)
    stored = campaign.extra.get(SEND_DATES)
    dates: dict[str, Any] = stored if isinstance(stored, dict) else {}

    def date_of(text: str) -> str:
        found = dates.get(_text_key(text)) if dates else None
        return found if isinstance(found, str) and found else now

    records: list[dict[str, Any]] = [{
        "user_name": user,
        "character_name": char,
        "create_date": time.strftime("%Y-%m-%d@%Hh%Mm%Ss", time.localtime(campaign.created)),
        "chat_metadata": dict(campaign.extra.get("st_chat_metadata") or {}),
    }]

    def reply(turn: Turn) -> dict[str, Any]:
        swipes = [display_text(campaign, r) for r in turn.responses]
        date = date_of(turn.response)
        return {
            "name": char, "is_user": False, "is_system": False, "send_date": date,
            "mes": swipes[turn.chosen], "extra": {},
            "swipes": swipes, "swipe_id": turn.chosen,
            "swipe_info": [{"send_date": date, "extra": {}} for _ in swipes],
        }

    for turn in campaign.turns:
        if turn.action and turn.mode != OPENING:
            records.append({
                "name": user, "is_user": True, "is_system": False,
                "send_date": date_of(turn.action),
                "mes": display_text(campaign, turn.action), "extra": {},
            })
        if turn.responses:
            records.append(reply(turn))
    return records


def dumps_st_chat(campaign: Campaign) -> str:
    return "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in st_chat_records(campaign))


def write_st_chat(campaign: Campaign, path: str | os.PathLike[str]) -> Path:
    """Write the chat as a `.jsonl` file, atomically."""
    path = Path(path)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(dumps_st_chat(campaign))
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def describe(chat: StChat) -> str:
    """One line for the importer's report."""
    return one_line(f"chat with {chat.character_name} ({count(len(chat.messages), 'message')})", 80)
