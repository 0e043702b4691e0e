"""Turn cost over a long campaign: does the wait after Enter grow with the campaign?

Run: python benchmarks/bench_turns.py [--turns 300] [--think 5 0] [--lorebook FILE]
                                      [--reply-tokens 48] [--threads 2]

A scripted adventure on SmolLM2 with `n_ctx` 2048 (the window fills and keeps trimming), an
author's note, lore that fires on many turns, the story-so-far update on, a fixed seed. Each
turn: the player "thinks" (simulated: the idle work -- the story-so-far update when due, then
reading the next prompt ahead -- runs until it is done or the think time is up, whichever
comes first), then presses Enter; Grue builds the prompt and streams a reply. Measured per
turn: the time from Enter to the first piece of text (TTFT), prompt tokens read after Enter
and in idle time, the action's tokens, the tokens the turn added, and how full the prompt is.

The naive baseline, in the same run and on the same prompts: a second plain
`llama_cpp.Llama` given each turn's prompt as a whole token list to `create_completion`
(llama-cpp-python keeps the longest common prefix itself), no reading ahead, no shifting. It
runs on the turns of the two phases only (its first late turn starts from the last early
prompt's cache, which costs it one full read).

Phases: early = turns 1-20, late = turns 200-300 (scaled down with --turns). Targets (issue 9),
with 5 s think time: late p95 TTFT <= 1.3x early; tokens read after Enter <= 1.5x the action's
tokens on >= 95 % of late turns. With 0 s think time: late median tokens read per turn <= 2x
the turn's new tokens. Every late prompt uses >= 90 % of its budget.
"""

from __future__ import annotations

import argparse
import random
import statistics
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tui.backends.local import LocalBackend, common_prefix, route_llama_log  # noqa: E402
from tui.core.sampler import Sampler  # noqa: E402
from tui.engine.actions import Mode  # noqa: E402
from tui.engine.campaign import OPENING, Campaign, Turn  # noqa: E402
from tui.engine.formats.lorebooks import read_lorebook  # noqa: E402
from tui.engine.game import Game, generate, make_builder, read_ahead, summary_in_idle  # noqa: E402,E501
from tui.engine.lore import Lorebook, LoreEntry  # noqa: E402
from tui.engine.summary import SummaryDraft, apply_summary  # noqa: E402
from tui.models.embedded import embedded_model_path  # noqa: E402

N_CTX = 2048
PLACES = ["forest", "glade", "tower", "harbor", "market", "crypt", "bridge", "mill"]
PEOPLE = ["Marta", "the ferryman", "Captain Ilse", "the beast", "a wizard", "the monks"]
VERBS = ["look for", "follow", "ask about", "search", "call out to", "walk toward"]


@dataclass
class TurnStats:
    ttft: float
    read_enter: int
    read_idle: int
    action_tokens: int
    new_tokens: int
    fill: float
    naive_ttft: float
    naive_read: int
    floor: float  # one token read by the bare model against a cache of this prompt's length


def world_info() -> Lorebook:
    entries = [
        LoreEntry(keys=[word], name=word,
                  content=f"The {word} is old and full of rumours; people of Vell speak of it "
                          f"in whispers, and every map marks it differently.")
        for word in PLACES + ["Marta", "ferryman", "Ilse", "beast", "wizard", "monks"]
    ]
    return Lorebook(name="World info", entries=entries)


def new_campaign(lorebook: Path | None) -> Campaign:
    c = Campaign(title="Bench Turns", memory="You are a courier in the river city of Vell.",
                 authors_note="Write tense, short sentences. Keep the mystery alive.")
    c.world_info = world_info()
    if lorebook is not None:
        book, _fmt = read_lorebook(lorebook)
        c.lorebooks.append(book)
    c.turns.append(Turn(OPENING, responses=["Rain falls on Vell. A letter waits for you."]))
    return c


class Pause:
    """The player's pause, as the game screen spends it: read the next prompt ahead, then
    (the player has typed the action and paused) again with the action and the lore it
    fires, then the story-so-far update when due: drafted (keeping the story's cache), its
    prompt read beside the story's cache, stored only once all read (else kept for the next
    pause), then the action read again; until done or the think time is up."""

    def __init__(self) -> None:
        self.draft: SummaryDraft | None = None

    def spend(self, backend: LocalBackend, builder, game: Game, think: float,  # noqa: ANN001
              action: str) -> int:
        """Tokens read in the pause."""
        if think <= 0:
            return 0
        cancel = threading.Event()
        timer = threading.Timer(think, cancel.set)
        timer.start()
        read = 0
        try:
            for typed in ("", action):
                if not cancel.is_set():
                    read += read_ahead(backend, builder, game.read_ahead_spec(typed), cancel)
            if not cancel.is_set():
                read += self.update(backend, builder, game, action, cancel)
        finally:
            timer.cancel()
        return read

    def update(self, backend: LocalBackend, builder, game: Game, action: str,  # noqa: ANN001
               cancel: threading.Event) -> int:
        draft, ready = summary_in_idle(backend, builder, game.campaign,
                                       lambda c: game.read_ahead_spec(campaign=c), cancel,
                                       self.draft)
        read = backend.last_prefill.read if draft is not None else 0
        self.draft = None if ready else draft
        if ready and draft is not None and apply_summary(game.campaign, *draft) and \
                not cancel.is_set():
            read += read_ahead(backend, builder, game.read_ahead_spec(action), cancel)
        return read


def naive_turn(naive, tokens: list[int], sampler: Sampler) -> tuple[float, int, float]:  # noqa: ANN001
    """(TTFT, tokens read, floor): the naive turn, then the floor -- the time the bare model
    takes to read one token against a cache of the prompt's length, the least any turn after
    Enter can cost (it grows with the cache: attention is linear in its length)."""
    cached = naive.input_ids[: naive.n_tokens].tolist()
    read = len(tokens) - min(common_prefix(cached, tokens), len(tokens) - 1)
    started = time.perf_counter()
    for _chunk in naive.create_completion(prompt=tokens, max_tokens=1, stream=True,
                                          temperature=sampler.temperature,
                                          top_k=sampler.top_k, seed=sampler.seed):
        break
    ttft = time.perf_counter() - started
    naive.n_tokens = len(tokens) - 1
    started = time.perf_counter()
    naive.eval(tokens[-1:])
    return ttft, read, time.perf_counter() - started


def play(args: argparse.Namespace, think: float) -> list[TurnStats]:
    import llama_cpp

    path = embedded_model_path()
    backend = LocalBackend(path, n_ctx=N_CTX, seed=7, n_threads=args.threads)
    backend.load()
    naive = llama_cpp.Llama(model_path=str(path), n_ctx=N_CTX, n_threads=args.threads,
                            n_threads_batch=args.threads, seed=7, verbose=False)
    rng = random.Random(1)
    game = Game(new_campaign(args.lorebook), autosave=False)
    game.campaign.settings.max_new_tokens = args.reply_tokens
    game.campaign.settings.seed = 7
    builder = make_builder(backend, game.campaign)
    sampler = Sampler(temperature=0.8, top_k=40, top_p=0.95, repetition_penalty=1.1, seed=7,
                      max_tokens=args.reply_tokens)
    out: list[TurnStats] = []
    pause = Pause()
    for number in range(1, args.turns + 1):
        action = f"{rng.choice(VERBS)} {rng.choice(PEOPLE + PLACES)}"
        read_idle = pause.spend(backend, builder, game, think, action)
        request = game.request_action(Mode.DO, action)
        first: list[float] = []
        started = time.perf_counter()

        def on_text(_text: str, first: list[float] = first) -> None:
            if not first:
                first.append(time.perf_counter())

        result = generate(backend, builder, request, sampler.with_changes(seed=number),
                          threading.Event(), on_text)
        ttft = (first[0] if first else time.perf_counter()) - started
        read_enter = backend.last_prefill.read  # the last token too, when read again
        report = result.report
        action_tokens = report.total_tokens - report.pending_start
        game.commit(request, result)
        naive_ttft, naive_read, floor = 0.0, 0, 0.0
        if in_phase(number, args.turns) and number % args.naive_every == 0:
            naive_ttft, naive_read, floor = naive_turn(naive, report.tokens, sampler)
        out.append(TurnStats(ttft, read_enter, read_idle, action_tokens,
                             action_tokens + result.tokens_out,
                             report.total_tokens / report.budget, naive_ttft, naive_read,
                             floor))
        if number % 25 == 0 or (args.verbose and read_enter > 4 * action_tokens):
            print(f"  turn {number}: ttft {ttft * 1000:.0f} ms, read {read_enter} "
                  f"(+{read_idle} idle), naive {naive_ttft * 1000:.0f} ms / {naive_read}, "
                  f"fill {out[-1].fill:.2f}, summary upto {game.campaign.summary_upto}",
                  flush=True)
    backend.close()
    naive.close()
    return out


def phases(n: int) -> tuple[range, range]:
    """Turn numbers (from 1) of the early and the late phase: 1-20 and 200-300 of 300."""
    return range(1, max(1, min(20, n // 15)) + 1), range(int(n * 2 / 3) + 1, n + 1)


def in_phase(number: int, n: int) -> bool:
    early, late = phases(n)
    return number in early or number in late


def p95(values: list[float]) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))]


def report(turns: list[TurnStats], think: float) -> None:
    n = len(turns)
    early_numbers, late_numbers = phases(n)
    early = [turns[i - 1] for i in early_numbers]
    late = [turns[i - 1] for i in late_numbers]
    print(f"\nthink time {think:g} s, {n} turns (early: turns 1-{len(early)}, "
          f"late: turns {n - len(late) + 1}-{n})")
    print("| phase | TTFT median ms | TTFT p95 ms | read after Enter (median) | read idle "
          "(median) | naive TTFT median / p95 ms | naive read (median) |")
    for name, phase in (("early", early), ("late", late)):
        ran = [t for t in phase if t.naive_ttft > 0] or phase
        print(f"| {name} | {statistics.median(t.ttft for t in phase) * 1000:.0f} | "
              f"{p95([t.ttft for t in phase]) * 1000:.0f} | "
              f"{statistics.median(t.read_enter for t in phase):.0f} | "
              f"{statistics.median(t.read_idle for t in phase):.0f} | "
              f"{statistics.median(t.naive_ttft for t in ran) * 1000:.0f} / "
              f"{p95([t.naive_ttft for t in ran]) * 1000:.0f} | "
              f"{statistics.median(t.naive_read for t in ran):.0f} |")
    ratio = p95([t.ttft for t in late]) / p95([t.ttft for t in early])
    naive_late = [t.naive_ttft for t in late if t.naive_ttft > 0] or [1.0]
    naive_early = [t.naive_ttft for t in early if t.naive_ttft > 0] or [1.0]
    naive_ratio = p95(naive_late) / p95(naive_early)
    floor_late = [t.floor for t in late if t.floor > 0] or [1.0]
    floor_early = [t.floor for t in early if t.floor > 0] or [1.0]
    floor_ratio = statistics.median(floor_late) / statistics.median(floor_early)
    within = sum(t.read_enter <= 1.5 * t.action_tokens for t in late) / len(late)
    per_new = statistics.median(t.read_enter + t.read_idle for t in late) / \
        statistics.median(t.new_tokens for t in late)
    min_fill = min(t.fill for t in late)
    late_vs_naive = statistics.median(t.ttft for t in late) / statistics.median(naive_late)
    print(f"late p95 TTFT / early p95: Grue {ratio:.2f}x (target <= 1.3 with think time), "
          f"naive {naive_ratio:.2f}x")
    print(f"the floor, one token read by the bare model, late median / early median: "
          f"{floor_ratio:.2f}x ({statistics.median(floor_early) * 1000:.0f} -> "
          f"{statistics.median(floor_late) * 1000:.0f} ms)")
    print(f"late turns reading <= 1.5x the action's tokens after Enter: {within:.0%} "
          "(target >= 95 % with think time)")
    print(f"late median tokens read per turn / the turn's new tokens: {per_new:.2f}x "
          "(target <= 2 with no think time)")
    print(f"late median TTFT, Grue / naive: {late_vs_naive:.2f}x")
    print(f"smallest late prompt fill: {min_fill:.1%} of the budget (target >= 90 %)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--turns", type=int, default=300)
    parser.add_argument("--think", type=float, nargs="+", default=[5.0, 0.0])
    parser.add_argument("--lorebook", type=Path, default=None,
                        help="attach a lorebook file (e.g. a SillyTavern world info JSON)")
    parser.add_argument("--reply-tokens", type=int, default=48)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--naive-every", type=int, default=1, metavar="N",
                        help="run the naive baseline on every Nth turn of the phases only "
                             "(each of its late turns is a full read anyway: saves time)")
    parser.add_argument("--verbose", action="store_true",
                        help="also print every turn that read over 4x its action after Enter")
    args = parser.parse_args()
    route_llama_log(Path("/tmp/grue-bench-turns-llama.log"))
    print(f"bench_turns: {args.turns} turns, n_ctx {N_CTX}, replies <= {args.reply_tokens} "
          f"tokens, lorebook {args.lorebook or '-'}, threads {args.threads}")
    for think in args.think:
        report(play(args, think), think)


if __name__ == "__main__":
    main()
