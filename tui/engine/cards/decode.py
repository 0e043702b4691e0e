"""Text to card JSON: UTF-8 and base64 decoding with clear, one-line errors."""

from __future__ import annotations

import base64
import binascii
import json
import re
from typing import Any

from tui.engine.formats.bounds import MAX_FILE_DEPTH, too_deep

from . import errors
from .errors import CardError, human_size

_WHITESPACE = re.compile(r"\s+")


def json_from_bytes(blob: bytes, filename: str, what: str = "file") -> Any:
    """Parse UTF-8 JSON (a BOM is allowed)."""
    try:
        text = blob.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise CardError(filename, f"{what} is not UTF-8 text (byte {exc.start})") from None
    return json_from_text(text, filename, what)


def json_from_text(text: str, filename: str, what: str = "file") -> Any:
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise CardError(
            filename,
            f"{what} is not valid JSON ({exc.msg} at line {exc.lineno} column {exc.colno})",
        ) from None
    except RecursionError:
        raise CardError(filename, f"{what} is JSON nested too deeply") from None
    except ValueError as exc:  # e.g. an integer longer than Python will convert
        raise CardError(filename, f"{what} is not valid JSON ({str(exc)[:120]})") from None
    if too_deep(data):
        raise CardError(filename, f"{what} is JSON nested more than {MAX_FILE_DEPTH} levels deep")
    return data


def json_from_chunk_text(text: str, filename: str, what: str) -> Any:
    """An embedded card: base64 of UTF-8 JSON (raw JSON is tolerated too)."""
    if text.lstrip().startswith("{"):
        return json_from_text(text, filename, what)
    if len(text) > errors.MAX_BASE64_BYTES:
        raise CardError(filename, f"{what} is larger than {human_size(errors.MAX_BASE64_BYTES)}")
    compact = _WHITESPACE.sub("", text)
    compact += "=" * (-len(compact) % 4)
    try:
        blob = base64.b64decode(compact, validate=True)
    except (binascii.Error, ValueError):
        try:  # URL-safe alphabet, seen from some web tools
            blob = base64.b64decode(compact, altchars=b"-_", validate=True)
        except (binascii.Error, ValueError):
            raise CardError(filename, f"{what} is not valid base64") from None
    return json_from_bytes(blob, filename, f"{what} (decoded)")
