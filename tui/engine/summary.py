"""Long-term memory: a "story so far" written by the model for turns trimmed out of the window.

The context builder trims the oldest story in large chunks (`ContextReport.history_start`
moves a quarter window at a time). Once at least a step's worth of trimmed turns is not yet
covered (about a quarter window of story, see `summary_step`), the model is asked to rewrite
the previous summary together with those turns (`summary_request`), and the result replaces
`campaign.summary` (`apply_summary`). `campaign.summary_upto` counts the turns covered; the
adventure spec puts the summary in the header and starts the history there. Updating only in
big steps keeps the prompt's prefix (header + summary) the same for many turns.

The caller (the game after a commit, on the model's owner thread):

    report = builder.build(adventure_spec(campaign, None))
    if needs_summary(campaign, report):
        run_summary(backend, builder, campaign, report, cancel)   # then save
"""

from __future__ import annotations

import math
import threading
from collections.abc import Callable

from tui.core.backend import Backend, Prompt
from tui.core.sampler import Sampler
from tui.core.text import clean
from tui.engine.campaign import OPENING, Campaign, Turn
from tui.engine.context import (
    NARRATOR,
    NOTE,
    PLAYER,
    ContextBuilder,
    ContextReport,
    HeaderPart,
    Message,
    PromptSpec,
)
from tui.engine.tidy import tidy_response

STEP_FRACTION = 0.25  # of the token budget: how much new trimmed story triggers an update
MATERIAL_FRACTION = 0.5  # of the budget: most story text sent in one summary request

SUMMARY_SYSTEM = (
    "You keep the record of an interactive story. You write short, factual summaries in "
    "the second person (\"you\"), keeping names, places, items, promises and unresolved "
    "threads, and leaving out dialogue and description."
)
SUMMARY_SAMPLER = Sampler(temperature=0.3, top_p=0.9, top_k=40, repetition_penalty=1.1)


# --- which turns the window has trimmed -------------------------------------------------------


def message_turns(campaign: Campaign) -> list[tuple[str, int]]:
    """(role, turn index) of each prompt message, as `adventure.turn_messages` makes them."""
    out: list[tuple[str, int]] = []
    for index, turn in enumerate(campaign.turns):
        if turn.mode != OPENING and turn.action:
            if turn.world_note:
                out.append((NOTE, index))
            out.append((PLAYER, index))
        if turn.response:
            out.append((NARRATOR, index))
    return out


def trimmed_turns(campaign: Campaign, history_start: int) -> int:
    """How many turns, from the first, lie wholly before history message `history_start`.

    `history_start` counts the builder's messages, where consecutive narrator messages (a
    response and its continuations) are merged into one.
    """
    if history_start <= 0:
        return 0
    group_first_turn: list[int] = []
    last_role = ""
    for role, turn in message_turns(campaign):
        if not (role == NARRATOR and last_role == NARRATOR):
            group_first_turn.append(turn)
        last_role = role
    if history_start >= len(group_first_turn):
        return len(campaign.turns)
    return group_first_turn[history_start]


def summary_step(report: ContextReport) -> int:
    """Turns that make about a quarter window of story, from the turns in the report."""
    story = [s for s in report.segments if s.kind in ("story", "action")]
    if not story:
        return 1
    per_message = sum(s.tokens for s in story) / len(story)
    per_turn = max(1.0, 2 * per_message)  # an action and a response
    return max(1, math.ceil(report.budget * STEP_FRACTION / per_turn))


def needs_summary(campaign: Campaign, report: ContextReport, step: int | None = None) -> bool:
    """True when at least `step` trimmed turns are not yet covered by the summary."""
    if not campaign.summary_enabled or report.history_start <= 0:
        return False
    uncovered = trimmed_turns(campaign, report.history_start) - campaign.summary_upto
    return uncovered >= (step if step is not None else summary_step(report))


# --- the request -------------------------------------------------------------------------------


def turn_text(turn: Turn, names: tuple[str, str] | None = None) -> str:
    """A turn as summary material; in a chat (`names` = user, character) with who said it."""
    user, char = names if names else ("", "")
    parts = []
    if turn.mode != OPENING and turn.action.strip():
        parts.append(f"{user}: {turn.action.strip()}" if user else turn.action.strip())
    if turn.response.strip():
        parts.append(f"{char}: {turn.response.strip()}" if char else turn.response.strip())
    return "\n".join(parts)


def _chat_names(campaign: Campaign) -> tuple[str, str] | None:
    if campaign.kind != "chat":
        return None
    from tui.engine.chat_prompt import card_of, char_name, persona_of

    return persona_of(campaign).name, char_name(card_of(campaign))


def summary_request(
    campaign: Campaign,
    report: ContextReport,
    count_tokens: Callable[[str], int] | None = None,
    material_tokens: int | None = None,
) -> tuple[PromptSpec, int]:
    """The prompt asking for a new summary, and the number of turns it will cover.

    It covers the trimmed turns after `campaign.summary_upto`; with `count_tokens`, no more
    of them than `material_tokens` (default half the budget) holds, so the request fits
    the window; the rest waits for the next request.
    """
    start = min(campaign.summary_upto, len(campaign.turns))
    upto = max(start, trimmed_turns(campaign, report.history_start))
    limit = material_tokens if material_tokens is not None else \
        int(report.budget * MATERIAL_FRACTION)
    texts: list[str] = []
    used = count_tokens(campaign.summary) if count_tokens and campaign.summary else 0
    end = start
    names = _chat_names(campaign)
    for index in range(start, upto):
        text = turn_text(campaign.turns[index], names)
        cost = count_tokens(text) + 1 if count_tokens else 0
        if count_tokens and texts and used + cost > limit:
            break
        used += cost
        end = index + 1
        if text:
            texts.append(text)
    previous = campaign.summary.strip() if campaign.summary_enabled else ""
    body: list[str] = []
    if previous:
        body.append(f"The story so far:\n{previous}")
    body.append(("What happened next:\n" if previous else "The story:\n") + "\n\n".join(texts))
    body.append(
        "Write a new summary of "
        + ("the story so far and what happened next" if previous else "this story")
        + " as one concise paragraph, at most 150 words, "
        + (f"in the third person, naming {names[0]} and {names[1]}." if names
           else "in the second person.")
        + "\nSummary:"
    )
    system = SUMMARY_SYSTEM
    if names:
        system = system.replace('the second person ("you")', "the third person")
    header = [HeaderPart("system", "summary instructions", system)]
    if campaign.memory.strip():
        header.append(HeaderPart("memory", "memory", campaign.memory))
    spec = PromptSpec(
        header=header,
        history=[],
        pending=Message(PLAYER, "\n\n".join(body), "summary request", "summary"),
        extra_stops=["\n\n", "\n>"],
    )
    if names:
        from tui.engine.chat_prompt import chat_macros

        spec.macros = chat_macros(names[1], names[0])
    return spec, end


def apply_summary(campaign: Campaign, text: str, upto: int) -> bool:
    """Store a new summary covering turns [0, upto). False (nothing changed) when the text
    is empty or `upto` is behind what the summary already covers. A sentence cut off by the
    token limit is dropped (see `tidy.tidy_response`)."""

    summary = clean(text).strip()
    if summary.lower().startswith("summary:"):
        summary = summary[len("summary:"):].strip()
    summary = tidy_response(summary, continuing=False)  # end at the last full sentence
    upto = min(upto, len(campaign.turns))
    if not summary or upto < campaign.summary_upto:
        return False
    campaign.summary = summary
    campaign.summary_upto = upto
    return True


SummaryDraft = tuple[str, int]
"""A summary the model wrote and the number of turns it covers, not yet stored."""


def draft_summary(
    backend: Backend,
    builder: ContextBuilder,
    campaign: Campaign,
    report: ContextReport,
    cancel: threading.Event | None = None,
    sampler: Sampler = SUMMARY_SAMPLER,
    material_tokens: int | None = None,
) -> SummaryDraft | None:
    """Ask the loaded model for the summary without changing the campaign (the TUI stores it
    on its own thread, see `apply_summary`). None when cancelled or nothing is due. On the
    model's owner thread."""
    stop_flag = cancel or threading.Event()
    spec, upto = summary_request(campaign, report, builder.cache.count, material_tokens)
    if upto <= campaign.summary_upto or stop_flag.is_set():
        return None
    prompt = builder.aside().build(spec)  # the story's builder keeps its memory
    # The story's cache survives the update; a stopped update goes on from where it was.
    with backend.keeping_cache(resume=stop_flag):
        pieces = list(backend.stream(Prompt(prompt.tokens, prompt.text),
                                     sampler.with_changes(max_tokens=builder.max_new_tokens),
                                     prompt.stop, stop_flag))
    if stop_flag.is_set():
        return None
    return "".join(pieces), upto


def run_summary(
    backend: Backend,
    builder: ContextBuilder,
    campaign: Campaign,
    report: ContextReport,
    cancel: threading.Event | None = None,
    sampler: Sampler = SUMMARY_SAMPLER,
    material_tokens: int | None = None,
) -> bool:
    """Ask the loaded model for the summary and store it. On the model's owner thread."""
    draft = draft_summary(backend, builder, campaign, report, cancel, sampler, material_tokens)
    return draft is not None and apply_summary(campaign, *draft)
