"""Server failures as one line for the player: a server's own message, an HTTP status, the
reason behind a failed connection (refused, unknown host, TLS) or exchange (stalled, cut
off, not HTTP)."""

from __future__ import annotations

import errno
import http
import json
import re
import socket
import ssl
from collections.abc import Iterator

import httpx

MAX_MESSAGE = 200  # characters of a server's message kept in an error line


def one_line(text: str, limit: int = MAX_MESSAGE) -> str:
    """Collapse whitespace (and any HTML tags, scripts and styles) to fit one error line."""
    text = re.sub(r"(?is)<(script|style)\b[^>]{0,200}>.*?</\1\s*>", " ", text)
    text = re.sub(r"<[^>]{0,200}>", " ", text)
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


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


def status_phrase(status: int) -> str:
    try:
        return http.HTTPStatus(status).phrase
    except ValueError:
        return ""


def connect_failure(exc: httpx.HTTPError, host: str, connect_timeout: float) -> str | None:
    """Why a connection could not be made, as the end of "cannot reach URL…"; None if the
    failure came later."""
    if isinstance(exc, httpx.ConnectTimeout):
        return f": no answer within {connect_timeout:g} s"
    if isinstance(exc, httpx.ProxyError):
        return f" through the proxy: {one_line(str(exc), 80)}"
    if not isinstance(exc, httpx.ConnectError):
        return None
    for cause in causes(exc):
        if isinstance(cause, socket.gaierror):
            return f": unknown host {host}"
        if isinstance(cause, ssl.SSLError):
            return f": TLS failed ({tls_reason(cause)})"
        if isinstance(cause, TimeoutError):
            return f": no answer within {connect_timeout:g} s"
    return ": " + os_reason(exc, one_line(str(exc), 80))


def exchange_failure(exc: httpx.HTTPError, stall: float, answered: bool, heard: bytes) -> str:
    """What went wrong once connected. `answered`: the status line had arrived; `heard`: the
    first bytes the server sent."""
    text = one_line(str(exc) or type(exc).__name__, 80)
    if isinstance(exc, httpx.ReadTimeout):
        return f"server stopped answering (nothing for {stall:g} s)"
    if isinstance(exc, (httpx.WriteTimeout, httpx.PoolTimeout)):
        return f"server stopped reading the request ({stall:g} s)"
    if isinstance(exc, httpx.RemoteProtocolError):
        if not answered and "without sending a response" in text:
            if heard:
                return f"not an HTTP answer (it began {one_line(heard.decode('latin-1'), 40)!r})"
            return "server closed the connection without answering"
        if answered and ("incomplete" in text or "peer closed" in text):
            return "answer cut off (connection closed)"
        return f"not an HTTP answer ({one_line(text, 60)})"
    if isinstance(exc, (httpx.ReadError, httpx.WriteError)):
        return f"connection lost ({os_reason(exc, text)})"
    if isinstance(exc, httpx.TooManyRedirects):
        return "too many redirects"
    if isinstance(exc, httpx.DecodingError):
        return "not an HTTP answer (bad content encoding)"
    return text


def causes(exc: BaseException) -> Iterator[BaseException]:
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        yield current
        current = current.__cause__ or current.__context__


def os_reason(exc: BaseException, fallback: str) -> str:
    for cause in causes(exc):
        if isinstance(cause, ConnectionRefusedError) or (
            isinstance(cause, OSError) and cause.errno == errno.ECONNREFUSED
        ):
            return "connection refused"
        if isinstance(cause, ConnectionResetError):
            return "connection reset"
        if isinstance(cause, OSError) and cause.strerror:
            return one_line(cause.strerror, 80).lower()
    return fallback


def tls_reason(exc: ssl.SSLError) -> str:
    verify = getattr(exc, "verify_message", None)
    if verify:
        return f"certificate: {verify}"
    reason = (exc.reason or str(exc)).lower().replace("_", " ")
    if "wrong version number" in reason or "record layer failure" in reason:
        return f"{reason}; is it a plain http:// server?"
    return one_line(reason, 80)
