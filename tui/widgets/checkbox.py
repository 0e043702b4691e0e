"""A checkbox whose state reads without colour: `[X]` on, `[ ]` off (NO_COLOR, 16 colours)."""

from __future__ import annotations

from textual.widgets import Checkbox

from tui.widgets.css import css_beside


class PlainCheckbox(Checkbox):
    """The stock checkbox shows the same X either way and tells on from off by colour only."""

    DEFAULT_CSS = css_beside(__file__)
    BUTTON_LEFT = "["
    BUTTON_RIGHT = "]"

    @property  # type: ignore[override]
    def BUTTON_INNER(self) -> str:  # noqa: N802 - shadows the stock class attribute
        return "X" if self.value else " "
