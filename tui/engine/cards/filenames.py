"""Turning an untrusted card name into a safe file name (never a path)."""

from __future__ import annotations

import re
import unicodedata

MAX_NAME_CHARS = 80
MAX_NAME_BYTES = 200
_UNSAFE = re.compile(r'[\x00-\x1f\x7f-\x9f<>:"/\\|?*]')
_WINDOWS_RESERVED = {
    "con", "prn", "aux", "nul",
    *(f"com{i}" for i in range(1, 10)),
    *(f"lpt{i}" for i in range(1, 10)),
}  # fmt: skip


def safe_filename(name: str, fallback: str = "character") -> str:
    """A file name stem safe on every OS: no separators, controls, dot-names or reserved names.

    Not a path: a name like `../../etc/passwd` becomes `.._.._etc_passwd` stripped of its
    leading dots. Add the extension yourself.
    """
    text = unicodedata.normalize("NFC", str(name))
    # Drop invisible format characters (bidi overrides, zero-width joiners) that disguise names.
    text = "".join(ch for ch in text if unicodedata.category(ch) != "Cf")
    text = _UNSAFE.sub("_", text)
    text = " ".join(text.split())
    text = text.lstrip(". ").rstrip(". ")
    text = text[:MAX_NAME_CHARS].rstrip(". ")
    while len(text.encode("utf-8")) > MAX_NAME_BYTES:
        text = text[:-1]
    if not text or set(text) <= {"_"}:
        return fallback
    if text.split(".")[0].lower().strip() in _WINDOWS_RESERVED:
        text = "_" + text
    return text
