"""Cleaning untrusted text (model output, cards, lore, file names) before it is shown."""

from __future__ import annotations

import re

# C0 controls except \t and \n, DEL, and C1 controls. \r is dropped too: a lone carriage
# return would move the terminal cursor.
# Bidi embeddings, overrides and isolates (U+202A-202E, U+2066-2069) go as well: they reorder
# what follows on screen, so text can pose as something else.
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")


def clean(text: str) -> str:
    """Strip control, escape and bidi-override characters, keeping newlines and tabs.

    `\\r\\n` becomes `\\n` first so Windows line endings survive as line breaks.
    """
    if not text:
        return ""
    text = text.replace("\r\n", "\n")
    return _CONTROL.sub("", text)


def one_line(text: str, limit: int = 200) -> str:
    """A cleaned single line for notices and lists."""
    flat = " ".join(clean(text).split())
    return flat if len(flat) <= limit else flat[: limit - 1] + "…"


def count(n: int, singular: str, plural: str = "") -> str:
    """`1 turn`, `2 turns`, `0 entries` (give the plural when it is not singular + "s")."""
    return f"{n} {singular if n == 1 else (plural or singular + 's')}"
