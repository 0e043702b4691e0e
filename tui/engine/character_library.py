"""The character library: bundled cards beside the player's own, and importing new ones."""

from __future__ import annotations

import os
import sys
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from tui.core.paths import OutsideHome, bundled_dir, grue_home, user_path
from tui.core.text import one_line
from tui.engine.cards import (
    Card,
    CardError,
    card_json_bytes,
    card_png_bytes,
    load_card,
    safe_filename,
)
from tui.engine.cards.charx import ZIP_SIGNATURE
from tui.engine.cards.files import write_atomic

CARD_SUFFIXES = (".png", ".json", ".charx")
DESCRIPTION_CHARS = 100


@dataclass(frozen=True)
class CharacterEntry:
    """One card file in the library. A card that fails to load has `error` set."""

    name: str
    tags: tuple[str, ...]
    description: str  # one line, for lists
    path: Path
    bundled: bool
    error: str | None = None


@dataclass(frozen=True)
class ImportOutcome:
    """What happened to one file given to `import_cards`."""

    source: Path
    card: Card | None = field(default=None, compare=False, repr=False)
    path: Path | None = None  # where the card now lives in the player's folder
    error: str | None = None

    @property
    def ok(self) -> bool:
        return self.error is None


def bundled_characters_dir() -> Path:
    """The repo's `characters/` in a checkout, else `<prefix>/share/grue/characters`."""
    return bundled_dir("characters") or Path(sys.prefix) / "share" / "grue" / "characters"


def user_characters_dir(create: bool = False) -> Path:
    """`<home>/characters`, home being `$GRUE_HOME` or the platform's user data folder."""
    folder = grue_home() / "characters"
    if create:
        folder.mkdir(parents=True, exist_ok=True)
    return folder


def _card_files(folder: Path) -> list[Path]:
    if not folder.is_dir():
        return []
    return sorted(
        p
        for p in folder.iterdir()
        if p.suffix.lower() in CARD_SUFFIXES and not p.name.startswith(".") and p.is_file()
    )


def _entry(path: Path, bundled: bool) -> CharacterEntry:
    try:
        card = load_card(path)
    except CardError as exc:
        return CharacterEntry(path.stem, (), "", path, bundled, error=str(exc))
    except (TypeError, ValueError, KeyError, AttributeError, OverflowError,
            RecursionError) as exc:  # a bad card is listed as broken, never fatal to the list
        problem = one_line(str(exc) or type(exc).__name__, 100)
        return CharacterEntry(path.stem, (), "", path, bundled,
                              error=f"{path.name}: cannot be read ({problem})")
    blurb = card.creator_notes.strip() or card.description
    return CharacterEntry(
        card.name,
        tuple(card.tags),
        one_line(blurb, DESCRIPTION_CHARS),
        path,
        bundled,
    )


def list_characters() -> list[CharacterEntry]:
    """Every card: the player's own first, then the bundled ones, each sorted by name."""
    entries = [_entry(p, False) for p in _card_files(user_characters_dir())]
    entries.sort(key=lambda e: (e.name.casefold(), e.path.name))
    bundled = [_entry(p, True) for p in _card_files(bundled_characters_dir())]
    bundled.sort(key=lambda e: (e.name.casefold(), e.path.name))
    return entries + bundled


def find_character(name_or_path: str | os.PathLike[str]) -> CharacterEntry | None:
    """A card by file path, else by name or file stem (case-insensitive; player's cards win)."""
    try:
        candidate = user_path(name_or_path)
    except OutsideHome:
        return None  # not a file this player may open: looked up by name only
    if candidate.is_file():
        bundled = candidate.resolve().parent == bundled_characters_dir().resolve()
        return _entry(candidate, bundled=bundled)
    wanted = str(name_or_path).strip().casefold()
    entries = list_characters()
    for match in (
        lambda e: e.error is None and e.name.casefold() == wanted,
        lambda e: e.path.stem.casefold() == wanted,
        lambda e: e.path.name.casefold() == wanted,
    ):
        for entry in entries:
            if match(entry):
                return entry
    return None


def characters_named(name: str) -> list[CharacterEntry]:
    """Every readable card whose character name is `name` (case-insensitive)."""
    wanted = name.strip().casefold()
    return [e for e in list_characters() if e.error is None and e.name.casefold() == wanted]


def load_character(name_or_path: str | os.PathLike[str]) -> Card:
    """The card `find_character` finds, loaded; a `CardError` if there is none."""
    entry = find_character(name_or_path)
    if entry is None:
        raise CardError(str(name_or_path), "no such character or card file")
    return load_card(entry.path)


def _normalised(card: Card, source: Path) -> tuple[bytes, str]:
    """The bytes to store and their extension. CHARX is copied as is to keep its assets."""
    with source.open("rb") as fh:
        is_zip = fh.read(len(ZIP_SIGNATURE)) == ZIP_SIGNATURE
    if is_zip:
        return source.read_bytes(), ".charx"
    if card.image_png is not None:
        return card_png_bytes(card), ".png"
    return card_json_bytes(card, version=3), ".json"


def _destination(folder: Path, stem: str, suffix: str, data: bytes) -> Path:
    """A free file name, or the existing file if it already holds exactly this card."""
    for n in range(1, 10_000):
        name = f"{stem}{suffix}" if n == 1 else f"{stem} ({n}){suffix}"
        path = folder / name
        if not path.exists():
            return path
        try:
            if path.stat().st_size == len(data) and path.read_bytes() == data:
                return path
        except OSError:
            continue
    raise CardError(stem + suffix, "too many cards with this name")


def import_card(source: str | os.PathLike[str]) -> ImportOutcome:
    """Copy one card into the player's folder, normalised (PNG stays PNG, JSON becomes V3)."""
    source = Path(source)
    try:
        card = load_card(source)
        _check_character_book(card, source.name)
        data, suffix = _normalised(card, source)
        folder = user_characters_dir(create=True)
        dest = _destination(folder, safe_filename(card.name), suffix, data)
        write_atomic(dest, data)
    except CardError as exc:
        return ImportOutcome(source, error=str(exc))
    except OSError as exc:
        return ImportOutcome(
            source, error=f"{source.name}: cannot be saved ({exc.strerror or exc})"
        )
    return ImportOutcome(source, card=card, path=dest)


def _check_character_book(card: Card, filename: str) -> None:
    """A card whose embedded lorebook cannot be read is refused at the door (it would
    break every chat started from it)."""
    from tui.engine.formats.lorebooks import LoreFormatError, from_character_book

    if card.character_book is None:
        return
    try:
        from_character_book(card.character_book, card.name)
    except LoreFormatError as exc:
        raise CardError(filename, f"its lorebook (character_book) cannot be read: {exc}"
                        ) from None


def import_cards(paths: Iterable[str | os.PathLike[str]]) -> list[ImportOutcome]:
    """Import each file; a file that fails is reported and the others still import."""
    return [import_card(p) for p in paths]
