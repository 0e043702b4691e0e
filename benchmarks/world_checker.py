"""The checker of `bench_world.py`'s scripted adventure: where a narration contradicts the
world as the script knows it (benchmarks/README.md, "world"; docs/architecture.md, "World
state").

Three kinds, each a small explicit pattern looked for sentence by sentence:
- `item`: an item carried described as absent ("you have no lantern", "without a lamp",
  "you lost the lantern", "the lantern is gone", "you no longer carry the map");
- `dead`: a dead person speaking or acting: their name, then within the sentence and at most
  five words on, with no other subject between ("you", "he", ...), a verb of speech or
  gesture ("Bram says", "Ilse, pale, nods"), or a verb of speech before the name
  ('"Go," says Ilse');
- `exit`: an exit taken that is not known: "you (or I: SmolLM2 often narrates the player in
  the first person) <go/walk/step/...> through the X" where X
  ends in a word for a way through (door, gate, arch, passage, ...) and is not one of the
  known exits (its words are not all words of one known exit).

Deliberately simple: it misses paraphrases and can be fooled, but it is deterministic and
the same for both modes of the benchmark, which is what a side-by-side count needs.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

KINDS = ("item", "dead", "exit")

_SENTENCE_END = re.compile(r"(?<=[.!?])[\"'”’]?\s+(?=[A-Z\"“'])|\n+")
_ART = r"(?:a|an|the|your|any|my)"
_ADJ = r"(?:[\w'-]+ )?"  # one optional word before the noun: "your brass lantern"
_ITEM_ABSENT = (
    r"\b(?:have|has|had|carry|carrying|hold|holding|with) no {w}s?\b",
    r"\bwithout " + _ART + " " + _ADJ + r"{w}\b",
    r"\b(?:lost|lose|dropped|drop|forgot|forgotten|misplaced) " + _ART + " " + _ADJ
    + r"{w}\b",
    r"\b{w} (?:is|was|has been) (?:gone|missing|lost|nowhere)\b",
    r"\b(?:don't|do not|didn't|did not|no longer) (?:have|carry|hold)(?: " + _ART + ")? "
    + _ADJ + r"{w}\b",
    r"\bleft " + _ART + " " + _ADJ + r"{w} behind\b",
)
_ACTS = ("said", "says", "say", "asks", "asked", "replies", "replied", "answers", "answered",
         "whispers", "whispered", "shouts", "shouted", "calls", "called", "speaks", "spoke",
         "tells", "told", "laughs", "laughed", "smiles", "smiled", "grins", "grinned", "nods",
         "nodded", "waves", "waved", "points", "pointed", "walks", "walked")
_SPEECH_BEFORE = ("said", "says", "asks", "asked", "replies", "replied", "whispers",
                  "whispered", "answers", "answered", "shouts", "shouted")
# "whispers Ilse": the verb, then the name with nothing but space between. In `said "Ilse,`
# the quote opens what the speaker said to Ilse: she is spoken to, not speaking.
_SAYS_NAME = r"\b(?:" + "|".join(_SPEECH_BEFORE) + r")\s+{name}\b"
# A word that starts another clause or subject: what follows it is not the name's doing.
_OTHER_SUBJECTS = {"you", "he", "she", "they", "it", "we", "i", "someone", "something",
                   "while", "and", "as", "but", "when", "though", "until", "before", "after",
                   "because", "where", "who", "which", "that"}
_WORD = re.compile(r"[\w'-]+")
_MOVE = re.compile(
    r"\b(?:you|I)\s+(?:\w+\s+)?(?:go|went|walk|walked|step|stepped|head|headed|pass|passed|slip|"
    r"slipped|climb|climbed|move|moved|run|ran|push|pushed|crawl|crawled|duck|ducked)"
    r"\s+(?:back\s+|out\s+)?through\s+(?:the|a|an|another)\s+([\w' -]+?)"
    r"(?=[,.;:!?\"”]|\s+(?:and|to|into|toward|towards|as|while|with|of|in|on|at)\b|$)",
    re.IGNORECASE)
WAYS_THROUGH = frozenset({"door", "doorway", "gate", "gateway", "arch", "archway", "trapdoor",
                          "hatch", "window", "passage", "tunnel", "opening", "gap", "portal",
                          "hole", "stair", "stairs", "staircase", "entrance", "exit"})
_STOP = {"the", "a", "an", "of", "to", "into", "old"}


@dataclass(frozen=True)
class Truth:
    """What the script knows at a turn: the items carried (each with the words that name it,
    e.g. "brass lantern": ("lantern", "lamp")), the dead (each with the names they go by),
    and the known exits of the player's place."""

    items: dict[str, tuple[str, ...]]
    dead: dict[str, tuple[str, ...]]
    exits: tuple[str, ...]


@dataclass(frozen=True)
class Contradiction:
    kind: str  # one of KINDS
    subject: str  # the item, the dead person, or the way taken
    sentence: str


def sentences(text: str) -> list[str]:
    return [s.strip() for s in _SENTENCE_END.split(text) if s.strip()]


def _item_absent(sentence: str, words: tuple[str, ...]) -> bool:
    for word in words:
        w = re.escape(word)
        if any(re.search(p.format(w=w), sentence, re.IGNORECASE) for p in _ITEM_ABSENT):
            return True
    return False


def _dead_acts(sentence: str, names: tuple[str, ...]) -> bool:
    words = [w.lower() for w in _WORD.findall(sentence)]
    for name in names:
        key = name.lower()
        for i, word in enumerate(words):
            if word not in (key, key + "'s"):
                continue
            after = words[i + 1:i + 7]
            for j, next_word in enumerate(after):
                if next_word in _OTHER_SUBJECTS:
                    break
                if next_word in _ACTS and j <= 5:
                    return True
        if re.search(_SAYS_NAME.format(name=re.escape(name)), sentence, re.IGNORECASE):
            return True
    return False


def _content(words: str) -> set[str]:
    return {w.lower() for w in _WORD.findall(words)} - _STOP


def _unknown_ways(sentence: str, exits: tuple[str, ...]) -> list[str]:
    known = [_content(e) for e in exits]
    out: list[str] = []
    for match in _MOVE.finditer(sentence):
        way = match.group(1).strip()
        words = _content(way)
        tail = _WORD.findall(way.lower())
        if not tail or tail[-1] not in WAYS_THROUGH:
            continue  # "through the trees": not a way out of the place
        if not any(words and words <= k for k in known):
            out.append(way)
    return out


def check(narration: str, truth: Truth) -> list[Contradiction]:
    """Every contradiction in `narration`, in the order found (at most one per sentence,
    subject and kind)."""
    found: list[Contradiction] = []
    for sentence in sentences(narration):
        for item, words in truth.items.items():
            if _item_absent(sentence, words):
                found.append(Contradiction("item", item, sentence))
        for person, names in truth.dead.items():
            if _dead_acts(sentence, names):
                found.append(Contradiction("dead", person, sentence))
        for way in _unknown_ways(sentence, truth.exits):
            found.append(Contradiction("exit", way, sentence))
    return found


def count(found: list[Contradiction]) -> dict[str, int]:
    return {kind: sum(c.kind == kind for c in found) for kind in KINDS}
