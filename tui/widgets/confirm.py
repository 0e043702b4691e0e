"""A yes/no question as a small modal: Enter or y confirms, Esc or n declines."""

from __future__ import annotations

from rich.text import Text
from textual.app import ComposeResult
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Static

from tui.core.text import clean
from tui.keys import bindings_for


class ConfirmDialog(ModalScreen[bool]):
    BINDINGS = bindings_for("confirm")
    CSS_PATH = "confirm.tcss"

    def __init__(self, question: str) -> None:
        super().__init__()
        self.question = clean(question)  # often names a save or a file: untrusted text

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Static(Text(self.question), id="question", markup=False)
            yield Static(Text("Enter / y: yes · Esc / n: no"), id="hint", markup=False)

    def action_answer(self, yes: bool) -> None:
        self.dismiss(yes)
