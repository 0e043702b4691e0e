"""Crash safety in line mode (issue "the trust pass"): `grue --plain` killed with SIGKILL at
random moments (mid-generation, mid-save, between turns) never loses or corrupts the campaign.
The short form of `benchmarks/bench_kill.py` (which runs 200 and more)."""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))

from bench_kill import run_kills  # noqa: E402


def test_sigkill_while_playing_in_line_mode_loses_nothing() -> None:
    tally = run_kills(runs=20, seed=7)
    assert tally.kills == 20
    assert (tally.corrupted, tally.lost) == (0, 0), tally.problems
    assert tally.turns > 10  # the runs did play
    assert tally.moments["mid-turn (generation or its save)"] > 0
