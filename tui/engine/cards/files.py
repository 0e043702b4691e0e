"""Cards from files and bytes (format sniffed from the content), and cards to files."""

from __future__ import annotations

import json
import os
from pathlib import Path

from tui.core import files

from . import errors
from .charx import ZIP_SIGNATURE, read_charx
from .convert import card_from_dict, card_to_v2_dict, card_to_v3_dict
from .decode import json_from_bytes
from .errors import CardError, human_size
from .model import Card
from .png_card import card_from_png, card_png_bytes
from .png_chunks import PNG_SIGNATURE


def parse_card_bytes(data: bytes, filename: str) -> Card:
    """A card from a file's bytes: PNG, CHARX (zip) or JSON, told apart by content."""
    if len(data) > errors.MAX_FILE_BYTES:
        raise CardError(filename, f"file is larger than {human_size(errors.MAX_FILE_BYTES)}")
    if not data.strip():
        raise CardError(filename, "file is empty")
    if data.startswith(PNG_SIGNATURE):
        return card_from_png(data, filename)
    if data.startswith(ZIP_SIGNATURE):
        return read_charx(data, filename)
    if data.lstrip(b"\xef\xbb\xbf \t\r\n").startswith((b"{", b"[")):
        return card_from_dict(json_from_bytes(data, filename), filename)
    if data[:4] == PNG_SIGNATURE[:4] or filename.lower().endswith(".png"):
        raise CardError(filename, "not a PNG file (bad signature)")
    raise CardError(filename, "not a character card (expected PNG, JSON or CHARX)")


def load_card(path: str | os.PathLike[str]) -> Card:
    """Read a card file. Every failure is a one-line `CardError`."""
    path = Path(path)
    name = path.name
    try:
        size = path.stat().st_size
        if size > errors.MAX_FILE_BYTES:
            raise CardError(name, f"file is larger than {human_size(errors.MAX_FILE_BYTES)}")
        with path.open("rb") as fh:
            data = fh.read(errors.MAX_FILE_BYTES + 1)
    except FileNotFoundError:
        raise CardError(name, "no such file") from None
    except IsADirectoryError:
        raise CardError(name, "is a folder, not a card file") from None
    except OSError as exc:
        raise CardError(name, f"cannot be read ({exc.strerror or exc})") from None
    return parse_card_bytes(data, name)


def write_atomic(path: Path, data: bytes) -> None:
    """Write a card atomically (`core.files`), readable like any other document."""
    path.parent.mkdir(parents=True, exist_ok=True)
    mode = path.stat().st_mode & 0o777 if path.exists() else 0o644
    files.write_atomic(path, data, mode=mode)


def card_json_bytes(card: Card, version: int = 3) -> bytes:
    if version == 2:
        obj = card_to_v2_dict(card)
    elif version == 3:
        obj = card_to_v3_dict(card)
    else:
        raise ValueError(f"card JSON version must be 2 or 3, not {version!r}")
    return (json.dumps(obj, ensure_ascii=False, indent=2) + "\n").encode("utf-8")


def write_card_json(card: Card, path: str | os.PathLike[str], version: int = 3) -> Path:
    path = Path(path)
    write_atomic(path, card_json_bytes(card, version))
    return path


def write_card_png(card: Card, path: str | os.PathLike[str]) -> Path:
    path = Path(path)
    write_atomic(path, card_png_bytes(card))
    return path
