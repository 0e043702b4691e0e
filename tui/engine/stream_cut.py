"""`cut_at_new_action` for a streamed reply, read piece by piece in O(piece) each.

Re-joining and re-searching the whole reply on every piece costs O(n²) over a long reply;
this keeps only what a later `>` line could still need: where the current line of
whitespace began (see docs/architecture.md, "One turn").
"""

from __future__ import annotations

import re

_NEWLINE_THEN_ACTION = re.compile(r"\n\s*>")


class ActionLineCut:
    """Feed the pieces of a reply; `feed` returns where `cut_at_new_action` would cut the
    text so far (an index into the joined text), or None while it would not cut."""

    def __init__(self) -> None:
        self.length = 0  # characters fed so far
        # where a `>` arriving now would cut: the start of the text, or the first newline of
        # the whitespace that ends the text; None after a line with other text on it
        self._cut_if_action: int | None = 0

    def feed(self, piece: str) -> int | None:
        base = self.length
        self.length += len(piece)
        lead = len(piece) - len(piece.lstrip())
        if self._cut_if_action is None:
            newline = piece.find("\n", 0, lead)
            if newline >= 0:
                self._cut_if_action = base + newline
        if lead == len(piece):  # whitespace only: nothing else changes
            return None
        if piece[lead] == ">" and self._cut_if_action is not None:
            return self._cut_if_action
        match = _NEWLINE_THEN_ACTION.search(piece, lead)
        if match:
            return base + match.start()
        trailing = len(piece.rstrip())
        newline = piece.find("\n", trailing)
        self._cut_if_action = base + newline if newline >= 0 else None
        return None
