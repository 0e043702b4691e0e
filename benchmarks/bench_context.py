"""Context build speed: a 10,000-turn campaign with a 5,000-entry lorebook, turn after turn.

Run: python benchmarks/bench_context.py [--turns N] [--builds N] [--naive N] [--profile]

Counts are SmolLM2's own tokens (the embedded model's vocabulary, loaded with llama.cpp's
`vocab_only`). Each step appends one turn and builds the next prompt, as play does; the time
covers `adventure_spec` (campaign -> messages) and `ContextBuilder.build` (lore scan, costs,
trim, assembly). Side by side, a naive builder re-tokenizes every piece on every build (no
token cache). `--profile` prints where the time of the steady-state builds goes (cProfile);
`--breakdown` times each part of one build on its own, with the proposed fixes beside them.
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

from tui.backends.local import route_llama_log  # noqa: E402
from tui.commands.context_cmd import VocabBackend  # noqa: E402
from tui.engine.adventure import adventure_spec, turn_messages  # noqa: E402
from tui.engine.campaign import OPENING, Campaign, Turn  # noqa: E402
from tui.engine.context import (  # noqa: E402
    ContextBuilder,
    Message,
    TokenCache,
    _merge_narration,
    apply_macros,
)
from tui.engine.game import make_builder  # noqa: E402
from tui.engine.lore import Lorebook, LoreEntry, LoreSettings, scan_lore  # noqa: E402
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


def timed_build(builder: ContextBuilder, campaign: Campaign) -> tuple[float, float, int]:
    """(ms for adventure_spec, ms for build, prompt tokens)."""
    t0 = time.perf_counter()
    spec = adventure_spec(campaign, "> You look around.")
    t1 = time.perf_counter()
    report = builder.build(spec)
    t2 = time.perf_counter()
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
    """Time the parts of one steady-state build on their own (all caches warm)."""
    spec = adventure_spec(campaign, "> You look around.")
    history = _merge_narration(spec.history)
    texts = [m.text for m in history]
    memo = {(m.role, m.text): 0 for m in history}
    shared = LoreSettings()
    rows = [
        ("adventure_spec: turn_messages (a Message per action/response)",
         lambda: turn_messages(campaign)),
        ("build: Message re-created per message for macros",
         lambda: [Message(m.role, apply_macros(m.text, {}), m.label, m.kind)
                  for m in spec.history]),
        ("build: _merge_narration", lambda: _merge_narration(spec.history)),
        ("build: msg_costs (3 _Piece + 3 cache lookups per message)",
         lambda: [builder._cost(builder.layout.message(m, first=False)) for m in history]),
        ("  same, one memo lookup per message (proposed)",
         lambda: [memo[(m.role, m.text)] for m in history]),
        ("build: scan_lore with a new LoreSettings (as PromptSpec makes one)",
         lambda: scan_lore(campaign.all_lorebooks, texts, count_tokens=builder.cache.count,
                           window=builder.n_ctx, settings=LoreSettings(), turn=1)),
        ("  same, with one shared LoreSettings (proposed)",
         lambda: scan_lore(campaign.all_lorebooks, texts, count_tokens=builder.cache.count,
                           window=builder.n_ctx, settings=shared, turn=1)),
        ("whole build", lambda: builder.build(spec)),
    ]
    print(f"where the time goes ({len(history)} history messages), median of 10:")
    for label, fn in rows:
        print(f"  {label:<68} {median_ms(fn):8.2f} ms")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--turns", type=int, default=10_000)
    parser.add_argument("--builds", type=int, default=100)
    parser.add_argument("--naive", type=int, default=3, help="naive builds to time")
    parser.add_argument("--ctx", type=int, default=4096)
    parser.add_argument("--profile", action="store_true")
    parser.add_argument("--breakdown", action="store_true", help="time each part of a build")
    args = parser.parse_args()

    route_llama_log(Path("/tmp/grue-bench-llama.log"))
    vocab = VocabBackend(embedded_model_path(), n_ctx=args.ctx)
    t = time.perf_counter()
    vocab.load()
    load_ms = (time.perf_counter() - t) * 1000
    rng = random.Random(1234)
    book, names = make_book(rng)
    campaign = make_campaign(rng, args.turns, book, names)
    builder = make_builder(vocab, campaign)
    print(f"model vocabulary: {vocab.info.name} (vocab_only load {load_ms:.0f} ms), "
          f"window {builder.n_ctx}, budget {builder.budget}")
    print(f"campaign: {args.turns} turns, lorebook: {ENTRIES} entries")

    spec_ms, build_ms, tokens = timed_build(builder, campaign)
    print(f"first build (tokenizes the whole story, compiles the lore index): "
          f"{spec_ms + build_ms:9.1f} ms ({tokens} prompt tokens)")

    steps: list[tuple[float, float]] = []
    profiler = cProfile.Profile() if args.profile else None
    for i in range(args.builds):
        campaign.turns.append(make_turn(rng, args.turns + i, names))
        if profiler:
            profiler.enable()
        spec_ms, build_ms, _ = timed_build(builder, campaign)
        if profiler:
            profiler.disable()
        steps.append((spec_ms, build_ms))
    totals = sorted(s + b for s, b in steps)
    median = statistics.median(totals)
    p95 = totals[max(0, int(len(totals) * 0.95) - 1)]
    print(f"next {args.builds} turns (append a turn, build):  median {median:7.2f} ms, "
          f"p95 {p95:7.2f} ms")
    print(f"  of which adventure_spec median {statistics.median(s for s, _ in steps):6.2f} ms, "
          f"ContextBuilder.build median {statistics.median(b for _, b in steps):6.2f} ms")

    if args.naive:
        naive = make_builder(vocab, campaign)
        naive.cache = NoCache(vocab.tokenize)
        naive_times = []
        for i in range(args.naive):
            campaign.turns.append(make_turn(rng, args.turns + args.builds + i, names))
            spec_ms, build_ms, _ = timed_build(naive, campaign)
            naive_times.append(spec_ms + build_ms)
        naive_median = statistics.median(naive_times)
        print(f"naive (re-tokenize everything each build), {args.naive} builds: "
              f"median {naive_median:9.1f} ms")
        print(f"ratio naive / cached: {naive_median / median:7.1f}x")
    target = 10.0
    print(f"target < {target:.0f} ms per turn after the first build: "
          f"{'met' if median < target else 'MISSED'} (median {median:.2f} ms)")

    if args.breakdown:
        breakdown(builder, campaign)
    if profiler:
        stats = pstats.Stats(profiler)
        stats.sort_stats("cumulative").print_stats(25)
        stats.sort_stats("tottime").print_stats(15)


if __name__ == "__main__":
    main()
