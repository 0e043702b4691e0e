"""Server-sent events: turn a byte stream into (event, data) pairs.

Follows the WHATWG rules that matter here: lines end in LF, CRLF or CR; `data:` lines of one
event are joined with LF; a blank line dispatches; `:` lines are comments (keep-alive pings).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass

MAX_EVENT_BYTES = 4 * 1024 * 1024


class SSEError(ValueError):
    """The stream is not server-sent events (or an event is absurdly large)."""


@dataclass(frozen=True)
class Event:
    event: str
    data: str


_EOL = re.compile(rb"\r\n|\r|\n")


def _lines(chunks: Iterable[bytes]) -> Iterator[str]:
    """Lines in O(chunk) per chunk: the buffer is sliced once per chunk, not once per line."""
    buf = b""
    for chunk in chunks:
        buf = buf + chunk if buf else chunk
        start = 0
        for m in _EOL.finditer(buf):
            # a CR at the very end may be the first half of CRLF: wait for more
            if m.group() == b"\r" and m.end() == len(buf):
                break
            yield buf[start : m.start()].decode("utf-8", "replace")
            start = m.end()
        buf = buf[start:]
        if len(buf) > MAX_EVENT_BYTES:
            raise SSEError("line too long")
    if buf:
        yield buf.rstrip(b"\r").decode("utf-8", "replace")


def parse_events(chunks: Iterable[bytes]) -> Iterator[Event]:
    """Yield each dispatched event. A final event without its blank line is still yielded."""
    event, data, size = "", [], 0
    for line in _lines(chunks):
        if not line:
            if data:
                yield Event(event or "message", "\n".join(data))
            event, data, size = "", [], 0
            continue
        if line.startswith(":"):
            continue
        name, colon, value = line.partition(":")
        if not colon:
            value = ""
        elif value.startswith(" "):
            value = value[1:]
        if name == "data":
            data.append(value)
            size += len(value)
            if size > MAX_EVENT_BYTES:
                raise SSEError("event too large")
        elif name == "event":
            event = value
        elif name not in ("id", "retry"):
            raise SSEError(f"not an event-stream line: {line[:40]!r}")
    if data:
        yield Event(event or "message", "\n".join(data))
