"""Long-term memory: when to summarise, what is asked, how the summary enters the prompt."""

from __future__ import annotations

from fakes import FakeBackend

from tui.core.backend import Backend
from tui.engine.adventure import adventure_spec, turn_messages
from tui.engine.campaign import OPENING, Campaign, Turn
from tui.engine.context import ContextBuilder
from tui.engine.game import make_builder
from tui.engine.summary import (
    apply_summary,
    message_turns,
    needs_summary,
    run_summary,
    summary_request,
    summary_step,
    trimmed_turns,
)
from tui.engine.templates import get_template


def make_campaign(turns: int, words: int = 20) -> Campaign:
    c = Campaign(title="Test", memory="You are a knight of the realm.")
    c.turns.append(Turn(OPENING, responses=["You stand before the castle gate."]))
    for i in range(turns):
        body = " ".join(f"w{i}x{j}" for j in range(words))
        c.turns.append(Turn("do", f"> You do thing {i}.", [f"Response {i}: {body}"]))
    return c


def builder(fake: FakeBackend, n_ctx: int = 512, template: str | None = "ChatML") -> ContextBuilder:
    return ContextBuilder(fake.tokenize, n_ctx, 64, get_template(template) if template else None)


def test_message_turns_follow_the_adventure_messages() -> None:
    c = make_campaign(3)
    c.turns.append(Turn("continue", "", ["More."]))
    c.turns.append(Turn("do", "> You wait.", []))  # no response yet
    roles = [m.role for m in turn_messages(c)]
    assert [r for r, _ in message_turns(c)] == roles
    assert [t for _, t in message_turns(c)] == [0, 1, 1, 2, 2, 3, 3, 4, 5]


def test_trimmed_turns_counts_whole_turns_and_merged_continuations() -> None:
    c = make_campaign(3)  # messages: opening | a1 r1 | a2 r2 | a3 r3
    assert trimmed_turns(c, 0) == 0
    assert trimmed_turns(c, 1) == 1  # the opening
    assert trimmed_turns(c, 2) == 1  # turn 1's action trimmed, its response kept
    assert trimmed_turns(c, 3) == 2
    assert trimmed_turns(c, 99) == len(c.turns)
    c.turns.insert(2, Turn("continue", "", [" And more."]))  # merges into turn 1's response
    # merged: opening | a1 | r1+continue | a3 ...
    assert trimmed_turns(c, 3) == 3


def test_no_summary_until_the_window_trims_a_step() -> None:
    fake = FakeBackend()
    b = builder(fake)
    short = b.build(adventure_spec(make_campaign(2), None))
    assert short.history_start == 0 and not needs_summary(make_campaign(2), short)
    c = make_campaign(100)
    report = b.build(adventure_spec(c, None))
    assert report.history_start > 0
    assert needs_summary(c, report)
    assert not needs_summary(c, report, step=10_000)
    c.summary_enabled = False
    assert not needs_summary(c, report)


def test_summary_request_covers_the_trimmed_turns() -> None:
    fake = FakeBackend()
    b = builder(fake)
    c = make_campaign(100)
    report = b.build(adventure_spec(c, None))
    spec, upto = summary_request(c, report)
    assert upto == trimmed_turns(c, report.history_start) > 1
    request = spec.pending.text if spec.pending else ""
    assert "You stand before the castle gate." in request
    assert f"Response {upto - 2}:" in request and f"Response {upto - 1}:" not in request
    assert "Summary:" in request
    assert any(p.kind == "memory" for p in spec.header)
    # With a token counter the material is capped, and the rest waits for the next request.
    capped, capped_upto = summary_request(c, report, b.cache.count, material_tokens=80)
    assert 1 <= capped_upto < upto
    assert sum(b.cache.count(t.response) for t in c.turns[:capped_upto]) <= 120


def test_summary_enters_the_header_and_the_prefix_stays_put() -> None:
    fake = FakeBackend(replies=["You crossed the gate and did many things."])
    b = builder(fake)
    c = make_campaign(100)
    report = b.build(adventure_spec(c, None))
    assert run_summary(fake, b, c, report)
    assert c.summary == "You crossed the gate and did many things."
    # One request holds at most half the window of story: catching up takes several.
    assert 1 < c.summary_upto < trimmed_turns(c, report.history_start)
    seen = [c.summary_upto]
    while needs_summary(c, report := b.build(adventure_spec(c, None))):
        assert run_summary(fake, b, c, report)
        seen.append(c.summary_upto)
        assert len(seen) < 100
    assert seen == sorted(set(seen))
    covered = c.summary_upto
    assert covered >= trimmed_turns(c, report.history_start) - summary_step(report)
    # The request went to the model: instruct template, material, summary prompt.
    sent = fake.prompts[0].text
    assert "<|im_start|>system" in sent and "Response 0:" in sent

    after = b.build(adventure_spec(c, None))
    assert any(s.kind == "summary" for s in after.segments)
    assert "You crossed the gate" in after.text
    assert not needs_summary(c, after)
    # Second update: the previous summary is rewritten with the newly trimmed turns.
    prefixes = []
    for i in range(100, 200):
        c.turns.append(Turn("do", f"> You do thing {i}.", [f"Response {i}: more words"]))
        r = b.build(adventure_spec(c, None))
        prefixes.append(r.tokens[:40])
        if needs_summary(c, r):
            spec, upto = summary_request(c, r, b.cache.count)
            assert spec.pending is not None
            assert "The story so far:\nYou crossed the gate" in spec.pending.text
            assert f"> You do thing {covered - 2}." not in spec.pending.text  # turn covered-1
            assert f"> You do thing {covered - 1}." in spec.pending.text
            assert upto > covered
            break
    else:
        raise AssertionError("the summary never came due again")
    # Until then the prompt's head did not change from turn to turn.
    assert all(p == prefixes[0] for p in prefixes)


def test_apply_summary_refuses_empty_and_stale() -> None:
    c = make_campaign(10)
    assert not apply_summary(c, "  \x1b \n\x07 ", 4)
    assert apply_summary(c, "Summary: You did things.", 6)
    assert (c.summary, c.summary_upto) == ("You did things.", 6)
    assert not apply_summary(c, "Older.", 3)
    assert c.summary == "You did things."
    assert apply_summary(c, "Beyond the end.", 99) and c.summary_upto == len(c.turns)


def test_summary_step_is_about_a_quarter_window() -> None:
    fake = FakeBackend()
    b = builder(fake, n_ctx=2048)
    report = b.build(adventure_spec(make_campaign(200), None))
    story = [s.tokens for s in report.segments if s.kind in ("story", "action")]
    per_turn = 2 * sum(story) / len(story)
    assert 1 < summary_step(report) <= report.budget * 0.25 / per_turn + 1
    assert summary_step(report) >= report.budget * 0.25 / per_turn


def test_real_model_writes_a_summary(smol_backend: Backend) -> None:
    c = make_campaign(0)
    story = [
        ("> You open the gate.", "The gate groans open. A guard named Bram waves you in."),
        ("> You ask Bram about the king.", "Bram says the king has been ill since winter."),
        ("> You go to the chapel.", "In the chapel a priestess gives you a silver key."),
        ("> You unlock the crypt.", "The silver key turns. Below, a lantern still burns."),
    ]
    for i in range(40):
        action, response = story[i % len(story)]
        c.turns.append(Turn("do", action, [f"{response} Hours pass, and night {i} falls."]))
    # A small window and few tokens: this machine's two cores are shared.
    b = make_builder(smol_backend, c)
    b = ContextBuilder(smol_backend.tokenize, 400, 24, b.layout.template, b.prefix_tokens)
    report = b.build(adventure_spec(c, None))
    assert needs_summary(c, report)
    assert run_summary(smol_backend, b, c, report, material_tokens=100)
    assert c.summary.strip() and 0 < c.summary_upto < len(c.turns)
    after = b.build(adventure_spec(c, None))
    assert c.summary in after.text
