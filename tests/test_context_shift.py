"""Context shifting in the local backend: when old story is cut from the middle of the
prompt, the KV cache drops that span and shifts what follows instead of reading it again."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest

from tui.backends.local import LocalBackend, common_prefix, find_shifted_run, plan_reuse
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


def test_the_shifted_run_is_the_longest_match_not_the_first() -> None:
    """A repetitive story (small models repeat themselves) holds the first 32 tokens of the
    kept story in the cut span too; shifting from that first match kept ~40 tokens and read
    the rest of the prompt again (a full re-read late in a long campaign)."""
    header, repeat = [1, 2, 3], list(range(500, 540))
    cut = list(range(100, 120)) + repeat + [9] + list(range(120, 150))
    kept = repeat + list(range(200, 400))
    cached = header + cut + kept
    start, run = find_shifted_run(cached, header + kept + [7, 8], 3)
    assert (start, run) == (3 + len(cut), len(kept))


def _story(n: int, name: str) -> str:
    line = "{} walked past lantern number {} and counted the steps."
    return " ".join(line.format(name, i) for i in range(n))


def _generate(backend: LocalBackend, tokens: list[int]) -> str:
    return "".join(backend.stream(Prompt(tokens, ""), GREEDY, [], threading.Event()))


def _play(smol_path: Path) -> tuple[str, str, LocalBackend]:
    """A turn after the window cut old story: (warm output, cold output, the warm backend)."""
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
        return _generate(warm, trimmed), _generate(cold, trimmed), warm
    finally:
        warm.close()
        cold.close()


@pytest.mark.model
def test_without_shifting_a_cut_prompt_is_read_again_exactly(smol_path: Path,
                                                              monkeypatch: pytest.MonkeyPatch
                                                              ) -> None:
    monkeypatch.setenv("GRUE_CONTEXT_SHIFT", "0")
    warm_text, cold_text, warm = _play(smol_path)
    assert not warm.last_prefill.shifted
    assert warm_text == cold_text and warm_text.strip()


@pytest.mark.model
def test_a_shifted_cache_gives_the_cold_runs_output(smol_path: Path,
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    """The shift itself is exact: story whose cache was read at later positions, with nothing
    before it in view, and then shifted down, gives what a cold read gives (same seed)."""
    monkeypatch.delenv("GRUE_CONTEXT_SHIFT", raising=False)
    warm = LocalBackend(smol_path, n_ctx=2048, seed=7, n_threads=2)
    cold = LocalBackend(smol_path, n_ctx=2048, seed=7, n_threads=2)
    warm.load()
    cold.load()
    try:
        kept = warm.tokenize(_story(10, "Bo"))
        action = warm.tokenize("\n> You open the door.\n")
        gap = 300  # cache positions 0..299 hold nothing: the story was read after them
        llm = warm._llm
        llm.input_ids[:gap] = [kept[0] + 1] * gap
        llm.n_tokens = gap
        llm.eval(kept)
        warm_text = _generate(warm, kept + action)
        stats = warm.last_prefill
        assert stats.shifted and stats.reused >= len(kept) and stats.read <= len(action)
        assert warm_text == _generate(cold, kept + action) and warm_text.strip()
    finally:
        warm.close()
        cold.close()


@pytest.mark.model
def test_after_a_trim_the_shifted_cache_reads_only_what_is_new(
        smol_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """After the window cut old story, the kept story is shifted, not read again. Its cached
    state above the first layer was computed with the cut story in view, so the reply may
    differ from a cold read (docs/architecture.md, "The local backend"): that is the price
    of shifting, and `GRUE_CONTEXT_SHIFT=0` avoids it."""
    monkeypatch.delenv("GRUE_CONTEXT_SHIFT", raising=False)
    warm_text, _cold_text, warm = _play(smol_path)
    stats = warm.last_prefill
    assert stats.shifted and stats.read <= 8  # only what is new after the kept story
    assert warm_text.strip()


def test_a_short_run_then_a_long_one_is_planned_as_two_cuts() -> None:
    """The window's start reached a kept note: the note's opening stays, the story before it
    and its first sentences go; two spans cut, two runs kept."""
    header, story, opening = [1, 2, 3], list(range(100, 140)), [7, 8, 9]
    first, rest = list(range(200, 220)), list(range(300, 360))
    cached = header + story + opening + first + rest
    tokens = header + opening + rest + [5, 6]
    plan = plan_reuse(cached, tokens, 3)
    assert plan.runs == ((3 + len(story), 3), (3 + len(story) + 3 + len(first), len(rest)))
    assert plan.held == 3 + 3 + len(rest)
    assert plan_reuse(cached, header + [4] * 20 + rest, 3).runs == ()  # too long an opening


@pytest.mark.model
def test_a_cut_before_and_inside_a_kept_note_reads_only_what_is_new(
        smol_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The window's start reached a kept note: the story before it and its first sentences
    are cut, its opening stays. Both kept runs are shifted down in turn, each to follow what
    is kept before it: only the action is read, and the cache's positions run on without a
    gap (llama.cpp refuses to decode after a gap, so the reply itself shows it)."""
    import llama_cpp

    monkeypatch.delenv("GRUE_CONTEXT_SHIFT", raising=False)
    warm = LocalBackend(smol_path, n_ctx=2048, seed=7, n_threads=2)
    warm.load()
    try:
        header = warm.prefix_tokens() + warm.tokenize("You are the narrator of a story.\n")
        old = warm.tokenize(_story(6, "Ada"))
        opening = warm.tokenize("\n[Lore:")
        first = warm.tokenize(" The tower was built by the old kings of the north.")
        rest = warm.tokenize(" " + _story(8, "Bo") + "]")
        action = warm.tokenize("\n> You open the door.\n")
        _generate(warm, header + old + opening + first + rest)
        prompt = header + opening + rest + action
        text = _generate(warm, prompt)
        stats = warm.last_prefill
        assert stats.shifted and stats.reused >= len(header + opening + rest)
        assert stats.read <= len(action)
        llm = warm._llm
        memory = llama_cpp.llama_get_memory(llm._ctx.ctx)
        assert llama_cpp.llama_memory_seq_pos_max(memory, 0) == llm.n_tokens - 1
        assert llm.input_ids[: len(prompt)].tolist() == prompt
        assert text.strip()
    finally:
        warm.close()
