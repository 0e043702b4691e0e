"""`grue serve` keeps players' caches within a budget that follows the machine's memory
(docs/architecture.md, "grue serve"): a fixed 1 GB kept no cache of a 13B model (~3.2 GB
at 4,096 tokens), so every switch between players read the whole window again."""

from __future__ import annotations

import tempfile
import threading
from collections.abc import Iterator
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from test_serve_shared import Raw, start_model

from tui.backends import local
from tui.backends.shared_protocol import send
from tui.core.backend import Backend
from tui.models.memory import GB, KEPT_CACHE_FLOOR, kept_cache_budget
from tui.serve.model_proc import PlayerCaches, cache_budget

LLAMA2_13B_CACHE = 3_355_443_200  # 40 layers x 4,096 tokens x 2 x 5,120 x f16
STORY = "The old lighthouse stood at the edge of the cliff, its lamp long dark. " * 12


def test_the_budget_is_half_the_memory_left_beside_the_model() -> None:
    assert kept_cache_budget(None, 0) == KEPT_CACHE_FLOOR  # cannot be told: as before
    assert kept_cache_budget(64 * GB, 8 * GB) == 28 * GB
    assert kept_cache_budget(2 * GB, 1 * GB) == KEPT_CACHE_FLOOR  # never under the floor


def test_a_host_with_memory_keeps_several_13b_players_caches() -> None:
    caches = PlayerCaches(max_bytes=kept_cache_budget(64 * GB, 8 * GB))
    for player in ("ann", "bob", "cy"):
        caches.put(player, SimpleNamespace(size=LLAMA2_13B_CACHE))
    assert caches.names() == ["ann", "bob", "cy"]
    fixed = PlayerCaches()  # the budget before: 1 GB
    fixed.put("ann", SimpleNamespace(size=LLAMA2_13B_CACHE))
    assert fixed.names() == []


@pytest.mark.model
def test_the_local_backend_copies_out_a_cache_as_large_as_the_budget(
        smol_backend: Backend, monkeypatch: pytest.MonkeyPatch) -> None:
    """A cache over the fixed cap (played by a cap of 1 KB) is copied once the model
    process's budget covers it: both the players' caches and the backend's copy follow it."""
    assert isinstance(smol_backend, local.LocalBackend)
    monkeypatch.setattr(local, "MAX_KEPT_CACHE_BYTES", 1024)
    monkeypatch.setattr(smol_backend, "max_kept_bytes", None)
    tokens = smol_backend.tokenize(STORY)
    smol_backend.read_ahead(tokens, threading.Event())
    assert smol_backend.save_cache() is None  # over the fixed cap: not kept
    budget = cache_budget(smol_backend, 64 * GB)
    assert smol_backend.max_kept_bytes == budget and budget > 1024
    kept: Any = smol_backend.save_cache()
    assert kept is not None and kept.size > 1024


@pytest.fixture
def small_budget_model(smol_path: Path) -> Iterator[Path]:
    with tempfile.TemporaryDirectory(prefix="grue-", dir="/tmp") as folder:
        proc = start_model(smol_path, Path(folder), "--cache-bytes", "4096")
        try:
            yield Path(folder) / "model.sock"
        finally:
            proc.kill()
            proc.wait()


@pytest.mark.model
def test_a_budget_smaller_than_a_players_cache_reads_the_story_again(
        small_budget_model: Path) -> None:
    """The budget is what decides: under it a player's cache is not kept and the next turn
    reads the whole story (what a fixed 1 GB did to every 13B player); the model process
    reports its budget."""
    a, b = Raw(small_budget_model, "A"), Raw(small_budget_model, "B")
    story = [1, *a.tokenize(STORY)]

    def turn(raw: Raw, number: int, tokens: list[int]) -> dict[str, Any]:
        raw.generate(number, tokens, max_tokens=2)
        return raw.wait(lambda m: m.get("id") == number and m.get("done"))

    turn(a, 1, story)
    turn(b, 1, [1, *b.tokenize("A different tale. " * 10)])
    again = turn(a, 2, story + a.tokenize(" You climb."))
    assert again["read"] >= len(story)  # not kept: read again
    send(a.sock, {"op": "stats", "id": 99})
    assert a.wait(lambda m: m.get("id") == 99)["cache_budget"] == 4096
    a.close()
    b.close()
