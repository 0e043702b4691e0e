"""The local backend with the real SmolLM2 GGUF through llama-cpp-python."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest

from tui.backends.local import LocalBackend
from tui.core.backend import Backend, BackendError
from tui.engine.actions import Mode
from tui.engine.campaign import Settings, campaign_from_scenario
from tui.engine.game import Game, generate, make_builder
from tui.engine.saves import load_save, save_path
from tui.engine.scenario import find_scenario

pytestmark = pytest.mark.model


def play(game: Game, backend: Backend, request) -> tuple[str, list[str], object]:  # type: ignore[no-untyped-def]
    builder = make_builder(backend, game.campaign)
    pieces: list[str] = []
    result = generate(backend, builder, request, game.campaign.settings.sampler,
                      threading.Event(), pieces.append)
    game.commit(request, result)
    return result.text, pieces, result


def test_model_info_and_template(smol_backend: Backend) -> None:
    info = smol_backend.info
    assert info.n_ctx == 2048
    assert info.train_ctx == 8192
    assert info.chat_template and "<|im_start|>" in info.chat_template
    ids = smol_backend.tokenize("<|im_start|>", special=True)
    assert len(ids) == 1  # a real special token, parsed only when asked
    assert len(smol_backend.tokenize("<|im_start|>", special=False)) > 1


def test_a_turn_streams_text(smol_backend: Backend) -> None:
    game = Game(campaign_from_scenario(find_scenario("lantern-road"),
                                       Settings(seed=1, max_new_tokens=48)))
    text, pieces, result = play(game, smol_backend,
                                game.request_action(Mode.DO, "open the mailbox"))
    assert len(pieces) > 3  # streamed in several pieces
    assert len(text.split()) >= 5
    assert result.report.total_tokens <= result.report.budget  # type: ignore[attr-defined]
    assert "<|im_start|>assistant" in result.report.text  # type: ignore[attr-defined]


def test_cancel_stops_within_a_token(smol_backend: Backend) -> None:
    game = Game(campaign_from_scenario(find_scenario("lantern-road"),
                                       Settings(seed=2, max_new_tokens=200)))
    builder = make_builder(smol_backend, game.campaign)
    cancel = threading.Event()
    pieces: list[str] = []

    def on_text(text: str) -> None:
        pieces.append(text)
        if len(pieces) == 3:
            cancel.set()

    request = game.request_action(Mode.DO, "walk into the woods")
    result = generate(smol_backend, builder, request, game.campaign.settings.sampler, cancel,
                      on_text)
    assert result.cancelled
    assert result.tokens_out <= 5


def test_two_turns_quit_resume_third_turn_sees_the_earlier_ones(smol_backend: Backend) -> None:
    game = Game(campaign_from_scenario(find_scenario("derelict-meridian"),
                                       Settings(seed=4, max_new_tokens=32)))
    first, _, _ = play(game, smol_backend, game.request_action(Mode.DO, "open the airlock"))
    second, _, _ = play(game, smol_backend, game.request_action(Mode.SAY, "hello, HALCYON"))
    path = save_path(game.campaign)
    del game
    resumed = Game(load_save(path))
    assert len(resumed.campaign.turns) == 3
    _, _, result = play(resumed, smol_backend, resumed.request_action(Mode.DO, "look around"))
    prompt = result.report.text  # type: ignore[attr-defined]
    assert "> You open the airlock." in prompt and first.strip()[:30] in prompt
    assert '> You say "Hello, HALCYON."' in prompt and second.strip()[:30] in prompt
    assert len(load_save(path).turns) == 4


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        (None, "no such file"),
        (b"PK\x03\x04zipfile", "not a GGUF"),
        (b"GGUF\x03\x00\x00\x00\x01", "truncated"),
    ],
)
def test_bad_model_files_are_one_line_errors(tmp_path: Path, content: bytes | None,
                                             expected: str) -> None:
    path = tmp_path / "model.gguf"
    if content is not None:
        path.write_bytes(content)
    with pytest.raises(BackendError) as info:
        LocalBackend(path).load()
    message = str(info.value)
    assert "\n" not in message and "model.gguf" in message
    assert expected.lower() in message.lower()


def test_model_too_big_for_memory_is_refused(smol_path: Path,
                                             monkeypatch: pytest.MonkeyPatch) -> None:
    import tui.models.memory as memory

    monkeypatch.setattr(memory, "available_memory_bytes", lambda: 20 * 1024 * 1024)
    with pytest.raises(BackendError, match="available"):
        LocalBackend(smol_path).load()


def test_context_is_capped_at_training_context(smol_path: Path) -> None:
    backend = LocalBackend(smol_path, n_ctx=100_000)
    try:
        info = backend.load()
        assert info.n_ctx == 8192
    finally:
        backend.close()


def test_the_loaded_model_goes_by_its_catalog_name(smol_backend: Backend) -> None:
    from tui.models.catalog import load_catalog

    # not the GGUF's training label ("Smollm2 135M 8k Lc100K Mix1 Ep2")
    assert smol_backend.info.name == load_catalog().get("smollm2-135m").name


def test_threads_default_to_every_core_but_one(smol_path: Path,
                                               monkeypatch: pytest.MonkeyPatch) -> None:
    """benchmarks/README.md, "throughput": one core is left for the UI and everything else."""
    from tui.backends import local

    real = local.available_cores
    monkeypatch.setattr(local, "available_cores", lambda: 4)
    assert local.default_threads() == 3
    monkeypatch.setattr(local, "available_cores", lambda: 1)
    assert local.default_threads() == 1
    monkeypatch.setattr(local, "available_cores", real)
    backend = LocalBackend(smol_path, n_ctx=256)
    backend.load()
    try:
        assert backend._llm.n_threads == local.default_threads()
        assert backend._llm.n_threads_batch == local.default_threads()
    finally:
        backend.close()
    backend = LocalBackend(smol_path, n_ctx=256, n_threads=1, n_threads_batch=2)
    backend.load()
    try:
        assert (backend._llm.n_threads, backend._llm.n_threads_batch) == (1, 2)
    finally:
        backend.close()


TOKENIZE_TEXTS = ["", "a", "<|im_start|>user\nhi<|im_end|>\n", "héllo wörld ✓ 日本語 🙂",
                  "x" * 3000, " the lamp" * 400, "\n\n\n  \t", "\x00\x01 odd bytes"]


@pytest.mark.parametrize("vocab_only", [True, False])
def test_tokenize_reads_each_text_once_and_agrees_with_llama_cpp(
        smol_path: Path, monkeypatch: pytest.MonkeyPatch, vocab_only: bool) -> None:
    """`LocalBackend.tokenize` gives llama-cpp-python's own tokens, special or not, with one
    call into llama.cpp per text (a vocab_only load made llama-cpp-python call twice: its
    buffer is sized from a training window that load leaves at 0)."""
    import llama_cpp
    import llama_cpp.llama_cpp as low

    backend = LocalBackend(smol_path, n_ctx=256, vocab_only=vocab_only)
    backend.load()
    try:
        expected = {(t, special): list(backend._llm.tokenize(t.encode(), add_bos=False,
                                                               special=special))
                    for t in TOKENIZE_TEXTS for special in (True, False)}
        calls = [0]
        real = low.llama_tokenize

        def counted(*args: object) -> int:
            calls[0] += 1
            return real(*args)

        monkeypatch.setattr(low, "llama_tokenize", counted)
        monkeypatch.setattr(llama_cpp, "llama_tokenize", counted)
        for (text, special), ids in expected.items():
            calls[0] = 0
            assert backend.tokenize(text, special) == ids, text[:20]
            assert calls[0] == 1, text[:20]
    finally:
        backend.close()
