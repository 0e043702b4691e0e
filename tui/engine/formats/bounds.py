"""Bounds on the shape of data read from files: nesting depth, and unknown fields kept small.

A file may be valid JSON or TOML and still be nested hundreds deep; such data breaks every
recursive step after it (writing a save, copying, comparing). Readers refuse it at the door
(`too_deep`), and unknown fields that importers keep for round trips are trimmed to a small
shape (`bounded`) so they can never grow a save beyond what it can write back.
"""

from __future__ import annotations

from typing import Any

MAX_FILE_DEPTH = 64  # tables/arrays inside one another in any file we read
MAX_KEPT_DEPTH = 8  # an unknown field kept from another program's file
MAX_KEPT_ITEMS = 200  # items of one list or table inside such a field
MAX_KEPT_CHARS = 100_000  # one string inside such a field


def too_deep(value: Any, limit: int = MAX_FILE_DEPTH) -> bool:
    """Whether lists/dicts in `value` nest deeper than `limit` (checked without recursion)."""
    stack: list[tuple[Any, int]] = [(value, 0)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, dict):
            children: Any = item.values()
        elif isinstance(item, list | tuple):
            children = item
        else:
            continue
        if depth >= limit:
            return True
        stack.extend((child, depth + 1) for child in children)
    return False


def bounded(value: Any, depth: int = MAX_KEPT_DEPTH) -> Any:
    """A copy of `value` cut to `depth` levels, `MAX_KEPT_ITEMS` items a level and
    `MAX_KEPT_CHARS` characters a string; what lies deeper is dropped.

    Only for data already read (so already below `MAX_FILE_DEPTH`); recursion is bounded by
    `depth`.
    """
    if isinstance(value, str):
        return value[:MAX_KEPT_CHARS]
    if isinstance(value, dict):
        if depth <= 0:
            return {}
        out: dict[str, Any] = {}
        for key, item in list(value.items())[:MAX_KEPT_ITEMS]:
            if depth > 1 or not isinstance(item, dict | list | tuple):
                out[str(key)[:200]] = bounded(item, depth - 1)
        return out
    if isinstance(value, list | tuple):
        if depth <= 0:
            return []
        return [bounded(item, depth - 1) for item in list(value)[:MAX_KEPT_ITEMS]
                if depth > 1 or not isinstance(item, dict | list | tuple)]
    return value
