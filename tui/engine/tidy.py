"""A finished response, trimmed: whitespace at the ends and a sentence cut off mid-way."""

from __future__ import annotations

import re

_SENTENCE_END = re.compile("[.!?\u2026][\"'\u201d\u2019)\\]]*(?=\\s|$)")


def tidy_response(text: str, *, continuing: bool) -> str:
    """Trim a finished response: whitespace at the ends, and a sentence cut off mid-way.

    When the token limit stops the model mid-sentence, the story reads better ending at
    the last full sentence (as AI Dungeon does), unless that would drop most of the text.
    """
    text = text.rstrip()
    if not continuing:
        text = text.lstrip()
    ends = list(_SENTENCE_END.finditer(text))
    last = ends[-1].end() if ends else 0
    if text and last != len(text) and last >= len(text) * 0.5:  # a tail after a sentence
        text = text[:last]
    return text


def shown_so_far(text: str, start: int = 0) -> int:
    """How much of a response still being written can be shown for good: up to the end of
    its last sentence that text already follows (`tidy_response` never cuts before that).
    `start`: where to look from (what was already found), so each piece costs its own
    length."""
    last = start
    for match in _SENTENCE_END.finditer(text, start):
        if match.end() < len(text):
            last = match.end()
    return last
