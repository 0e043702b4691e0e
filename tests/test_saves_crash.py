"""A SIGKILL at any moment of a save leaves a campaign that loads with its last or
one-before turn (issue: a kill between two renames lost the campaign). Set GRUE_KILL_RUNS for
the long form (>= 200)."""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

from tui.engine.campaign import Turn
from tui.engine.saves import list_saves, load_save, write_save

REPO = Path(__file__).resolve().parents[1]
RUNS = int(os.environ.get("GRUE_KILL_RUNS", "24"))

PLAYER = """
import sys
from pathlib import Path
from tui.engine.campaign import Campaign, Turn
from tui.engine.saves import list_saves, load_save, write_save
base = Path(sys.argv[1])
saves = list_saves(base)
c = load_save(saves[0].path, lock=True) if saves else Campaign(title="Killed Often")
print("ready", flush=True)
while True:
    n = len(c.turns)
    c.turns.append(Turn("do", f"> act {n}", [f"reply {n} " + "words " * 40]))
    if n % 7 == 3:
        c.turns[n // 2].set_response(f"edited at {n}")  # an old turn: its chunk is rewritten
    if n % 11 == 5:
        c.memory = f"memory at {n}"
    write_save(c, base)
    print(n + 1, flush=True)
"""


def test_sigkill_at_random_moments_never_loses_the_campaign(tmp_path: Path) -> None:
    base = tmp_path / "saves"
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    rng = random.Random(20261130)
    saved = 0
    for _ in range(RUNS):
        child = subprocess.Popen([sys.executable, "-c", PLAYER, str(base)], env=env,
                                 stdout=subprocess.PIPE, text=True)
        assert child.stdout is not None
        assert child.stdout.readline().strip() == "ready"
        time.sleep(rng.uniform(0.0, 0.6))
        child.send_signal(signal.SIGKILL)
        out, _ = child.communicate()
        reported = [int(line) for line in out.split()]
        if reported:
            saved = reported[-1]
        [summary] = list_saves(base)
        c = load_save(summary.path)
        assert len(c.turns) in (saved, saved + 1)
        assert [t.action for t in c.turns] == [f"> act {i}" for i in range(len(c.turns))]
        saved = len(c.turns)
    c = load_save(list_saves(base)[0].path)
    c.turns.append(Turn("do", "> after the last kill", ["fine"]))
    folder = write_save(c, base)
    assert not list(folder.rglob("*.tmp"))
    assert len(load_save(folder).turns) == saved + 1
