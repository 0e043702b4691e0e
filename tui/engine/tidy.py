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
    if text and not _SENTENCE_END.search(text[-3:]):
        ends = list(_SENTENCE_END.finditer(text))
        if ends and ends[-1].end() >= len(text) * 0.5:
            text = text[: ends[-1].end()]
    return text
