"""Enter during a world update: the wait from Enter to the turn's first word, with the update
stopped inside llama.cpp's evaluation against stopped between chunks (the code before)
(docs/architecture.md, "The local backend").

Run: python benchmarks/bench_enter_interrupt.py [--turns 30] [--threads 1]

Two SmolLM2 models side by side (one per mode, the same load on both) play the same scripted
turns of lantern-road. After each narration, as in the game's pause: the next prompt is read
ahead, then the world update runs (`propose`, beside the story's cache); Enter comes a set
time into it (the same times for both modes, spread over the update's length), and the turn
is asked with the next action. Printed per mode: Enter to the first word (where the update
was still running at Enter), and one 64-token chunk's reading time, which is what Enter
waited for at most before: on a 7B-13B model on a CPU that chunk is seconds.
"""

from __future__ import annotations

import argparse
import random
import statistics
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from lantern_turns import TURNS  # noqa: E402
from proc_info import load_average  # noqa: E402

from tui.backends.local import PREFILL_CHUNK, LocalBackend, route_llama_log  # noqa: E402
from tui.core.backend import Prompt  # noqa: E402
from tui.core.interrupt import Interrupt  # noqa: E402
from tui.engine.actions import Mode as ActionMode  # noqa: E402
from tui.engine.campaign import Turn, campaign_from_scenario  # noqa: E402
from tui.engine.game import Game, make_builder, read_ahead  # noqa: E402
from tui.engine.scenario import load_scenario  # noqa: E402
from tui.engine.world.propose import WORLD_SAMPLER, propose  # noqa: E402
from tui.models.embedded import embedded_model_path  # noqa: E402


@dataclass
class Mode:
    name: str
    backend: LocalBackend
    game: Game
    waits: list[float] = field(default_factory=list)  # Enter to the first word, s
    ended_first: int = 0  # updates that ended before Enter came (not in `waits`)


def pause_then_enter(mode: Mode, number: int, enter_after: float) -> None:
    """One pause (read ahead, the update) and the Enter that ends it `enter_after` seconds
    into the update."""
    game, backend = mode.game, mode.backend
    action, narration = TURNS[number % len(TURNS)]
    game.campaign.turns.append(Turn("do", action, [narration], 0))
    builder = make_builder(backend, game.campaign)
    read_ahead(backend, builder, game.read_ahead_spec(), threading.Event())
    request = game.world_update_due()
    assert request is not None
    cancel = Interrupt()
    update = threading.Thread(target=propose, args=(backend, builder, request, cancel,
                                                    WORLD_SAMPLER.with_changes(seed=number)))
    update.start()
    time.sleep(enter_after)
    enter = time.perf_counter()
    ran_past_enter = update.is_alive()
    cancel.set()
    update.join()
    next_action = TURNS[(number + 1) % len(TURNS)][0]
    report = builder.build(game.request_action(ActionMode.DO, next_action).spec)
    sampler = game.campaign.settings.sampler.with_changes(max_tokens=1, seed=number)
    list(backend.stream(Prompt(report.tokens, report.text), sampler, report.stop,
                        threading.Event()))
    if ran_past_enter:
        mode.waits.append(time.perf_counter() - enter)
    else:
        mode.ended_first += 1


def chunk_seconds(backend: LocalBackend, runs: int = 5) -> float:
    """The median time to read one chunk of prompt with nothing cached."""
    tokens = backend.prefix_tokens() + backend.tokenize(TURNS[0][1] * 40, special=False)
    times = []
    for _ in range(runs):
        backend._copy_in(None)
        started = time.perf_counter()
        backend.read_ahead(tokens[:PREFILL_CHUNK], threading.Event(), whole=False)
        times.append(time.perf_counter() - started)
    backend._copy_in(None)
    return statistics.median(times)


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(share * (len(ordered) - 1)))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--turns", type=int, default=30)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--seed", type=int, default=7, help="of the times Enter comes")
    args = parser.parse_args()
    route_llama_log(Path("/tmp/grue-bench-enter-interrupt-llama.log"))
    print(f"bench_enter_interrupt: {args.turns} turns, SmolLM2, threads {args.threads}, "
          f"load average {load_average()}, {time.strftime('%Y-%m-%d')}")
    scenario = load_scenario(ROOT / "scenarios" / "lantern-road.toml")
    modes = []
    for name in ("stops inside", "between chunks"):
        backend = LocalBackend(embedded_model_path(), n_ctx=2048, seed=1, n_threads=args.threads)
        backend.load()
        assert backend._abort is not None
        backend._abort.enabled = name == "stops inside"
        modes.append(Mode(name, backend, Game(campaign_from_scenario(scenario), autosave=False)))
    chunk = chunk_seconds(modes[0].backend)
    times = random.Random(args.seed)
    for number in range(args.turns):
        enter_after = times.uniform(0.02, 0.5)
        order = modes if number % 2 == 0 else list(reversed(modes))
        for mode in order:
            pause_then_enter(mode, number, enter_after)
    print(f"one {PREFILL_CHUNK}-token chunk read: {chunk:.3f} s (median of 5)")
    print("\n| mode | Enter during the update "
          "| Enter to the first word: p50 / p95 / max / mean s |")
    print("| --- | ---: | ---: |")
    for mode in modes:
        w = mode.waits
        print(f"| {mode.name} | {len(w)} of {args.turns} | {percentile(w, 0.5):.3f} / "
              f"{percentile(w, 0.95):.3f} / {max(w):.3f} / {statistics.fmean(w):.3f} |")
    inside, between = modes
    print(f"\nEnter to the first word, stops inside / between chunks: "
          f"mean {statistics.fmean(inside.waits) / statistics.fmean(between.waits):.2f}x, "
          f"p95 {percentile(inside.waits, 0.95) / percentile(between.waits, 0.95):.2f}x")
    print(f"load average at the end: {load_average()}")
    for mode in modes:
        mode.backend.close()


if __name__ == "__main__":
    main()
