"""What the HTTP client brings players' setups: keep-alive, proxies from the environment, TLS,
and the API key / KoboldCpp password from the command line, the environment or settings
(never from or into a save file)."""

from __future__ import annotations

import shutil
import socket
import ssl
import subprocess
import threading
from pathlib import Path

import pytest
from remote_standin import Request, StandIn, completion_event, send_json, send_sse

from tui.backends.factory import make_backend
from tui.backends.remote import KoboldBackend, OpenAIBackend
from tui.cli import UsageError, apply_server_options, build_parser, main
from tui.core.backend import BackendConfig, BackendError, Prompt
from tui.core.sampler import Sampler
from tui.engine.campaign import Campaign, Settings
from tui.engine.saves import write_save

MODELS = {"object": "list", "data": [{"id": "stand-in", "object": "model"}]}
PROMPT = Prompt(tokens=[], text="Once upon a time")
EVENTS = [completion_event("Hello"), completion_event(" there", "stop"), "data: [DONE]"]


def keep_alive_server() -> StandIn:
    server = StandIn(keep_alive=True)
    server.route("GET", "/v1/models")(
        lambda req, conn: send_json(conn, MODELS, keep_alive=True))
    server.route("POST", "/v1/completions")(
        lambda req, conn: send_sse(conn, EVENTS, keep_alive=True))
    return server


def run(backend: OpenAIBackend, cancel: threading.Event | None = None) -> str:
    return "".join(backend.stream(PROMPT, Sampler(max_tokens=8), [], cancel or threading.Event()))


# -- keep-alive ------------------------------------------------------------------------------


def test_one_connection_for_many_requests_closed_by_close() -> None:
    with keep_alive_server() as server:
        server.route("POST", "/extras/tokenize")(
            lambda req, conn: send_json(conn, {"tokens": [ord(c) for c in req.json()["input"]]},
                                        keep_alive=True))
        backend = OpenAIBackend(server.url, server="llama-cpp-python")
        backend.load()
        assert [run(backend) for _ in range(3)] == ["Hello there"] * 3
        assert backend.tokenize("hi") == [104, 105]
        assert len(server.requests) == 6 and server.connections == 1
        backend.close()
        assert server.closed_by_client.wait(5)


def test_a_cancelled_stream_does_not_spoil_the_next_request() -> None:
    """Cancel shuts the stream's socket; the kept-alive pool must not hand it out again."""
    release = threading.Event()

    def slow(req: Request, conn) -> None:  # type: ignore[no-untyped-def]
        send_sse(conn, [completion_event("first")], terminate=False, keep_alive=True)
        release.wait(5)

    with keep_alive_server() as server:
        backend = OpenAIBackend(server.url, server="generic")
        backend.load()
        server.route("POST", "/v1/completions")(slow)
        cancel = threading.Event()
        threading.Timer(0.3, cancel.set).start()
        assert run(backend, cancel) == "first"
        # The next request is answered in full; the route changes before the slow handler is
        # let go, so the request cannot reach `slow` (it did when the handler changed it).
        server.route("POST", "/v1/completions")(
            lambda req, conn: send_sse(conn, EVENTS, keep_alive=True))
        release.set()
        assert run(backend) == "Hello there"
        backend.close()


def test_a_kept_alive_connection_closed_by_the_server_is_retried_once() -> None:
    """The server drops an idle connection just as the next request goes out on it (its
    keep-alive timeout): that request is sent again on a new connection."""
    served: dict[int, int] = {}

    def models_once_per_connection(req: Request, conn) -> None:  # type: ignore[no-untyped-def]
        served[id(conn)] = served.get(id(conn), 0) + 1
        if served[id(conn)] > 1:
            conn.shutdown(socket.SHUT_RDWR)  # read the request, answer nothing, hang up
            return
        send_json(conn, MODELS, keep_alive=True)

    with StandIn(keep_alive=True) as server:
        server.route("GET", "/v1/models")(models_once_per_connection)
        backend = OpenAIBackend(server.url, server="generic")
        for _ in range(3):
            assert backend.load().name == "stand-in"
        assert len(server.requests) == 5 and server.connections == 3
        backend.close()


# -- proxies from the environment ----------------------------------------------------------


def test_http_proxy_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    target = "http://grue-model.invalid:8080"
    for name in ("NO_PROXY", "no_proxy", "ALL_PROXY", "all_proxy", "http_proxy"):
        monkeypatch.delenv(name, raising=False)
    with StandIn() as proxy:
        monkeypatch.setenv("HTTP_PROXY", proxy.url)
        proxy.route("GET", target + "/v1/models")(lambda req, conn: send_json(conn, MODELS))
        proxy.route("POST", target + "/v1/completions")(lambda req, conn: send_sse(conn, EVENTS))
        backend = OpenAIBackend(target, server="generic")
        assert backend.load().name == "stand-in"
        assert run(backend) == "Hello there"
        assert [r.path for r in proxy.requests] == [target + "/v1/models",
                                                    target + "/v1/completions"]
        assert proxy.requests[0].headers["host"] == "grue-model.invalid:8080"


def test_no_proxy_is_honoured(monkeypatch: pytest.MonkeyPatch) -> None:
    with StandIn() as proxy, StandIn() as server:
        server.route("GET", "/v1/models")(lambda req, conn: send_json(conn, MODELS))
        monkeypatch.setenv("HTTP_PROXY", proxy.url)
        monkeypatch.setenv("NO_PROXY", "127.0.0.1")
        monkeypatch.delenv("no_proxy", raising=False)
        OpenAIBackend(server.url, server="generic").load()
        assert not proxy.requests and len(server.requests) == 1


# -- TLS -----------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def certificate(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """A self-signed certificate for 127.0.0.1 (made with the openssl command)."""
    if shutil.which("openssl") is None:
        pytest.skip("the openssl command is needed to make a test certificate")
    folder = tmp_path_factory.mktemp("tls")
    cert, key = folder / "cert.pem", folder / "key.pem"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
         "-keyout", str(key), "-out", str(cert), "-subj", "/CN=127.0.0.1",
         "-addext", "subjectAltName=IP:127.0.0.1"],
        check=True, capture_output=True, timeout=60,
    )
    return cert, key


def tls_server(certificate: tuple[Path, Path]) -> StandIn:
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(*certificate)
    server = StandIn(tls=context)
    server.route("GET", "/v1/models")(lambda req, conn: send_json(conn, MODELS))
    server.route("POST", "/v1/completions")(lambda req, conn: send_sse(conn, EVENTS))
    return server


def test_https_with_a_ca_from_ssl_cert_file(
    certificate: tuple[Path, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SSL_CERT_FILE", str(certificate[0]))
    with tls_server(certificate) as server:
        assert server.url.startswith("https://")
        backend = OpenAIBackend(server.url, server="generic")
        backend.load()
        assert run(backend) == "Hello there"
        backend.close()


def test_untrusted_certificate_is_one_line(
    certificate: tuple[Path, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("SSL_CERT_FILE", raising=False)
    with tls_server(certificate) as server, pytest.raises(BackendError) as err:
        OpenAIBackend(server.url, server="generic").load()
    msg = str(err.value)
    assert msg.startswith(f"cannot reach {server.url}/v1: TLS failed (certificate:")
    assert "\n" not in msg


def test_https_to_a_plain_http_server_is_one_line() -> None:
    """A plain HTTP server answers a TLS hello with a 400 page, as uvicorn and nginx do."""
    listener = socket.create_server(("127.0.0.1", 0))
    port = listener.getsockname()[1]

    def answer() -> None:
        conn, _ = listener.accept()
        with conn:
            conn.recv(4096)
            conn.sendall(b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n")

    thread = threading.Thread(target=answer, daemon=True)
    thread.start()
    with listener, pytest.raises(BackendError) as err:
        OpenAIBackend(f"https://127.0.0.1:{port}").load()
    thread.join(5)
    msg = str(err.value)
    assert msg.startswith(f"cannot reach https://127.0.0.1:{port}/v1: TLS failed (")
    assert "http://" in msg and "\n" not in msg


# -- the API key / password ------------------------------------------------------------------


def test_factory_sends_the_api_key() -> None:
    with StandIn() as server:
        server.route("GET", "/v1/models")(lambda req, conn: send_json(conn, MODELS))
        make_backend(BackendConfig(kind="openai", url=server.url, api_key="sk-grue")).load()
        assert server.requests[0].headers["authorization"] == "Bearer sk-grue"


def test_factory_sends_the_kobold_password() -> None:
    with StandIn() as server:
        server.route("GET", "/api/extra/version")(
            lambda req, conn: send_json(conn, {"result": "KoboldCpp", "version": "1.80"}))
        server.route("GET", "/api/v1/model")(lambda req, conn: send_json(conn, {"result": "m"}))
        server.route("GET", "/api/v1/config/max_context_length")(
            lambda req, conn: send_json(conn, {"value": 2048}))
        server.route("POST", "/api/extra/tokencount")(
            lambda req, conn: send_json(conn, {"value": 0, "ids": []}))
        backend = make_backend(BackendConfig(kind="kobold", url=server.url, api_key="pw"))
        assert isinstance(backend, KoboldBackend)
        backend.load()
        assert {r.headers.get("authorization") for r in server.requests} == {"Bearer pw"}


def test_no_key_no_header() -> None:
    with StandIn() as server:
        server.route("GET", "/v1/models")(lambda req, conn: send_json(conn, MODELS))
        make_backend(BackendConfig(kind="openai", url=server.url)).load()
        assert "authorization" not in server.requests[0].headers


def clear_env(monkeypatch: pytest.MonkeyPatch, *names: str) -> None:
    """Unset `names` for the test; whatever the code under test sets is undone after it."""
    for name in names:
        monkeypatch.setenv(name, "")  # records the value to restore, even "unset"
        monkeypatch.delenv(name)


def test_api_key_from_option_or_environment_never_saved(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    clear_env(monkeypatch, "GRUE_API_KEY", "GRUE_TIMEOUT")
    assert Settings().backend_config().api_key == ""
    monkeypatch.setenv("GRUE_API_KEY", "from-env")
    assert Settings().backend_config().api_key == "from-env"

    args = build_parser().parse_args(
        ["new", "x", "--backend", "openai", "--url", "http://h:1", "--api-key", "from-cli",
         "--timeout", "12"])
    apply_server_options(args)
    settings = Settings(backend="openai", url="http://h:1")
    config = settings.backend_config()  # any game this run opens, a saved one too
    assert (config.api_key, config.timeout) == ("from-cli", 12.0)
    assert "from-cli" not in repr(config)
    assert Settings(api_key="typed").backend_config().api_key == "typed"  # settings screen

    campaign = Campaign(title="Secret", settings=Settings(api_key="typed"))
    path = write_save(campaign, tmp_path)
    saved = "".join(f.read_text(encoding="utf-8") for f in path.rglob("*.toml"))  # a folder
    assert "turns = " in saved or "title" in saved
    assert "typed" not in saved and "from-cli" not in saved and "api_key" not in saved
    assert "typed" not in repr(campaign.settings)


@pytest.mark.parametrize(("argv", "env", "message"), [
    (["--timeout", "0"], None, "--timeout must be a positive number"),
    ([], "soon", "GRUE_TIMEOUT must be a number of seconds"),
])
def test_bad_timeouts_are_usage_errors(
    argv: list[str], env: str | None, message: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    if env is None:
        clear_env(monkeypatch, "GRUE_TIMEOUT")
    else:
        monkeypatch.setenv("GRUE_TIMEOUT", env)
    args = build_parser().parse_args(["new", "x", *argv])
    with pytest.raises(UsageError, match=message):
        apply_server_options(args)


def test_bad_timeout_on_the_command_line_is_one_line(monkeypatch: pytest.MonkeyPatch,
                                                     capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("GRUE_TIMEOUT", "soon")
    assert main(["new", "lantern-road", "--plain"]) == 2
    assert capsys.readouterr().err == "grue: GRUE_TIMEOUT must be a number of seconds\n"
