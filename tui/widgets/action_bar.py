"""The input line with the current mode (Do / Say / Story) shown beside it."""

from __future__ import annotations

from rich.text import Text
from textual.app import ComposeResult
from textual.containers import Horizontal
from textual.message import Message
from textual.widgets import Input, Static

from tui.engine.actions import Mode, next_mode
from tui.widgets.css import css_beside

PLACEHOLDERS = {
    Mode.DO: "What do you do? (empty: continue, /help: commands)",
    Mode.SAY: "What do you say?",
    Mode.STORY: "Write the story as it goes on…",
}


class ActionBar(Horizontal):
    DEFAULT_CSS = css_beside(__file__)

    class Submitted(Message):
        def __init__(self, mode: Mode, text: str) -> None:
            super().__init__()
            self.mode = mode
            self.text = text

    def __init__(self) -> None:
        super().__init__()
        self.mode = Mode.DO
        self.fixed = False

    def compose(self) -> ComposeResult:
        yield Static(Text(self._label()), id="mode", markup=False)
        field = Input(placeholder=PLACEHOLDERS[self.mode], id="action")
        field.cursor_blink = False  # a blink repaints the box twice a second, forever
        yield field

    def _label(self) -> str:
        return f"{self.mode.value.capitalize()} ▸"

    @property
    def input(self) -> Input:
        return self.query_one("#action", Input)

    def fix_label(self, label: str, placeholder: str) -> None:
        """A fixed label and no modes (chat): Tab moves focus instead."""
        self.fixed = True
        self.query_one("#mode", Static).update(Text(label))
        self.input.placeholder = placeholder

    def cycle_mode(self) -> None:
        if not self.fixed:
            self.set_mode(next_mode(self.mode))

    def set_mode(self, mode: Mode) -> None:
        self.mode = mode
        self.query_one("#mode", Static).update(Text(self._label()))
        self.input.placeholder = PLACEHOLDERS[mode]

    def on_input_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        value = event.value
        self.input.value = ""
        self.post_message(self.Submitted(self.mode, value))
