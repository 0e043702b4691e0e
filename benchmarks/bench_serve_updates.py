"""Does another player's world update stand between Enter and the first word? (`grue serve`,
issue 12; docs/architecture.md, "grue serve")

    python benchmarks/bench_serve_updates.py [--players 3] [--rounds 12] [--gap 0.6]

Two shared model processes on the embedded SmolLM2, one as `grue serve` runs it (an update,
a job with a cache slot, waits while a turn somebody waits for is in line, and a turn halts a
running update, which then reads on from what it had read) and one with `--updates-in-line`
(updates wait in line like turns: the code before). The rounds alternate between them, so
both see the same machine load. In a round each player sends a turn (the story so far and an
action, a reply of `--reply-tokens`), one `--gap` seconds after the other (a fixed random
jitter, the same in both modes); as soon as a player's turn ends, that player's world update
goes in (a grammar-constrained JSON answer to a prompt of ~110 tokens, the size of
`world_request`'s), as the game sends it in its pause. Printed per mode: the wait from a
turn's request to its first piece of text (p50 / p95 / max), the updates finished, and the
ratio of the waits. The target: a turn's wait does not grow with other players' updates.
"""

from __future__ import annotations

import argparse
import os
import random
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from proc_info import load_average  # noqa: E402

from tui.backends.shared_protocol import Reader, send  # noqa: E402
from tui.core.sampler import Sampler  # noqa: E402
from tui.engine.world.propose import INSTRUCTIONS, SCHEMA  # noqa: E402
from tui.models.embedded import embedded_model_path  # noqa: E402

STORY = ("The old lighthouse stood at the edge of the cliff, its lamp long dark. Waves broke "
         "against the rocks below, and gulls wheeled over the grey water. ")
ACTIONS = ["You open the door.", "You climb the stair.", "You light the lamp.",
           "You call out.", "You search the room.", "You look out to sea."]
WAIT = 300.0  # seconds one job may take (a stuck model)


class Player:
    """One game speaking the shared model's protocol."""

    def __init__(self, path: Path, name: str) -> None:
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.connect(str(path))
        self.reader = Reader(self.sock)
        self.name = name
        self.ids = iter(range(1, 1_000_000))
        send(self.sock, {"op": "hello", "id": 0, "player": name})
        self._until(lambda m: m.get("id") == 0)

    def _until(self, done: Any) -> dict[str, Any]:
        deadline = time.monotonic() + WAIT
        while time.monotonic() < deadline:
            message = self.reader.next(0.5)
            if message is not None and done(message):
                return message
        raise RuntimeError(f"{self.name}: no answer from the model")

    def tokenize(self, text: str) -> list[int]:
        send(self.sock, {"op": "tokenize", "id": -1, "text": text})
        return list(self._until(lambda m: m.get("id") == -1)["tokens"])

    def job(self, tokens: list[int], max_tokens: int, slot: str = "",
            schema: dict[str, Any] | None = None) -> tuple[float, bool]:
        """Send a job and wait for its end: (seconds to its first text, finished whole)."""
        number = next(self.ids)
        message: dict[str, Any] = {
            "op": "generate", "id": number, "tokens": tokens, "stop": [], "slot": slot,
            "sampler": Sampler(max_tokens=max_tokens, temperature=0.7, seed=number).to_dict()}
        if schema is not None:
            message["schema"] = schema
        started = time.perf_counter()
        send(self.sock, message)
        first = -1.0
        while True:
            reply = self._until(lambda m, n=number: m.get("id") == n)
            if "text" in reply and first < 0:
                first = time.perf_counter() - started
            if reply.get("done") or "error" in reply:
                return first, bool(reply.get("done")) and not reply.get("cancelled")

    def close(self) -> None:
        self.sock.close()


def start_model(folder: Path, *extra: str) -> subprocess.Popen[bytes]:
    proc = subprocess.Popen(
        [sys.executable, "-m", "tui.serve.model_proc", "--socket", str(folder / "model.sock"),
         "--model", str(embedded_model_path()), "--ctx", "2048",
         "--log", str(folder / "llama.log"), "--watch-stdin", *extra],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, cwd=REPO,
        env={**os.environ, "PYTHONPATH": str(REPO)})
    assert proc.stdout is not None
    line = proc.stdout.readline().decode()
    if "ready on" not in line:
        raise SystemExit(f"the model process did not start: {line.strip()}")
    return proc


class Mode:
    """One model process and its players, with what their turns waited."""

    def __init__(self, name: str, folder: Path, players: int, extra: tuple[str, ...]) -> None:
        self.name = name
        self.proc = start_model(folder, *extra)
        self.players = [Player(folder / "model.sock", f"p{i}") for i in range(players)]
        self.stories = [[1, *p.tokenize(f"{p.name}'s tale. " + STORY * 3)]
                        for p in self.players]
        self.waits: list[float] = []
        self.updates = 0

    def play(self, player: int, delay: float, action: str, reply_tokens: int) -> None:
        time.sleep(delay)
        p = self.players[player]
        self.stories[player] += p.tokenize(" " + action)
        first, _whole = p.job(self.stories[player], reply_tokens)
        self.waits.append(first)
        update = [1, *p.tokenize(f"{INSTRUCTIONS}\n\nThe player: {action}\nThe narrator: "
                                 f"{STORY}\n\nWhat changed, as JSON:")]
        _first, whole = p.job(update, 120, slot="world", schema=SCHEMA)
        self.updates += whole

    def round(self, delays: list[float], actions: list[str], reply_tokens: int) -> None:
        threads = [threading.Thread(target=self.play, args=(i, d, a, reply_tokens))
                   for i, (d, a) in enumerate(zip(delays, actions, strict=True))]
        for t in threads:
            t.start()
        for t in threads:
            t.join()

    def close(self) -> None:
        for p in self.players:
            p.close()
        self.proc.kill()
        self.proc.wait()


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--players", type=int, default=3)
    parser.add_argument("--rounds", type=int, default=12)
    parser.add_argument("--gap", type=float, default=0.6,
                        help="seconds between one player's Enter and the next one's")
    parser.add_argument("--reply-tokens", type=int, default=40)
    args = parser.parse_args()
    load = load_average()
    print(f"bench_serve_updates: {args.players} players, {args.rounds} rounds, gap "
          f"{args.gap} s, replies {args.reply_tokens} tokens, load average {load}, "
          f"{time.strftime('%Y-%m-%d')}", flush=True)
    rng = random.Random(7)
    with tempfile.TemporaryDirectory(prefix="grue-b-", dir="/tmp") as a, \
            tempfile.TemporaryDirectory(prefix="grue-b-", dir="/tmp") as b:
        modes = [Mode("updates yield (grue serve)", Path(a), args.players, ()),
                 Mode("updates in line (before)", Path(b), args.players,
                      ("--updates-in-line",))]
        try:
            for number in range(args.rounds):
                delays = [i * args.gap + rng.uniform(0, args.gap / 2)
                          for i in range(args.players)]
                actions = [ACTIONS[(number + i) % len(ACTIONS)] for i in range(args.players)]
                for mode in modes if number % 2 == 0 else reversed(modes):
                    mode.round(delays, actions, args.reply_tokens)
        finally:
            for mode in modes:
                mode.close()
    print("\n| mode | turns | Enter to first word: p50 / p95 / max s | updates finished |")
    for mode in modes:
        w = mode.waits
        print(f"| {mode.name} | {len(w)} | {statistics.median(w):.2f} / {pct(w, 0.95):.2f} / "
              f"{max(w):.2f} | {mode.updates} |")
    yielding, in_line = modes
    print(f"p95 wait, updates yield / in line: "
          f"{pct(yielding.waits, 0.95) / pct(in_line.waits, 0.95):.2f}x; median: "
          f"{statistics.median(yielding.waits) / statistics.median(in_line.waits):.2f}x")
    print(f"load average at the end: {load_average()}")


if __name__ == "__main__":
    main()
