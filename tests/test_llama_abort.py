"""An `Interrupt` stops llama.cpp inside the evaluation under way (tui/backends/llama_abort.py),
on the real SmolLM2: Enter during an update need not wait for the rest of a prompt chunk,
which on a 7B-13B model on a CPU is seconds."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from tui.backends.local import PREFILL_CHUNK, LocalBackend
from tui.core.backend import Prompt
from tui.core.interrupt import Interrupt
from tui.core.sampler import Sampler

STORY = ("The old road runs north past the inn, the mill and the dark wood, where the "
         "lamps have not been lit for a year. ")
GREEDY = Sampler(max_tokens=12, temperature=0.0, seed=1)


@pytest.fixture
def backend(smol_backend: LocalBackend) -> Iterator[LocalBackend]:
    smol_backend._copy_in(None)
    yield smol_backend
    smol_backend._copy_in(None)


def set_on_eval(backend: LocalBackend, monkeypatch: pytest.MonkeyPatch,
                cancel: threading.Event, call: int) -> Callable[[], int]:
    """Set `cancel` just as llama.cpp starts the `call`-th evaluation; the number of
    evaluations so far."""
    real = backend._llm.eval
    calls = [0]

    def evaluate(tokens: Any) -> None:
        calls[0] += 1
        if calls[0] == call:
            cancel.set()
        real(tokens)

    monkeypatch.setattr(backend._llm, "eval", evaluate)
    return lambda: calls[0]


def story_tokens(backend: LocalBackend, chunks: int = 5) -> list[int]:
    tokens = backend.prefix_tokens() + backend.tokenize(STORY * 12, special=False)
    assert len(tokens) > chunks * PREFILL_CHUNK
    return tokens[: chunks * PREFILL_CHUNK]


def test_an_interrupt_stops_the_chunk_being_read(backend: LocalBackend,
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    """Set as the third chunk starts, the read stops inside it: the cache keeps the two
    chunks read before (before, the third was read to its end, then the read stopped)."""
    tokens = story_tokens(backend)
    cancel = Interrupt()
    set_on_eval(backend, monkeypatch, cancel, 3)
    assert list(backend.stream(Prompt(tokens, ""), GREEDY, [], cancel)) == []
    assert backend._llm.n_tokens == 2 * PREFILL_CHUNK


def test_reading_ahead_finishes_its_chunk_for_the_turn_to_read_on(
        backend: LocalBackend, monkeypatch: pytest.MonkeyPatch) -> None:
    """Enter ends reading ahead, but what it reads is the turn's own prompt: the chunk under
    way is finished and kept, even when the flag is an Interrupt."""
    tokens = story_tokens(backend)
    for cancel in (threading.Event(), Interrupt()):
        backend._copy_in(None)
        set_on_eval(backend, monkeypatch, cancel, 3)
        backend.read_ahead(tokens, cancel, whole=False)
        assert backend._llm.n_tokens == 3 * PREFILL_CHUNK


def test_after_a_stop_inside_the_same_prompt_gives_the_same_reply(
        backend: LocalBackend, monkeypatch: pytest.MonkeyPatch) -> None:
    """llama.cpp drops what a stopped evaluation had read, so the cache still matches the
    tokens counted: reading on from it gives a cold read's reply, token for token."""
    tokens = story_tokens(backend)
    cold = "".join(backend.stream(Prompt(tokens, ""), GREEDY, [], threading.Event()))
    assert cold.strip()
    backend._copy_in(None)
    cancel = Interrupt()
    set_on_eval(backend, monkeypatch, cancel, 4)
    list(backend.stream(Prompt(tokens, ""), GREEDY, [], cancel))
    assert backend._llm.n_tokens == 3 * PREFILL_CHUNK
    monkeypatch.undo()
    warm = "".join(backend.stream(Prompt(tokens, ""), GREEDY, [], threading.Event()))
    assert backend.last_prefill.reused == 3 * PREFILL_CHUNK
    assert warm == cold


def test_an_interrupt_while_writing_ends_the_reply_without_an_error(
        backend: LocalBackend, monkeypatch: pytest.MonkeyPatch) -> None:
    """Set inside a sampled token's evaluation, llama.cpp's "aborted" is the end of the
    reply, not a failure: the tokens before it are given, nothing raises."""
    tokens = story_tokens(backend, 1)
    cancel = Interrupt()
    calls = set_on_eval(backend, monkeypatch, cancel, 4)  # one chunk, its last token, 2 more
    pieces = list(backend.stream(Prompt(tokens, ""), GREEDY.with_changes(max_tokens=40), [],
                                 cancel))
    assert calls() == 4
    assert 1 <= len(pieces) <= 3


def test_an_update_stopped_inside_puts_the_story_back(
        backend: LocalBackend, monkeypatch: pytest.MonkeyPatch) -> None:
    """Enter during a world update's reading: the update stops inside its chunk, and the
    story's cache is back as it was, to the token."""
    from tui.engine.world.propose import SCHEMA

    story = story_tokens(backend, 2)
    backend.read_ahead(story, threading.Event())
    held = backend._llm.input_ids[: backend._llm.n_tokens].tolist()
    update = backend.prefix_tokens() + backend.tokenize(STORY * 8, special=False)
    cancel = Interrupt()
    set_on_eval(backend, monkeypatch, cancel, 2)
    with backend.keeping_cache(resume=cancel, slot="test"):
        assert backend.complete_json(Prompt(update, ""), SCHEMA, GREEDY, cancel) == ""
        assert backend._llm.n_tokens == PREFILL_CHUNK  # the second chunk was not kept
    assert backend._llm.input_ids[: backend._llm.n_tokens].tolist() == held
    backend._aside.pop("test", None)
    # The story's last token is not read again now: the turn Enter sent reads on past it.
    assert backend._llm._requires_eval
    monkeypatch.undo()
    turn = story + backend.tokenize(" You open the gate.", special=False)
    warm = "".join(backend.stream(Prompt(turn, ""), GREEDY, [], threading.Event()))
    assert backend.last_prefill.reused == len(story)
    backend._copy_in(None)
    assert "".join(backend.stream(Prompt(turn, ""), GREEDY, [], threading.Event())) == warm


def test_an_update_that_ends_reads_the_storys_last_token_again_in_the_pause(
        backend: LocalBackend) -> None:
    """So that Enter, sending a prompt read ahead to its end, samples at once."""
    from tui.engine.world.propose import SCHEMA

    story = story_tokens(backend, 2)
    backend.read_ahead(story, threading.Event())
    update = backend.prefix_tokens() + backend.tokenize(STORY, special=False)
    with backend.keeping_cache(slot="test"):
        backend.complete_json(Prompt(update, ""), SCHEMA, GREEDY, Interrupt())
    assert backend._llm.n_tokens == len(story) and not backend._llm._requires_eval


def test_without_the_abort_callback_an_interrupt_stops_between_steps() -> None:
    """An older llama-cpp-python has no `llama_set_abort_callback`: the switch does
    nothing, and the flag is still looked at between chunks and tokens."""
    from types import SimpleNamespace

    from tui.backends.llama_abort import AbortSwitch

    switch = AbortSwitch(SimpleNamespace(), ctx=None)
    cancel = Interrupt()
    with switch.armed(cancel):
        cancel.set()
    assert switch._callback is None and switch._flag.raw == b"\x00\x00"


def test_an_interrupt_tells_its_listeners_only_while_they_listen() -> None:
    heard: list[str] = []
    flag = Interrupt()
    with flag.listening(lambda: heard.append("inside")):
        pass
    flag.set()
    assert heard == [] and flag.is_set()
    flag.clear()
    with flag.listening(lambda: heard.append("inside")):
        flag.set()
    assert heard == ["inside"]
