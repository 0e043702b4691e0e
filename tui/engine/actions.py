"""Do / Say / Story / Continue: turning what the player typed into story text.

Formatting follows AI Dungeon's input types (see shared/reference/formats.md):
Do "open the door" -> "> You open the door.", Say "hello" -> '> You say "Hello."',
Story is kept as typed, and empty input continues the story.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import StrEnum


class Mode(StrEnum):
    DO = "do"
    SAY = "say"
    STORY = "story"
    CONTINUE = "continue"


CYCLE = (Mode.DO, Mode.SAY, Mode.STORY)

# First person -> second person, outside quotes. Longer forms first.
_PRONOUNS = {
    "i'm": "you're",
    "i've": "you've",
    "i'll": "you'll",
    "i'd": "you'd",
    "i am": "you are",
    "i was": "you were",
    "myself": "yourself",
    "mine": "yours",
    "my": "your",
    "me": "you",
    "am": "are",
    "i": "you",
}
_PRONOUN_RE = re.compile(
    r"\b(" + "|".join(re.escape(k) for k in sorted(_PRONOUNS, key=len, reverse=True)) + r")\b",
    re.IGNORECASE,
)
_QUOTED = re.compile(r'("[^"]*"?)')
_END_PUNCT = tuple('.!?"\'…*)')

# A spoken line that starts like a question ends with "?" when the player left it off:
# a wh-word ("who are you"), or an auxiliary verb before its subject ("are you coming").
_WH_WORDS = {"who", "whom", "whose", "what", "where", "when", "why", "which", "how"}
_AUXILIARIES = {
    "am", "is", "are", "was", "were", "do", "does", "did", "can", "could", "will", "would",
    "shall", "should", "may", "might", "must", "have", "has", "had", "isn't", "aren't",
    "wasn't", "weren't", "doesn't", "didn't", "can't", "couldn't", "won't", "wouldn't",
    "shouldn't", "haven't", "hasn't",
}
_SUBJECTS = {
    "i", "you", "we", "they", "he", "she", "it", "this", "that", "these", "those", "there",
    "the", "a", "an", "my", "your", "our", "their", "his", "her", "its", "anyone", "anybody",
    "someone", "somebody", "everyone", "anything", "something", "any", "all", "ye", "thou",
}
# "do" and "have" also start orders ("do it now", "have a drink"): a question only before a
# person ("do you know", "have they gone").
_ALSO_ORDERS = {"do", "have"}
_PERSONS = {"i", "you", "we", "they", "he", "she", "ye", "thou"}
_LAST_SENTENCE = re.compile(r"(?<=[.!?])\s+")
_WORD = re.compile(r"[a-z']+")


@dataclass(frozen=True)
class Action:
    mode: Mode
    raw: str  # what the player typed (without a mode prefix)
    text: str  # the formatted text that enters the story ("" for continue)


def next_mode(mode: Mode) -> Mode:
    """The mode Tab switches to."""
    order = list(CYCLE)
    return order[(order.index(mode) + 1) % len(order)] if mode in order else Mode.DO


def split_prefix(line: str, default: Mode) -> tuple[Mode, str]:
    """Honour a `do `/`say `/`story ` prefix; otherwise use the current mode."""
    stripped = line.strip()
    for mode in CYCLE:
        word = mode.value
        if stripped.lower() == word:
            return mode, ""
        if stripped.lower().startswith(word + " "):
            return mode, stripped[len(word) + 1 :].strip()
    return default, stripped


def _second_person(segment: str) -> str:
    def swap(match: re.Match[str]) -> str:
        return _PRONOUNS[match.group(0).lower()]

    return _PRONOUN_RE.sub(swap, segment)


def to_second_person(text: str) -> str:
    """Swap first-person words for second-person ones everywhere but inside quotes."""
    parts = _QUOTED.split(text)
    return "".join(p if p.startswith('"') else _second_person(p) for p in parts)


def _capitalise(text: str) -> str:
    return text[:1].upper() + text[1:] if text else text


def _end_sentence(text: str) -> str:
    return text if text.endswith(_END_PUNCT) else text + "."


def format_do(raw: str) -> str:
    body = to_second_person(raw.strip())
    if not re.match(r"you\b", body, re.IGNORECASE):
        body = "you " + body
    body = "You" + body[3:]
    return "> " + _end_sentence(body)


def is_question(speech: str) -> bool:
    """Whether the last sentence of `speech` reads as a question ("who are you",
    "are you coming"), whatever its punctuation."""
    sentence = _LAST_SENTENCE.split(speech.strip())[-1]
    words = _WORD.findall(sentence.lower().replace("’", "'"))
    if not words:
        return False
    first, second = words[0], words[1] if len(words) > 1 else ""
    if first in _WH_WORDS:
        return not (first == "what" and second in ("a", "an"))  # "what a night"
    if first in _ALSO_ORDERS:
        return second in _PERSONS
    return first in _AUXILIARIES and second in _SUBJECTS


def format_say(raw: str) -> str:
    speech = raw.strip()
    if len(speech) >= 2 and speech[0] == speech[-1] == '"':
        speech = speech[1:-1].strip()
    speech = _capitalise(speech)
    if not speech.endswith(_END_PUNCT) and is_question(speech):
        speech += "?"
    return f'> You say "{_end_sentence(speech)}"'


def make_action(mode: Mode, raw: str) -> Action:
    """Format one input line. Empty input in any mode is a Continue."""
    raw = raw.strip()
    if not raw or mode is Mode.CONTINUE:
        return Action(Mode.CONTINUE, "", "")
    if mode is Mode.DO:
        return Action(mode, raw, format_do(raw))
    if mode is Mode.SAY:
        return Action(mode, raw, format_say(raw))
    return Action(mode, raw, raw)


_NEW_ACTION_LINE = re.compile(r"(^|\n)\s*>")


def cut_at_new_action(text: str) -> str:
    """Cut the model's text where it starts a new `>` line: the model must not play the player."""
    match = _NEW_ACTION_LINE.search(text)
    return text[: match.start()] if match else text
