"""Cards embedded in PNG text chunks: reading (`ccv3` preferred over `chara`) and writing."""

from __future__ import annotations

import base64
import json

from .convert import card_from_dict, card_to_v2_dict, card_to_v3_dict
from .decode import json_from_chunk_text
from .errors import CardError
from .image import placeholder_png
from .model import Card
from .png_chunks import Chunk, build_png, read_chunks, text_chunk, text_keyword, text_payload

KEYWORDS = ("ccv3", "chara")  # in order of preference


def _card_keyword(chunk: Chunk) -> str | None:
    keyword = text_keyword(chunk)
    if keyword is None:
        return None
    keyword = keyword.strip().lower()
    return keyword if keyword in KEYWORDS else None


def card_from_png(data: bytes, filename: str) -> Card:
    """Read the card from a PNG's chunks, before or after the image data.

    If the preferred `ccv3` chunk is unreadable but a `chara` chunk reads, the `chara` card
    is used; with neither readable, the `ccv3` error is reported.
    """
    chunks = read_chunks(data, filename)
    found: dict[str, Chunk] = {}
    for chunk in chunks:
        keyword = _card_keyword(chunk)
        if keyword is not None:
            found.setdefault(keyword, chunk)  # the first one of each keyword counts
    if not found:
        raise CardError(filename, "PNG has no character card in it (no 'chara' or 'ccv3' chunk)")
    first_error: CardError | None = None
    for keyword in KEYWORDS:
        if keyword not in found:
            continue
        chunk = found[keyword]
        what = f"PNG chunk '{chunk.name}' ({keyword})"
        try:
            obj = json_from_chunk_text(text_payload(chunk, filename), filename, what)
            card = card_from_dict(obj, filename)
        except CardError as exc:
            first_error = first_error or exc
            continue
        card.image_png = data
        return card
    assert first_error is not None
    raise first_error


def _b64_json(obj: dict) -> str:
    text = json.dumps(obj, ensure_ascii=False, separators=(",", ":"))
    return base64.b64encode(text.encode("utf-8")).decode("ascii")


def _image_chunks(card: Card) -> list[Chunk]:
    """The portrait's chunks without any old card text: the card's own image, else a placeholder."""
    if card.image_png:
        try:
            chunks = read_chunks(card.image_png, "image")
            if chunks and chunks[0].type == b"IHDR":
                return [c for c in chunks if _card_keyword(c) is None]
        except CardError:
            pass
    return read_chunks(placeholder_png(card.name), "placeholder")


def card_png_bytes(card: Card) -> bytes:
    """A PNG with both `chara` (V2) and `ccv3` (V3) tEXt chunks, just before IEND."""
    chunks = _image_chunks(card)
    cards = [
        text_chunk("chara", _b64_json(card_to_v2_dict(card))),
        text_chunk("ccv3", _b64_json(card_to_v3_dict(card))),
    ]
    return build_png(chunks[:-1] + cards + chunks[-1:])
