"""Small modal screens: a text editor (memory, author's note, last response) and help."""

from __future__ import annotations

from rich.console import Group, RenderableType
from rich.table import Table
from rich.text import Text
from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Button, Static, TextArea

from tui.core.text import clean
from tui.engine.commands import help_rows
from tui.keys import bindings_for

KeyRows = list[tuple[str, str]]  # (keys, what they do), from tui.keys.help_rows


class TextEditDialog(ModalScreen[str | None]):
    """Edit a block of text. Ctrl+S or the Save button keeps it; Esc cancels."""

    BINDINGS = bindings_for("text_edit")
    CSS_PATH = "dialogs.tcss"

    def __init__(self, title: str, text: str, hint: str = "") -> None:
        super().__init__()
        self.title_text = clean(title)
        self.initial = clean(text)
        self.hint = clean(hint) or "Ctrl+S save · Esc cancel · Tab leaves the text box"

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Static(Text(self.title_text), id="title", markup=False)
            yield Static(Text(self.hint), id="hint", markup=False)
            yield TextArea(self.initial, id="editor", soft_wrap=True, tab_behavior="focus")
            with Horizontal():
                yield Button("Save", id="save", variant="primary")
                yield Button("Cancel", id="cancel")

    def on_mount(self) -> None:
        editor = self.query_one(TextArea)
        editor.focus()
        editor.move_cursor(editor.document.end)  # players add to the end most often

    def action_save(self) -> None:
        self.dismiss(self.query_one(TextArea).text)

    def action_cancel(self) -> None:
        self.dismiss(None)

    def on_button_pressed(self, event: Button.Pressed) -> None:
        if event.button.id == "save":
            self.action_save()
        else:
            self.action_cancel()


class HelpDialog(ModalScreen[None]):
    """The keys of the screen it was opened from (titled sections), then the commands."""

    BINDINGS = bindings_for("help")
    CSS_PATH = "dialogs.tcss"

    def __init__(self, sections: list[tuple[str, KeyRows]], mode: str | None = None) -> None:
        """`mode`: list that game's commands (`ADVENTURE`, `CHAT`), or None for all."""
        super().__init__()
        self.sections = sections
        self.mode = mode

    def compose(self) -> ComposeResult:
        parts: list[RenderableType] = []
        for title, rows in self.sections:
            parts += [Text(title, style="bold"), self._grid(rows, "bold"), Text("")]
        parts.append(Text("Commands (type them in the input line)", style="bold"))
        parts.append(self._grid(help_rows(self.mode), ""))
        parts.append(Text("\nEsc closes this help.", style="italic"))
        with VerticalScroll():
            yield Static(Group(*parts), markup=False)

    @staticmethod
    def _grid(rows: KeyRows, key_style: str) -> Table:
        """Two columns: a description that wraps stays under its own column (80x24)."""
        grid = Table.grid(padding=(0, 2, 0, 0))
        grid.add_column(no_wrap=True, style=key_style)
        grid.add_column(overflow="fold")
        for keys, what in rows:
            grid.add_row(Text("  " + keys), Text(what))
        return grid

    def action_close(self) -> None:
        self.dismiss(None)
