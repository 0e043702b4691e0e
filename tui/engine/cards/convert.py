"""Card <-> card JSON (V1, V2, V3), forgiving on input like SillyTavern, exact on output.

Round trips: the original JSON is kept in `Card.raw`; export copies it and overlays the card's
fields, so unknown keys (top level and under `data`) and `extensions` survive untouched.
"""

from __future__ import annotations

import copy
import json
from pathlib import PurePath
from typing import Any

from .errors import CardError
from .model import SPEC_V1, SPEC_V2, SPEC_V3, Card

V1_FIELDS = ("name", "description", "personality", "scenario", "first_mes", "mes_example")
V2_TEXT_FIELDS = (
    *V1_FIELDS,
    "creator_notes",
    "system_prompt",
    "post_history_instructions",
    "creator",
    "character_version",
)
V3_ONLY_FIELDS = (
    "nickname",
    "creator_notes_multilingual",
    "source",
    "group_only_greetings",
    "creation_date",
    "modification_date",
    "assets",
)
# Legacy top-level names some V1 writers used, mapped to the V2 field.
V1_ALIASES = {"creator_notes": "creatorcomment"}


def _text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return str(value)
    if isinstance(value, list):
        return "\n".join(_text(v) for v in value if v is not None)
    return json.dumps(value, ensure_ascii=False)


def _text_list(value: Any, split_commas: bool = False) -> list[str]:
    """A list of strings from a list, a lone string (one item), or nothing."""
    if value is None:
        return []
    if isinstance(value, str):
        if split_commas:
            return [t.strip() for t in value.split(",") if t.strip()]
        return [value] if value else []
    if isinstance(value, list | tuple):
        return [_text(v) for v in value if v is not None]
    return []


def _dict(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _dict_list(value: Any) -> list[dict[str, Any]]:
    return [v for v in value if isinstance(v, dict)] if isinstance(value, list) else []


def _int_or_none(value: Any) -> int | None:
    """Unix seconds; empty strings and junk become None, as SillyTavern tolerates."""
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, float):
        return int(value) if value == value and abs(value) < 1e18 else None
    if isinstance(value, str):
        try:
            return int(float(value.strip()))
        except (ValueError, OverflowError):
            return None
    return None


def detect_spec(obj: dict[str, Any]) -> str:
    spec = str(obj.get("spec") or "").strip().lower()
    if spec == SPEC_V3:
        return SPEC_V3
    if spec == SPEC_V2 or isinstance(obj.get("data"), dict):
        return SPEC_V2
    return SPEC_V1


def card_from_dict(obj: Any, filename: str) -> Card:
    """Build a Card from parsed card JSON of any version."""
    if not isinstance(obj, dict):
        raise CardError(filename, "card JSON is not an object")
    spec = detect_spec(obj)
    data = obj.get("data") if isinstance(obj.get("data"), dict) else None
    if data is None:
        has_v1_fields = any(k in obj for k in V1_FIELDS)
        if spec != SPEC_V1 and not has_v1_fields:
            raise CardError(filename, f"{spec} card has no 'data' object")
        # A spec without `data` but with flat fields: read it as the V1 card it is.
        spec, data = SPEC_V1, obj
    if spec == SPEC_V1 and not any(k in obj for k in V1_FIELDS):
        raise CardError(filename, "JSON is not a character card (no name or description)")

    def get(key: str) -> Any:
        # V2/V3 fields live under `data`; fall back to V1 fields at the top level.
        value = data.get(key)
        if value is None and data is not obj:
            value = obj.get(key)
        if value is None and key in V1_ALIASES:
            value = obj.get(V1_ALIASES[key])
        return value

    book = get("character_book")
    card = Card(
        **{f: _text(get(f)) for f in V2_TEXT_FIELDS},
        alternate_greetings=_text_list(get("alternate_greetings")),
        character_book=book if isinstance(book, dict) else None,
        tags=_text_list(get("tags"), split_commas=True),
        extensions=_dict(get("extensions")),
        nickname=_text(get("nickname")),
        creator_notes_multilingual={
            str(k): _text(v) for k, v in _dict(get("creator_notes_multilingual")).items()
        },
        source=_text_list(get("source")),
        group_only_greetings=_text_list(get("group_only_greetings")),
        creation_date=_int_or_none(get("creation_date")),
        modification_date=_int_or_none(get("modification_date")),
        assets=_dict_list(get("assets")),
        spec=spec,
        raw=obj,
    )
    if not card.name.strip():
        card.name = PurePath(filename).stem or "Unnamed"
    return card


def _base(card: Card) -> tuple[dict[str, Any], dict[str, Any]]:
    """Deep copies of the original top level (without data) and `data`, for overlaying."""
    raw = card.raw if isinstance(card.raw, dict) else {}
    top = copy.deepcopy({k: v for k, v in raw.items() if k not in ("spec", "spec_version", "data")})
    data = copy.deepcopy(raw["data"]) if isinstance(raw.get("data"), dict) else {}
    # Legacy V1 fields kept beside `data` are updated so they never contradict it.
    for key in V1_FIELDS:
        if key in top:
            top[key] = getattr(card, key)
    return top, data


def _v2_data(card: Card, data: dict[str, Any]) -> dict[str, Any]:
    for key in V2_TEXT_FIELDS:
        data[key] = getattr(card, key)
    data["alternate_greetings"] = list(card.alternate_greetings)
    data["tags"] = list(card.tags)
    data["extensions"] = copy.deepcopy(card.extensions)
    if card.character_book is not None:
        data["character_book"] = copy.deepcopy(card.character_book)
    else:
        data.pop("character_book", None)
    return data


def _v3_value(card: Card, key: str) -> Any:
    return copy.deepcopy(getattr(card, key))


def card_to_v2_dict(card: Card) -> dict[str, Any]:
    """The card as V2 JSON. V3-only fields are kept only where the original had them."""
    top, data = _base(card)
    _v2_data(card, data)
    for key in V3_ONLY_FIELDS:
        if key in data:
            data[key] = _v3_value(card, key)
    return {"spec": SPEC_V2, "spec_version": "2.0", "data": data, **top}


def card_to_v3_dict(card: Card) -> dict[str, Any]:
    """The card as V3 JSON."""
    top, data = _base(card)
    _v2_data(card, data)
    data["group_only_greetings"] = list(card.group_only_greetings)
    for key in V3_ONLY_FIELDS:
        value = _v3_value(card, key)
        if key in data or value not in ("", None, [], {}):
            data[key] = value
    return {"spec": SPEC_V3, "spec_version": "3.0", "data": data, **top}
