"""The story: finished paragraphs stay untouched; only the live response is updated, and
only where it changed (`LiveText`, docs/architecture.md "Screen cost").

Every text shown here is untrusted (model output, scenario files): it goes in as a Rich
`Text`, never as markup, after control characters are stripped.
"""

from __future__ import annotations

from typing import TypeVar

from rich.text import Text
from textual.containers import VerticalScroll
from textual.widget import Widget
from textual.widgets import Static

from tui.core.text import clean
from tui.widgets.css import css_beside
from tui.widgets.live_text import LiveText

W = TypeVar("W", bound=Widget)
MAX_SHOWN_BLOCKS = 600  # older passages stay in the save; the view keeps the recent ones
LIVE_GROW_SCREENS = 4  # the live reply reserves rows this many screens at a time


class Paragraph(Static):
    """One block of story text."""

    def __init__(self, text: str, kind: str) -> None:
        super().__init__(Text(clean(text)), markup=False, classes=kind)
        self.raw = clean(text)

    def set_text(self, text: str) -> None:
        self.raw = clean(text)
        self.update(Text(self.raw))


class StoryView(VerticalScroll, can_focus=True):
    """The scrolling story. Append, don't re-render."""

    DEFAULT_CSS = css_beside(__file__)  # also the paragraphs' styles

    def __init__(self, **kwargs: object) -> None:
        super().__init__(**kwargs)  # type: ignore[arg-type]
        self.live: LiveText | None = None

    def _at_end(self) -> bool:
        return self.scroll_y >= self.max_scroll_y - 1

    def _following(self) -> bool:
        """The player reads the end of the story (has not scrolled up). With a live reply,
        its last line is the end, not the blank rows it holds in reserve."""
        end = self._live_end_row()
        if end is None:
            return self._at_end()
        return end < self.scroll_y + self._view_height()

    def _append(self, widget: W) -> W:
        follow = self._following()
        self.mount(widget)
        if follow:
            self.call_after_refresh(self._show_bottom_of, widget)
        return widget

    def _show_bottom_of(self, widget: Widget) -> None:
        """Scroll down just enough to show all of `widget` (not to the end: a live reply
        mounted after it holds blank rows in reserve there)."""
        bottom = widget.virtual_region_with_margin.bottom
        height = self._view_height()
        if bottom > self.scroll_y + height:
            self.scroll_to(y=bottom - height, animate=False)

    def add_action(self, text: str) -> None:
        if text:
            self._append(Paragraph(text, "action" if text.startswith(">") else "story"))

    def add_response(self, text: str) -> None:
        if text:
            self._append(Paragraph(text, "story"))

    def start_live(self) -> None:
        """Mount the live reply with its reserve of blank rows, and show where it begins."""
        height = self._view_height()
        follow = self._at_end()
        self.live = LiveText(rows=LIVE_GROW_SCREENS * height, classes="live")
        self.mount(self.live)
        if follow:
            self.call_after_refresh(self._show_live_row, 0)

    def _view_height(self) -> int:
        return max(self.scrollable_content_region.height, 2)

    def _show_live_row(self, row: int, always: bool = False) -> None:
        """Scroll the live reply's `row` half way down the screen if it is below the screen
        (`always`: wherever it is)."""
        if self.live is None:
            return
        height = self._view_height()
        y = self.live.virtual_region.y + row
        if always or y >= self.scroll_y + height:
            self.scroll_to(y=y + 1 - height + height // 2, animate=False)

    def _scroll_to_end(self) -> None:
        """The end of the story, which is the live reply's last line while there is one (the
        blank rows it holds in reserve below are not the end). Measured after the next
        refresh, when what was just mounted is laid out, and only then is it decided which end:
        a reply begun meanwhile (Enter typed ahead) is the end, not its reserve's bottom,
        which Textual's own deferred `scroll_end` would show."""
        if self.live is None:
            self.call_after_refresh(self._scroll_to_end_now)
        else:
            self._show_live_row(self.live.text_rows - 1, always=True)

    def _scroll_to_end_now(self) -> None:
        if self.live is None:
            self.scroll_end(animate=False, immediate=True)
        else:
            self._show_live_row(self.live.text_rows - 1, always=True)

    def _live_end_row(self) -> int | None:
        """The live text's last row in the story's scrolled space (None: not laid out)."""
        live = self.live
        if live is None or not live.size.width:
            return None
        return live.virtual_region.y + live.text_rows - 1

    def append_live(self, text: str) -> None:
        """Add streamed text to the live reply. A story that showed the reply's end scrolls
        by half a screen when the text reaches the bottom (a scroll repaints every row, so
        not one line at a time: docs/architecture.md, "Screen cost")."""
        if self.live is None:
            self.start_live()
        assert self.live is not None
        height = self._view_height()
        follow = self._following()
        if not self.live.raw:
            text = text.lstrip()  # a continuation's leading space belongs to the prompt only
        self.live.append(text, keep_rows=height // 2, grow_rows=LIVE_GROW_SCREENS * height)
        if follow:
            self.call_after_refresh(self._show_live_row, self.live.text_rows - 1)

    def finish_live(self, final: str | None) -> None:
        """End the live reply: a finished paragraph with the final text takes its place, or
        it goes (None/empty)."""
        live, self.live = self.live, None
        if live is None:
            if final:
                self.add_response(final)
            return
        if final:
            follow = self._following()
            self.mount(Paragraph(final, "story"), before=live)
            if follow:
                self.call_after_refresh(self._scroll_to_end)
        live.remove()

    def show_blocks(self, blocks: list[tuple[str, str]]) -> None:
        """Redraw from (text, kind) blocks (after undo/redo/edit: rare, never per token)."""
        self.remove_children()
        self.live = None
        if len(blocks) > MAX_SHOWN_BLOCKS:
            hidden = len(blocks) - MAX_SHOWN_BLOCKS
            blocks = [(f"({hidden} earlier passages are in the save)", "notice"),
                      *blocks[-MAX_SHOWN_BLOCKS:]]
        self.mount_all([Paragraph(text, kind) for text, kind in blocks if text])
        self.call_after_refresh(self._scroll_to_end)

