"""KoboldBackend against a stand-in that speaks KoboldCpp's native API.

No KoboldCpp binary is available here, so the stand-in answers the way KoboldCpp's
documented API does: SSE `event: message` / `data: {"token": ...}` on a connection that
closes at the end, a tokencount that includes BOS, and abort by genkey.
"""

from __future__ import annotations

import contextlib
import json
import socket
import threading
import time

import pytest
from remote_standin import Request, StandIn, free_port, head, send_json

from tui.backends.remote import KoboldBackend, OpenAIBackend, make_backend
from tui.core.backend import BackendError, Prompt
from tui.core.sampler import Sampler

BOS = 1
WORDS = ["The", " cave", " is", " dark", ".", " A", " lamp", " flickers", "."]


class KoboldStandIn(StandIn):
    def __init__(self, delay: float = 0.0) -> None:
        super().__init__()
        self.delay = delay
        self.aborted: dict[str, threading.Event] = {}
        self.generated: list[int] = []  # tokens sent per generation
        get, post = (lambda p: self.route("GET", p)), (lambda p: self.route("POST", p))
        get("/api/extra/version")(
            lambda r, c: send_json(c, {"result": "KoboldCpp", "version": "1.80"})
        )
        get("/api/v1/model")(lambda r, c: send_json(c, {"result": "koboldcpp/Stand-In-7B"}))
        get("/api/v1/config/max_context_length")(lambda r, c: send_json(c, {"value": 4096}))
        post("/api/extra/tokencount")(self.tokencount)
        post("/api/extra/detokenize")(self.detokenize)
        post("/api/extra/generate/stream")(self.generate)
        post("/api/extra/abort")(self.abort)

    def tokencount(self, req: Request, conn: socket.socket) -> None:
        ids = [BOS] + [ord(ch) for ch in req.json()["prompt"]]
        send_json(conn, {"value": len(ids), "ids": ids})

    def detokenize(self, req: Request, conn: socket.socket) -> None:
        text = "".join(chr(i) for i in req.json()["ids"] if i != BOS)
        send_json(conn, {"result": text, "success": True})

    def abort(self, req: Request, conn: socket.socket) -> None:
        self.aborted.setdefault(req.json()["genkey"], threading.Event()).set()
        send_json(conn, {"success": "true", "done": "true"})

    def generate(self, req: Request, conn: socket.socket) -> None:
        body = req.json()
        stop = self.aborted.setdefault(body["genkey"], threading.Event())
        conn.sendall(head(200, "text/event-stream"))  # no length: the stream ends on close
        text, sent = "", 0
        words = WORDS * 20
        for word in words[: body["max_length"]]:
            if stop.is_set():
                break
            text += word
            if any(s in text for s in body["stop_sequence"]):
                break
            event = f"event: message\ndata: {json.dumps({'token': word})}\n\n"
            # like KoboldCpp: a gone client does not stop generation, abort does
            with contextlib.suppress(OSError):
                conn.sendall(event.encode())
            sent += 1
            time.sleep(self.delay)
        self.generated.append(sent)


@pytest.fixture
def kobold() -> KoboldStandIn:
    server = KoboldStandIn()
    yield server
    server.close()


def loaded(server: StandIn, **kw: object) -> KoboldBackend:
    backend = KoboldBackend(server.url, **kw)  # type: ignore[arg-type]
    backend.load()
    return backend


def test_load_info(kobold: KoboldStandIn) -> None:
    progress: list[float] = []
    backend = KoboldBackend(kobold.url + "/api/")
    info = backend.load(progress.append)
    assert (info.name, info.n_ctx) == ("Stand-In-7B", 4096)
    assert info.extra["server"] == "koboldcpp" and info.extra["version"] == "1.80"
    assert progress == [0.0, 1.0]
    assert backend.capabilities.counts_tokens and not backend.capabilities.takes_token_prompt


def test_n_ctx_cap(kobold: KoboldStandIn) -> None:
    info = loaded(kobold, n_ctx=1024).info
    assert info.n_ctx == 1024 and info.extra["n_ctx_source"] == "configured"


def test_tokenize_drops_bos_and_detokenizes(kobold: KoboldStandIn) -> None:
    backend = loaded(kobold)
    assert backend.tokenize("hi!") == [104, 105, 33]
    assert backend.detokenize([104, 105, 33]) == "hi!"


def test_stream_and_sampler_names(kobold: KoboldStandIn) -> None:
    backend = loaded(kobold)
    sampler = Sampler(
        temperature=0.7,
        top_k=50,
        top_a=0.2,
        tfs_z=0.95,
        typical_p=0.9,
        repetition_penalty=1.1,
        repetition_range=320,
        repetition_slope=0.7,
        mirostat_mode=2,
        mirostat_tau=6.0,
        seed=42,
        max_tokens=5,
    )
    prompt = Prompt(tokens=[], text="You enter the cave.\n")
    pieces = list(backend.stream(prompt, sampler, ["\n>"], threading.Event()))
    assert pieces == WORDS[:5]
    body = kobold.requests[-1].json()
    assert body["prompt"] == prompt.text and body["max_length"] == 5
    assert body["max_context_length"] == 4096 and body["stop_sequence"] == ["\n>"]
    assert body["sampler_seed"] == 42
    expected = {
        "temperature": 0.7,
        "top_k": 50,
        "top_a": 0.2,
        "tfs": 0.95,
        "typical": 0.9,
        "rep_pen": 1.1,
        "rep_pen_range": 320,
        "rep_pen_slope": 0.7,
        "mirostat": 2,
        "mirostat_tau": 6.0,
        "min_p": 0.0,
    }
    assert {k: body[k] for k in expected} == expected
    assert backend.unsupported_samplers(sampler) == []
    odd = Sampler(frequency_penalty=0.5, eta_cutoff=3.0, encoder_repetition_penalty=1.1)
    assert backend.unsupported_samplers(odd) == [
        "eta_cutoff",
        "encoder_repetition_penalty",
        "frequency_penalty",
    ]


def test_stop_sequence_reaches_server(kobold: KoboldStandIn) -> None:
    pieces = list(
        loaded(kobold).stream(Prompt([], "x"), Sampler(max_tokens=50), [" lamp"], threading.Event())
    )
    assert "".join(pieces) == "The cave is dark. A"


def test_cancel_aborts_the_generation(kobold: KoboldStandIn) -> None:
    kobold.delay = 0.02
    backend = loaded(kobold)
    cancel = threading.Event()
    pieces = []
    start = time.monotonic()
    for piece in backend.stream(Prompt([], "x"), Sampler(max_tokens=150), [], cancel):
        pieces.append(piece)
        if len(pieces) == 3:
            cancel.set()
    elapsed = time.monotonic() - start
    assert pieces == WORDS[:3] and elapsed < 1.5
    genkey = kobold.requests[-2].json()["genkey"]
    assert kobold.requests[-1].path == "/api/extra/abort"
    assert kobold.requests[-1].json() == {"genkey": genkey}
    deadline = time.monotonic() + 2
    while not kobold.generated and time.monotonic() < deadline:
        time.sleep(0.02)
    assert kobold.generated and kobold.generated[0] < 20  # stopped, not all 150


def test_abandoned_stream_aborts_too(kobold: KoboldStandIn) -> None:
    kobold.delay = 0.02
    gen = loaded(kobold).stream(Prompt([], "x"), Sampler(max_tokens=150), [], threading.Event())
    assert next(gen) == "The"
    gen.close()
    assert kobold.requests[-1].path == "/api/extra/abort"


def test_finished_stream_does_not_abort(kobold: KoboldStandIn) -> None:
    list(loaded(kobold).stream(Prompt([], "x"), Sampler(max_tokens=2), [], threading.Event()))
    assert all(r.path != "/api/extra/abort" for r in kobold.requests)


def test_server_down() -> None:
    port = free_port()
    with pytest.raises(BackendError) as err:
        KoboldBackend(f"http://127.0.0.1:{port}").load()
    assert str(err.value) == f"cannot reach http://127.0.0.1:{port}/api: connection refused"


def test_not_koboldcpp() -> None:
    with StandIn() as server, pytest.raises(BackendError, match="extra/version: HTTP 404"):
        KoboldBackend(server.url).load()


def test_garbage_token_event(kobold: KoboldStandIn) -> None:
    def handler(req: Request, conn: socket.socket) -> None:
        conn.sendall(head(200, "text/event-stream") + b'event: message\ndata: {"text": 1}\n\n')

    kobold.route("POST", "/api/extra/generate/stream")(handler)
    backend = loaded(kobold)
    with pytest.raises(BackendError, match="unexpected data"):
        list(backend.stream(Prompt([], "x"), Sampler(), [], threading.Event()))


def test_make_backend(kobold: KoboldStandIn) -> None:
    backend = make_backend("kobold", kobold.url, model=None, timeout=30.0)
    assert isinstance(backend, KoboldBackend)
    assert isinstance(make_backend("openai", "http://127.0.0.1:1", model="m"), OpenAIBackend)
    with pytest.raises(BackendError, match="unknown remote backend 'llamafile'"):
        make_backend("llamafile", kobold.url)
    with pytest.raises(BackendError, match="does not take: server"):
        make_backend("kobold", kobold.url, server="llama-server")
    make_backend("kobold", kobold.url, api_key="pw").load()
    assert kobold.requests[-1].headers["authorization"] == "Bearer pw"
