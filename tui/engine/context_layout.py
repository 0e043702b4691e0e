"""How a prompt is laid out for one style (plain story text, or an instruct template): the
header, each message, the bracketed late note and the generation prompt as pieces, and the
macros ({{char}}, {{user}}) applied to text before it is laid out."""

from __future__ import annotations

import re
from dataclasses import dataclass

from tui.engine.context_types import NARRATOR, NOTE, PLAYER, HeaderPart, Message
from tui.engine.templates import InstructTemplate


@dataclass(frozen=True)
class _Piece:
    kind: str
    label: str
    text: str
    special: bool  # template markers: parse special tokens
    by_line: bool = False  # a sentence or line break of a note part (Layout.note, `by_line`)


# Where a sentence ends inside a line: its punctuation and any closing quote, bracket or
# asterisk, before a space (which goes with the next sentence, as the tokenizer reads it).
_SENTENCE_END = re.compile(r"[.!?…]+[\"'”’*)\]]*(?=\s)")


def sentences(line: str) -> list[str]:
    """A line cut after each sentence; joined, the pieces are the line."""
    pieces, start = [], 0
    for match in _SENTENCE_END.finditer(line):
        pieces.append(line[start : match.end()])
        start = match.end()
    if start < len(line):
        pieces.append(line[start:])
    return pieces


def apply_macros(text: str, macros: dict[str, str]) -> str:
    """Replace {{char}}/{{user}}-style macros, case-insensitively."""
    if not macros or ("{{" not in text and "<" not in text):
        return text
    pattern = re.compile("|".join(re.escape(k) for k in macros), re.IGNORECASE)
    lookup = {k.lower(): v for k, v in macros.items()}
    return pattern.sub(lambda m: lookup[m.group(0).lower()], text)


class Layout:
    """Turns header, messages and notes into pieces, for one prompt style."""

    def __init__(self, template: InstructTemplate | None) -> None:
        self.template = template

    @property
    def instruct(self) -> bool:
        return self.template is not None

    def header(self, parts: list[HeaderPart]) -> list[_Piece]:
        texts = [p for p in parts if p.text.strip()]
        if not texts:
            return []
        pieces: list[_Piece] = []
        if self.template:
            prefix, _ = self.template.wrap_system("")
            pieces.append(_Piece("template", "system start", prefix, True))
        for i, part in enumerate(texts):
            sep = "\n\n" if i < len(texts) - 1 else ""
            pieces.append(_Piece(part.kind, part.label, part.text.strip() + sep, False))
        if self.template:
            _, suffix = self.template.wrap_system("")
            pieces.append(_Piece("template", "system end", suffix, True))
        else:
            pieces.append(_Piece("template", "header end", "\n\n", False))
        return pieces

    def message(self, msg: Message, first: bool, open_end: bool = False) -> list[_Piece]:
        if msg.role == NOTE:  # a note kept in the story (the world state's): as placed
            return self.note([(msg.kind, msg.label, msg.text)], by_line=True)
        t = self.template
        if t is None and msg.speaker:
            lead = "" if first else "\n"
            return [_Piece(msg.kind, msg.label, f"{lead}{msg.speaker}: {msg.text}", False)]
        if t is None:
            if msg.role == PLAYER:
                lead = "" if first else "\n\n"
                tail = "\n" if msg.text.startswith(">") else ""
                return [_Piece(msg.kind, msg.label, lead + msg.text + tail, False)]
            lead = "" if first else ("\n\n" if not msg.text[:1].isspace() else "")
            return [_Piece(msg.kind, msg.label, lead + msg.text, False)]
        if msg.role == PLAYER:
            prefix, suffix = t.user_prefix, t.user_suffix
        else:
            prefix, suffix = t.assistant_prefix, t.assistant_suffix
        pieces = [
            _Piece("template", f"{msg.role} start", prefix, True),
            _Piece(msg.kind, msg.label, msg.text, False),
        ]
        if not open_end:
            pieces.append(_Piece("template", f"{msg.role} end", suffix, True))
        return pieces

    def note(self, parts: list[tuple[str, str, str]], by_line: bool = False) -> list[_Piece]:
        """The late block: author's note and late lore, as one short bracketed note. With
        `by_line` (world notes, see context_world), every sentence of every line is a piece
        and every line break one of its own, so a note placed in parts and the same text
        kept in the story as one message come out as the same tokens, and a kept note the
        window's start reaches can lose its first sentences alone (`_Build._front_note`)."""
        parts = [p for p in parts if p[2].strip()]
        if not parts:
            return []
        body: list[_Piece] = []
        for i, (kind, label, text) in enumerate(parts):
            sep = "\n" if i < len(parts) - 1 else ""
            if not by_line:
                body.append(_Piece(kind, label, text.strip() + sep, False))
                continue
            for n, line in enumerate(text.strip().split("\n")):
                if n:
                    body.append(_Piece(kind, label, "\n", False, by_line=True))
                body.extend(_Piece(kind, label, sentence, False, by_line=True)
                            for sentence in sentences(line))
            if sep:
                body.append(_Piece("template", "note break", sep, False))
        t = self.template
        if t is None:
            return [
                _Piece("template", "note start", "\n\n[", False),
                *body,
                _Piece("template", "note end", "]", False),
            ]
        if t.has_system_role:
            prefix, suffix = t.system_prefix, t.system_suffix
        else:
            prefix, suffix = t.user_prefix, t.user_suffix
        return [
            _Piece("template", "note start", prefix + "[", True),
            *body,
            _Piece("template", "note end", "]" + suffix, True),
        ]

    def generation(self, continuing: bool, role: str = NARRATOR,
                   speaker: str = "") -> list[_Piece]:
        if continuing:
            return []
        if self.template is None:
            if speaker:
                return [_Piece("template", "response start", f"\n{speaker}:", False)]
            return []
        prefix = self.template.user_prefix if role == PLAYER else self.template.assistant_prefix
        return [_Piece("template", "response start", prefix, True)]

    def stops(self, extra: list[str] | None = None) -> list[str]:
        stops = list(extra or [])
        if self.template:
            stops.extend(s for s in self.template.stops if s not in stops)
        return stops
