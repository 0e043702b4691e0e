"""The story: finished paragraphs stay untouched; only the live response is updated.

Every text shown here is untrusted (model output, scenario files): it goes in as a Rich
`Text`, never as markup, after control characters are stripped.
"""

from __future__ import annotations

from rich.text import Text
from textual.containers import VerticalScroll
from textual.widgets import Static

from tui.core.text import clean
from tui.engine.campaign import OPENING, Campaign
from tui.widgets.css import css_beside

MAX_SHOWN_BLOCKS = 600  # older passages stay in the save; the view keeps the recent ones


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
        self.live: Paragraph | None = None

    def _at_end(self) -> bool:
        return self.scroll_y >= self.max_scroll_y - 1

    def _append(self, widget: Paragraph) -> Paragraph:
        follow = self._at_end()
        self.mount(widget)
        if follow:
            self.call_after_refresh(self.scroll_end, animate=False)
        return widget

    def add_action(self, text: str) -> None:
        if text:
            self._append(Paragraph(text, "action" if text.startswith(">") else "story"))

    def add_response(self, text: str) -> None:
        if text:
            self._append(Paragraph(text, "story"))

    def start_live(self) -> None:
        self.live = self._append(Paragraph("…", "live"))
        self.live.raw = ""

    def append_live(self, text: str) -> None:
        if self.live is None:
            self.start_live()
        assert self.live is not None
        follow = self._at_end()
        if not self.live.raw:
            text = text.lstrip()  # a continuation's leading space belongs to the prompt only
        self.live.set_text(self.live.raw + text)
        if follow:
            self.call_after_refresh(self.scroll_end, animate=False)

    def finish_live(self, final: str | None) -> None:
        """End the live paragraph: keep it with its final text, or remove it (None/empty)."""
        live, self.live = self.live, None
        if live is None:
            if final:
                self.add_response(final)
            return
        if final:
            live.set_text(final)
            live.remove_class("live")
            live.add_class("story")
        else:
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
        self.call_after_refresh(self.scroll_end, animate=False)


def adventure_blocks(campaign: Campaign) -> list[tuple[str, str]]:
    """The adventure as story blocks: actions (marked) and narration."""
    blocks: list[tuple[str, str]] = []
    for turn in campaign.turns:
        if turn.mode != OPENING and turn.action:
            blocks.append((turn.action, "action" if turn.action.startswith(">") else "story"))
        if turn.response.strip():
            blocks.append((turn.response.strip(), "story"))
    return blocks
