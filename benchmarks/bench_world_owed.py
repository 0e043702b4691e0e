"""World updates that Enter cancels: owed to the next update, against dropped (the old way)
(docs/architecture.md, "World state").

Run: python benchmarks/bench_world_owed.py [--turns 30] [--fast-every 2] [--enter-after 0.2]

A player who types the next action before the update ends cancels it (Enter ends the pause).
Two SmolLM2 models side by side (one per mode, so each keeps its own update cache and both
see the same load) play the same scripted turns of lantern-road, with the same narrations;
on every `--fast-every`-th turn the next Enter comes `--enter-after` seconds after the
narration, cancelling the update. "dropped": each update reads its own turn only, and a
cancelled one is never asked again; "owed": `Game.world_update_due`, the next update reads
the owed turns too. Printed per mode: the turns some answered update read, the model's
seconds of update work per turn (cancelled work included), the tokens an answered update
read, and the changes recorded.
"""

from __future__ import annotations

import argparse
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

from tui.backends.local import LocalBackend, route_llama_log  # noqa: E402
from tui.engine.campaign import Turn, campaign_from_scenario  # noqa: E402
from tui.engine.game import Game, make_builder  # noqa: E402
from tui.engine.scenario import load_scenario  # noqa: E402
from tui.engine.world.propose import (  # noqa: E402
    WORLD_SAMPLER,
    WorldRequest,
    propose,
    settle,
    world_request,
)
from tui.models.embedded import embedded_model_path  # noqa: E402


@dataclass
class Mode:
    name: str
    backend: LocalBackend
    game: Game
    read_by_an_answer: set[int] = field(default_factory=set)
    seconds: list[float] = field(default_factory=list)
    answered_read: list[int] = field(default_factory=list)
    applied: int = 0
    lines: list[str] = field(default_factory=list)  # the quiet lines of the changes recorded


def request_for(mode: Mode) -> WorldRequest | None:
    if mode.name == "owed":
        return mode.game.world_update_due()
    return world_request(mode.game.campaign, mode.game.read_ahead_spec())


def run_update(mode: Mode, number: int, cancel_after: float | None, seed: int) -> None:
    request = request_for(mode)
    assert request is not None
    cancel = threading.Event()
    timer = threading.Timer(cancel_after, cancel.set) if cancel_after is not None else None
    if timer is not None:
        timer.start()
    builder = make_builder(mode.backend, mode.game.campaign)
    started = time.perf_counter()
    text = propose(mode.backend, builder, request, cancel, WORLD_SAMPLER.with_changes(seed=seed))
    mode.seconds.append(time.perf_counter() - started)
    if timer is not None:
        timer.cancel()
    if cancel.is_set() or not text:
        return
    outcome = mode.game.settle_world(request, text) if mode.name == "owed" else \
        settle(mode.game.campaign, request, text)
    mode.applied += len(outcome.applied)
    if outcome.applied:
        mode.lines.append(f"turn {number + 1}: {outcome.line}")
    mode.answered_read.append(mode.backend.last_prefill.read)
    first = number - len(request.earlier)
    mode.read_by_an_answer.update(range(first, number + 1))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--turns", type=int, default=30)
    parser.add_argument("--fast-every", type=int, default=2)
    parser.add_argument("--enter-after", type=float, default=0.2)
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()
    route_llama_log(Path("/tmp/grue-bench-world-owed-llama.log"))
    print(f"bench_world_owed: {args.turns} turns, Enter {args.enter_after} s after the "
          f"narration on every {args.fast_every}. turn, SmolLM2, threads {args.threads}, "
          f"load average {load_average()}, {time.strftime('%Y-%m-%d')}")
    scenario = load_scenario(ROOT / "scenarios" / "lantern-road.toml")
    modes = []
    for name in ("dropped", "owed"):
        backend = LocalBackend(embedded_model_path(), n_ctx=2048, seed=1, n_threads=args.threads)
        backend.load()
        modes.append(Mode(name, backend, Game(campaign_from_scenario(scenario), autosave=False)))
    for number in range(args.turns):
        action, narration = TURNS[number % len(TURNS)]
        fast = number % args.fast_every == args.fast_every - 1
        order = modes if number % 2 == 0 else list(reversed(modes))
        for mode in order:
            mode.game.campaign.turns.append(Turn("do", action, [narration], 0))
            run_update(mode, number, args.enter_after if fast else None, number)
    print("\n| mode | turns read by an answered update | update work per turn, mean s "
          "| tokens an answered update read, mean | changes recorded |")
    print("| --- | ---: | ---: | ---: | ---: |")
    for mode in modes:
        print(f"| {mode.name} | {len(mode.read_by_an_answer)} of {args.turns} | "
              f"{statistics.fmean(mode.seconds):.3f} | "
              f"{statistics.fmean(mode.answered_read):.0f} | {mode.applied} |")
    for mode in modes:
        for line in mode.lines:
            print(f"{mode.name}, recorded at {line}")
    dropped, owed = modes
    print(f"\nupdate work per turn, owed / dropped: "
          f"{statistics.fmean(owed.seconds) / statistics.fmean(dropped.seconds):.2f}x")
    print(f"load average at the end: {load_average()}")
    for mode in modes:
        mode.backend.close()


if __name__ == "__main__":
    main()
