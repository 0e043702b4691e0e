"""The form that edits one world-info entry (a modal), and the parsing behind its fields.

The dialog returns a `LoreEdit` (the chosen book and the field values) and never touches the
entry itself: the world-info screen applies it with `apply_edit`, assigning new values (never
mutating key lists in place, so the lore scanner notices).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from rich.text import Text
from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Button, Input, Label, Select, Static, TextArea

from tui.core.text import clean, one_line
from tui.engine.lore import LOGICS, POSITIONS, LoreEntry
from tui.keys import bindings_for
from tui.widgets.checkbox import PlainCheckbox

LOGIC_LABELS = {
    "and_any": "AND ANY (one secondary key too)",
    "and_all": "AND ALL (every secondary key)",
    "not_any": "NOT ANY (no secondary key)",
    "not_all": "NOT ALL (not every secondary key)",
}
POSITION_LABELS = {
    "auto": "auto (constant: top; keyed: near the end)",
    "before": "before (top of the prompt)",
    "after": "after (after the header)",
    "an_top": "above the author's note",
    "an_bottom": "below the author's note",
    "depth": "at depth (N messages from the end)",
    "before_examples": "before example dialogue",
    "after_examples": "after example dialogue",
}
TRISTATE = [("default (lore settings)", "default"), ("yes", "yes"), ("no", "no")]

# A key is a /regex/flags (which may hold commas) or anything up to the next comma.
_KEY = re.compile(r"\s*(/(?:\\.|[^/\\])+/[a-zA-Z]*(?=\s*(?:,|$))|[^,]*)\s*(?:,|$)")

# Integer fields: (field, label, lowest allowed, blank allowed)
INT_FIELDS: tuple[tuple[str, str, int, bool], ...] = (
    ("depth", "Depth", 0, False),
    ("order", "Order", -1_000_000, False),
    ("priority", "Priority", -1_000_000, True),
    ("probability", "Probability %", 0, False),
    ("sticky", "Sticky turns", 0, False),
    ("cooldown", "Cooldown turns", 0, False),
    ("delay", "Delay turns", 0, False),
    ("scan_depth", "Scan depth", 0, True),
    ("group_weight", "Group weight", 0, False),
)

# Yes/no fields shown as checkboxes below the numbers: (field, label)
FLAG_FIELDS: tuple[tuple[str, str], ...] = (
    ("group_override", "Wins its group by priority"),
    ("exclude_recursion", "Not triggered by other entries"),
    ("prevent_recursion", "Triggers no other entries"),
    ("delay_until_recursion", "Only triggered by other entries"),
)


def split_keys(text: str) -> list[str]:
    """Comma-separated keys; a `/regex/` key keeps its commas. Empty keys are dropped."""
    keys = [m.group(1).strip() for m in _KEY.finditer(clean(text).replace("\n", " "))]
    return [k for k in keys if k]


def join_keys(keys: list[str]) -> str:
    return ", ".join(keys)


def tristate(value: bool | None) -> str:
    return "default" if value is None else ("yes" if value else "no")


def from_tristate(value: object) -> bool | None:
    return None if value not in ("yes", "no") else value == "yes"


class FormError(ValueError):
    """A field the player must fix; `field` names the widget id to focus."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field


def parse_int(field: str, label: str, text: str, lowest: int, blank_ok: bool) -> int | None:
    text = text.strip()
    if not text:
        if blank_ok:
            return None
        raise FormError(field, f"{label}: a whole number is needed")
    try:
        value = int(text)
    except ValueError:
        raise FormError(field, f"{label}: {one_line(text, 20)!r} is not a whole number") from None
    if value < lowest:
        raise FormError(field, f"{label}: at least {lowest}")
    if field == "probability" and value > 100:
        raise FormError(field, f"{label}: at most 100")
    return value


@dataclass
class LoreEdit:
    book: int  # index into the campaign's books
    values: dict[str, Any]


def apply_edit(entry: LoreEntry, values: dict[str, Any]) -> bool:
    """Assign the changed fields (new objects, never in-place edits); True if any changed."""
    changed = False
    for name, value in values.items():
        if getattr(entry, name) != value:
            setattr(entry, name, list(value) if isinstance(value, list) else value)
            changed = True
    return changed


class LoreEntryDialog(ModalScreen[LoreEdit | None]):
    """Edit (or create) one entry. Ctrl+S saves, Esc cancels; Tab walks the fields."""

    BINDINGS = bindings_for("lore_entry")
    CSS_PATH = "lore_form.tcss"

    def __init__(self, entry: LoreEntry | None, books: list[str], book: int = 0) -> None:
        super().__init__()
        self.entry = entry or LoreEntry()
        self.adding = entry is None
        self.books = books
        self.book = book

    def _row(self, label: str, *widgets: Any, classes: str = "row") -> Horizontal:
        return Horizontal(Label(label), *widgets, classes=classes)

    def compose(self) -> ComposeResult:
        e = self.entry
        title = "New world-info entry" if self.adding else f"Edit: {one_line(e.label, 60)}"
        with Vertical():
            yield Static(Text(title), id="title", markup=False)
            yield Static(Text("Ctrl+S save · Esc cancel · Tab next field"), id="hint",
                         markup=False)
            yield Static("", id="error", markup=False)
            with VerticalScroll():
                if self.adding and len(self.books) > 1:
                    options = [(one_line(n, 50), i) for i, n in enumerate(self.books)]
                    yield self._row("Book", Select(options, value=self.book, id="book",
                                                   allow_blank=False, compact=True))
                yield self._row("Name", Input(clean(e.name), id="name", compact=True))
                yield self._row("Keys", Input(clean(join_keys(e.keys)), id="keys",
                                              placeholder="dragon, wyrm, /drag(on|ons)/i",
                                              compact=True))
                yield self._row("Secondary keys",
                                Input(clean(join_keys(e.secondary_keys)), id="secondary_keys",
                                      placeholder="optional", compact=True))
                yield self._row("Secondary logic", Select(
                    [(LOGIC_LABELS[x], x) for x in LOGICS], value=e.selective_logic,
                    id="selective_logic", allow_blank=False, compact=True))
                yield Label("Content")
                yield TextArea(clean(e.content), id="content", soft_wrap=True,
                               tab_behavior="focus")
                yield Horizontal(
                    PlainCheckbox("Enabled", e.enabled, id="enabled"),
                    PlainCheckbox("Constant (always in)", e.constant, id="constant"),
                    classes="row",
                )
                yield self._row("Position", Select(
                    [(POSITION_LABELS[p], p) for p in POSITIONS], value=e.position,
                    id="position", allow_blank=False, compact=True))
                yield self._row("Case sensitive", Select(
                    TRISTATE, value=tristate(e.case_sensitive), id="case_sensitive",
                    allow_blank=False, compact=True))
                yield self._row("Whole words", Select(
                    TRISTATE, value=tristate(e.whole_words), id="whole_words",
                    allow_blank=False, compact=True))
                yield self._row("Group", Input(clean(e.group), id="group",
                                               placeholder="one winner per group",
                                               compact=True))
                for start in range(0, len(INT_FIELDS), 4):
                    widgets: list[Any] = []
                    for name, label, _, _ in INT_FIELDS[start:start + 4]:
                        value = getattr(e, name)
                        widgets += [Label(label),
                                    Input("" if value is None else str(value), id=name,
                                          type="integer", compact=True)]
                    yield Horizontal(*widgets, classes="row small")
                for start in range(0, len(FLAG_FIELDS), 2):
                    yield Horizontal(
                        *[PlainCheckbox(label, bool(getattr(e, name)), id=name)
                          for name, label in FLAG_FIELDS[start:start + 2]],
                        classes="row",
                    )
            with Horizontal(id="buttons"):
                yield Button("Save", id="save", variant="primary")
                yield Button("Cancel", id="cancel")

    def on_mount(self) -> None:
        self.query_one("#name", Input).focus()

    def values(self) -> dict[str, Any]:
        """The form's fields as entry values; FormError names the first bad field."""
        get = lambda wid: self.query_one(f"#{wid}", Input).value  # noqa: E731
        keys = split_keys(get("keys"))
        constant = self.query_one("#constant", PlainCheckbox).value
        if not keys and not constant:
            raise FormError("keys", "Keys: give at least one key, or make the entry constant")
        values: dict[str, Any] = {
            "name": clean(get("name")).strip(),
            "keys": keys,
            "secondary_keys": split_keys(get("secondary_keys")),
            "content": clean(self.query_one("#content", TextArea).text),
            "enabled": self.query_one("#enabled", PlainCheckbox).value,
            "constant": constant,
            "group": clean(get("group")).strip(),
        }
        for wid in ("selective_logic", "position"):
            values[wid] = self.query_one(f"#{wid}", Select).value
        for wid in ("case_sensitive", "whole_words"):
            values[wid] = from_tristate(self.query_one(f"#{wid}", Select).value)
        for name, label, lowest, blank_ok in INT_FIELDS:
            values[name] = parse_int(name, label, get(name), lowest, blank_ok)
        for name, _ in FLAG_FIELDS:
            values[name] = self.query_one(f"#{name}", PlainCheckbox).value
        return values

    def action_save(self) -> None:
        try:
            values = self.values()
        except FormError as exc:
            self.query_one("#error", Static).update(Text(str(exc)))
            self.query_one(f"#{exc.field}").focus()
            return
        book = self.book
        if self.query("#book"):
            chosen = self.query_one("#book", Select).value
            book = chosen if isinstance(chosen, int) else self.book
        self.dismiss(LoreEdit(book, values))

    def action_cancel(self) -> None:
        self.dismiss(None)

    def on_button_pressed(self, event: Button.Pressed) -> None:
        if event.button.id == "save":
            self.action_save()
        else:
            self.action_cancel()
