"""World-info data: entries and books (read leniently from any dict), scan settings, the timed
effects carried between turns, and what a scan reports."""

from __future__ import annotations

from dataclasses import dataclass, field, fields
from typing import Any

from tui.engine.formats.coerce import (
    as_bool,
    as_int,
    as_opt_bool,
    as_opt_int,
    as_str,
    as_str_list,
    toml_safe,
)

LOGICS = ("and_any", "and_all", "not_any", "not_all")
POSITIONS = (
    "auto",
    "before",
    "after",
    "an_top",
    "an_bottom",
    "depth",
    "before_examples",
    "after_examples",
)
# Where each resolved position lands in the prompt, top first (docs/architecture.md, the
# context builder).
_POSITION_RANK = {
    "before": 0,
    "after": 1,
    "before_examples": 2,
    "after_examples": 3,
    "an_top": 4,
    "an_bottom": 5,
    "depth": 6,
}


# Bumped whenever a field of any entry or book is assigned, so a scanner can tell in O(1)
# that nothing it compiled can have changed (settings are compared by value instead).
# (Editing a key list in place is not seen: assign a new list, or call
# LoreScanner.invalidate().)
_edits = [0]


class _Tracked:
    def __setattr__(self, name: str, value: Any) -> None:
        object.__setattr__(self, name, value)
        _edits[0] += 1


@dataclass
class LoreEntry(_Tracked):
    uid: str = ""
    name: str = ""
    keys: list[str] = field(default_factory=list)
    secondary_keys: list[str] = field(default_factory=list)
    selective_logic: str = "and_any"
    content: str = ""
    enabled: bool = True
    constant: bool = False
    case_sensitive: bool | None = None
    whole_words: bool | None = None
    probability: int = 100
    order: int = 100
    priority: int | None = None
    position: str = "auto"
    depth: int = 4
    scan_depth: int | None = None
    group: str = ""
    group_weight: int = 100
    group_override: bool = False
    sticky: int = 0
    cooldown: int = 0
    delay: int = 0
    exclude_recursion: bool = False
    prevent_recursion: bool = False
    delay_until_recursion: bool = False
    # Secondary keys apply only when selective (SillyTavern's and the card spec's flag).
    selective: bool = True
    extensions: dict[str, Any] = field(default_factory=dict)

    @property
    def label(self) -> str:
        """A name to show: the name, else the first key, else the uid."""
        return self.name or (self.keys[0] if self.keys else "") or self.uid or "(unnamed)"

    @property
    def budget_priority(self) -> int:
        return self.order if self.priority is None else self.priority

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for f in fields(self):
            value = getattr(self, f.name)
            if value is None:
                continue
            if f.name == "extensions":
                if value:
                    out[f.name] = toml_safe(value)
                continue
            out[f.name] = list(value) if isinstance(value, list) else value
        return out

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> LoreEntry:
        if not isinstance(d, dict):
            return cls()
        known = {f.name for f in fields(cls)}
        ext = dict(d["extensions"]) if isinstance(d.get("extensions"), dict) else {}
        ext.update({k: v for k, v in d.items() if k not in known})
        logic = as_str(d.get("selective_logic"), "and_any")
        position = as_str(d.get("position"), "auto")
        return cls(
            uid=as_str(d.get("uid")),
            name=as_str(d.get("name")),
            keys=as_str_list(d.get("keys")),
            secondary_keys=as_str_list(d.get("secondary_keys")),
            selective_logic=logic if logic in LOGICS else "and_any",
            content=as_str(d.get("content")),
            enabled=as_bool(d.get("enabled"), True),
            constant=as_bool(d.get("constant"), False),
            case_sensitive=as_opt_bool(d.get("case_sensitive")),
            whole_words=as_opt_bool(d.get("whole_words")),
            probability=max(0, min(100, as_int(d.get("probability"), 100))),
            order=as_int(d.get("order"), 100),
            priority=as_opt_int(d.get("priority")),
            position=position if position in POSITIONS else "auto",
            depth=max(0, as_int(d.get("depth"), 4)),
            scan_depth=_opt_nonneg(d.get("scan_depth")),
            group=as_str(d.get("group")),
            group_weight=max(0, as_int(d.get("group_weight"), 100)),
            group_override=as_bool(d.get("group_override"), False),
            sticky=max(0, as_int(d.get("sticky"), 0)),
            cooldown=max(0, as_int(d.get("cooldown"), 0)),
            delay=max(0, as_int(d.get("delay"), 0)),
            exclude_recursion=as_bool(d.get("exclude_recursion"), False),
            prevent_recursion=as_bool(d.get("prevent_recursion"), False),
            delay_until_recursion=as_bool(d.get("delay_until_recursion"), False),
            selective=as_bool(d.get("selective"), True),
            extensions=ext,
        )


@dataclass
class Lorebook(_Tracked):
    name: str = ""
    description: str = ""
    entries: list[LoreEntry] = field(default_factory=list)
    scan_depth: int | None = None
    token_budget: int | None = None
    recursive_scanning: bool | None = None
    extensions: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"name": self.name, "description": self.description}
        for key in ("scan_depth", "token_budget", "recursive_scanning"):
            value = getattr(self, key)
            if value is not None:
                out[key] = value
        if self.extensions:
            out["extensions"] = toml_safe(self.extensions)
        out["entries"] = [e.to_dict() for e in self.entries]
        return out

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Lorebook:
        if not isinstance(d, dict):
            return cls()
        known = {f.name for f in fields(cls)}
        ext = dict(d["extensions"]) if isinstance(d.get("extensions"), dict) else {}
        ext.update({k: v for k, v in d.items() if k not in known})
        raw_entries = d.get("entries")
        entries = raw_entries if isinstance(raw_entries, list) else []
        return cls(
            name=as_str(d.get("name")),
            description=as_str(d.get("description")),
            entries=[LoreEntry.from_dict(e) for e in entries if isinstance(e, dict)],
            scan_depth=_opt_nonneg(d.get("scan_depth")),
            token_budget=_opt_nonneg(d.get("token_budget")),
            recursive_scanning=as_opt_bool(d.get("recursive_scanning")),
            extensions=ext,
        )


@dataclass
class LoreSettings:
    """Scan settings. Not change-tracked: the scanner's quick check compares the fields the
    index depends on by value, and a PromptSpec makes a new one per prompt, which would
    otherwise bump `_edits` and force a full fingerprint of every entry on every build."""

    scan_depth: int = 2
    budget_percent: int = 25
    budget_tokens: int | None = None
    recursive: bool = True
    max_recursion_steps: int = 3
    whole_words: bool = True
    case_sensitive: bool = False

    def budget(self, window: int) -> int:
        if self.budget_tokens is not None:
            return max(0, self.budget_tokens)
        return max(0, window * self.budget_percent // 100)


@dataclass
class LoreState:
    """Timed effects across turns, keyed by `entry_id`.

    `sticky[id]` is the last turn the entry stays active without its keys; `cooldown[id]` is the
    last turn it cannot fire.
    """

    sticky: dict[str, int] = field(default_factory=dict)
    cooldown: dict[str, int] = field(default_factory=dict)

    def copy(self) -> LoreState:
        return LoreState(dict(self.sticky), dict(self.cooldown))

    def to_dict(self) -> dict[str, Any]:
        return {"sticky": dict(self.sticky), "cooldown": dict(self.cooldown)}

    @classmethod
    def from_dict(cls, d: dict[str, Any] | None) -> LoreState:
        if not isinstance(d, dict):
            return cls()

        def table(value: Any) -> dict[str, int]:
            if not isinstance(value, dict):
                return {}
            return {str(k): as_int(v, 0) for k, v in value.items()}

        return cls(table(d.get("sticky")), table(d.get("cooldown")))


@dataclass
class Activation:
    entry: LoreEntry
    book: str
    reason: str
    key: str
    tokens: int
    position: str = "depth"  # resolved: never "auto"
    depth: int = 4


@dataclass
class Dropped:
    entry: LoreEntry
    book: str
    reason: str


@dataclass
class ScanResult:
    activated: list[Activation]
    dropped: list[Dropped]
    next_state: LoreState
    budget: int
    used: int


def entry_id(book: str, entry: LoreEntry, index: int) -> str:
    """The id timed effects are saved under: book name and uid (or index when no uid)."""
    return f"{book}/{entry.uid or f'#{index}'}"


def resolve_position(entry: LoreEntry) -> str:
    """ "auto" becomes "before" for constant entries and "depth" (near the end) otherwise."""
    if entry.position in _POSITION_RANK:
        return entry.position
    return "before" if entry.constant else "depth"


def _opt_nonneg(value: Any) -> int | None:
    result = as_opt_int(value)
    return None if result is None else max(0, result)
