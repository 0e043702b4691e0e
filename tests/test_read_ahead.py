"""Reading ahead (issue 9): while the player types, the model reads the next prompt up to where
the action goes, so Enter costs the action's tokens; and a long campaign keeps its window full
with the real tokenizer: no chained summary updates, no history start swinging with the lore."""

from __future__ import annotations

import random
import threading
from pathlib import Path

import pytest

from tui.backends.local import PREFILL_CHUNK, LocalBackend
from tui.core.backend import Backend
from tui.core.sampler import Sampler
from tui.engine.actions import Mode
from tui.engine.adventure import adventure_spec
from tui.engine.campaign import OPENING, Campaign, Turn
from tui.engine.context import ContextBuilder
from tui.engine.game import Game, generate, make_builder, read_ahead
from tui.engine.lore import Lorebook, LoreEntry
from tui.engine.summary import apply_summary, needs_summary, summary_request

GREEDY = Sampler(temperature=0.0, top_k=1, max_tokens=12, seed=3)
SENTENCES = [
    "The corridor bends left and the air turns cold.",
    "A lantern swings from a hook, its flame low and blue.",
    "Somewhere below, water drips onto stone in a slow rhythm.",
    "The old map in your pack shows a door that should not be here.",
    "Marta the smith waves from her forge and calls your name.",
]


def story_campaign(turns: int, seed: int = 5) -> Campaign:
    rng = random.Random(seed)
    c = Campaign(title="Read Ahead", memory="You are a courier in the city of Vell.",
                 authors_note="Keep the tone tense and the sentences short.")
    c.turns.append(Turn(OPENING, responses=["You stand at the gate of Vell at dusk."]))
    for i in range(turns):
        reply = " ".join(rng.choice(SENTENCES) for _ in range(rng.randint(2, 5)))
        c.turns.append(Turn("do", f"> You walk on ({i}).", [reply]))
    return c


def play(backend: Backend, builder: ContextBuilder, game: Game, action: str) -> None:
    request = game.request_action(Mode.DO, action)
    result = generate(backend, builder, request, GREEDY, threading.Event(), lambda _t: None)
    game.commit(request, result)


@pytest.mark.model
def test_after_reading_ahead_enter_reads_only_the_action(smol_backend: LocalBackend) -> None:
    game = Game(story_campaign(30), autosave=False)
    builder = make_builder(smol_backend, game.campaign)
    play(smol_backend, builder, game, "look around")
    read = read_ahead(smol_backend, builder, game.read_ahead_spec(), threading.Event())
    assert read > 0  # the reply and the note were read while the player typed
    request = game.request_action(Mode.DO, "open the door")
    report = builder.build(request.spec)
    ahead = builder.build(game.read_ahead_spec())
    assert report.tokens[: report.pending_start] == ahead.tokens[: ahead.pending_start]
    generate(smol_backend, builder, request, GREEDY, threading.Event(), lambda _t: None)
    after_enter = smol_backend.last_prefill.read
    assert 0 < after_enter <= report.total_tokens - report.pending_start


@pytest.mark.model
def test_a_typed_action_is_read_ahead_too(smol_backend: LocalBackend) -> None:
    """The player typed the action and paused: it is read with the rest of the prompt, so
    Enter reads nothing; a different action sent instead reads from where they differ."""
    game = Game(story_campaign(30, seed=2), autosave=False)
    builder = make_builder(smol_backend, game.campaign)
    play(smol_backend, builder, game, "look around")
    read_ahead(smol_backend, builder, game.read_ahead_spec("open the door"), threading.Event())
    request = game.request_action(Mode.DO, "open the door")
    report = builder.build(request.spec)
    generate(smol_backend, builder, request, GREEDY, threading.Event(), lambda _t: None)
    assert smol_backend.last_prefill.read == 0  # the last token is read by the sampler
    game.commit(request, generate(smol_backend, builder, request, GREEDY, threading.Event(),
                                  lambda _t: None))
    read_ahead(smol_backend, builder, game.read_ahead_spec("open the"), threading.Event())
    request = game.request_action(Mode.DO, "open the gate and run")
    report = builder.build(request.spec)
    generate(smol_backend, builder, request, GREEDY, threading.Event(), lambda _t: None)
    assert 0 < smol_backend.last_prefill.read < report.total_tokens - report.pending_start


@pytest.mark.model
def test_the_start_of_a_prompt_is_read_without_its_last_token_alone(
        smol_backend: LocalBackend, monkeypatch: pytest.MonkeyPatch) -> None:
    """Read ahead with no action typed, the tokens end where the action goes, not where the
    prompt ends: their last token is read with the rest, not in a decode of its own (one
    more model step in the pause, on a 7B model a tenth of a second). Enter then reads the
    action, and the reply is a cold read's."""
    game = Game(story_campaign(3, seed=6), autosave=False)
    builder = make_builder(smol_backend, game.campaign)
    smol_backend.restore_cache(None)
    llm = smol_backend._llm
    real_eval = llm.eval
    reads: list[int] = []

    def counted(tokens: list[int]) -> None:
        reads.append(len(tokens))
        real_eval(tokens)

    monkeypatch.setattr(llm, "eval", counted)
    read = read_ahead(smol_backend, builder, game.read_ahead_spec(), threading.Event())
    assert read == sum(reads) and -(-read // PREFILL_CHUNK) == len(reads), reads
    request = game.request_action(Mode.DO, "open the door")
    report = builder.build(request.spec)
    reads.clear()
    warm = generate(smol_backend, builder, request, GREEDY, threading.Event(), lambda _t: None)
    assert smol_backend.last_prefill.read == report.total_tokens - report.pending_start
    smol_backend.restore_cache(None)
    cold = generate(smol_backend, builder, request, GREEDY, threading.Event(), lambda _t: None)
    assert warm.text == cold.text


@pytest.mark.model
def test_enter_after_the_typed_action_was_read_samples_at_once(
        smol_backend: LocalBackend, smol_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Read ahead with the typed action, the context's logits are the live ones of the
    prompt's last token: the first word is sampled from them, nothing read after Enter (the
    last token was read again there; late in a campaign, on a big model, that one token is
    the whole wait). The reply is the one a cold read of the same prompt gives."""
    game = Game(story_campaign(30, seed=4), autosave=False)
    builder = make_builder(smol_backend, game.campaign)
    play(smol_backend, builder, game, "look around")
    read_ahead(smol_backend, builder, game.read_ahead_spec("open the door"), threading.Event())
    request = game.request_action(Mode.DO, "open the door")
    llm = smol_backend._llm
    evaluated: list[list[int]] = []
    evaluate = llm.eval
    monkeypatch.setattr(llm, "eval", lambda tokens: (evaluated.append(list(tokens)),
                                                     evaluate(tokens))[1])
    warm = generate(smol_backend, builder, request, GREEDY, threading.Event(), lambda _t: None)
    assert evaluated[0] == []  # the sampler's first step read nothing
    cold_backend = LocalBackend(smol_path, n_ctx=smol_backend.info.n_ctx, seed=7)
    cold_backend.load()
    try:
        cold = generate(cold_backend, make_builder(cold_backend, game.campaign), request,
                        GREEDY, threading.Event(), lambda _t: None)
    finally:
        cold_backend.close()
    assert cold.report.tokens == warm.report.tokens
    assert warm.text == cold.text and warm.text.strip()


@pytest.mark.model
def test_a_cancelled_read_ahead_keeps_what_it_read(smol_backend: LocalBackend) -> None:
    game = Game(story_campaign(40, seed=9), autosave=False)
    builder = make_builder(smol_backend, game.campaign)
    smol_backend._llm.n_tokens = 0  # an empty cache
    cancel = threading.Event()
    cancel.set()
    assert read_ahead(smol_backend, builder, game.read_ahead_spec(), cancel) > 0
    assert smol_backend._llm.n_tokens == 0  # cancelled before the first chunk
    read_ahead(smol_backend, builder, game.read_ahead_spec(), threading.Event())
    spec = game.read_ahead_spec()
    report = builder.build(spec)
    assert smol_backend._llm.n_tokens == report.pending_start


@pytest.mark.model
def test_retry_reuses_the_cached_prompt(smol_backend: LocalBackend) -> None:
    game = Game(story_campaign(20, seed=2), autosave=False)
    builder = make_builder(smol_backend, game.campaign)
    play(smol_backend, builder, game, "knock")
    retry = game.request_retry()
    assert retry is not None
    generate(smol_backend, builder, retry, GREEDY, threading.Event(), lambda _t: None)
    assert smol_backend.last_prefill.read == 1  # the last token, for its logits, alone


def test_the_note_and_keyword_lore_sit_just_before_the_newest_action(
        smol_vocab: LocalBackend) -> None:
    """A change of fired lore or of the note re-reads only the tail: both sit after the last
    reply and before the action, and keyword lore is never in the header."""
    c = story_campaign(12)
    c.world_info = Lorebook(name="World info", entries=[
        LoreEntry(keys=["door"], content="The door is iron and locked.", name="door",
                  position="before"),
    ])
    builder = make_builder(smol_vocab, c)
    report = builder.build(adventure_spec(c, "> You open the door."))
    kinds = [(s.kind, s.label) for s in report.segments]
    last_reply = max(i for i, (k, label) in enumerate(kinds) if label.endswith("response"))
    note = kinds.index(("note", "author's note"))
    lore = kinds.index(("lore", "lore: door"))
    action = max(i for i, (k, _label) in enumerate(kinds) if k == "action")
    assert last_reply < lore < note < action
    header_end = min(i for i, (k, _label) in enumerate(kinds) if k in ("story", "action"))
    assert lore > header_end


def test_a_long_campaign_keeps_the_window_full_without_chained_updates(
        smol_vocab: LocalBackend) -> None:
    """300 turns with the real tokenizer, lore firing at random, summary updates applied when
    due: every late prompt fills >= 90 % of its budget, an update is never due right after
    one, and the history start never moves back."""
    rng = random.Random(11)
    c = story_campaign(0)
    names = ["Marta", "lantern", "map", "forge", "water"]
    c.world_info = Lorebook(name="World info", entries=[
        LoreEntry(keys=[n], content=f"{n}: " + " ".join(SENTENCES[:i + 1]), name=n)
        for i, n in enumerate(names)
    ])
    builder = ContextBuilder(smol_vocab.tokenize, 2048, 160, None,
                             smol_vocab.prefix_tokens(), chunk_fraction=0.0)
    last_start, updates, fills = -1, 0, []
    for turn in range(300):
        reply = " ".join(rng.choice(SENTENCES) for _ in range(rng.randint(2, 6)))
        c.turns.append(Turn("do", f"> You look for {rng.choice(names)}.", [reply]))
        report = builder.build(adventure_spec(c, None))
        if needs_summary(c, report):
            updates += 1
            spec, upto = summary_request(c, report, builder.cache.count)
            assert apply_summary(c, f"Summary {updates}: you walked a long way.", upto)
            report = builder.build(adventure_spec(c, None))
            assert not needs_summary(c, report)  # never chained
        if turn >= 150:
            fills.append(report.total_tokens / report.budget)
            assert report.history_start >= last_start
        last_start = report.history_start
    assert updates >= 2
    assert min(fills) >= 0.9, min(fills)


@pytest.fixture(scope="module")
def smol_vocab(smol_path) -> LocalBackend:  # type: ignore[no-untyped-def]
    backend = LocalBackend(smol_path, n_ctx=2048, vocab_only=True)
    backend.load()
    return backend


@pytest.mark.model
def test_the_inspector_says_what_the_next_turn_reads(smol_backend: LocalBackend) -> None:
    from tui.widgets.report_view import reading_line

    game = Game(story_campaign(25, seed=4), autosave=False)
    builder = make_builder(smol_backend, game.campaign)
    smol_backend._llm.n_tokens = 0
    spec = game.read_ahead_spec()
    report = builder.build(spec)
    assert smol_backend.cached_prefix(report.tokens) == 0
    assert f"reads {report.total_tokens} of {report.total_tokens}" in \
        reading_line(report, smol_backend.cached_prefix(report.tokens))
    read_ahead(smol_backend, builder, spec, threading.Event())
    cached = smol_backend.cached_prefix(report.tokens)
    assert cached == report.pending_start
    line = reading_line(report, cached)
    action = next(s for s in report.segments if s.start + s.tokens > cached)
    assert f"reads {report.total_tokens - cached} of" in line and action.label in line


class SlowPlayer:
    """Lines for line mode, typed slowly: each waits until the model has read ahead."""

    def __init__(self, session: object, lines: list[str]) -> None:
        self.session, self.lines = session, list(lines)
        self.read_before_enter: list[int] = []

    def readline(self) -> str:
        reading = getattr(self.session, "read_ahead_job", None)
        if reading is not None:
            reading[0].join(timeout=120)  # the player types until the reading is done
        backend = self.session.backend  # type: ignore[attr-defined]
        self.read_before_enter.append(backend.last_prefill.read)
        return self.lines.pop(0) + "\n" if self.lines else ""


@pytest.mark.model
def test_line_mode_reads_ahead_while_waiting_for_a_line(smol_path, tmp_path) -> None:  # type: ignore[no-untyped-def]
    import io

    from tui.plain import PlainSession

    backend = LocalBackend(smol_path, n_ctx=2048, seed=3, n_threads=2)
    game = Game(story_campaign(15, seed=6), save_folder=tmp_path)
    game.campaign.settings.max_new_tokens = 12
    session = PlainSession(game, backend, io.StringIO(), io.StringIO())
    player = SlowPlayer(session, ["look around", "open the door"])
    try:
        assert session.run(player) == 0  # type: ignore[arg-type]
    finally:
        backend.close()
    assert len(game.campaign.turns) == 18
    # Before each line the model read the prompt ahead (the first time, the whole prompt).
    assert player.read_before_enter[0] > 200 and player.read_before_enter[1] > 0


@pytest.mark.model
@pytest.mark.parametrize("cancelled", [False, True])
def test_the_story_so_far_update_leaves_the_storys_cache(smol_backend: LocalBackend,
                                                         cancelled: bool) -> None:
    """The update reads a prompt of its own in the same context; the story's cache is put
    back after it, finished or stopped (Enter), so the next turn reads only what is new."""
    from tui.engine.summary import draft_summary

    game = Game(story_campaign(120, seed=8), autosave=False)
    builder = make_builder(smol_backend, game.campaign)
    spec = game.read_ahead_spec()
    read_ahead(smol_backend, builder, spec, threading.Event())
    story = builder.build(spec)
    assert smol_backend.cached_prefix(story.tokens) == story.pending_start
    report = builder.build(adventure_spec(game.campaign, None))
    assert needs_summary(game.campaign, report)
    cancel = threading.Event()
    if cancelled:
        threading.Timer(0.5, cancel.set).start()  # Enter, while the update reads its prompt
    draft = draft_summary(smol_backend, builder, game.campaign, report, cancel,
                          sampler=GREEDY)
    assert (draft is None) == cancelled
    assert smol_backend.cached_prefix(story.tokens) == story.pending_start
    read_ahead(smol_backend, builder, spec, threading.Event())
    assert smol_backend.last_prefill.read == 0
    if cancelled:  # the next pause goes on from what the stopped update had read
        again = draft_summary(smol_backend, builder, game.campaign, report, threading.Event(),
                              sampler=GREEDY)
        assert again is not None and smol_backend.last_prefill.reused >= 64  # a chunk or more
        assert smol_backend.cached_prefix(story.tokens) == story.pending_start


@pytest.mark.model
def test_a_new_story_so_far_is_stored_only_once_its_prompt_is_read(
        smol_backend: LocalBackend) -> None:
    """A new story so far changes the prompt near its top: the whole story after it must be
    read again. That re-read happens in the pauses, beside the story's cache: until it is
    done the turns go on with the old summary and their cache (Enter never waits for it)."""
    from tui.engine.game import summary_in_idle

    game = Game(story_campaign(120, seed=8), autosave=False)
    builder = make_builder(smol_backend, game.campaign)
    next_spec = lambda c: game.read_ahead_spec(campaign=c)  # noqa: E731
    read_ahead(smol_backend, builder, game.read_ahead_spec(), threading.Event())
    story = builder.build(game.read_ahead_spec())
    stop = threading.Event()
    read_beside = smol_backend.read_beside

    def stop_while_reading(tokens: list[int], cancel: threading.Event) -> bool:
        threading.Timer(0.3, stop.set).start()  # Enter, while the new prompt is read
        return read_beside(tokens, cancel)

    smol_backend.read_beside = stop_while_reading  # type: ignore[method-assign]
    try:
        draft, ready = summary_in_idle(smol_backend, builder, game.campaign, next_spec, stop)
    finally:
        del smol_backend.read_beside
    assert draft is not None and not ready
    assert game.campaign.summary_upto == 0  # not stored: the old prompt is still the cache's
    assert smol_backend.cached_prefix(story.tokens) == story.pending_start
    draft, ready = summary_in_idle(smol_backend, builder, game.campaign, next_spec,
                                   threading.Event(), draft)
    assert ready and smol_backend.last_prefill.reused > 64  # went on from what it had read
    assert apply_summary(game.campaign, *draft)
    read_ahead(smol_backend, builder, game.read_ahead_spec(), threading.Event())
    assert smol_backend.last_prefill.read == 0  # the new prompt is all in the cache
