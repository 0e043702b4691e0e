"""The prompts made beside the story (the world state's update, the story so far) leave the
story's builder as it was: its ledger of the history and its steady start. Built on the story's
builder, the world update's worked examples made the next turn's start move back a message (a
full re-read: the world benchmark read 414 tokens after Enter on average with the state on,
101 with it off), and any such prompt threw the ledger away (the next turn costing the whole
story again)."""

from __future__ import annotations

import dataclasses
import threading

from fakes import FakeBackend
from test_summary import builder, make_campaign

from tui.engine.adventure import adventure_spec
from tui.engine.context import ContextBuilder, PromptSpec
from tui.engine.summary import draft_summary
from tui.engine.world.propose import propose, world_request


def steady_story(fake: FakeBackend) -> tuple[ContextBuilder, PromptSpec, int]:
    """A builder whose last start is later than the smallest that fits the next prompt (the
    fired lore shrank): the steady start keeps it; a builder with no memory would not."""
    b = builder(fake)
    b.chunk_fraction = 0  # trimmed per message: every message counts
    c = make_campaign(300, words=2)
    spec = adventure_spec(c, None)
    kept = b.build(dataclasses.replace(spec, note="note")).history_start
    fresh = builder(fake)
    fresh.chunk_fraction = 0
    assert fresh.build(spec).history_start < kept  # the memory is what keeps the start
    return b, spec, kept


def test_a_world_update_leaves_the_storys_start_and_ledger_alone() -> None:
    fake = FakeBackend()
    fake.load()
    b, spec, kept = steady_story(fake)
    ledger = b._ledger
    c = make_campaign(300, words=2)
    request = world_request(c)
    assert request is not None and request.spec.history  # the worked examples
    propose(fake, b, request, threading.Event())
    assert b._ledger is ledger
    assert b.build(spec).history_start == kept


def test_a_story_so_far_update_leaves_the_storys_start_and_ledger_alone() -> None:
    fake = FakeBackend()
    fake.load()
    b, spec, kept = steady_story(fake)
    c = make_campaign(300, words=2)
    report = b.build(spec)
    ledger = b._ledger
    assert draft_summary(fake, b, c, report, threading.Event()) is not None
    assert b._ledger is ledger
    assert b.build(spec).history_start == kept
