"""The world panel: the adventure's world state beside the story, the lines of `/state`
(docs/architecture.md, "World state").

It draws what it is given and nothing else: the screen hands it the lines when the state may
have changed and it is shown. Same lines, no repaint; the labels ("Where", "Carrying"...) are
styled by position, never by markup, and every line is cleaned (the state is untrusted text
from saves and the model).
"""

from __future__ import annotations

from rich.text import Text
from textual.app import ComposeResult
from textual.containers import VerticalScroll
from textual.widgets import Static

from tui.core.text import one_line
from tui.widgets.css import css_beside

LINE_LIMIT = 2000  # a line of the panel, cleaned; the state caps its parts already


def panel_text(lines: list[str]) -> Text:
    """The lines as one Text, each label up to its first ": " in bold."""
    text = Text(no_wrap=False)
    for i, raw in enumerate(lines):
        line = one_line(raw, LINE_LIMIT)
        if i:
            text.append("\n")
        label, sep, rest = line.partition(": ")
        if sep and label and len(label) <= 12:
            text.append(label + ":", style="bold")
            text.append(" " + rest)
        else:
            text.append(line)
    return text


class WorldPanel(VerticalScroll, can_focus=False):
    """A narrow column beside the story; hidden until its key shows it."""

    DEFAULT_CSS = css_beside(__file__)

    def __init__(self) -> None:
        super().__init__(id="world-panel")
        self.lines: list[str] | None = None  # what is drawn; None: nothing yet
        self.updates = 0  # times the drawn lines changed (tests check a hidden panel's)

    def compose(self) -> ComposeResult:
        yield Static(Text(""), markup=False, id="world-lines")

    def show_lines(self, lines: list[str]) -> bool:
        """Draw `lines`; the same lines as drawn cost nothing. True when they changed."""
        if lines == self.lines:
            return False
        self.lines = list(lines)
        self.updates += 1
        self.query_one("#world-lines", Static).update(panel_text(self.lines))
        return True

    @property
    def shown_text(self) -> str:
        return "\n".join(self.lines or [])
