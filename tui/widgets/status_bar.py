"""One line: model, context tokens used/total, and what the game is doing."""

from __future__ import annotations

from rich.text import Text
from textual.widgets import Static

from tui.core.text import one_line


class StatusBar(Static):
    DEFAULT_CSS = """
    StatusBar { height: 1; background: $panel; color: $text; padding: 0 1; }
    """

    def __init__(self) -> None:
        super().__init__(Text(""), markup=False)
        self.model = "no model"
        self.ctx_used: int | None = None
        self.ctx_total: int | None = None
        self.state = ""

    def set(self, *, model: str | None = None, ctx_used: int | None = None,
            ctx_total: int | None = None, state: str | None = None) -> None:
        if model is not None:
            self.model = model
        if ctx_used is not None:
            self.ctx_used = ctx_used
        if ctx_total is not None:
            self.ctx_total = ctx_total
        if state is not None:
            self.state = state
        self.refresh_line()

    def refresh_line(self) -> None:
        used = "–" if self.ctx_used is None else str(self.ctx_used)
        total = "–" if self.ctx_total is None else str(self.ctx_total)
        line = f"{one_line(self.model, 28)} │ ctx {used}/{total} │ {self.state}"
        self.update(Text(line))
