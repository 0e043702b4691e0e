"""Read a model's own Jinja chat template and derive the instruct template it implies.

A GGUF carries the model's chat template (`tokenizer.chat_template`), written for Hugging
Face transformers: Jinja with a few extra globals. Instead of guessing the family from
substrings of the source, we render it, sandboxed, on conversations of sentinel messages
and read the wrappers off the output: what comes before and after each system, user and
assistant message, and what the generation prompt adds. The result is an `InstructTemplate`
whose pieces the context builder tokenizes separately (see docs/architecture.md, "The
context builder"), so a prompt it builds equals what the model's template renders.

What cannot be expressed as fixed wrappers is noted, not guessed:
- a template that refuses or drops the system role gets the system text folded into a user
  turn, as such templates do themselves;
- the leading BOS the template writes is left to the backend's prefix tokens;
- when the generation prompt differs from how a finished reply starts (a thinking opener
  like `<think>\n`, or Llama 2's space), one form is chosen and the difference is noted.
"""

from __future__ import annotations

import json
import os
import time
from dataclasses import dataclass, replace
from datetime import datetime
from functools import lru_cache
from typing import Any

from jinja2 import nodes
from jinja2.ext import Extension, loopcontrols
from jinja2.parser import Parser
from jinja2.sandbox import ImmutableSandboxedEnvironment

from tui.engine.templates import InstructTemplate, guess_preset

# Sentinel message texts: plain words, so templates that trim or strip keep them whole.
SYSTEM = "GrueSystemText"
USER_1 = "GrueUserOne"
ASSISTANT_1 = "GrueAssistantOne"
USER_2 = "GrueUserTwo"
ASSISTANT_2 = "GrueAssistantTwo"
# Stand-ins for the special tokens, replaced by the model's own after derivation, so we can
# tell where the template wrote them (a leading BOS belongs to the backend's prefix tokens).
BOS = "<grue-bos>"
EOS = "<grue-eos>"

RENDER_CHARS = 1_000_000  # a chat of five short messages renders to a few KB
RENDER_SECONDS = 5.0

DEFAULT_FOLD_SUFFIX = "\n\n"  # system text folded into a user turn is followed by a blank line

# (end-of-turn marker, user-turn marker) pairs that name a family, for display only: the
# wrappers always come from rendering. EOS stands for the model's end-of-sequence token.
_FAMILIES = (
    ("<|im_end|>", "<|im_start|>", "ChatML"),
    ("<|eot_id|>", "<|start_header_id|>", "Llama 3"),
    ("<|end|>", "<|user|>", "Phi-3"),
    ("<end_of_turn>", "<start_of_turn>", "Gemma"),
    ("<|END_OF_TURN_TOKEN|>", "<|START_OF_TURN_TOKEN|>", "Command-R"),
    ("<|end_of_text|>", "<|start_of_role|>", "Granite"),
    ("<｜end▁of▁sentence｜>", "<｜User｜>", "DeepSeek"),
    (EOS, "<|user|>", "Zephyr"),
    (EOS, "[INST]", "Mistral"),
)


class ChatTemplateError(Exception):
    """The template could not be rendered or read; the message is one line."""


class _TemplateRaised(Exception):
    """`raise_exception()` called by the template itself."""


class _GenerationBlocks(Extension):
    """`{% generation %}...{% endgeneration %}` (marks assistant text for training): render
    the body as it is."""

    tags = {"generation"}

    def parse(self, parser: Parser) -> nodes.Node:
        lineno = next(parser.stream).lineno
        body = parser.parse_statements(("name:endgeneration",), drop_needle=True)
        return nodes.Scope(body).set_lineno(lineno)


def _raise_exception(message: str) -> None:
    raise _TemplateRaised(str(message))


def _strftime_now(fmt: str) -> str:
    return datetime.now().strftime(fmt)


def _tojson(value: Any, ensure_ascii: bool = False, indent: int | None = None,
            separators: Any = None, sort_keys: bool = False) -> str:
    """JSON without HTML escaping, as chat templates expect."""
    return json.dumps(value, ensure_ascii=ensure_ascii, indent=indent,
                      separators=separators, sort_keys=sort_keys)


@lru_cache(maxsize=1)
def _environment() -> ImmutableSandboxedEnvironment:
    env = ImmutableSandboxedEnvironment(
        trim_blocks=True, lstrip_blocks=True, extensions=[loopcontrols, _GenerationBlocks]
    )
    env.filters["tojson"] = _tojson
    env.globals["raise_exception"] = _raise_exception
    env.globals["strftime_now"] = _strftime_now
    return env


@lru_cache(maxsize=16)
def _compile(source: str) -> Any:
    try:
        return _environment().from_string(source)
    except Exception as exc:  # untrusted text: any parse failure is a bad template
        raise ChatTemplateError(f"chat template does not parse: {_one_line(exc)}") from None


def render_chat(source: str, messages: list[dict[str, str]], add_generation_prompt: bool,
                bos_token: str = "", eos_token: str = "") -> str:
    """What the chat template renders for `messages`, as transformers would render it."""
    template = _compile(source)
    deadline = time.monotonic() + RENDER_SECONDS
    chunks: list[str] = []
    size = 0
    try:
        # Chunk by chunk, so a template that writes without end is stopped (a GGUF is
        # untrusted input; the sandbox already caps ranges and forbids unsafe access).
        for chunk in template.generate(
            messages=messages, add_generation_prompt=add_generation_prompt,
            bos_token=bos_token, eos_token=eos_token,
        ):
            chunks.append(chunk)
            size += len(chunk)
            if size > RENDER_CHARS or time.monotonic() > deadline:
                raise ChatTemplateError("chat template output runs on without end")
        return "".join(chunks)
    except ChatTemplateError:
        raise
    except _TemplateRaised as exc:
        raise ChatTemplateError(f"chat template refused: {_one_line(exc)}") from None
    except Exception as exc:  # untrusted template: sandbox violations, type errors, ...
        raise ChatTemplateError(f"chat template failed: {_one_line(exc)}") from None


def _one_line(exc: BaseException) -> str:
    text = " ".join(str(exc).split()) or type(exc).__name__
    return text[:160]


def _msg(role: str, content: str) -> dict[str, str]:
    return {"role": role, "content": content}


_TURNS = [
    _msg("user", USER_1), _msg("assistant", ASSISTANT_1),
    _msg("user", USER_2), _msg("assistant", ASSISTANT_2),
]


@dataclass(frozen=True)
class Derivation:
    """What a chat template implies: the template, or the one-line reason there is none."""

    template: InstructTemplate | None
    problem: str = ""
    notes: tuple[str, ...] = ()  # what the derived template does differently, if anything


def _render(source: str, messages: list[dict[str, str]], gen: bool) -> str:
    return render_chat(source, messages, gen, BOS, EOS)


def _locate(text: str, needles: list[str]) -> list[int] | None:
    """Start of each needle in order, or None when one is missing or out of order."""
    found: list[int] = []
    at = 0
    for needle in needles:
        i = text.find(needle, at)
        if i < 0:
            return None
        found.append(i)
        at = i + len(needle)
    return found


def _common_prefix(a: str, b: str) -> str:
    n = len(os.path.commonprefix([a, b]))
    return _whole_markers(a[:n])


def _common_suffix(a: str, b: str) -> str:
    n = len(os.path.commonprefix([a[::-1], b[::-1]]))
    text = a[len(a) - n:] if n else ""
    opening, closing = text.find("<"), text.find(">")
    if closing >= 0 and (opening < 0 or closing < opening):  # starts inside a marker
        return text[opening:] if opening >= 0 else ""
    return text


def _whole_markers(text: str) -> str:
    """`text` without a trailing part of a `<...>` marker (a common prefix can stop inside
    one: `<|end|>\\n<|user|>` and `<|end|>\\n<|endoftext|>` share `<|end|>\\n<|`)."""
    opening = text.rfind("<")
    if opening > text.rfind(">"):
        return text[:opening]
    return text


def _without_bos(text: str) -> str:
    return text[len(BOS):] if text.startswith(BOS) else text


@dataclass(frozen=True)
class _Turns:
    user_prefix: str
    user_suffix: str
    assistant_prefix: str  # how a finished reply starts in the history
    assistant_suffix: str
    generation: str  # what add_generation_prompt adds after the last user turn


def _turn_wrappers(source: str) -> _Turns:
    conv = _render(source, _TURNS, gen=False)
    at = _locate(conv, [USER_1, ASSISTANT_1, USER_2, ASSISTANT_2])
    if at is None:
        raise ChatTemplateError("chat template drops or reorders messages")
    u1, a1, u2, a2 = at
    after_u1 = conv[u1 + len(USER_1):a1]
    between = conv[a1 + len(ASSISTANT_1):u2]  # assistant suffix + user prefix
    tail = conv[a2 + len(ASSISTANT_2):]
    assistant_suffix = _common_prefix(between, tail)
    if not assistant_suffix:  # the last reply is left open: split at the user turn's start,
        # the common end of what precedes the first and the second user message
        user_start = _common_suffix(between, _without_bos(conv[:u1]))
        assistant_suffix = between[: len(between) - len(user_start)]
    user_prefix = between[len(assistant_suffix):]
    if user_prefix.startswith(BOS):  # Llama 2 writes BOS before every user turn
        assistant_suffix += BOS
        user_prefix = user_prefix[len(BOS):]

    open_turns = _TURNS[:3]
    closed = _render(source, open_turns, gen=False)
    opened = _render(source, open_turns, gen=True)
    end = closed.rfind(USER_2)
    if end < 0 or opened.rfind(USER_2) < 0:
        raise ChatTemplateError("chat template drops the last user message")
    closed_tail = closed[end + len(USER_2):]
    opened_tail = opened[opened.rfind(USER_2) + len(USER_2):]
    user_suffix = _common_prefix(after_u1, closed_tail)
    if not opened_tail.startswith(user_suffix):
        user_suffix = _common_prefix(user_suffix, opened_tail)
    return _Turns(
        user_prefix=user_prefix,
        user_suffix=user_suffix,
        assistant_prefix=after_u1[len(user_suffix):],
        assistant_suffix=assistant_suffix,
        generation=opened_tail[len(user_suffix):],
    )


@dataclass(frozen=True)
class _System:
    prefix: str
    suffix: str
    has_role: bool
    note: str = ""


def _system_wrappers(source: str, turns: _Turns) -> _System:
    folded = _System("", DEFAULT_FOLD_SUFFIX, has_role=False)
    try:
        text = _render(source, [_msg("system", SYSTEM), *_TURNS], gen=False)
    except ChatTemplateError as exc:
        return _System(folded.prefix, folded.suffix, False, f"no system role ({exc})")
    at = _locate(text, [SYSTEM, USER_1])
    if at is None:
        return _System(folded.prefix, folded.suffix, False,
                       _misplaced_system(source, text) + "; folded into a user turn")
    s, u1 = at
    without = _render(source, _TURNS, gen=False)
    if text[u1:] != without[without.find(USER_1):]:
        return _System(folded.prefix, folded.suffix, False,
                       "a system message changes later turns; folded into a user turn")
    head = _without_bos(text[:s])
    between = text[s + len(SYSTEM):u1]
    up = turns.user_prefix
    if not up:
        return _System(head, between, has_role=True)
    if between.endswith(up):
        return _System(head, between[: len(between) - len(up)], has_role=True)
    if head.startswith(up):  # the system text sits inside the first user turn
        return _System(head[len(up):], between, has_role=False)
    return _System(folded.prefix, folded.suffix, False,
                   "system text placement not understood; folded into a user turn")


def _misplaced_system(source: str, text: str) -> str:
    if SYSTEM in text:
        return "the template puts the system text after the first user message"
    try:  # Mistral's later templates put it in the last user message, when one ends the chat
        ending_with_user = _render(source, [_msg("system", SYSTEM), *_TURNS[:3]], gen=False)
    except ChatTemplateError:
        ending_with_user = ""
    if SYSTEM in ending_with_user:
        return "the template puts the system text in the last user message"
    return "the template drops system messages"


def _choose_reply_start(turns: _Turns) -> tuple[str, str]:
    """One prefix for both the generation prompt and finished replies, and a note."""
    gen, hist = turns.generation, turns.assistant_prefix
    if gen == hist:
        return gen, ""
    if gen.startswith(hist):
        extra = gen[len(hist):]
        return hist, f"generation prompt leaves out {extra!r} (the template adds it)"
    if hist.startswith(gen) and not hist[len(gen):].strip():
        return gen, (f"replies in the history start without the {hist[len(gen):]!r} the "
                     "template puts before them")
    return gen, f"replies in the history start with {gen!r}, not {hist!r} as the template has"


def _first_marker(text: str) -> str:
    """The leading marker of a turn prefix: `<|im_start|>`, `[INST]`, or its first line."""
    text = text.strip()
    if not text:
        return ""
    close = {"<": ">", "[": "]"}.get(text[0])
    if close and close in text:
        return text[: text.index(close) + 1]
    return text.splitlines()[0].strip()


def _stops(user_prefix: str, assistant_suffix: str, eos: str) -> tuple[str, ...]:
    """Where a reply ends: the end-of-turn marker, the next user turn's marker, EOS."""
    candidates = [
        _first_marker(assistant_suffix.replace(BOS, "")).replace(EOS, eos),
        _first_marker(user_prefix.replace(BOS, "")),
        eos,
    ]
    stops: list[str] = []
    for stop in candidates:
        if stop and stop not in stops:
            stops.append(stop)
    return tuple(stops)


def _family(assistant_suffix: str, user_prefix: str, system_prefix: str) -> str:
    end = _first_marker(assistant_suffix.replace(BOS, ""))
    start = _first_marker(user_prefix.replace(BOS, ""))
    for family_end, family_start, name in _FAMILIES:
        if (end, start) == (family_end, family_start):
            return "Llama 2" if name == "Mistral" and "<<SYS>>" in system_prefix else name
    return ""


def _check(source: str, turns: _Turns, system: _System) -> None:
    """Render a conversation with the derived wrappers and compare it with what the Jinja
    template renders; a template whose turns are not fixed wrappers fails here."""
    with_system = system.has_role or not system.note  # folded by the template itself
    messages = [_msg("system", SYSTEM), *_TURNS[:3]] if with_system else _TURNS[:3]
    want = _without_bos(_render(source, messages, gen=True))
    lead, first = "", USER_1
    if with_system and system.has_role:
        lead = system.prefix + SYSTEM + system.suffix
    elif with_system:
        first = system.prefix + SYSTEM + system.suffix + USER_1
    got = "".join([
        lead, turns.user_prefix, first, turns.user_suffix, turns.assistant_prefix, ASSISTANT_1,
        turns.assistant_suffix, turns.user_prefix, USER_2, turns.user_suffix, turns.generation,
    ])
    if got != want:
        raise ChatTemplateError("chat template turns are not fixed wrappers around messages")


def derive_template(source: str | None, bos_token: str = "", eos_token: str = "") -> Derivation:
    """The instruct template a model's Jinja chat template implies (never raises)."""
    if not source or not source.strip():
        return Derivation(None, "the model has no chat template")
    try:
        return _derive(source, bos_token, eos_token)
    except ChatTemplateError as exc:
        return Derivation(None, str(exc))
    except RecursionError:
        return Derivation(None, "chat template nests too deeply")


@lru_cache(maxsize=32)
def _derive(source: str, bos_token: str, eos_token: str) -> Derivation:
    turns = _turn_wrappers(source)
    system = _system_wrappers(source, turns)
    reply_start, reply_note = _choose_reply_start(turns)
    _check(source, turns, system)

    def real(text: str) -> str:
        return text.replace(BOS, bos_token).replace(EOS, eos_token)

    family = _family(turns.assistant_suffix, turns.user_prefix, system.prefix)
    name = f"{family} (model's own)" if family else "Model's own"
    template = InstructTemplate(
        name=name,
        system_prefix=real(system.prefix), system_suffix=real(system.suffix),
        user_prefix=real(turns.user_prefix), user_suffix=real(turns.user_suffix),
        assistant_prefix=real(reply_start), assistant_suffix=real(turns.assistant_suffix),
        stops=_stops(turns.user_prefix, turns.assistant_suffix, eos_token),
        has_system_role=system.has_role,
    )
    notes = tuple(real(n) for n in (system.note, reply_note) if n)
    return Derivation(template, notes=notes)


def template_from_jinja(source: str | None, bos_token: str = "",
                        eos_token: str = "") -> InstructTemplate | None:
    """The model's own template, derived by rendering it; when it cannot be rendered, the
    named preset its markers suggest, named "(guessed)" so the player can tell."""
    derived = derive_template(source, bos_token, eos_token)
    if derived.template is not None:
        return derived.template
    preset = guess_preset(source)
    return replace(preset, name=f"{preset.name} (guessed)") if preset else None
