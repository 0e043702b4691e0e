"""AI Dungeon world info in: `[{id, keys, entry, hidden}]`.

`keys` is a comma-separated list. Players' scripts added their own syntax to it: a regex-like
key such as `(nord(s|))` and a `#[t=4l=3f=2S=2]` settings suffix read by the script. A key with
regex characters becomes a case-insensitive whole-word regex key when it compiles; the suffix
has no meaning here and is kept, with the original `keys` text, in `extensions["aidungeon"]`.
"""

from __future__ import annotations

import re
from typing import Any

from tui.engine.formats.coerce import as_bool, as_str
from tui.engine.lore import Lorebook, LoreEntry

_REGEX_CHARS = re.compile(r"[()|\[\]?*+\\^$]")
_SUFFIX = re.compile(r"#\[([^\]]*)\]\s*$")
_SETTING = re.compile(r"([A-Za-z]+)=(-?\d+)")


def split_top_level(text: str, sep: str = ",") -> list[str]:
    """Split on `sep` outside parentheses and brackets."""
    parts, depth, current = [], 0, []
    for ch in text:
        if ch in "([":
            depth += 1
        elif ch in ")]" and depth:
            depth -= 1
        if ch == sep and depth == 0:
            parts.append("".join(current))
            current = []
        else:
            current.append(ch)
    parts.append("".join(current))
    return [p.strip() for p in parts if p.strip()]


def parse_keys(raw: str) -> tuple[list[str], dict[str, Any]]:
    """Grue keys from an AI Dungeon keys string, plus what to remember about the original."""
    info: dict[str, Any] = {"keys": raw}
    text = raw
    suffix = _SUFFIX.search(text)
    if suffix:
        info["settings"] = suffix.group(1)
        info["settings_parsed"] = {k: int(v) for k, v in _SETTING.findall(suffix.group(1))}
        text = text[: suffix.start()]
    keys: list[str] = []
    for part in split_top_level(text):
        if _REGEX_CHARS.search(part):
            pattern = rf"(?<!\w)(?:{part})(?!\w)"
            try:
                re.compile(pattern, re.IGNORECASE)
            except re.error:
                keys.append(part)  # not a regex after all: keep it literal
                continue
            keys.append(f"/{pattern}/i")
        else:
            keys.append(part)
    return keys, info


def entry_from_aidungeon(raw: dict[str, Any], index: int = 0) -> LoreEntry:
    keys, info = parse_keys(as_str(raw.get("keys")))
    rest = {k: v for k, v in raw.items() if k not in ("id", "keys", "entry", "value")}
    info.update(rest)
    uid = raw.get("id")
    name = as_str(raw.get("name")) or (
        _SUFFIX.sub("", as_str(raw.get("keys"))).strip()[:80] if keys else ""
    )
    return LoreEntry(
        uid=as_str(uid) if uid is not None else str(index),
        name=name,
        keys=keys,
        content=as_str(raw.get("entry")) or as_str(raw.get("value")),
        enabled=not as_bool(raw.get("disabled"), False),
        extensions={"aidungeon": info},
    )


def book_from_aidungeon(entries: list[Any], name: str = "") -> Lorebook:
    return Lorebook(
        name=name,
        entries=[entry_from_aidungeon(e, i) for i, e in enumerate(entries) if isinstance(e, dict)],
    )
