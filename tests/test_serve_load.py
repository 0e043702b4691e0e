"""The short form of `benchmarks/bench_serve_load.py`: two players over SSH on the embedded
SmolLM2 (one shared model process) start a new adventure from the home screen with keys, set
the reply length on the settings screen, play a turn each, leave; both saves hold the turn."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

pytest.importorskip("asyncssh")
# A stuck step fails in minutes, not the benchmark's ten (read when the module is imported).
os.environ.setdefault("BENCH_WAIT", "180")
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))

from bench_serve_load import load_run, report  # noqa: E402


async def test_two_players_one_turn_each_lose_no_save(smol_path: Path) -> None:
    result = await load_run(sessions=2, turns=1, max_tokens=16)
    assert [run.error for run in result.runs] == ["", ""]
    turns = [t for run in result.runs for t in run.turns]
    assert len(turns) == 2 and all(t.state in ("saving…", "saved") for t in turns)
    assert all(0 < t.first_word <= t.done for t in turns)
    assert result.lost == 0 and result.saved == [1, 1]
    assert result.max_tokens == [16, 16]  # the settings screen was driven with keys
    assert result.memory.model > 0 and len(result.memory.games) == 2
    assert "lost saves: 0 of 2" in "\n".join(report(result, 2, 1))
