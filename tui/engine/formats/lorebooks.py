"""Lorebooks of other programs: detect the format, import into `Lorebook`, export.

Readers: SillyTavern world files, card `character_book` (V2/V3, also inside a card JSON file),
standalone `lorebook_v3`, NovelAI `.lorebook` and `.story`, KoboldAI world info (alone or in a
story file), AI Dungeon world info (alone or in a scenario export). Writers: SillyTavern world
JSON, card `character_book`, `lorebook_v3`.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

from tui.core.files import write_atomic
from tui.engine.formats.bounds import bounded, too_deep
from tui.engine.formats.jsonfile import read_json_file
from tui.engine.formats.lore_aidungeon import book_from_aidungeon
from tui.engine.formats.lore_card import book_from_card, book_to_card
from tui.engine.formats.lore_koboldai import book_from_koboldai, entries_of_story
from tui.engine.formats.lore_novelai import book_from_novelai, lorebook_of_story
from tui.engine.formats.lore_sillytavern import book_from_st, book_to_st
from tui.engine.lore import Lorebook

MAX_FILE_BYTES = 50 * 1024 * 1024
MAX_ENTRIES = 100_000
MAX_CONTENT_CHARS = 1_000_000  # per entry

FORMATS = (
    "sillytavern",
    "character_book",
    "lorebook_v3",
    "card",
    "novelai",
    "novelai_story",
    "koboldai",
    "koboldai_story",
    "aidungeon",
    "aidungeon_scenario",
)
EXPORT_FORMATS = ("sillytavern", "character_book", "lorebook_v3")


class LoreFormatError(ValueError):
    """A lorebook file that cannot be read; the message is one line naming file and problem."""


def _first(items: Any) -> dict[str, Any] | None:
    values = items.values() if isinstance(items, dict) else items
    for value in values:
        if isinstance(value, dict):
            return value
    return None


def detect_lorebook(data: Any) -> str | None:
    """The name of the lorebook format of parsed JSON `data` (see FORMATS), or None."""
    if isinstance(data, list):
        return _detect_list(data)
    if not isinstance(data, dict):
        return None
    spec = data.get("spec")
    if spec in _SPECS and isinstance(data.get("data"), dict):
        return _detect_spec(spec, data["data"])
    for fmt, holds_a_book in _CONTAINERS:
        if holds_a_book(data):
            return fmt
    return _detect_entries(data)


def _detect_list(data: list[Any]) -> str | None:
    """A bare list of entries: AI Dungeon or KoboldAI world info."""
    first = _first(data)
    if first is None:
        return None
    if "entry" in first and "keys" in first:
        return "aidungeon"
    if "key" in first and "content" in first:
        return "koboldai"
    return None


_SPECS = ("lorebook_v3", "chara_card_v2", "chara_card_v3")


def _detect_spec(spec: str, inner: dict[str, Any]) -> str | None:
    """A file that names its spec: a standalone lorebook, or a card (a lorebook only if it
    has a character book)."""
    if spec == "lorebook_v3":
        return "lorebook_v3"
    return "card" if isinstance(inner.get("character_book"), dict) else None


def _is_aidungeon_scenario(data: dict[str, Any]) -> bool:
    return "worldInfo" in data and ("prompt" in data or "title" in data)


# Story and scenario files that carry a lorebook, tried in this order.
_CONTAINERS: tuple[tuple[str, Callable[[dict[str, Any]], bool]], ...] = (
    ("novelai_story", lambda data: lorebook_of_story(data) is not None),
    ("koboldai_story", lambda data: entries_of_story(data) is not None),
    ("aidungeon_scenario", _is_aidungeon_scenario),
)


def _detect_entries(data: dict[str, Any]) -> str | None:
    """A book with an "entries" table: told apart by the table's shape and its first entry."""
    entries = data.get("entries")
    if isinstance(entries, dict):
        return "sillytavern"
    if not isinstance(entries, list):
        return None
    first = _first(entries)
    if "lorebookVersion" in data or (first is not None and "text" in first):
        return "novelai"
    if first is None:
        return "character_book" if "name" in data else "novelai"
    if "keys" in first or "insertion_order" in first:
        return "character_book"
    if "key" in first:
        return "sillytavern"
    return None


def parse_lorebook(data: Any, name: str = "") -> Lorebook:
    """A `Lorebook` from parsed JSON; raises LoreFormatError (without a file name) if unknown."""
    fmt = detect_lorebook(data)
    if fmt is None:
        raise LoreFormatError("not a lorebook in any known format")
    if fmt in ("sillytavern", "character_book", "novelai"):
        _check_shape(data.get("entries"))
    elif fmt in ("koboldai", "aidungeon"):
        _check_shape(data)
    if fmt == "sillytavern":
        book = book_from_st(data, name)
    elif fmt == "character_book":
        book = book_from_card(data, name)
    elif fmt == "lorebook_v3":
        book = book_from_card(data["data"], name)
    elif fmt == "card":
        card = data["data"]
        book = book_from_card(card["character_book"], str(card.get("name") or name))
    elif fmt == "novelai":
        book = book_from_novelai(data, name)
    elif fmt == "novelai_story":
        book = book_from_novelai(lorebook_of_story(data) or {}, _story_title(data) or name)
    elif fmt == "koboldai":
        book = book_from_koboldai(data, name)
    elif fmt == "koboldai_story":
        book = book_from_koboldai(entries_of_story(data) or [], name)
    elif fmt == "aidungeon":
        book = book_from_aidungeon(data, name)
    else:  # aidungeon_scenario
        book = book_from_aidungeon(_scenario_world_info(data), str(data.get("title") or name))
    _check_sizes(book)
    return book


def load_lorebook(path: str | Path) -> Lorebook:
    """Read a lorebook file of any known format. Raises LoreFormatError naming the file."""
    return read_lorebook(path)[0]


def read_lorebook(path: str | Path) -> tuple[Lorebook, str]:
    """Like `load_lorebook`, also naming the format that was detected."""
    path = Path(path)
    label = path.name
    data = read_json_file(path, MAX_FILE_BYTES, LoreFormatError, "a lorebook")
    try:
        return parse_lorebook(data, path.stem), str(detect_lorebook(data))
    except LoreFormatError as exc:
        raise LoreFormatError(f"{label}: {exc}") from exc


def from_character_book(data: dict[str, Any], name: str = "") -> Lorebook:
    """A card's raw `character_book` dict as a `Lorebook` (for the card importer)."""
    if not isinstance(data, dict):
        raise LoreFormatError("character_book is not an object")
    _check_shape(data.get("entries"))
    book = book_from_card(data, name)
    _check_sizes(book)
    return book


def to_sillytavern(book: Lorebook) -> dict[str, Any]:
    """A SillyTavern world file (`{"entries": {...}}`)."""
    return book_to_st(book)


def to_character_book(book: Lorebook) -> dict[str, Any]:
    """A card's `character_book` dict."""
    return book_to_card(book)


def to_lorebook_v3(book: Lorebook) -> dict[str, Any]:
    return {"spec": "lorebook_v3", "data": book_to_card(book)}


def export_lorebook(book: Lorebook, fmt: str = "sillytavern") -> dict[str, Any]:
    if fmt == "sillytavern":
        return to_sillytavern(book)
    if fmt == "character_book":
        return to_character_book(book)
    if fmt == "lorebook_v3":
        return to_lorebook_v3(book)
    raise ValueError(f"unknown lorebook export format {fmt!r} (use one of {EXPORT_FORMATS})")


def save_lorebook(book: Lorebook, path: str | Path, fmt: str = "sillytavern") -> None:
    """Write `book` as JSON, atomically (temp file in the same folder, then replace)."""
    path = Path(path)
    text = json.dumps(export_lorebook(book, fmt), ensure_ascii=False, indent=2)
    write_atomic(path, text.encode("utf-8"))


def _check_shape(entries: Any) -> None:
    if entries is not None and not isinstance(entries, dict | list):
        raise LoreFormatError(f"entries is a {type(entries).__name__}, not a list or table")
    items = entries.items() if isinstance(entries, dict) else enumerate(entries or [])
    for key, value in items:
        if not isinstance(value, dict):
            raise LoreFormatError(f"entry {key} is a {type(value).__name__}, not an object")


def _check_sizes(book: Lorebook) -> None:
    """Refuse a book too large to use; trim the unknown fields kept for round trips to a
    small shape (`formats/bounds.py`), so they cannot break a later save."""
    book.extensions = bounded(book.extensions)
    for entry in book.entries:
        entry.extensions = bounded(entry.extensions)
    if len(book.entries) > MAX_ENTRIES:
        raise LoreFormatError(f"too many entries ({len(book.entries)}; the limit is {MAX_ENTRIES})")
    for entry in book.entries:
        if len(entry.content) > MAX_CONTENT_CHARS:
            raise LoreFormatError(
                f'entry "{entry.label[:40]}" is too long ({len(entry.content)} characters)'
            )


def _story_title(data: dict[str, Any]) -> str:
    meta = data.get("metadata")
    return str(meta.get("title") or "") if isinstance(meta, dict) else ""


def _scenario_world_info(data: dict[str, Any]) -> list[Any]:
    info = data.get("worldInfo")
    if isinstance(info, str):
        try:
            info = json.loads(info)
        except (ValueError, RecursionError) as exc:  # JSONDecodeError, or a 5000-digit number
            raise LoreFormatError("worldInfo is not valid JSON") from exc
        if too_deep(info):
            raise LoreFormatError("worldInfo is nested too deeply")
    if info is None:
        return []
    if not isinstance(info, list):
        raise LoreFormatError("worldInfo is not a list")
    return info
