"""A minimal HTTP/1.1 client whose reads can be cancelled.

`http.client` reads block on the socket for the whole timeout, and after one timed-out read
its file object is unusable, so a stalled server would hold a cancel for minutes. Here every
read waits at most `POLL` seconds, then checks the cancel event and the read deadline, so
closing a stream is prompt and a silent server becomes a one-line `BackendError`.

One connection per request (`Connection: close`): closing the socket is how a cancelled
generation tells the server to stop.
"""

from __future__ import annotations

import contextlib
import errno
import json
import re
import socket
import ssl
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

from tui.core.backend import BackendError

POLL = 0.1  # seconds a single socket read may block before cancel is checked again
MAX_HEADER_BYTES = 64 * 1024
MAX_BODY_BYTES = 32 * 1024 * 1024
MAX_MESSAGE = 200  # characters of a server's message kept in an error line


class Cancelled(Exception):
    """The caller's cancel event was set while waiting for the server."""


def one_line(text: str, limit: int = MAX_MESSAGE) -> str:
    """Collapse whitespace (and any HTML tags) so a server's text fits one error line."""
    text = re.sub(r"<[^>]{0,200}>", " ", text)
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


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
    headers: dict[str, str]
    body: bytes = b""

    @property
    def content_type(self) -> str:
        return self.headers.get("content-type", "").split(";")[0].strip().lower()


def server_message(body: bytes) -> str:
    """The human part of an error body: OpenAI/FastAPI/KoboldCpp JSON shapes, else the text."""
    text = body.decode("utf-8", "replace")
    try:
        data = json.loads(text)
    except ValueError:
        return one_line(text)
    for _ in range(3):  # {"error": {"message": ...}}, {"detail": [{"msg": ...}]}, ...
        if isinstance(data, dict):
            for key in ("error", "detail", "message", "msg", "result"):
                if key in data:
                    data = data[key]
                    break
            else:
                break
        elif isinstance(data, list) and data:
            data = data[0]
        else:
            break
    if isinstance(data, dict) and isinstance(data.get("msg"), str):
        data = data["msg"]
    return one_line(data if isinstance(data, str) else json.dumps(data))


@dataclass
class HttpClient:
    """Requests against one server. `label` names it in errors (e.g. `http://host:8080/v1`)."""

    endpoint: Endpoint
    label: str
    connect_timeout: float = 5.0
    read_timeout: float = 60.0
    headers: dict[str, str] = field(default_factory=dict)

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
            resp.body = b"".join(stream.body(MAX_BODY_BYTES))
        if resp.status >= 400 and resp.status not in ok_statuses:
            raise self.http_error(path, resp)
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
        sock = self._connect()
        stream = Stream(sock, self, path, cancel, timeout or self.read_timeout)
        try:
            sock.settimeout(stream.read_timeout)  # a big prompt may wait on a busy server
            sock.sendall(self._request_bytes(method, path, body))
            sock.settimeout(POLL)
            stream.read_head()
        except OSError as exc:
            stream.close()
            raise BackendError(
                f"{self.where(path)}: connection lost while sending ({_reason(exc)})"
            ) from exc
        except BaseException:
            stream.close()
            raise
        return stream

    def where(self, path: str) -> str:
        """The full URL of `path`, for error lines."""
        return self.endpoint.base + path

    def http_error(self, path: str, resp: Response) -> BackendError:
        msg = server_message(resp.body) or resp.reason
        return BackendError(f"{self.where(path)}: HTTP {resp.status}: {msg}")

    # -- internals ------------------------------------------------------------------------

    def _connect(self) -> socket.socket:
        ep = self.endpoint
        try:
            sock = socket.create_connection((ep.host, ep.port), timeout=self.connect_timeout)
        except socket.gaierror as exc:
            raise BackendError(f"cannot reach {self.label}: unknown host {ep.host}") from exc
        except TimeoutError as exc:
            raise BackendError(
                f"cannot reach {self.label}: no answer within {self.connect_timeout:g} s"
            ) from exc
        except OSError as exc:
            raise BackendError(f"cannot reach {self.label}: {_reason(exc)}") from exc
        if ep.scheme == "https":
            try:
                sock = ssl.create_default_context().wrap_socket(sock, server_hostname=ep.host)
            except (OSError, ssl.SSLError) as exc:
                sock.close()
                raise BackendError(f"cannot reach {self.label}: TLS failed ({exc})") from exc
        return sock

    def _request_bytes(self, method: str, path: str, body: Any) -> bytes:
        ep = self.endpoint
        data = b"" if body is None else json.dumps(body).encode("utf-8")
        host = f"[{ep.host}]" if ":" in ep.host else ep.host
        lines = [
            f"{method} {ep.prefix}{path} HTTP/1.1",
            f"Host: {host}:{ep.port}",
            "User-Agent: grue",
            "Accept: application/json, text/event-stream",
            "Accept-Encoding: identity",
            "Connection: close",
        ]
        if body is not None:
            lines += ["Content-Type: application/json", f"Content-Length: {len(data)}"]
        lines += [f"{k}: {v}" for k, v in self.headers.items()]
        return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + data

    def _json(self, resp: Response, path: str) -> Any:
        text = resp.body.decode("utf-8", "replace")
        try:
            return json.loads(text)
        except ValueError:
            kind = resp.content_type or "no content type"
            raise BackendError(
                f"{self.where(path)}: not a JSON answer ({kind}: {one_line(text, 60)!r})"
            ) from None


def _reason(exc: OSError) -> str:
    if exc.errno == errno.ECONNREFUSED or isinstance(exc, ConnectionRefusedError):
        return "connection refused"
    if isinstance(exc, ConnectionResetError):
        return "connection reset"
    return one_line(exc.strerror or str(exc) or type(exc).__name__, 80).lower()


class Stream:
    """An open response: status and headers read, body read incrementally and cancellably."""

    def __init__(
        self,
        sock: socket.socket,
        client: HttpClient,
        path: str,
        cancel: threading.Event | None,
        read_timeout: float,
    ) -> None:
        self._sock: socket.socket | None = sock
        self._client = client
        self._where = client.where(path)
        self._cancel = cancel
        self.read_timeout = read_timeout
        self._buf = bytearray()
        self._eof = False
        self.response = Response(0, "", {})

    def __enter__(self) -> Stream:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        """Drop the connection; a server streaming to it sees the disconnect and stops."""
        sock, self._sock = self._sock, None
        if sock is not None:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)
            sock.close()

    @property
    def closed(self) -> bool:
        return self._sock is None

    # -- reading ---------------------------------------------------------------------------

    def _fill(self) -> bool:
        """Read more bytes into the buffer; False at end of stream."""
        if self._eof or self._sock is None:
            return False
        deadline = time.monotonic() + self.read_timeout
        while True:
            if self._cancel is not None and self._cancel.is_set():
                self.close()
                raise Cancelled
            try:
                data = self._sock.recv(65536)
            except TimeoutError:
                if time.monotonic() >= deadline:
                    self.close()
                    raise BackendError(
                        f"{self._where}: server stopped answering "
                        f"(nothing for {self.read_timeout:g} s)"
                    ) from None
                continue
            except ssl.SSLWantReadError:
                continue
            except OSError as exc:
                self.close()
                raise BackendError(f"{self._where}: connection lost ({_reason(exc)})") from exc
            if not data:
                self._eof = True
                return False
            self._buf += data
            return True

    def _readline(self, limit: int) -> bytes | None:
        """One CRLF/LF-terminated line without its ending; None at EOF before any byte."""
        while True:
            i = self._buf.find(b"\n")
            if i >= 0:
                line = bytes(self._buf[:i])
                del self._buf[: i + 1]
                return line.rstrip(b"\r")
            if len(self._buf) > limit:
                raise self._garbage("line too long")
            if not self._fill():
                if self._buf:
                    line = bytes(self._buf)
                    self._buf.clear()
                    return line
                return None

    def _garbage(self, what: str) -> BackendError:
        self.close()
        return BackendError(f"{self._where}: not an HTTP answer ({what})")

    def read_head(self) -> None:
        while True:
            line = self._readline(MAX_HEADER_BYTES)
            if line is None:
                self.close()
                raise BackendError(f"{self._where}: server closed the connection without answering")
            m = re.match(rb"HTTP/\d(?:\.\d)? (\d{3})(?: (.*))?$", line)
            if not m:
                raise self._garbage(repr(one_line(line.decode("latin-1"), 40)))
            status = int(m.group(1))
            headers: dict[str, str] = {}
            size = 0
            while True:
                hline = self._readline(MAX_HEADER_BYTES)
                if hline is None:
                    raise self._garbage("headers cut off")
                size += len(hline)
                if size > MAX_HEADER_BYTES:
                    raise self._garbage("headers too long")
                if not hline:
                    break
                name, _, value = hline.decode("latin-1").partition(":")
                headers[name.strip().lower()] = value.strip()
            if 100 <= status < 200:  # 100 Continue and friends: the real answer follows
                continue
            reason = (m.group(2) or b"").decode("latin-1")
            self.response = Response(status, reason, headers)
            return

    def body(self, limit: int | None = None) -> Iterator[bytes]:
        """Yield the body as it arrives (chunked, sized or until close).

        A chunked or sized body that ends early raises a "cut off" `BackendError`.
        """
        headers = self.response.headers
        total = 0
        if "chunked" in headers.get("transfer-encoding", "").lower():
            parts = self._chunked()
        elif "content-length" in headers:
            try:
                length = int(headers["content-length"])
            except ValueError:
                raise self._garbage("bad Content-Length") from None
            parts = self._sized(length)
        else:
            parts = self._until_close()
        for part in parts:
            total += len(part)
            if limit is not None and total > limit:
                self.close()
                raise BackendError(f"{self._where}: answer too large")
            yield part

    def _take_buffer(self, n: int | None = None) -> bytes:
        n = len(self._buf) if n is None else min(n, len(self._buf))
        out = bytes(self._buf[:n])
        del self._buf[:n]
        return out

    def _cut_off(self) -> BackendError:
        self.close()
        return BackendError(f"{self._where}: answer cut off (connection closed)")

    def _sized(self, length: int) -> Iterator[bytes]:
        while length > 0:
            if not self._buf and not self._fill():
                raise self._cut_off()
            part = self._take_buffer(length)
            length -= len(part)
            yield part

    def _until_close(self) -> Iterator[bytes]:
        while True:
            if self._buf:
                yield self._take_buffer()
            if not self._fill():
                return

    def _chunked(self) -> Iterator[bytes]:
        while True:
            line = self._readline(1024)
            if line is None:
                raise self._cut_off()
            try:
                size = int(line.split(b";")[0].strip() or b"x", 16)
            except ValueError:
                raise self._garbage("bad chunk size") from None
            if size == 0:
                while True:  # trailers until the blank line; tolerate a missing one
                    trailer = self._readline(MAX_HEADER_BYTES)
                    if not trailer:
                        return
            yield from self._sized(size)
            if self._readline(16) is None:
                raise self._cut_off()
