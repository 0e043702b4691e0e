"""The reply being streamed: an append re-wraps only the last line and repaints only the
rows that changed (docs/architecture.md, "Screen cost").

Textual repaints the whole story when its height changes or it scrolls. So this widget keeps
blank rows in reserve below its text and grows by a few screens at once (`grow_rows`) when
the reserve runs low; the story view scrolls by half a screen when the text reaches the
bottom. Between those, a flush writes the last line up to its new words and nothing else.
Its text is untrusted model output: `clean` strips control characters, and it is drawn as
plain segments, never parsed as markup.
"""

from __future__ import annotations

import re

from rich.cells import cell_len
from rich.segment import Segment
from textual.geometry import Region, Size
from textual.strip import Strip
from textual.widget import Widget

from tui.core.text import clean

_PIECE = re.compile(r"\n|[^\S\n]+|\S+")


def wrap_starts(text: str, start: int, width: int) -> list[int]:
    """Where each line of `text[start:]` begins, word-wrapped greedily at `width` cells.

    Spaces after a word hang past the edge (the next line starts at a word); a word wider
    than the line is folded; a newline starts a line. Greedy wrapping means the lines before
    the last one never change when text is appended, so the live text re-wraps from its last
    line's start only.
    """
    width = max(width, 1)
    starts = [start]
    col = 0
    for match in _PIECE.finditer(text, start):
        piece = match.group()
        if piece == "\n":
            starts.append(match.end())
            col = 0
        elif piece[0].isspace():
            col += cell_len(piece)
        else:
            cells = cell_len(piece)
            if col and col + cells > width:
                starts.append(match.start())
                col = 0
            if cells <= width:
                col += cells
                continue
            for offset, char in enumerate(piece):  # fold a word wider than the line
                char_cells = cell_len(char)
                if col and col + char_cells > width:
                    starts.append(match.start() + offset)
                    col = 0
                col += char_cells
    return starts


def common_cells(a: str, b: str) -> int:
    """Cells of the longest common prefix of `a` and `b`."""
    n = 0
    for x, y in zip(a, b, strict=False):
        if x != y:
            break
        n += 1
    return cell_len(a[:n])


class LiveText(Widget):
    """Streamed text that grows at the end. `append` and `raw` are all a caller needs."""

    DEFAULT_CSS = "LiveText { height: auto; }"

    def __init__(self, rows: int = 1, **kwargs: object) -> None:
        """`rows`: the rows to take at first (the reserve the reply will fill)."""
        super().__init__(**kwargs)  # type: ignore[arg-type]
        self.raw = ""
        self._width = 0  # the width `_starts` was wrapped at (0: not wrapped yet)
        self._starts: list[int] = [0]
        self._wrapped = 0  # how much of `raw` `_starts` covers
        self._rows = max(rows, 1)  # rows taken on screen: the text's and the reserve below
        self._splits: dict[int, int] = {}  # row -> column where the latest append changed it

    # --- wrapping -------------------------------------------------------------------------

    def _wrap(self, width: int) -> None:
        if width != self._width:
            self._width = width
            self._starts = wrap_starts(self.raw, 0, width)
        elif self._wrapped != len(self.raw):
            last = len(self._starts) - 1
            self._starts[last:] = wrap_starts(self.raw, self._starts[last], width)
        self._wrapped = len(self.raw)

    @property
    def text_rows(self) -> int:
        return len(self._starts)

    def row_text(self, y: int) -> str:
        if y >= len(self._starts):
            return ""
        end = self._starts[y + 1] if y + 1 < len(self._starts) else len(self.raw)
        return self.raw[self._starts[y]:end].rstrip()

    # --- appending ------------------------------------------------------------------------

    def append(self, text: str, keep_rows: int = 1, grow_rows: int = 1) -> None:
        """Add streamed text. When fewer than `keep_rows` blank rows are left below it, the
        widget grows to `grow_rows` below its text (one layout, not one per line)."""
        text = clean(text).replace("\t", "    ")  # a tab would move the terminal's cursor
        if not text:
            return
        width = self.size.width
        if width <= 0:  # not laid out yet: the layout wraps it
            self.raw += text
            self.refresh(layout=True)
            return
        self._wrap(width)
        first = len(self._starts) - 1
        before = self.row_text(first)
        self.raw += text
        self._wrap(width)
        after = self.row_text(first)
        x = common_cells(before, after)
        # Textual writes a dirty region's segments from the one holding its first cell: the
        # row is drawn in two segments split at `x`, so the unchanged words are not rewritten.
        self._splits = {first: x}
        end = cell_len(after) if after.startswith(before) else width  # it only grew: no blanks
        self.refresh(Region(x, first, max(end - x, 1), 1))
        for y in range(first + 1, len(self._starts)):
            self.refresh(Region(0, y, max(cell_len(self.row_text(y)), 1), 1))
        if len(self._starts) + keep_rows > self._rows:
            self._rows = len(self._starts) + max(grow_rows, keep_rows)
            self.refresh(layout=True)

    # --- Textual's line API ---------------------------------------------------------------

    def get_content_height(self, container: Size, viewport: Size, width: int) -> int:
        self._wrap(width)
        self._rows = max(self._rows, len(self._starts))
        return self._rows

    def render_line(self, y: int) -> Strip:
        width = self.size.width
        self._wrap(width)
        style = self.rich_style
        text = self.row_text(y)
        pad = width - cell_len(text)
        if pad < 0:
            return Strip([Segment(text, style)]).crop(0, width)
        split = min(self._splits.get(y, 0), len(text))
        while split and cell_len(text[:split]) > self._splits[y]:
            split -= 1
        segments = [Segment(text[:split], style), Segment(text[split:], style),
                    Segment(" " * pad, style)]
        return Strip([seg for seg in segments if seg.text], width)
