"""OpenAIBackend against stand-in servers that misbehave: down, garbage, cut off, stalled."""

from __future__ import annotations

import threading
import time

import pytest
from remote_standin import (
    StandIn,
    completion_event,
    free_port,
    head,
    send_body,
    send_json,
    send_sse,
)

from tui.backends.remote import OpenAIBackend
from tui.core.backend import BackendError, Prompt
from tui.core.sampler import Sampler

MODELS = {"object": "list", "data": [{"id": "stand-in", "object": "model"}]}
PROMPT = Prompt(tokens=[1, 2, 3], text="Once upon a time")
SAMPLER = Sampler(max_tokens=8)


def one_line_error(exc_info: pytest.ExceptionInfo[BackendError]) -> str:
    msg = str(exc_info.value)
    assert "\n" not in msg and msg.strip() == msg and msg
    return msg


def models_server() -> StandIn:
    server = StandIn()
    server.route("GET", "/v1/models")(lambda req, conn: send_json(conn, MODELS))
    return server


def loaded(server: StandIn, **kw: object) -> OpenAIBackend:
    backend = OpenAIBackend(server.url, server="generic", **kw)  # type: ignore[arg-type]
    backend.load()
    return backend


def run(backend: OpenAIBackend, cancel: threading.Event | None = None) -> str:
    return "".join(backend.stream(PROMPT, SAMPLER, [], cancel or threading.Event()))


# -- server down, not HTTP, HTTP errors ---------------------------------------------------


def test_server_down_is_one_line() -> None:
    port = free_port()
    with pytest.raises(BackendError) as err:
        OpenAIBackend(f"http://127.0.0.1:{port}").load()
    assert one_line_error(err) == f"cannot reach http://127.0.0.1:{port}/v1: connection refused"


def test_server_down_while_streaming() -> None:
    with models_server() as server:
        backend = loaded(server)
    with pytest.raises(BackendError, match="cannot reach .*connection refused") as err:
        run(backend)
    one_line_error(err)


def test_unknown_host() -> None:
    with pytest.raises(BackendError, match="cannot reach http://no-such-host.invalid:80/v1"):
        OpenAIBackend("http://no-such-host.invalid", connect_timeout=3).load()


def test_bad_url() -> None:
    with pytest.raises(BackendError, match="not an http"):
        OpenAIBackend("ftp://example.org")


def test_not_http_at_all() -> None:
    with StandIn() as server:
        server.route("GET", "/v1/models")(lambda req, conn: conn.sendall(b"SSH-2.0-OpenSSH\r\n"))
        with pytest.raises(BackendError, match="not an HTTP answer") as err:
            OpenAIBackend(server.url).load()
    one_line_error(err)


def test_closed_without_answer() -> None:
    with StandIn() as server:
        server.route("GET", "/v1/models")(lambda req, conn: None)
        with pytest.raises(BackendError, match="closed the connection without answering"):
            OpenAIBackend(server.url).load()


def test_http_error_carries_server_message() -> None:
    with StandIn() as server:
        server.route("GET", "/v1/models")(
            lambda req, conn: send_json(
                conn, {"error": {"message": "invalid API key\nsecond line"}}, 401
            )
        )
        with pytest.raises(BackendError) as err:
            OpenAIBackend(server.url, api_key="sk-x").load()
        assert server.requests[0].headers["authorization"] == "Bearer sk-x"
    assert one_line_error(err).endswith("/v1/models: HTTP 401: invalid API key second line")


def test_html_where_json_belongs() -> None:
    page = b"<!DOCTYPE html>\n<html><body><h1>Welcome to nginx!</h1></body></html>"
    with StandIn() as server:
        server.route("GET", "/v1/models")(lambda req, conn: send_body(conn, page, "text/html"))
        with pytest.raises(BackendError, match=r"not a JSON answer \(text/html") as err:
            OpenAIBackend(server.url).load()
    assert "Welcome to nginx!" in one_line_error(err)


def test_html_error_page_is_stripped_to_text() -> None:
    page = b"<html><head><title>502 Bad Gateway</title></head>\n<body>oops</body></html>"
    with StandIn() as server:
        server.route("GET", "/v1/models")(
            lambda req, conn: send_body(conn, page, "text/html", status=502)
        )
        with pytest.raises(BackendError) as err:
            OpenAIBackend(server.url).load()
    assert one_line_error(err).endswith("HTTP 502: 502 Bad Gateway oops")


@pytest.mark.parametrize(
    "answer",
    [{"models": []}, {"data": "x"}, {"data": [{"name": "no id"}]}, [1, 2], "text"],
)
def test_wrong_shapes(answer: object) -> None:
    with StandIn() as server:
        server.route("GET", "/v1/models")(lambda req, conn: send_json(conn, answer))
        with pytest.raises(BackendError, match="/v1/models: unexpected answer"):
            OpenAIBackend(server.url).load()


def test_invalid_json() -> None:
    with StandIn() as server:
        server.route("GET", "/v1/models")(
            lambda req, conn: send_body(conn, b'{"data": [', "application/json")
        )
        with pytest.raises(BackendError, match=r"not a JSON answer \(application/json"):
            OpenAIBackend(server.url).load()


def test_body_shorter_than_content_length() -> None:
    with StandIn() as server:
        server.route("GET", "/v1/models")(
            lambda req, conn: conn.sendall(head(Content_Length="100") + b'{"data": []}')
        )
        with pytest.raises(BackendError, match="cut off"):
            OpenAIBackend(server.url).load()


# -- streams -------------------------------------------------------------------------------


def test_stream_happy_path_and_request() -> None:
    with models_server() as server:
        events = [completion_event("Hello"), completion_event(" world", "stop"), "data: [DONE]"]
        server.route("POST", "/v1/completions")(lambda req, conn: send_sse(conn, events))
        backend = loaded(server)
        sampler = Sampler(temperature=0.5, top_k=40, seed=7, max_tokens=8)
        pieces = list(backend.stream(PROMPT, sampler, ["\n>"], threading.Event()))
        body = server.requests[-1].json()
    assert pieces == ["Hello", " world"]
    assert body["prompt"] == PROMPT.text and body["stream"] is True
    assert body["max_tokens"] == 8 and body["stop"] == ["\n>"] and body["seed"] == 7
    assert body["temperature"] == 0.5 and "top_k" not in body  # generic: OpenAI fields only
    assert backend.unsupported_samplers(sampler) == ["top_k"]


def test_stream_ignoring_stream_flag_returns_whole_completion() -> None:
    with models_server() as server:
        answer = {"choices": [{"text": "all at once", "finish_reason": "length"}]}
        server.route("POST", "/v1/completions")(lambda req, conn: send_json(conn, answer))
        assert run(loaded(server)) == "all at once"


def test_stream_http_error_message() -> None:
    with models_server() as server:
        server.route("POST", "/v1/completions")(
            lambda req, conn: send_json(
                conn, {"error": {"message": "This model's maximum context length is 2048"}}, 400
            )
        )
        backend = loaded(server)
        with pytest.raises(BackendError, match="HTTP 400: This model's maximum context length"):
            run(backend)


def test_stream_error_event() -> None:
    with models_server() as server:
        server.route("POST", "/v1/completions")(
            lambda req, conn: send_sse(
                conn, [completion_event("a"), 'data: {"error": {"message": "out of memory"}}']
            )
        )
        with pytest.raises(BackendError, match="server error: out of memory"):
            run(loaded(server))


@pytest.mark.parametrize(
    ("events", "match"),
    [
        (["data: not json at all"], "not JSON"),
        (['data: {"choices": "nope"}'], "unexpected data"),
        (['data: {"choices": [{"delta": {"content": "chat?"}}]}'], "unexpected data"),
        (["<html><body>hi</body></html>"], "not an event stream"),
        ([completion_event("a"), completion_event("b")], "cut off before the end"),
    ],
)
def test_stream_garbage(events: list[str], match: str) -> None:
    with models_server() as server:
        server.route("POST", "/v1/completions")(lambda req, conn: send_sse(conn, events))
        with pytest.raises(BackendError, match=match) as err:
            run(loaded(server))
    one_line_error(err)


def test_stream_html_content_type() -> None:
    with models_server() as server:
        server.route("POST", "/v1/completions")(
            lambda req, conn: send_body(conn, b"<html>login</html>", "text/html")
        )
        with pytest.raises(BackendError, match="expected an event stream, got text/html"):
            run(loaded(server))


def test_stream_cut_off_mid_chunk() -> None:
    def handler(req, conn) -> None:  # type: ignore[no-untyped-def]
        send_sse(conn, [completion_event("a")], terminate=False)
        conn.sendall(b'40\r\ndata: {"cho')  # a chunk announced, then the server dies

    with models_server() as server:
        server.route("POST", "/v1/completions")(handler)
        backend = loaded(server)
        pieces: list[str] = []
        with pytest.raises(BackendError, match="cut off"):
            for piece in backend.stream(PROMPT, SAMPLER, [], threading.Event()):
                pieces.append(piece)
    assert pieces == ["a"]


def test_big_prompt_to_a_slow_reader() -> None:
    """Sending must not time out on the short read poll while the server is busy."""
    with models_server() as server:
        server.route("POST", "/v1/completions")(
            lambda req, conn: send_sse(conn, [completion_event("ok", "stop")])
        )
        backend = loaded(server)
        server.read_delay = 0.5
        prompt = Prompt(tokens=[], text="x" * 8_000_000)
        assert "".join(backend.stream(prompt, SAMPLER, [], threading.Event())) == "ok"
        assert len(server.requests[-1].json()["prompt"]) == 8_000_000


# -- stalls and cancel ------------------------------------------------------------------


def stall(req, conn) -> None:  # type: ignore[no-untyped-def]
    time.sleep(5)


def test_stalled_server_times_out_on_load() -> None:
    with StandIn() as server:
        server.route("GET", "/v1/models")(stall)
        start = time.monotonic()
        with pytest.raises(BackendError, match=r"/v1/models: server stopped answering") as err:
            OpenAIBackend(server.url, timeout=1.0).load()
        assert time.monotonic() - start < 3
    one_line_error(err)


def test_stalled_stream_times_out() -> None:
    def handler(req, conn) -> None:  # type: ignore[no-untyped-def]
        send_sse(conn, [completion_event("first")], terminate=False)
        time.sleep(5)

    with models_server() as server:
        server.route("POST", "/v1/completions")(handler)
        backend = loaded(server, timeout=1.0)
        pieces: list[str] = []
        start = time.monotonic()
        with pytest.raises(BackendError, match=r"stopped answering \(nothing for 1 s\)"):
            for piece in backend.stream(PROMPT, SAMPLER, [], threading.Event()):
                pieces.append(piece)
        elapsed = time.monotonic() - start
    assert pieces == ["first"]
    assert 0.9 < elapsed < 2.5


@pytest.mark.parametrize("first_piece", [False, True])
def test_cancel_unblocks_a_stalled_read(first_piece: bool) -> None:
    """Cancel set from another thread while the read waits on a silent server."""

    def handler(req, conn) -> None:  # type: ignore[no-untyped-def]
        if first_piece:
            send_sse(conn, [completion_event("first")], terminate=False)
        time.sleep(5)

    with models_server() as server:
        server.route("POST", "/v1/completions")(handler)
        backend = loaded(server, timeout=30.0)
        cancel = threading.Event()
        threading.Timer(0.5, cancel.set).start()
        start = time.monotonic()
        pieces = list(backend.stream(PROMPT, SAMPLER, [], cancel))
        elapsed = time.monotonic() - start
    assert pieces == (["first"] if first_piece else [])
    assert 0.4 < elapsed < 1.0


def test_cancel_closes_the_connection() -> None:
    """The server sees the client go away (its writes fail), so it can stop generating."""
    stopped = threading.Event()
    sent: list[int] = []

    def handler(req, conn) -> None:  # type: ignore[no-untyped-def]
        events = (completion_event(f"t{i} ") for i in range(1000))
        try:
            sent.append(send_sse(conn, events, delay=0.01))
        except OSError:
            stopped.set()
            raise

    with models_server() as server:
        server.route("POST", "/v1/completions")(handler)
        backend = loaded(server)
        cancel = threading.Event()
        pieces = []
        for piece in backend.stream(PROMPT, SAMPLER, [], cancel):
            pieces.append(piece)
            if len(pieces) == 3:
                cancel.set()
        assert stopped.wait(2), "the stand-in kept streaming to a cancelled client"
    assert pieces == ["t0 ", "t1 ", "t2 "]
    assert not sent  # it never finished its 1000 events


def test_abandoned_generator_closes_the_connection() -> None:
    stopped = threading.Event()

    def handler(req, conn) -> None:  # type: ignore[no-untyped-def]
        try:
            send_sse(conn, (completion_event("x") for _ in range(1000)), delay=0.01)
        except OSError:
            stopped.set()

    with models_server() as server:
        server.route("POST", "/v1/completions")(handler)
        gen = loaded(server).stream(PROMPT, SAMPLER, [], threading.Event())
        assert next(gen) == "x"
        gen.close()
        assert stopped.wait(2)
