"""The world update's answer opening given in the prompt, against sampled under the grammar
(docs/architecture.md, "World state").

Run: python benchmarks/bench_json_opening.py [--updates 30] [--threads 1]

Two SmolLM2 models side by side (one per mode, so each keeps its own update cache and both see
the same machine load) answer the same world updates, one after another: the lantern-road
campaign with a new turn each time, asked as `propose` asks locally (a prompt of its own, its
instructions and examples cached). "sampled": the whole answer sampled under the grammar;
"given": `{"changes":[` written into the prompt and the rest sampled. Printed: seconds per
update (median and mean), tokens sampled per update (mean), and the ratio given / sampled.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from lantern_turns import TURNS  # noqa: E402
from proc_info import load_average  # noqa: E402

from tui.backends.local import LocalBackend, route_llama_log  # noqa: E402
from tui.core.backend import Prompt  # noqa: E402
from tui.engine.campaign import Turn, campaign_from_scenario  # noqa: E402
from tui.engine.game import make_builder  # noqa: E402
from tui.engine.scenario import load_scenario  # noqa: E402
from tui.engine.world.propose import (  # noqa: E402
    MAX_TOKENS,
    OPENING,
    SCHEMA,
    WORLD_SAMPLER,
    world_request,
)
from tui.models.embedded import embedded_model_path  # noqa: E402


def answer(backend: LocalBackend, prompt: Prompt, seed: int, opening: str
           ) -> tuple[float, int, str]:
    """One update as `propose` runs it locally: (seconds, tokens sampled, the answer)."""
    sampler = WORLD_SAMPLER.with_changes(seed=seed, max_tokens=MAX_TOKENS)
    started = time.perf_counter()
    with backend.keeping_cache(resume=KEEP, slot="world"):
        text = backend.complete_json(prompt, SCHEMA, sampler, threading.Event(), opening)
    seconds = time.perf_counter() - started
    sampled = len(backend.tokenize(text.removeprefix(opening), special=False))
    return seconds, sampled, text


KEEP = threading.Event()
KEEP.set()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--updates", type=int, default=30)
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()
    route_llama_log(Path("/tmp/grue-bench-json-opening-llama.log"))
    load = load_average()
    print(f"bench_json_opening: {args.updates} updates, SmolLM2, threads {args.threads}, "
          f"load average {load}, {time.strftime('%Y-%m-%d')}")
    modes = {"sampled": "", "given": OPENING}
    backends = {name: LocalBackend(embedded_model_path(), n_ctx=2048, seed=1,
                                   n_threads=args.threads) for name in modes}
    for backend in backends.values():
        backend.load()
    campaign = campaign_from_scenario(load_scenario(ROOT / "scenarios" / "lantern-road.toml"))
    builder = make_builder(backends["sampled"], campaign)
    seconds: dict[str, list[float]] = {name: [] for name in modes}
    sampled: dict[str, list[int]] = {name: [] for name in modes}
    answers: dict[str, list[str]] = {name: [] for name in modes}
    for number in range(args.updates):
        action, narration = TURNS[number % len(TURNS)]
        campaign.turns.append(Turn("do", action, [narration], 0))
        request = world_request(campaign)
        assert request is not None
        report = builder.aside().build(request.spec)
        prompt = Prompt(report.tokens, report.text)
        order = list(modes) if number % 2 == 0 else list(reversed(modes))
        for name in order:
            spent, count, text = answer(backends[name], prompt, number, modes[name])
            seconds[name].append(spent)
            sampled[name].append(count)
            answers[name].append(text)
    print("\n| mode | per update: median / mean s | tokens sampled, mean |")
    print("| --- | ---: | ---: |")
    for name in modes:
        print(f"| {name} | {statistics.median(seconds[name]):.3f} / "
              f"{statistics.fmean(seconds[name]):.3f} | {statistics.fmean(sampled[name]):.1f} |")
    ratio = statistics.fmean(seconds["given"]) / statistics.fmean(seconds["sampled"])
    print(f"\nmean seconds per update, given / sampled: {ratio:.2f}x")
    differ = [(a, b) for a, b in zip(answers["sampled"], answers["given"], strict=True)
              if a != b]
    print(f"answers that differ: {len(differ)} of {args.updates}"
          + "".join(f"\n  sampled {a[:120]!r}\n  given   {b[:120]!r}" for a, b in differ[:3]))
    print(f"load average at the end: {load_average()}")
    for backend in backends.values():
        backend.close()


if __name__ == "__main__":
    main()
