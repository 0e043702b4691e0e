"""Context build speed: a 10,000-turn campaign with a 5,000-entry lorebook, turn after turn.

Run: python benchmarks/bench_context.py [--turns N] [--builds N] [--full N] [--naive N]
                                        [--world N] [--profile] [--breakdown]

Counts are SmolLM2's own tokens (the embedded model's vocabulary, loaded with llama.cpp's
`vocab_only`). Each step appends one turn and builds the next prompt, as play does; the time
covers `adventure_spec` (campaign -> messages) and `ContextBuilder.build` (lore scan, costs,
trim, assembly). Measured side by side in the same steps (the machine may be noisy):
- cached: the builder as the game uses it (token cache, history ledger, turn snapshots);
- full: the same builder with its ledger off, so every build merges and costs the whole
  history again (token ids still cached) -- what a build cost before the ledger;
- naive: no token cache and no ledger: every piece re-tokenized on every build.
- world: the same campaign with a world state (a place, 20 items, 5 people present, a third of
  the names lore keys) whose names fire lore (docs/architecture.md, "World state"), on a builder
  of its own sharing the token cache.
`--profile` prints where the time of the steady-state builds goes (cProfile); `--breakdown`
times each part of one build on its own, cold (nothing reused) beside warm.
"""

from __future__ import annotations

import argparse
import cProfile
import pstats
import random
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tui.backends.local import LocalBackend, route_llama_log  # noqa: E402
from tui.engine.adventure import (  # noqa: E402
    TurnMessageCache,
    _adventure_messages,
    adventure_spec,
)
from tui.engine.campaign import OPENING, Campaign, Turn  # noqa: E402
from tui.engine.context import ContextBuilder, TokenCache  # noqa: E402
from tui.engine.game import make_builder  # noqa: E402
from tui.engine.lore import Lorebook, LoreEntry, LoreSettings, scan_lore  # noqa: E402
from tui.engine.world import Person, WorldState  # noqa: E402
from tui.engine.world.prompt import lore_names  # noqa: E402
from tui.models.embedded import embedded_model_path  # noqa: E402

ENTRIES = 5_000
SYLLABLES = ["ka", "lo", "ri", "an", "mer", "dun", "el", "tha", "vor", "is", "gan", "ul", "sek"]
FILLER = ["the", "you", "walk", "into", "a", "dark", "hall", "and", "see", "nothing", "old",
          "lamp", "door", "cold", "wind", "slowly", "turn", "back", "toward", "light"]


def word(rng: random.Random) -> str:
    return "".join(rng.choice(SYLLABLES) for _ in range(rng.randint(2, 4)))


def make_book(rng: random.Random) -> tuple[Lorebook, list[str]]:
    entries, names = [], []
    for i in range(ENTRIES):
        keys = [word(rng) for _ in range(rng.randint(1, 3))]
        names.append(keys[0])
        content = " ".join(rng.choice(FILLER) for _ in range(rng.randint(20, 60)))
        entries.append(LoreEntry(uid=str(i), name=f"entry {i}", keys=keys, content=content,
                                 order=rng.randint(1, 1000)))
    return Lorebook(name="World info", entries=entries), names


def make_turn(rng: random.Random, i: int, names: list[str]) -> Turn:
    words = [rng.choice(FILLER) for _ in range(rng.randint(40, 90))]
    for _ in range(rng.randint(0, 2)):
        words[rng.randrange(len(words))] = rng.choice(names)  # mention a lore key
    return Turn("do", f"> You do thing {i}.", [" ".join(words).capitalize() + "."])


def make_campaign(rng: random.Random, turns: int, book: Lorebook, names: list[str]) -> Campaign:
    c = Campaign(title="Bench", memory="You are a lamplighter on the old road.",
                 authors_note="Keep it eerie.")
    c.world_info = book
    c.turns.append(Turn(OPENING, responses=["The road is dark."]))
    c.turns.extend(make_turn(rng, i, names) for i in range(turns))
    return c


class NoCache(TokenCache):
    """Re-tokenizes every piece every time: the naive builder."""

    def ids(self, text: str, special: bool = False) -> list[int]:
        return self._tokenize(text, special) if text else []


CPU_MS: list[float] = []  # this thread's CPU time per timed step (the machine's share aside)


def timed_build(builder: ContextBuilder, campaign: Campaign) -> tuple[float, float, int]:
    """(ms for adventure_spec, ms for build, prompt tokens)."""
    c0 = time.thread_time()
    t0 = time.perf_counter()
    spec = adventure_spec(campaign, "> You look around.")
    t1 = time.perf_counter()
    report = builder.build(spec)
    t2 = time.perf_counter()
    CPU_MS.append((time.thread_time() - c0) * 1000)
    assert report.total_tokens <= builder.budget
    return (t1 - t0) * 1000, (t2 - t1) * 1000, report.total_tokens


def median_ms(fn: Callable[[], object], runs: int = 10) -> float:
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        fn()
        times.append((time.perf_counter() - start) * 1000)
    return statistics.median(times)


def breakdown(builder: ContextBuilder, campaign: Campaign) -> None:
    """Time the parts of one steady-state build on their own: cold (nothing reused) and warm."""
    spec = adventure_spec(campaign, "> You look around.")
    builder.build(spec)
    texts = builder._ledger.texts
    cold = make_builder_like(builder)
    cold.cache = builder.cache  # token ids cached, ledger rebuilt each time
    cold.incremental = False
    warm_turns = TurnMessageCache(_adventure_messages)
    warm_turns.snapshot(campaign.turns)
    shared = LoreSettings()
    rows = [
        ("adventure_spec turn snapshot, cold (a Message per action/response)",
         lambda: TurnMessageCache(_adventure_messages).snapshot(campaign.turns)),
        ("  warm (read and compare the turns' texts, reuse the Messages)",
         lambda: warm_turns.snapshot(campaign.turns)),
        ("whole adventure_spec", lambda: adventure_spec(campaign, "> You look around.")),
        ("build, ledger cold (merge and cost every message, cached ids)",
         lambda: cold.build(spec)),
        ("scan_lore with a new LoreSettings (as each PromptSpec makes)",
         lambda: scan_lore(campaign.all_lorebooks, texts, count_tokens=builder.cache.count,
                           window=builder.n_ctx, settings=LoreSettings(), turn=1)),
        ("  same, with one shared LoreSettings",
         lambda: scan_lore(campaign.all_lorebooks, texts, count_tokens=builder.cache.count,
                           window=builder.n_ctx, settings=shared, turn=1)),
        ("whole build, warm (what each turn costs)", lambda: builder.build(spec)),
    ]
    print(f"where the time goes ({len(texts)} history messages), median of 10:")
    for label, fn in rows:
        print(f"  {label:<68} {median_ms(fn):8.2f} ms")


def make_world(names: list[str]) -> WorldState:
    """A full world state: every third name is a lore key, the rest words of no entry."""
    def name(i: int) -> str:
        return names[i] if i % 3 == 0 else f"plain thing {i}"

    return WorldState(place=names[0], exits=["north", "south"],
                      items=[name(i) for i in range(1, 21)],
                      people=[Person(name(i)) for i in range(21, 26)],
                      quests=["reach the tower"])


def world_step(with_world: ContextBuilder, without: ContextBuilder, campaign: Campaign,
               world: WorldState, first: bool) -> tuple[float, float]:
    """(ms without a world state, ms with it) for the same step; which goes first alternates
    (the second finds the turns' snapshot made)."""
    def timed(builder: ContextBuilder, state: WorldState) -> float:
        campaign.world = state
        spec_ms, build_ms, _ = timed_build(builder, campaign)
        return spec_ms + build_ms

    if first:
        w = timed(with_world, world)
        n = timed(without, WorldState())
    else:
        n = timed(without, WorldState())
        w = timed(with_world, world)
    campaign.world = WorldState()
    return n, w


def make_builder_like(builder: ContextBuilder) -> ContextBuilder:
    """A new builder with the same tokenizer, window and template (empty caches)."""
    return ContextBuilder(builder.cache._tokenize, builder.n_ctx, builder.max_new_tokens,
                          builder.layout.template, builder.prefix_tokens,
                          builder.chunk_fraction)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--turns", type=int, default=10_000)
    parser.add_argument("--builds", type=int, default=100)
    parser.add_argument("--full", type=int, default=10,
                        help="steps that also time a build with the ledger off")
    parser.add_argument("--naive", type=int, default=2,
                        help="steps that also time a naive build (seconds each)")
    parser.add_argument("--world", type=int, default=20,
                        help="steps that also time a build with a world state firing lore")
    parser.add_argument("--ctx", type=int, default=4096)
    parser.add_argument("--profile", action="store_true")
    parser.add_argument("--breakdown", action="store_true", help="time each part of a build")
    args = parser.parse_args()

    route_llama_log(Path("/tmp/grue-bench-llama.log"))
    vocab = LocalBackend(embedded_model_path(), n_ctx=args.ctx, vocab_only=True)
    t = time.perf_counter()
    vocab.load()
    load_ms = (time.perf_counter() - t) * 1000
    rng = random.Random(1234)
    book, names = make_book(rng)
    campaign = make_campaign(rng, args.turns, book, names)
    # Time spent in the model's tokenizer: new text (the new turn, newly fired lore) must be
    # tokenized once whatever the builder does, so it is reported apart.
    tokenize_ms = [0.0]
    raw_tokenize = vocab.tokenize

    def timed_tokenize(text: str, special: bool = True) -> list[int]:
        start = time.perf_counter()
        ids = raw_tokenize(text, special)
        tokenize_ms[0] += (time.perf_counter() - start) * 1000
        return ids

    vocab.tokenize = timed_tokenize  # type: ignore[method-assign]
    builder = make_builder(vocab, campaign)
    print(f"model vocabulary: {vocab.info.name} (vocab_only load {load_ms:.0f} ms), "
          f"window {builder.n_ctx}, budget {builder.budget}")
    print(f"campaign: {args.turns} turns, lorebook: {ENTRIES} entries")

    spec_ms, build_ms, tokens = timed_build(builder, campaign)
    print(f"first build (tokenizes the whole story, compiles the lore index): "
          f"{spec_ms + build_ms:9.1f} ms ({tokens} prompt tokens)")

    # Side by side: on the first steps the same prompt is also built with the ledger off
    # (full) and with no caches at all (naive), so all three see the same load.
    full = make_builder_like(builder)
    full.cache = builder.cache
    full.incremental = False
    naive = make_builder_like(builder)
    naive.cache = NoCache(vocab.tokenize)
    naive.incremental = False
    world_builder = make_builder_like(builder)
    world_builder.cache = builder.cache
    no_world_builder = make_builder_like(builder)  # its twin, the same steps, no state
    no_world_builder.cache = builder.cache
    world = make_world(names)
    world_pairs: list[tuple[float, float]] = []
    steps: list[tuple[float, float]] = []
    cpu: list[float] = []
    new_text_ms: list[float] = []
    paired: list[tuple[float, float]] = []  # (cached, full) in the same step
    naive_pairs: list[tuple[float, float]] = []
    profiler = cProfile.Profile() if args.profile else None
    for i in range(args.builds):
        campaign.turns.append(make_turn(rng, args.turns + i, names))
        if profiler:
            profiler.enable()
        tokenize_ms[0] = 0.0
        spec_ms, build_ms, tokens = timed_build(builder, campaign)
        cpu.append(CPU_MS[-1])
        new_text_ms.append(tokenize_ms[0])
        if profiler:
            profiler.disable()
        steps.append((spec_ms, build_ms))
        if i < args.full:
            f_spec, f_build, f_tokens = timed_build(full, campaign)
            assert f_tokens == tokens
            paired.append((spec_ms + build_ms, f_spec + f_build))
        if i < args.naive:
            n_spec, n_build, n_tokens = timed_build(naive, campaign)
            assert n_tokens == tokens
            naive_pairs.append((spec_ms + build_ms, n_spec + n_build))
        if i < args.world:
            world_pairs.append(world_step(world_builder, no_world_builder, campaign, world,
                                          first=i % 2 == 0))
    totals = sorted(s + b for s, b in steps)
    median = statistics.median(totals)
    p95 = totals[max(0, int(len(totals) * 0.95) - 1)]
    print(f"next {args.builds} turns (append a turn, build):  median {median:7.2f} ms, "
          f"p95 {p95:7.2f} ms")
    cpu.sort()
    cpu_p95 = cpu[max(0, int(len(cpu) * 0.95) - 1)]
    print(f"  this thread's CPU time in them (what the machine's other jobs do not add): "
          f"median {statistics.median(cpu):6.2f} ms, p95 {cpu_p95:6.2f} ms")
    print(f"  of which adventure_spec median {statistics.median(s for s, _ in steps):6.2f} ms, "
          f"ContextBuilder.build median {statistics.median(b for _, b in steps):6.2f} ms")
    own = statistics.median(s + b - t for (s, b), t in zip(steps, new_text_ms, strict=True))
    print(f"  tokenizing new text (the new turn, newly fired lore) median "
          f"{statistics.median(new_text_ms):6.2f} ms; the rest median {own:6.2f} ms")
    for name, pairs in (("full (ledger off, ids cached)", paired),
                        ("naive (no caches)", naive_pairs)):
        if not pairs:
            continue
        ours = statistics.median(c for c, _ in pairs)
        theirs = statistics.median(o for _, o in pairs)
        print(f"side by side, {len(pairs)} steps: cached {ours:8.2f} ms | {name} "
              f"{theirs:9.1f} ms | ratio {theirs / ours:7.1f}x")
    if world_pairs:
        none = statistics.median(n for n, _ in world_pairs)
        with_state = statistics.median(w for _, w in world_pairs)
        print(f"side by side, {len(world_pairs)} steps, twin builders: no world state "
              f"{none:6.2f} ms | a world state firing lore {with_state:6.2f} ms | ratio "
              f"{with_state / none:4.2f}x")
        campaign.world = world
        report = world_builder.build(adventure_spec(campaign, "> You look around."))
        campaign.world = WorldState()
        from_state = sum(a.reason.startswith("state: ") for a in report.fired)
        print(f"  (with the world state, {from_state} of the {len(report.fired)} entries "
              f"fired came from the state's names)")
        texts, settings = world_builder._ledger.texts, LoreSettings()

        def scan(state_texts: list[tuple[str, str]]) -> object:
            return scan_lore(campaign.all_lorebooks, texts, count_tokens=builder.cache.count,
                             window=builder.n_ctx, settings=settings, turn=1,
                             state_texts=state_texts)

        print(f"  the lore scan alone, median of 10: {median_ms(lambda: scan([])):5.2f} ms "
              f"without the state's names, {median_ms(lambda: scan(lore_names(world))):5.2f} "
              f"ms with them")
    target, target_p95 = 10.0, 20.0
    print(f"targets: median <= {target:.0f} ms {'met' if median <= target else 'MISSED'} "
          f"({median:.2f} ms), p95 <= {target_p95:.0f} ms "
          f"{'met' if p95 <= target_p95 else 'MISSED'} ({p95:.2f} ms)")

    if args.breakdown:
        breakdown(builder, campaign)
    if profiler:
        stats = pstats.Stats(profiler)
        stats.sort_stats("cumulative").print_stats(25)
        stats.sort_stats("tottime").print_stats(15)


if __name__ == "__main__":
    main()
