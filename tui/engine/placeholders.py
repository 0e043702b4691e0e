"""`${...}` placeholders in scenarios: questions the player answers when a story starts.

Three spellings are read:

* AI Dungeon: `${Your name?}` asks "Your name?"; `${character.name}` is the player
  character's name.
* KoboldAI (scenarios converted from AI Dungeon): a bare `${}` is also the character's name.
* NovelAI: `${Name[Default]:Description}`, where `[Default]` and `:Description` are optional
  and a later `${Name}` repeats the answer.

AI Dungeon questions may contain colons and brackets ("Choose a race: Altmer (High Elf), ..."),
so the NovelAI reading is used only when the caller asks for it (`style="novelai"`), or in
`"auto"` style when the text after the key starts with `[default]`.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, replace

from tui.engine.lore import LoreEntry
from tui.engine.scenario import Scenario

CHARACTER_NAME = "character.name"
STYLES = ("auto", "aidungeon", "novelai")

_PLACEHOLDER = re.compile(r"\$\{([^{}]*)\}")
_NOVELAI = re.compile(r"^\s*([^\[\]:]*?)\s*(?:\[([^\]]*)\])?\s*(?::(.*))?$", re.DOTALL)
_NOVELAI_WITH_DEFAULT = re.compile(r"^\s*[^\[\]:]+?\s*\[[^\]]*\]\s*(?::.*)?$", re.DOTALL)


@dataclass(frozen=True)
class Placeholder:
    """One question: `key` names the answer, `question` is what to ask, `default` may be ""."""

    key: str
    question: str
    default: str = ""

    def describe(self) -> str:
        """One line for `Scenario.placeholders`: the question, with its default if any."""
        return f"{self.question} (default: {self.default})" if self.default else self.question


def parse_placeholder(body: str, style: str = "auto") -> Placeholder:
    """The placeholder written as `${body}`."""
    text = body.strip()
    if text in ("", CHARACTER_NAME):
        return Placeholder(CHARACTER_NAME, "Your character's name?")
    novelai = style == "novelai" or (style == "auto" and _NOVELAI_WITH_DEFAULT.match(text))
    if novelai:
        match = _NOVELAI.match(text)
        if match and match.group(1):
            key = match.group(1).strip()
            default = (match.group(2) or "").strip()
            question = (match.group(3) or "").strip() or key
            return Placeholder(key, question, default)
    return Placeholder(text, text)


def find_placeholders(texts: Iterable[str], style: str = "auto") -> list[Placeholder]:
    """Every distinct placeholder in `texts`, in order of first appearance.

    A later mention of the same key may supply the question or default the first lacked.
    """
    found: dict[str, Placeholder] = {}
    for text in texts:
        if not text or "${" not in text:
            continue
        for match in _PLACEHOLDER.finditer(text):
            ph = parse_placeholder(match.group(1), style)
            known = found.get(ph.key)
            if known is None:
                found[ph.key] = ph
                continue
            question = known.question if known.question != known.key else ph.question
            found[ph.key] = Placeholder(ph.key, question, known.default or ph.default)
    return list(found.values())


def merge_placeholders(first: list[Placeholder], more: list[Placeholder]) -> list[Placeholder]:
    """`first` completed by `more` (e.g. a NovelAI scenario's own placeholder list)."""
    by_key = {p.key: p for p in first}
    out = list(first)
    for p in more:
        known = by_key.get(p.key)
        if known is None:
            out.append(p)
            by_key[p.key] = p
            continue
        question = p.question if known.question == known.key and p.question else known.question
        merged = Placeholder(p.key, question, known.default or p.default)
        out[out.index(known)] = merged
        by_key[p.key] = merged
    return out


def replace_placeholders(text: str, answers: Mapping[str, str], style: str = "auto") -> str:
    """`text` with each answered placeholder (or one with a default) filled in.

    A default given at one mention of a key serves its other mentions too.

    A placeholder with neither an answer nor a default is left as written, so it is still
    listed afterwards and the caller can ask again.
    """
    if not text or "${" not in text:
        return text
    defaults = {p.key: p.default for p in find_placeholders([text], style) if p.default}

    def fill(match: re.Match[str]) -> str:
        ph = parse_placeholder(match.group(1), style)
        if ph.key in answers:
            return answers[ph.key]
        return defaults.get(ph.key, match.group(0))

    return _PLACEHOLDER.sub(fill, text)


# --- scenarios -------------------------------------------------------------------------------


def placeholder_style(scenario: Scenario) -> str:
    """The style a scenario was imported with (`extra["placeholder_style"]`), else "auto"."""
    style = scenario.extra.get("placeholder_style", "auto")
    return style if style in STYLES else "auto"


def scenario_texts(scenario: Scenario) -> list[str]:
    """Every text of a scenario a placeholder can sit in (not its options)."""
    texts = [scenario.opening, scenario.memory, scenario.authors_note, scenario.description]
    for entry in scenario.lore:
        texts.extend([entry.content, entry.name])
    return texts


def scenario_placeholders(scenario: Scenario) -> list[Placeholder]:
    """The questions a scenario asks, completed by any list its file gave
    (`extra["placeholder_list"]`: [{key, question, default}], from NovelAI scenarios)."""
    found = find_placeholders(scenario_texts(scenario), placeholder_style(scenario))
    listed = scenario.extra.get("placeholder_list", [])
    if not isinstance(listed, list):
        listed = []
    more = [
        Placeholder(str(p["key"]), str(p.get("question") or p["key"]), str(p.get("default", "")))
        for p in listed
        if isinstance(p, dict) and p.get("key")
    ]
    used = {p.key for p in found}
    # A listed question is asked only when the text uses it.
    return merge_placeholders(found, [p for p in more if p.key in used])


def fill_placeholders(scenario: Scenario, answers: Mapping[str, str]) -> Scenario:
    """A copy of `scenario` with the answers filled in everywhere (opening, memory, note,
    description, lore, and each option); its `placeholders` list what is still unanswered.

    `answers` maps `Placeholder.key` to the player's text; an unanswered placeholder with a
    default gets the default.
    """
    style = placeholder_style(scenario)
    defaults = {p.key: p.default for p in scenario_placeholders(scenario) if p.default}
    full = {**defaults, **dict(answers)}

    def sub(text: str) -> str:
        return replace_placeholders(text, full, style)

    filled = replace(
        scenario,
        opening=sub(scenario.opening),
        memory=sub(scenario.memory),
        authors_note=sub(scenario.authors_note),
        description=sub(scenario.description),
        lore=[_fill_entry(e, sub) for e in scenario.lore],
        options=[fill_placeholders(o, answers) for o in scenario.options],
        extra=dict(scenario.extra),
    )
    filled.placeholders = [p.describe() for p in scenario_placeholders(filled)]
    return filled


def _fill_entry(entry: LoreEntry, sub: Callable[[str], str]) -> LoreEntry:
    if "${" not in entry.content and "${" not in entry.name:
        return entry
    data = entry.to_dict()
    data["content"] = sub(entry.content)
    data["name"] = sub(entry.name)
    return LoreEntry.from_dict(data)
