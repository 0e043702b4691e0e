"""A yes/no question as a small modal: Enter or y confirms, Esc or n declines."""

from __future__ import annotations

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Static


class ConfirmDialog(ModalScreen[bool]):
    BINDINGS = [
        Binding("y,enter", "answer(True)", "Yes"),
        Binding("n,escape", "answer(False)", "No"),
    ]
    DEFAULT_CSS = """
    ConfirmDialog { align: center middle; }
    ConfirmDialog > Vertical { width: 60; max-width: 95%; height: auto; border: round $warning;
                               background: $surface; padding: 0 1; }
    ConfirmDialog #hint { color: $text-muted; }
    """

    def __init__(self, question: str) -> None:
        super().__init__()
        self.question = question

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Static(Text(self.question), id="question", markup=False)
            yield Static(Text("Enter / y: yes · Esc / n: no"), id="hint", markup=False)

    def action_answer(self, yes: bool) -> None:
        self.dismiss(yes)
