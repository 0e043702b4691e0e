"""One line: what the game is doing, context tokens used/total, and the model.

The line is made of parts, most important first: the state (its ` · `-separated pieces in
order), then the context count, then the model's name. When the terminal is narrow, whole
parts are dropped from the end; a part is never cut in the middle (only a first part wider
than the whole line is shortened).
"""

from __future__ import annotations

from rich.cells import cell_len
from rich.text import Text
from textual import events
from textual.widgets import Static

from tui.core.text import one_line
from tui.widgets.css import css_beside

STATE_SEPARATOR = " · "
GROUP_SEPARATOR = " │ "


def fit_parts(parts: list[tuple[str, str]], width: int) -> str:
    """Join (separator, text) parts in order, stopping before the first that does not fit."""
    line = ""
    for separator, text in parts:
        piece = (separator if line else "") + text
        if cell_len(line) + cell_len(piece) > width:
            if not line:  # even the most important part is too wide: shorten it
                return one_line(text, max(width, 1))
            break
        line += piece
    return line


class StatusBar(Static):
    DEFAULT_CSS = css_beside(__file__)

    def __init__(self) -> None:
        super().__init__(Text(""), markup=False)
        self.model = "no model"
        self.ctx_used: int | None = None
        self.ctx_total: int | None = None
        self.state = ""
        self.background = ""  # what the model does while the player types ("reading…")
        self.shown: str | None = None  # the line on screen: unchanged, nothing is repainted

    def set(self, *, model: str | None = None, ctx_used: int | None = None,
            ctx_total: int | None = None, state: str | None = None,
            background: str | None = None) -> None:
        if model is not None:
            self.model = model
        if ctx_used is not None:
            self.ctx_used = ctx_used
        if ctx_total is not None:
            self.ctx_total = ctx_total
        if state is not None:
            self.state = state
        if background is not None:
            self.background = background
        self.refresh_line()

    def parts(self) -> list[tuple[str, str]]:
        """(separator before it, text), most important first."""
        used = "–" if self.ctx_used is None else str(self.ctx_used)
        total = "–" if self.ctx_total is None else str(self.ctx_total)
        state = [p for p in one_line(self.state, 200).split(STATE_SEPARATOR) if p.strip()]
        if self.background:
            state.append(one_line(self.background, 40))
        return [
            *((STATE_SEPARATOR, piece) for piece in state),
            (GROUP_SEPARATOR, f"ctx {used}/{total}"),
            (GROUP_SEPARATOR, one_line(self.model, 60)),
        ]

    def refresh_line(self) -> None:
        width = self.content_size.width
        if width <= 0:  # not laid out yet: the resize that follows fits it
            width = 10_000
        line = fit_parts(self.parts(), width)
        if line != self.shown:
            self.shown = line
            self.update(Text(line))

    def on_resize(self, event: events.Resize) -> None:
        self.refresh_line()
