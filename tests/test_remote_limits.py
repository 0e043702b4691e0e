"""Servers that do not stop: replies capped client-side, streamed pieces handled in O(1) each,
a 60 s stall timeout by default, and big error pages that still say their HTTP status."""

from __future__ import annotations

import json
import random
import threading
from collections.abc import Iterator

import pytest
from remote_standin import Request, StandIn, completion_event, head, send_body, send_json, send_sse

import tui.engine.game as game_module
from tui.backends.factory import make_backend
from tui.backends.remote import KoboldBackend, OpenAIBackend
from tui.core.backend import STALL_TIMEOUT, BackendConfig, BackendError, Prompt
from tui.core.sampler import Sampler
from tui.engine.actions import Mode, cut_at_new_action
from tui.engine.campaign import OPENING, Campaign, Settings, Turn
from tui.engine.game import Game, generate, make_builder
from tui.engine.stream_cut import ActionLineCut

MODELS = {"object": "list", "data": [{"id": "stand-in", "object": "model"}]}
PROMPT = Prompt(tokens=[], text="Once upon a time")


def openai_server() -> StandIn:
    server = StandIn()
    server.route("GET", "/v1/models")(lambda req, conn: send_json(conn, MODELS))
    return server


def endless(limit: int = 100_000) -> Iterator[str]:
    """Completion events with no finish reason (until the client goes away, or `limit`)."""
    for i in range(limit):
        yield completion_event(f"w{i} ")


def test_endless_openai_stream_is_cut_at_max_tokens() -> None:
    gone = threading.Event()

    def handler(req: Request, conn) -> None:  # type: ignore[no-untyped-def]
        try:
            send_sse(conn, endless())
        except OSError:
            gone.set()

    with openai_server() as server:
        server.route("POST", "/v1/completions")(handler)
        backend = OpenAIBackend(server.url, server="generic")
        backend.load()
        pieces = list(backend.stream(PROMPT, Sampler(max_tokens=50), [], threading.Event()))
        assert gone.wait(5), "the client kept reading an endless stream"
    assert pieces == [f"w{i} " for i in range(50)]


def test_well_behaved_stream_is_read_to_its_end() -> None:
    """Exactly max_tokens pieces and then the finish: read to the end, nothing dropped."""
    events = [completion_event(f"w{i} ") for i in range(5)]
    events += [completion_event("", "length"), "data: [DONE]"]
    with openai_server() as server:
        server.route("POST", "/v1/completions")(lambda req, conn: send_sse(conn, events))
        backend = OpenAIBackend(server.url, server="generic")
        backend.load()
        pieces = list(backend.stream(PROMPT, Sampler(max_tokens=5), [], threading.Event()))
        assert server.disconnects == 0
    assert pieces == [f"w{i} " for i in range(5)]


class EndlessKobold(StandIn):
    """A KoboldCpp stand-in that ignores max_length and stops only on abort."""

    def __init__(self) -> None:
        super().__init__()
        self.aborted = threading.Event()
        self.genkeys: list[str] = []
        get = lambda p: self.route("GET", p)  # noqa: E731
        get("/api/extra/version")(lambda r, c: send_json(c, {"result": "KoboldCpp"}))
        get("/api/v1/model")(lambda r, c: send_json(c, {"result": "koboldcpp/Endless"}))
        get("/api/v1/config/max_context_length")(lambda r, c: send_json(c, {"value": 4096}))
        self.route("POST", "/api/extra/tokencount")(
            lambda r, c: send_json(c, {"value": 0, "ids": []}))
        self.route("POST", "/api/extra/abort")(self.abort)
        self.route("POST", "/api/extra/generate/stream")(self.generate)

    def abort(self, req: Request, conn) -> None:  # type: ignore[no-untyped-def]
        self.genkeys.append(req.json()["genkey"])
        self.aborted.set()
        send_json(conn, {"success": "true"})

    def generate(self, req: Request, conn) -> None:  # type: ignore[no-untyped-def]
        conn.sendall(head(200, "text/event-stream"))
        for i in range(100_000):
            if self.aborted.is_set():
                return
            event = f"event: message\ndata: {json.dumps({'token': f't{i} '})}\n\n"
            try:
                conn.sendall(event.encode())
            except OSError:
                continue  # like KoboldCpp: only abort stops it


def test_endless_kobold_stream_is_cut_and_aborted() -> None:
    with EndlessKobold() as server:
        backend = KoboldBackend(server.url)
        backend.load()
        pieces = list(backend.stream(PROMPT, Sampler(max_tokens=30), [], threading.Event()))
        assert server.aborted.wait(5)
        generate_request = next(r for r in server.requests if r.path.endswith("/stream"))
        assert server.genkeys == [generate_request.json()["genkey"]]
    assert pieces == [f"t{i} " for i in range(30)]


def test_keep_alive_comments_forever_hit_the_byte_budget() -> None:
    gone = threading.Event()

    def handler(req: Request, conn) -> None:  # type: ignore[no-untyped-def]
        conn.sendall(head(200, "text/event-stream"))
        ping = (": " + "x" * 1000 + "\n").encode()
        try:
            for _ in range(40_000):  # 40 MB of comments, never an event
                conn.sendall(ping)
        except OSError:
            gone.set()

    with openai_server() as server:
        server.route("POST", "/v1/completions")(handler)
        backend = OpenAIBackend(server.url, server="generic")
        backend.load()
        with pytest.raises(BackendError, match=r"MB from the server and no text") as err:
            list(backend.stream(PROMPT, Sampler(max_tokens=8), [], threading.Event()))
        assert gone.wait(5)
    assert "\n" not in str(err.value)


# -- error pages ---------------------------------------------------------------------------

BIG_PAGE = (
    b"<html><head><title>502 Bad Gateway</title><style>" + b"p{}" * 1000 + b"</style></head>"
    b"<body><h1>502 Bad Gateway</h1>" + b"<p>padding</p>" * 220_000 + b"</body></html>"
)


def test_big_html_error_page_on_a_stream_says_its_status() -> None:
    assert len(BIG_PAGE) > 3_000_000
    with openai_server() as server:
        server.route("POST", "/v1/completions")(
            lambda req, conn: send_body(conn, BIG_PAGE, "text/html", status=502))
        backend = OpenAIBackend(server.url, server="generic")
        backend.load()
        with pytest.raises(BackendError) as err:
            list(backend.stream(PROMPT, Sampler(max_tokens=8), [], threading.Event()))
    msg = str(err.value)
    assert "/v1/completions: HTTP 502: 502 Bad Gateway 502 Bad Gateway padding" in msg
    assert "too large" not in msg and "p{}" not in msg and len(msg) < 300


def test_big_error_page_on_kobold_stream_says_its_status() -> None:
    with EndlessKobold() as server:
        server.route("POST", "/api/extra/generate/stream")(
            lambda req, conn: send_body(conn, BIG_PAGE, "text/html", status=503))
        backend = KoboldBackend(server.url)
        backend.load()
        with pytest.raises(BackendError, match="generate/stream: HTTP 503: 502 Bad Gateway"):
            list(backend.stream(PROMPT, Sampler(max_tokens=8), [], threading.Event()))


def test_huge_error_page_on_load_says_its_status() -> None:
    huge = BIG_PAGE * 12  # over the 32 MB a whole answer may have
    with StandIn() as server:
        server.route("GET", "/v1/models")(
            lambda req, conn: send_body(conn, huge, "text/html", status=502))
        with pytest.raises(BackendError, match=r"/v1/models: HTTP 502: 502 Bad Gateway"):
            OpenAIBackend(server.url).load()


# -- the stall timeout ---------------------------------------------------------------------


def test_stall_timeout_is_60_seconds_by_default() -> None:
    assert STALL_TIMEOUT == 60.0 and BackendConfig().timeout == 60.0
    assert OpenAIBackend("http://127.0.0.1:1").stall_timeout == 60.0
    assert KoboldBackend("http://127.0.0.1:1").stall_timeout == 60.0


def test_factory_passes_the_stall_timeout() -> None:
    stall_done = threading.Event()

    def stall(req: Request, conn) -> None:  # type: ignore[no-untyped-def]
        stall_done.wait(5)

    with StandIn() as server:
        server.route("GET", "/v1/models")(stall)
        backend = make_backend(BackendConfig(kind="openai", url=server.url, timeout=1.0))
        with pytest.raises(BackendError, match=r"/v1/models: server stopped answering"
                                               r" \(nothing for 1 s\)"):
            backend.load()
        stall_done.set()


def test_settings_take_the_timeout_from_the_environment(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("GRUE_TIMEOUT", raising=False)
    assert Settings().backend_config().timeout == 60.0
    monkeypatch.setenv("GRUE_TIMEOUT", "7.5")
    assert Settings().backend_config().timeout == 7.5
    monkeypatch.setenv("GRUE_TIMEOUT", "soon")
    assert Settings().backend_config().timeout == 60.0
    assert "timeout" not in Settings().to_dict()


# -- O(1) per streamed piece ----------------------------------------------------------------


def test_generate_cleans_each_piece_once(monkeypatch: pytest.MonkeyPatch) -> None:
    """3,000 streamed pieces: the text cleaned over the whole reply stays linear in its
    length (re-joining and re-cleaning everything per piece is ~9 million characters)."""
    n = 3000
    events = [completion_event("w\x1b ") for _ in range(n)] + [completion_event("", "length")]
    cleaned: list[int] = []
    real_clean = game_module.clean

    def counting_clean(text: str) -> str:
        cleaned.append(len(text))
        return real_clean(text)

    monkeypatch.setattr(game_module, "clean", counting_clean)
    with openai_server() as server:
        server.route("POST", "/v1/completions")(lambda req, conn: send_sse(conn, events))
        backend = OpenAIBackend(server.url, server="generic", n_ctx=16384)
        backend.load()
        campaign = Campaign(title="Long", settings=Settings(max_new_tokens=4000))
        campaign.turns.append(Turn(OPENING, responses=["A long road."]))
        game = Game(campaign, autosave=False)
        shown: list[str] = []
        request = game.request_action(Mode.DO, "walk")
        result = generate(backend, make_builder(backend, campaign), request,
                          campaign.settings.sampler, threading.Event(), shown.append)
    assert result.text == "w " * n and "".join(shown) == result.text
    assert result.tokens_out == n
    assert sum(cleaned) <= 3 * len("w\x1b " * n)


def test_generate_still_cuts_at_a_new_action_line() -> None:
    pieces = ["The door", " opens.\n", "  ", "> You", " walk in."]
    events = [completion_event(p) for p in pieces] + [completion_event("", "stop")]
    with openai_server() as server:
        server.route("POST", "/v1/completions")(lambda req, conn: send_sse(conn, events))
        backend = OpenAIBackend(server.url, server="generic")
        backend.load()
        campaign = Campaign(title="Cut")
        campaign.turns.append(Turn(OPENING, responses=["A door."]))
        game = Game(campaign, autosave=False)
        shown: list[str] = []
        result = generate(backend, make_builder(backend, campaign),
                          game.request_action(Mode.DO, "open it"),
                          campaign.settings.sampler, threading.Event(), shown.append)
    assert result.text == "The door opens."
    assert "".join(shown) == "The door opens.\n  "  # what was on screen before the cut
    assert result.tokens_out == 4


@pytest.mark.parametrize("seed", range(40))
def test_incremental_cut_matches_cut_at_new_action(seed: int) -> None:
    rng = random.Random(seed)
    alphabet = ["a", "b.", " ", "\n", "\t", ">", "\r\n", "\x1c", "\u2028", "\u00a0", "> x"]
    text = "".join(rng.choice(alphabet) for _ in range(rng.randint(0, 40)))
    cuts = sorted(rng.sample(range(len(text) + 1), k=min(len(text) + 1, rng.randint(0, 8))))
    pieces = [text[a:b] for a, b in zip([0, *cuts], [*cuts, len(text)], strict=True)]
    cutter = ActionLineCut()
    found = None
    for piece in pieces:
        found = cutter.feed(piece)
        if found is not None:
            break
    expected = cut_at_new_action(text)
    assert (text[:found] if found is not None else text) == expected, (text, pieces)
