"""Crash safety: play in `--plain` and SIGKILL the process at random moments, many times.

    python benchmarks/bench_kill.py [--runs 200] [--seed 1] [--window 2.0] [--model FILE]

Every run resumes the same campaign (the first one starts it with `grue new`), sends a stream
of actions on stdin and is killed with SIGKILL at a random moment up to --window seconds after
the model is ready (every other run: just after a reply was printed to its end, when its save
is under way): mid-generation, mid-save, mid story-so-far update, between turns. After
each kill the campaign must still be listed and load, hold every turn of the runs before, and
hold this run's turns up to the last one whose end was seen or the one before it (the next
action's echo is printed only after the turn was saved). Nothing else may be lost.

By default the model is a stand-in OpenAI-compatible server in this process (each reply
streamed word by word), so a run costs the process start and not a model load; `--model FILE`
plays the local GGUF instead (much slower per run). A small window (--ctx 768) makes the
story-so-far update come due often, so kills land in it too. `tests/test_kill_plain.py` runs
a short form in CI.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import random
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))

from remote_standin import StandIn, completion_event, send_json, send_sse  # noqa: E402

from tui.engine.saves import SaveError, list_saves, load_save  # noqa: E402

REPLY = ("The lantern gutters as the wind turns, and somewhere past the gate a shutter bangs. "
         "You count the steps to the mailbox and listen for the grue in the dark wood.")
REPLY_END = REPLY.split()[-2]  # "dark": the tidied reply's last full word is printed
MODELS = {"object": "list", "data": [{"id": "stand-in", "object": "model"}]}
ACTIONS_PER_RUN = 60


def stand_in(delay: float) -> StandIn:
    """An OpenAI-compatible server that streams `REPLY` a word every `delay` seconds."""
    server = StandIn()
    server.route("GET", "/v1/models")(lambda req, conn: send_json(conn, MODELS))

    def complete(req, conn) -> None:  # type: ignore[no-untyped-def]
        words = [w + " " for w in REPLY.split()]
        with contextlib.suppress(OSError):  # the player was killed mid-stream
            send_sse(conn, [completion_event(w) for w in words]
                     + [completion_event("", "stop"), "data: [DONE]"], delay=delay)

    server.route("POST", "/v1/completions")(complete)
    return server


@dataclass
class Tally:
    runs: int = 0
    kills: int = 0
    corrupted: int = 0
    lost: int = 0
    moments: Counter[str] = field(default_factory=Counter)
    turns: int = 0
    summaries: int = 0
    problems: list[str] = field(default_factory=list)

    def fail(self, kind: str, text: str) -> None:
        setattr(self, kind, getattr(self, kind) + 1)
        self.problems.append(text)


def play_command(campaign_id: str | None, model_args: list[str]) -> list[str]:
    if campaign_id is None:
        return ["-m", "tui.cli", "new", "lantern-road", "--plain", "--ctx", "768",
                "--max-tokens", "48", *model_args]
    return ["-m", "tui.cli", "resume", campaign_id, "--plain"]


def one_run(run: int, home: Path, model_args: list[str], rng: random.Random, window: float,
            tally: Tally) -> None:
    """Start (or resume), play, kill at a random moment, then check the save."""
    saves = list_saves(home / "saves")
    before = [t.action for t in load_save(saves[0].path).turns] if saves else []
    command = play_command(saves[0].id if saves else None, model_args)
    env = {**os.environ, "GRUE_HOME": str(home), "PYTHONPATH": str(ROOT)}
    lines = "".join(f"knock {run}x{k}\n" for k in range(ACTIONS_PER_RUN))
    child = subprocess.Popen([sys.executable, *command], env=env, stdin=subprocess.PIPE,
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    assert child.stdin and child.stdout and child.stderr
    ready = threading.Event()
    ended = threading.Event()  # a reply was printed to its end: its save is under way
    errors: list[str] = []
    printed: list[str] = []

    def read_errors() -> None:
        assert child.stderr
        for line in child.stderr:
            errors.append(line)
            if " ready (" in line:
                ready.set()

    def read_story() -> None:
        assert child.stdout
        for line in child.stdout:
            printed.append(line)
            if ready.is_set() and REPLY_END in line:
                ended.set()

    readers = [threading.Thread(target=read_errors, daemon=True),
               threading.Thread(target=read_story, daemon=True)]
    for reader in readers:
        reader.start()
    child.stdin.write(lines)
    child.stdin.flush()
    if not ready.wait(120):
        child.kill()
        raise SystemExit("the model never became ready:\n" + "".join(errors))
    if run % 2:  # aimed at a save: just after a reply ended
        ended.wait(window * 4)
        time.sleep(rng.uniform(0.0, 0.04))
    else:
        time.sleep(rng.uniform(0.0, window))
    child.send_signal(signal.SIGKILL)
    child.wait()
    for reader in readers:
        reader.join(5)
    out = "".join(printed)
    tally.runs += 1
    tally.kills += child.returncode == -signal.SIGKILL
    tally.summaries += sum("story so far now covers" in e for e in errors)
    check(run, home, before, out, tally)


def check(run: int, home: Path, before: list[str], out: str, tally: Tally) -> None:
    """The save after a kill: listed, loads, every earlier turn, this run's up to the last
    one seen ended (or the one before)."""
    echoed = sum(f"{run}x{k}." in out for k in range(ACTIONS_PER_RUN))
    saves = list_saves(home / "saves")
    if len(saves) != 1:
        if before or saves:
            tally.fail("lost", f"run {run}: {len(saves)} saves listed")
        return
    folder = saves[0].path
    temp_left = any(p.name.endswith(".tmp") for p in folder.rglob("*"))
    try:
        actions = [t.action for t in load_save(folder).turns]
    except SaveError as exc:
        tally.fail("corrupted", f"run {run}: {exc}")
        return
    if not before and actions and not actions[0]:
        before = actions[:1]  # the scenario's opening, from the first save
    mine = actions[len(before):]
    expected = [a for a in mine if f"{run}x" in a]
    if actions[: len(before)] != before or mine != expected:
        tally.fail("lost", f"run {run}: earlier turns changed")
        return
    if not echoed - 1 <= len(mine) <= echoed:
        tally.fail("lost", f"run {run}: {len(mine)} turns saved, {echoed} echoed")
        return
    if any(f"{run}x{k}." not in a for k, a in enumerate(mine)):
        tally.fail("lost", f"run {run}: turns out of order")
        return
    tally.turns = len(actions)
    if temp_left:
        tally.moments["mid-save (a temp file was left)"] += 1
    elif len(mine) == echoed - 1:
        tally.moments["mid-turn (generation or its save)"] += 1
    else:
        tally.moments["between turns (update, reading)"] += 1


def run_kills(runs: int, seed: int = 1, window: float = 2.0, model: str | None = None,
              delay: float = 0.01, progress: bool = False) -> Tally:
    rng = random.Random(seed)
    tally = Tally()
    with tempfile.TemporaryDirectory(prefix="grue-kill-") as tmp:
        home = Path(tmp)
        if model:
            model_args = ["--model", model, "--seed", "1"]
            server = None
        else:
            server = stand_in(delay)
            server.__enter__()
            model_args = ["--backend", "openai", "--url", server.url]
        try:
            for run in range(runs):
                one_run(run, home, model_args, rng, window, tally)
                if progress and (run + 1) % 20 == 0:
                    print(f"  {run + 1} runs: {tally.corrupted} corrupted, {tally.lost} lost, "
                          f"{tally.turns} turns", flush=True)
        finally:
            if server is not None:
                server.close()
    return tally


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--runs", type=int, default=200)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--window", type=float, default=2.0,
                        help="kill up to this many seconds after the model is ready")
    parser.add_argument("--model", default=None, help="a GGUF to play instead of the stand-in")
    args = parser.parse_args()
    started = time.monotonic()
    tally = run_kills(args.runs, args.seed, args.window, args.model, progress=True)
    minutes = (time.monotonic() - started) / 60
    print(f"{tally.runs} runs, {tally.kills} SIGKILLs, {minutes:.1f} min; the campaign reached "
          f"{tally.turns} turns, {tally.summaries} story-so-far updates finished")
    for moment, n in tally.moments.most_common():
        print(f"  killed {moment}: {n}")
    print(f"corrupted: {tally.corrupted}   lost: {tally.lost}")
    for problem in tally.problems[:20]:
        print("  " + problem)
    return 1 if tally.corrupted or tally.lost else 0


if __name__ == "__main__":
    sys.exit(main())
