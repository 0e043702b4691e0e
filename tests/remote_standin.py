"""A tiny threaded HTTP stand-in server for the remote backend tests.

Raw sockets on purpose: the tests need answers no real framework sends (HTML where JSON
belongs, streams cut off mid-chunk, servers that accept and then say nothing).
"""

from __future__ import annotations

import contextlib
import json
import socket
import ssl
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any


@dataclass
class Request:
    method: str
    path: str
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body or b"null")


Handler = Callable[[Request, socket.socket], None]


@dataclass
class StandIn:
    """Serve `routes[(method, path)]`; anything else gets a 404 JSON error."""

    routes: dict[tuple[str, str], Handler] = field(default_factory=dict)
    requests: list[Request] = field(default_factory=list)
    read_delay: float = 0.0  # seconds to wait before reading a request (a busy server)
    keep_alive: bool = False  # serve requests on one connection until the client closes it
    tls: ssl.SSLContext | None = None  # serve HTTPS with this server-side context

    def __post_init__(self) -> None:
        self._listener = socket.socket()
        self._listener.bind(("127.0.0.1", 0))
        self._listener.listen(16)
        self._listener.settimeout(0.1)
        self.port = self._listener.getsockname()[1]
        self.url = f"{'https' if self.tls else 'http'}://127.0.0.1:{self.port}"
        self.disconnects = 0
        self.connections = 0  # accepted connections
        self.closed_by_client = threading.Event()  # a kept-alive connection saw EOF
        self._stop = threading.Event()
        self._conns: list[socket.socket] = []
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    def __enter__(self) -> StandIn:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        self._stop.set()
        with contextlib.suppress(OSError):  # stop listening now, not when accept() wakes up
            self._listener.shutdown(socket.SHUT_RDWR)
        self._listener.close()
        self._thread.join(2)
        for conn in self._conns:
            with contextlib.suppress(OSError):
                conn.close()

    def route(self, method: str, path: str) -> Callable[[Handler], Handler]:
        def register(fn: Handler) -> Handler:
            self.routes[(method, path)] = fn
            return fn

        return register

    def _serve(self) -> None:
        while not self._stop.is_set():
            try:
                conn, _ = self._listener.accept()
            except (TimeoutError, OSError):
                continue
            self._conns.append(conn)
            self.connections += 1
            threading.Thread(target=self._handle, args=(conn,), daemon=True).start()

    def _handle(self, conn: socket.socket) -> None:
        try:
            if self.tls is not None:
                conn.settimeout(10)
                conn = self.tls.wrap_socket(conn, server_side=True)
            while True:
                time.sleep(self.read_delay)
                req = _read_request(conn)
                if req is None:
                    self.closed_by_client.set()
                    return
                self.requests.append(req)
                handler = self.routes.get((req.method, req.path), not_found)
                handler(req, conn)
                if not self.keep_alive:
                    return
        except OSError:
            self.disconnects += 1
        finally:
            with contextlib.suppress(OSError):
                conn.close()


def _read_request(conn: socket.socket) -> Request | None:
    conn.settimeout(30)
    data = b""
    while b"\r\n\r\n" not in data:
        more = conn.recv(65536)
        if not more:
            return None
        data += more
    head, _, body = data.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    method, path, _ = lines[0].split(" ", 2)
    headers = {}
    for line in lines[1:]:
        name, _, value = line.partition(":")
        headers[name.strip().lower()] = value.strip()
    length = int(headers.get("content-length", "0"))
    while len(body) < length:
        more = conn.recv(65536)
        if not more:
            break
        body += more
    return Request(method, path, headers, body)


def head(
    status: int = 200, content_type: str = "application/json", keep_alive: bool = False,
    **extra: str,
) -> bytes:
    lines = [f"HTTP/1.1 {status} X", f"Content-Type: {content_type}"]
    lines += [] if keep_alive else ["Connection: close"]
    lines += [f"{k.replace('_', '-')}: {v}" for k, v in extra.items()]
    return ("\r\n".join(lines) + "\r\n\r\n").encode()


def send_json(conn: socket.socket, obj: Any, status: int = 200, keep_alive: bool = False) -> None:
    body = json.dumps(obj).encode()
    conn.sendall(head(status, keep_alive=keep_alive, Content_Length=str(len(body))) + body)


def send_body(conn: socket.socket, body: bytes, content_type: str, status: int = 200) -> None:
    conn.sendall(head(status, content_type, Content_Length=str(len(body))) + body)


def not_found(req: Request, conn: socket.socket) -> None:
    send_json(conn, {"detail": "Not Found"}, 404)


def send_sse(
    conn: socket.socket,
    events: Iterable[str],
    *,
    delay: float = 0.0,
    terminate: bool = True,
    abort: threading.Event | None = None,
    keep_alive: bool = False,
) -> int:
    """Stream `events` (each a whole `data: ...`/`event: ...` block) chunked; return the count.

    `terminate=False` leaves the chunked body without its final chunk (a cut-off stream).
    Raises OSError when the client has gone away.
    """
    conn.sendall(head(200, "text/event-stream", keep_alive, Transfer_Encoding="chunked"))
    sent = 0
    for event in events:
        if abort is not None and abort.is_set():
            break
        payload = (event.rstrip("\n") + "\n\n").encode()
        conn.sendall(f"{len(payload):x}\r\n".encode() + payload + b"\r\n")
        sent += 1
        if delay:
            time.sleep(delay)
    if terminate:
        conn.sendall(b"0\r\n\r\n")
    return sent


def completion_event(text: str, finish: str | None = None) -> str:
    chunk = {"choices": [{"text": text, "index": 0, "finish_reason": finish}]}
    return "data: " + json.dumps(chunk)


def free_port() -> int:
    """A port that nothing listens on (bound, then released)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]
