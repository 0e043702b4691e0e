"""HTTP for the remote backends, on httpx: one keep-alive client per backend.

httpx brings what players' setups need: proxies from the environment (`HTTPS_PROXY`,
`NO_PROXY`, `SSL_CERT_FILE`), TLS, redirects, keep-alive, and per-phase timeouts (connect,
and a stall timeout for every read and write). What it cannot do is wake a read that is
waiting on a silent server when the player presses Esc, so a small watcher thread shuts the
request's socket down when the cancel event is set (see docs/architecture.md, "Remote
backends"); the blocked read then returns at once and the request ends as `Cancelled`.
Every failure becomes one `BackendError` line naming the URL.
"""

from __future__ import annotations

import contextlib
import json
import socket
import threading
import weakref
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

import httpx

from tui.backends.remote_messages import (
    connect_failure,
    exchange_failure,
    one_line,
    server_message,
    status_phrase,
)
from tui.core.backend import BackendError

__all__ = ["Cancelled", "Endpoint", "HttpClient", "Response", "Stream", "one_line"]

POLL = 0.1  # seconds between the cancel watcher's looks at the cancel event
MAX_BODY_BYTES = 32 * 1024 * 1024  # a whole (non-streamed) answer
ERROR_BODY_BYTES = 64 * 1024  # what is read of an error page: enough for its message
DRAIN_SECONDS = 1.0  # how long the end of a finished stream is waited for (keep-alive)


class Cancelled(Exception):
    """The caller's cancel event was set while waiting for the server."""


@dataclass(frozen=True)
class Endpoint:
    """Where a server lives: scheme, host, port and a path prefix (no trailing slash)."""

    scheme: str
    host: str
    port: int
    prefix: str = ""

    @classmethod
    def parse(cls, url: str) -> Endpoint:
        if "://" not in url:
            url = "http://" + url
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise BackendError(f"not an http(s) URL: {url!r}")
        try:
            port = parts.port or (443 if parts.scheme == "https" else 80)
        except ValueError as exc:
            raise BackendError(f"bad port in URL {url!r}") from exc
        return cls(parts.scheme, parts.hostname, port, parts.path.rstrip("/"))

    @property
    def base(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{self.scheme}://{host}:{self.port}{self.prefix}"


@dataclass
class Response:
    status: int
    reason: str
    headers: Mapping[str, str] = field(default_factory=dict)
    body: bytes = b""

    @property
    def content_type(self) -> str:
        return self.headers.get("content-type", "").split(";")[0].strip().lower()


class HttpClient:
    """Requests against one server. `label` names it in errors (e.g. `http://host:8080/v1`).

    `read_timeout` is the stall timeout: how long one read (or write) may wait for the server.
    """

    def __init__(
        self,
        endpoint: Endpoint,
        label: str,
        connect_timeout: float = 5.0,
        read_timeout: float = 60.0,
        headers: dict[str, str] | None = None,
    ) -> None:
        self.endpoint = endpoint
        self.label = label
        self.connect_timeout = connect_timeout
        self.read_timeout = read_timeout
        self._http = httpx.Client(
            headers={
                "User-Agent": "grue",
                "Accept": "application/json, text/event-stream",
                "Accept-Encoding": "identity",  # a compressed event stream arrives in lumps
                **(headers or {}),
            },
            timeout=self._timeout(read_timeout),
            follow_redirects=True,
            trust_env=True,
        )
        self._sockets: weakref.WeakSet[socket.socket] = weakref.WeakSet()
        self._lock = threading.Lock()
        self._cancel: threading.Event | None = None
        # The first bytes heard since the current request was sent: a server that closes
        # after a few bytes of something else (SSH, a game server) did answer, just not in
        # HTTP, which httpx cannot tell from silence.
        self._heard = bytearray()
        self._connected = False  # the current request opened a connection (else reused one)

    def close(self) -> None:
        """Close the kept-alive connections."""
        self._http.close()

    # -- public -------------------------------------------------------------------------

    def get_json(self, path: str, timeout: float | None = None) -> Any:
        return self._json(self.request("GET", path, timeout=timeout), path)

    def post_json(self, path: str, body: Any, timeout: float | None = None) -> Any:
        return self._json(self.request("POST", path, body, timeout=timeout), path)

    def request(
        self,
        method: str,
        path: str,
        body: Any = None,
        *,
        timeout: float | None = None,
        ok_statuses: tuple[int, ...] = (),
    ) -> Response:
        """One whole request; HTTP errors (status >= 400) raise unless in `ok_statuses`."""
        with self.open(method, path, body, timeout=timeout) as stream:
            resp = stream.response
            if resp.status >= 400 and resp.status not in ok_statuses:
                raise self.http_error(path, stream.error_response())
            resp.body = b"".join(stream.body(MAX_BODY_BYTES))
        return resp

    def open(
        self,
        method: str,
        path: str,
        body: Any = None,
        *,
        cancel: threading.Event | None = None,
        timeout: float | None = None,
    ) -> Stream:
        """Send a request and read the status and headers; the body is read from the result.

        Raises `Cancelled` if `cancel` is set before the headers arrive.
        """
        if cancel is not None and cancel.is_set():
            raise Cancelled
        stall = timeout or self.read_timeout
        data = None if body is None else json.dumps(body).encode("utf-8")
        request = self._http.build_request(
            method,
            self.endpoint.base + path,
            content=data,
            headers={"Content-Type": "application/json"} if data is not None else None,
            timeout=self._timeout(stall),
            extensions={"trace": self._trace},
        )
        done = threading.Event()
        if cancel is not None:
            self._watch(cancel, done)
        try:
            response = self._send(request, cancel)
        except httpx.HTTPError as exc:
            self._finish(done)
            if cancel is not None and cancel.is_set():
                raise Cancelled from None
            raise self._error(exc, path, stall, answered=False) from None
        except BaseException:
            self._finish(done)
            raise
        return Stream(self, response, path, cancel, done, stall)

    def _send(self, request: httpx.Request, cancel: threading.Event | None) -> httpx.Response:
        """Send; once more on a new connection if a kept-alive one turns out closed.

        A server may close an idle connection (its keep-alive timeout, or after an error)
        just as a request goes out on it: then it never read the request, and nothing came
        back. Only that case is retried.
        """
        for attempt in (1, 2):
            self._heard.clear()
            self._connected = False
            try:
                return self._http.send(request, stream=True)
            except (httpx.RemoteProtocolError, httpx.ReadError, httpx.WriteError) as exc:
                # On a kept-alive connection the server closed, the request dies either as
                # "disconnected without sending a response" or as a reset (ECONNRESET) while
                # it is written or the answer awaited: either way nothing was heard.
                closed = not isinstance(exc, httpx.RemoteProtocolError) or \
                    "without sending a response" in str(exc)
                unheard = closed and not self._heard
                cancelled = cancel is not None and cancel.is_set()
                if attempt == 2 or self._connected or cancelled or not unheard:
                    raise
        raise AssertionError("unreachable")

    def where(self, path: str) -> str:
        """The full URL of `path`, for error lines."""
        return self.endpoint.base + path

    def http_error(self, path: str, resp: Response) -> BackendError:
        msg = server_message(resp.body) or resp.reason or status_phrase(resp.status)
        return BackendError(f"{self.where(path)}: HTTP {resp.status}: {msg}")

    # -- internals ------------------------------------------------------------------------

    def _timeout(self, stall: float) -> httpx.Timeout:
        return httpx.Timeout(stall, connect=self.connect_timeout)

    def _trace(self, event: str, info: dict[str, Any]) -> None:
        """httpcore's trace hook: remember every socket this client opens (TCP or TLS), and
        let its stream note the first bytes of each answer (`_heard`)."""
        if not event.endswith(".complete"):
            return
        stream = info.get("return_value")
        get_info = getattr(stream, "get_extra_info", None)
        sock = get_info("socket") if callable(get_info) else None
        if not isinstance(sock, socket.socket):
            return
        self._connected = True
        with self._lock:
            self._sockets.add(sock)
            cancel = self._cancel
        if cancel is not None and cancel.is_set():
            _shut(sock)
        read = getattr(stream, "read", None)
        if callable(read):
            heard = self._heard

            def noting_read(max_bytes: int, timeout: float | None = None) -> bytes:
                data: bytes = read(max_bytes, timeout)
                if len(heard) < 64:
                    heard.extend(data[: 64 - len(heard)])
                return data

            stream.read = noting_read  # type: ignore[union-attr]

    def _watch(self, cancel: threading.Event, done: threading.Event) -> None:
        """Until `done`: when `cancel` is set, shut this client's sockets down.

        The backend makes one request at a time, so the only busy socket is this request's;
        idle kept-alive ones are shut too, and the pool drops them as closed by the server.
        """
        with self._lock:
            self._cancel = cancel

        def watch() -> None:
            while not done.is_set():
                if cancel.wait(POLL):
                    with self._lock:  # not once `_finish` has run: the next request is safe
                        if not done.is_set():
                            for sock in list(self._sockets):
                                _shut(sock)
                    return

        threading.Thread(target=watch, name="grue-http-cancel", daemon=True).start()

    def _finish(self, done: threading.Event) -> None:
        """The request is over: its watcher must not shut anything down from now on."""
        with self._lock:
            done.set()
            self._cancel = None

    def _error(
        self, exc: httpx.HTTPError, path: str, stall: float, *, answered: bool
    ) -> BackendError:
        reason = connect_failure(exc, self.endpoint.host, self.connect_timeout)
        if reason is not None:
            return BackendError(f"cannot reach {self.label}{reason}")
        where = self.where(path)
        return BackendError(f"{where}: {exchange_failure(exc, stall, answered, self._heard)}")

    def _json(self, resp: Response, path: str) -> Any:
        text = resp.body.decode("utf-8", "replace")
        try:
            return json.loads(text)
        except ValueError:
            kind = resp.content_type or "no content type"
            raise BackendError(
                f"{self.where(path)}: not a JSON answer ({kind}: {one_line(text, 60)!r})"
            ) from None


def _shut(sock: socket.socket) -> None:
    """Wake any read or write waiting on `sock` (closing alone does not, on Linux)."""
    with contextlib.suppress(OSError):
        sock.shutdown(socket.SHUT_RDWR)


class Stream:
    """An open response: status and headers read, body read as it arrives, cancellably."""

    def __init__(
        self,
        client: HttpClient,
        response: httpx.Response,
        path: str,
        cancel: threading.Event | None,
        done: threading.Event,
        stall: float,
    ) -> None:
        self._client = client
        self._response = response
        self._path = path
        self._cancel = cancel
        self._done = done
        self._stall = stall
        self._parts: Iterator[bytes] | None = None  # one iterator: `drain` goes on with it
        self.response = Response(response.status_code, response.reason_phrase, response.headers)

    def __enter__(self) -> Stream:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        """Drop the response; unless it was read to the end, httpx closes the connection,
        and a server streaming to it sees the disconnect and stops."""
        try:
            self._response.close()
        finally:
            self._client._finish(self._done)

    @property
    def closed(self) -> bool:
        return self._response.is_closed

    def _cancelled(self) -> bool:
        return self._cancel is not None and self._cancel.is_set()

    def body(self, limit: int | None = None) -> Iterator[bytes]:
        """Yield the body as it arrives; an answer over `limit` bytes is an error."""
        where = self._client.where(self._path)
        total = 0
        if self._parts is None:
            self._parts = self._response.iter_bytes()
        try:
            for part in self._parts:
                total += len(part)
                if limit is not None and total > limit:
                    self.close()
                    raise BackendError(
                        f"{where}: answer too large (over {limit // (1024 * 1024)} MB)"
                    )
                yield part
        except httpx.HTTPError as exc:
            if self._cancelled():
                raise Cancelled from None
            raise self._client._error(exc, self._path, self._stall, answered=True) from None
        if self._cancelled():
            raise Cancelled

    def drain(self, limit: int = ERROR_BODY_BYTES, seconds: float = DRAIN_SECONDS) -> None:
        """Read the rest of a finished answer (the end of a chunked stream after `[DONE]`),
        so its connection can be kept alive. A server that goes on for longer than `seconds`
        or `limit` bytes just has the connection closed."""
        deadline = threading.Event()
        timer = threading.Timer(seconds, deadline.set)
        timer.daemon = True
        timer.start()
        self._cancel = deadline  # errors after the deadline are an end, not a failure
        self._client._watch(deadline, self._done)
        try:
            total = 0
            for part in self.body():
                total += len(part)
                if total > limit:
                    break
        except (BackendError, Cancelled):
            pass
        finally:
            timer.cancel()

    def error_response(self) -> Response:
        """The response with the start of its body: enough for the message of an error page
        (a 3 MB HTML page from a proxy says its status, not that it is too large)."""
        data = bytearray()
        with contextlib.suppress(BackendError):
            for part in self.body():
                data += part
                if len(data) >= ERROR_BODY_BYTES:
                    break
        self.response.body = bytes(data[:ERROR_BODY_BYTES])
        return self.response
