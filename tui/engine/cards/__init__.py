"""Character cards in and out: V1/V2/V3 from PNG, JSON and CHARX; V2/V3 to PNG and JSON.

Everything read here is untrusted. Bad input raises `CardError` with a one-line message that
names the file; nothing else escapes for a bad file.
"""

from .convert import card_from_dict, card_to_v2_dict, card_to_v3_dict
from .errors import CardError
from .filenames import safe_filename
from .files import (
    card_json_bytes,
    load_card,
    parse_card_bytes,
    write_card_json,
    write_card_png,
)
from .model import SPEC_V1, SPEC_V2, SPEC_V3, Card
from .png_card import card_png_bytes

__all__ = [
    "SPEC_V1",
    "SPEC_V2",
    "SPEC_V3",
    "Card",
    "CardError",
    "card_from_dict",
    "card_json_bytes",
    "card_png_bytes",
    "card_to_v2_dict",
    "card_to_v3_dict",
    "load_card",
    "parse_card_bytes",
    "safe_filename",
    "write_card_json",
    "write_card_png",
]
