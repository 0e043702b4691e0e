"""Tolerant conversion of values read from other programs' files.

Real files put empty strings where numbers belong, strings where lists belong, and null almost
anywhere. These helpers turn what can be understood into the expected type and fall back to a
default otherwise; they never raise.
"""

from __future__ import annotations

from typing import Any


def as_int(value: Any, default: int) -> int:
    """An int from an int, float or numeric string; `default` for anything else."""
    if isinstance(value, bool):
        return int(value)
    if isinstance(value, int):
        return value
    if isinstance(value, float):
        return int(value) if value == value and abs(value) < 1e18 else default
    if isinstance(value, str):
        text = value.strip()
        try:
            return int(text)
        except ValueError:
            try:
                return as_int(float(text), default)
            except ValueError:
                return default
    return default


def as_opt_int(value: Any) -> int | None:
    """An int, or None when the value is missing, null or not a number."""
    if value is None or value == "":
        return None
    sentinel = object()
    result = as_int(value, sentinel)  # type: ignore[arg-type]
    return None if result is sentinel else result  # type: ignore[return-value]


def as_bool(value: Any, default: bool) -> bool:
    """A bool from a bool, number or "true"/"false"-like string."""
    if isinstance(value, bool):
        return value
    if isinstance(value, int | float):
        return value != 0
    if isinstance(value, str):
        text = value.strip().lower()
        if text in ("true", "yes", "on", "1"):
            return True
        if text in ("false", "no", "off", "0"):
            return False
    return default


def as_opt_bool(value: Any) -> bool | None:
    """A bool, or None when the value is missing or null (meaning "use the default")."""
    if value is None or value == "":
        return None
    sentinel = object()
    result = as_bool(value, sentinel)  # type: ignore[arg-type]
    return None if result is sentinel else result  # type: ignore[return-value]


def as_str(value: Any, default: str = "") -> str:
    """A string; numbers are written out, anything else gives `default`."""
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return default
    if isinstance(value, int | float):
        return str(value)
    return default


def as_str_list(value: Any, *, split_commas: bool = False) -> list[str]:
    """A list of non-empty, stripped strings.

    A single string becomes a one-item list (or is split on commas when `split_commas`).
    """
    if value is None:
        return []
    if isinstance(value, str):
        items = value.split(",") if split_commas else [value]
    elif isinstance(value, list | tuple):
        items = [as_str(v) for v in value]
    else:
        items = [as_str(value)]
    return [s.strip() for s in items if isinstance(s, str) and s.strip()]


def toml_safe(value: Any) -> Any:
    """A copy without None values (TOML has no null) and with string dict keys."""
    if isinstance(value, dict):
        return {str(k): toml_safe(v) for k, v in value.items() if v is not None}
    if isinstance(value, list | tuple):
        return [toml_safe(v) for v in value if v is not None]
    return value
