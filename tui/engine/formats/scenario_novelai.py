"""NovelAI `.story` and `.scenario` files as scenarios.

`.story`: `{storyContainerVersion, metadata{title, description, tags}, content{story,
context[], lorebook, settings{parameters}, storyContextConfig}}`. The story text is
`content.story.fragments[].data` joined (newer files) or `content.story.text` (older).
`.scenario`: `{scenarioVersion, title, description, prompt, tags, context[], lorebook,
settings, placeholders[{key, description, defaultValue}]}`.

`context[]` holds memory and the author's note, each with a `contextConfig`. NovelAI writes
memory first and the note second; a file with another count is read by position instead
(insertionPosition >= 0 is memory at the top, < 0 a note near the end). The configs are
kept in `extra["novelai"]["context"]`.

Samplers: `settings.parameters` is kept whole in `extra["novelai"]["parameters"]`, and the
knobs that mean the same thing in Grue's `Sampler` are offered in `extra["sampler"]`:
temperature, top_k, top_p, typical_p, top_a, min_p, tail_free_sampling -> tfs_z,
repetition_penalty_range -> repetition_range, repetition_penalty_slope ->
repetition_slope, max_length -> max_tokens. NovelAI's `repetition_penalty` is not mapped:
its scale (values such as 2.5 with a slope) is not llama.cpp's, where 2.5 would wreck the text.
"""

from __future__ import annotations

from typing import Any

from tui.engine.formats.coerce import as_int, as_str, as_str_list
from tui.engine.lore import LoreEntry
from tui.engine.scenario import Scenario

SAMPLER_NAMES = {
    "temperature": "temperature",
    "top_k": "top_k",
    "top_p": "top_p",
    "typical_p": "typical_p",
    "top_a": "top_a",
    "min_p": "min_p",
    "tail_free_sampling": "tfs_z",
    "repetition_penalty_range": "repetition_range",
    "repetition_penalty_slope": "repetition_slope",
    "max_length": "max_tokens",
}
_INT_KNOBS = {"top_k", "repetition_range", "max_tokens"}


def is_novelai_story(data: Any) -> bool:
    return (
        isinstance(data, dict)
        and "storyContainerVersion" in data
        and isinstance(data.get("content"), dict)
    )


def is_novelai_scenario(data: Any) -> bool:
    return isinstance(data, dict) and "scenarioVersion" in data


def story_text(story: Any) -> str:
    """The text of `content.story`: its fragments joined, else its `text`."""
    if not isinstance(story, dict):
        return as_str(story)
    fragments = story.get("fragments")
    if isinstance(fragments, list) and fragments:
        return "".join(as_str(f.get("data")) for f in fragments if isinstance(f, dict))
    return as_str(story.get("text"))


def split_context(context: Any) -> tuple[str, str, list[dict[str, Any]]]:
    """(memory, author's note, the raw entries) from a NovelAI `context[]`."""
    entries = [c for c in context if isinstance(c, dict)] if isinstance(context, list) else []
    memory: list[str] = []
    note: list[str] = []
    for index, entry in enumerate(entries):
        text = as_str(entry.get("text"))
        if not text.strip():
            continue
        if len(entries) == 2:
            is_memory = index == 0
        else:
            config = entry.get("contextConfig")
            position = as_int(config.get("insertionPosition"), 0) if isinstance(config, dict) \
                else 0
            is_memory = position >= 0
        (memory if is_memory else note).append(text)
    return "\n".join(memory), "\n".join(note), entries


def sampler_of(parameters: Any) -> dict[str, Any]:
    """The NovelAI parameters that mean the same in Grue's Sampler, under Grue's names."""
    if not isinstance(parameters, dict):
        return {}
    out: dict[str, Any] = {}
    for theirs, ours in SAMPLER_NAMES.items():
        value = parameters.get(theirs)
        if isinstance(value, bool) or not isinstance(value, int | float):
            continue
        out[ours] = int(value) if ours in _INT_KNOBS else float(value)
    return out


def _common(title: str, description: str, tags: list[str], opening: str, context: Any,
            settings: Any, lore: list[LoreEntry], name: str, fmt: str) -> Scenario:
    memory, note, raw_context = split_context(context)
    settings = settings if isinstance(settings, dict) else {}
    parameters = settings.get("parameters")
    novelai: dict[str, Any] = {"context": [e.get("contextConfig", {}) for e in raw_context]}
    if isinstance(parameters, dict):
        novelai["parameters"] = parameters
    extra: dict[str, Any] = {"format": fmt, "placeholder_style": "novelai", "novelai": novelai}
    sampler = sampler_of(parameters)
    if sampler:
        extra["sampler"] = sampler
    return Scenario(
        title=title.strip() or name.rsplit(".", 1)[0],
        opening=opening,
        description=description,
        memory=memory,
        authors_note=note,
        lore=lore,
        tags=tags,
        source=name,
        extra=extra,
    )


def scenario_from_novelai_story(data: dict[str, Any], name: str,
                                lore: list[LoreEntry]) -> Scenario:
    meta = data.get("metadata") if isinstance(data.get("metadata"), dict) else {}
    content = data["content"]
    return _common(
        as_str(meta.get("title")), as_str(meta.get("description")),
        as_str_list(meta.get("tags")), story_text(content.get("story")),
        content.get("context"), content.get("settings"), lore, name, "novelai_story",
    )


def scenario_from_novelai_scenario(data: dict[str, Any], name: str,
                                   lore: list[LoreEntry]) -> Scenario:
    scenario = _common(
        as_str(data.get("title")), as_str(data.get("description")),
        as_str_list(data.get("tags")), as_str(data.get("prompt")),
        data.get("context"), data.get("settings"), lore, name, "novelai_scenario",
    )
    listed = []
    raw_list = data.get("placeholders")
    for raw in raw_list if isinstance(raw_list, list) else []:
        if isinstance(raw, dict) and as_str(raw.get("key")):
            listed.append({
                "key": as_str(raw.get("key")),
                "question": as_str(raw.get("description")) or as_str(raw.get("longDescription")),
                "default": as_str(raw.get("defaultValue")),
            })
    if listed:
        scenario.extra["placeholder_list"] = listed
    return scenario
