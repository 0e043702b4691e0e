"""Context shifting in the local backend: when old story is cut from the middle of the
prompt, the KV cache drops that span and shifts what follows instead of reading it again."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest

from tui.backends.local import LocalBackend, common_prefix, find_shifted_run
from tui.core.backend import Prompt
from tui.core.sampler import Sampler

GREEDY = Sampler(temperature=0.0, top_k=1, max_tokens=24, seed=7)


def test_common_prefix_and_shifted_run() -> None:
    assert common_prefix([1, 2, 3, 4], [1, 2, 9]) == 2
    assert common_prefix([1, 2], [1, 2, 3]) == 2
    assert common_prefix([], [1]) == 0
    header, cut, kept = [1, 2, 3], list(range(100, 150)), list(range(200, 260))
    cached = header + cut + kept
    tokens = header + kept + [7, 8]
    start, run = find_shifted_run(cached, tokens, 3)
    assert (start, run) == (3 + len(cut), len(kept))
    # nothing to find: the story after the header is new
    assert find_shifted_run(cached, header + list(range(300, 340)), 3)[1] == 0


def _story(n: int, name: str) -> str:
    line = "{} walked past lantern number {} and counted the steps."
    return " ".join(line.format(name, i) for i in range(n))


def _generate(backend: LocalBackend, tokens: list[int]) -> str:
    return "".join(backend.stream(Prompt(tokens, ""), GREEDY, [], threading.Event()))


@pytest.mark.model
def test_shifted_cache_gives_the_cold_runs_output(smol_path: Path) -> None:
    warm = LocalBackend(smol_path, n_ctx=2048, seed=7, n_threads=2)
    cold = LocalBackend(smol_path, n_ctx=2048, seed=7, n_threads=2)
    warm.load()
    cold.load()
    try:
        header = warm.prefix_tokens() + warm.tokenize("You are the narrator of a story.\n")
        old = warm.tokenize(_story(8, "Ada"))
        kept = warm.tokenize(" " + _story(10, "Bo"))
        action = warm.tokenize("\n> You open the door.\n")
        _generate(warm, header + old + kept)  # the previous turn fills the cache
        trimmed = header + kept + action  # the window dropped the oldest story
        shifted_text = _generate(warm, trimmed)
        stats = warm.last_prefill
        assert stats.shifted
        assert stats.read <= len(action)  # only what is new after the kept story is read
        assert stats.reused >= len(header) + len(kept)
        cold_text = _generate(cold, trimmed)
        assert cold.last_prefill.reused == 0
        assert shifted_text == cold_text and shifted_text.strip()
    finally:
        warm.close()
        cold.close()
