"""The input line with the current mode (Do / Say / Story) shown beside it."""

from __future__ import annotations

import re
from collections.abc import Callable

from rich.text import Text
from textual.app import ComposeResult
from textual.containers import Horizontal
from textual.geometry import Size
from textual.message import Message
from textual.reactive import Reactive
from textual.widgets import Input, Static

from tui.core.text import one_line
from tui.engine.actions import Mode, next_mode
from tui.widgets.css import css_beside

PLACEHOLDERS = {
    Mode.DO: "What do you do? (empty: continue, /help: commands)",
    Mode.SAY: "What do you say?",
    Mode.STORY: "Write the story as it goes on…",
}


class ActionInput(Input):
    """The input line, repainted but never laid out again as keys are typed.

    Textual's Input sets its virtual width on every key, and a virtual size change lays out
    the whole screen: every paragraph of the story, ~20 ms a key with 600 of them, much more
    while text streams in. This box has a fixed size (the rest of the bar's width, 3 rows),
    so the new width only needs a repaint (docs/architecture.md, "Screen cost"). No blinking
    cursor either: a blink repaints the box twice a second, forever.
    """

    virtual_size: Reactive[Size] = Reactive(Size(0, 0), layout=False)

    def __init__(self, **kwargs: object) -> None:
        super().__init__(**kwargs)  # type: ignore[arg-type]
        self.cursor_blink = False

    async def action_submit(self) -> None:
        """Enter: the bar takes the line as the key is read, so the keys behind it in a burst
        land after whatever became of it (docs/architecture.md, "Keys")."""
        if isinstance(self.parent, ActionBar):
            self.parent.take_line()


_LINE_BREAKS = re.compile(r"\s*\n\s*")


class ActionBar(Horizontal):
    DEFAULT_CSS = css_beside(__file__)

    class Submitted(Message):
        def __init__(self, mode: Mode, text: str) -> None:
            super().__init__()
            self.mode = mode
            self.text = text

    def __init__(self, refuses: Callable[[str], bool] | None = None) -> None:
        """`refuses`: whether a line cannot be played now (it tells the player why); a refused
        line stays in the input, and what is typed next goes after it."""
        super().__init__()
        self.mode = Mode.DO
        self.fixed = False
        self.refuses = refuses
        self.kept = ""  # refused lines put back at the input's start since a line was taken

    def compose(self) -> ComposeResult:
        yield Static(Text(self._label()), id="mode", markup=False)
        yield ActionInput(placeholder=PLACEHOLDERS[self.mode], id="action")

    def _label(self) -> str:
        return f"{self.mode.value.capitalize()} ▸"

    @property
    def input(self) -> Input:
        return self.query_one("#action", Input)

    def fix_label(self, label: str, placeholder: str) -> None:
        """A fixed label and no modes (chat): Tab moves focus instead."""
        self.fixed = True  # both hold a name from a card or a save: untrusted text
        self.query_one("#mode", Static).update(Text(one_line(label, 40)))
        self.input.placeholder = one_line(placeholder, 200)

    def cycle_mode(self) -> None:
        if not self.fixed:
            self.set_mode(next_mode(self.mode))

    def set_mode(self, mode: Mode) -> None:
        self.mode = mode
        self.query_one("#mode", Static).update(Text(self._label()))
        self.input.placeholder = PLACEHOLDERS[mode]

    def give_back(self, line: str) -> None:
        """Put the line of a turn the player stopped before it wrote back into the input, so
        Enter sends it again; not over anything typed since (the player moved on)."""
        if line and not self.input.value:
            self.put_line(line)

    def put_line(self, text: str) -> None:
        """Make `text` the input's line, the cursor at its end and in view. Its line breaks
        become spaces: the input is one line, and an impersonation of several paragraphs
        showed its first line only, the cursor and what was typed lost past it. (Textual's
        Input scrolls to a cursor moved, not to one already where the new value puts it:
        the first value given leaves it there, and a long line showed its start.)"""
        text = _LINE_BREAKS.sub(" ", text)
        self.input.value = text
        self.input.cursor_position = 0
        self.input.cursor_position = len(text)

    def keep_refused(self, line: str) -> None:
        """Put a line refused after it left the input (the model began to write meanwhile, a
        room's turn was taken) back in front of what was typed since, after the lines put
        back before it: nothing lost, all in order; Enter sends it again."""
        if not line:
            return
        value = self.input.value
        at = len(self.kept) if value.startswith(self.kept) else 0
        self.kept = value[:at] + line
        self.put_line(self.kept + value[at:])

    def take_line(self) -> None:
        line = self.input.value
        if self.refuses is not None and self.refuses(line):
            return
        self.input.value = ""
        self.kept = ""
        self.post_message(self.Submitted(self.mode, line))
