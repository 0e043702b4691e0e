"""The shared model's wire format: length-prefixed JSON messages over a Unix socket.

One message is a 4-byte big-endian length, then that many bytes of UTF-8 JSON (an object).
Both ends (`tui/serve/model_proc.py`, `tui/backends/shared.py`) use these helpers; the
messages themselves are listed in docs/architecture.md, "grue serve".
"""

from __future__ import annotations

import contextlib
import json
import socket
import struct
import threading
from typing import Any

MAX_MESSAGE = 16 * 1024 * 1024  # a prompt of 100,000 tokens is ~700 KB of JSON
SOCKET_ENV = "GRUE_SHARED_MODEL"  # a serve session's model: the model process's socket
PLAYER_ENV = "GRUE_PLAYER"  # who the session plays for (the key's fingerprint)
_HEADER = struct.Struct(">I")


class ProtocolError(Exception):
    """The other end sent something that is not a message, or went away."""


def encode(message: dict[str, Any]) -> bytes:
    body = json.dumps(message, separators=(",", ":")).encode("utf-8")
    if len(body) > MAX_MESSAGE:
        raise ProtocolError(f"message too large ({len(body)} bytes)")
    return _HEADER.pack(len(body)) + body


def send(sock: socket.socket, message: dict[str, Any]) -> None:
    sock.sendall(encode(message))


# Seconds a game's socket may stay full (the game not reading) before the server drops it:
# the model thread sends every piece of a reply, a room sends every event to every member,
# and one blocked send held up every player.
SEND_STALL = 10


class Peer:
    """A connected game as a server sees it: sends from several threads take turns; a send
    that fails, or cannot go out for `SEND_STALL` seconds, drops the game (its connection is
    shut, as a message may be half sent; the game reconnects at its next request)."""

    def __init__(self, sock: socket.socket) -> None:
        self.sock = sock
        self.open = True
        self._send_lock = threading.Lock()
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDTIMEO,
                        struct.pack("ll", SEND_STALL, 0))  # sends only: reads wait on

    def send(self, message: dict[str, Any]) -> None:
        if not self.open:
            return
        try:
            with self._send_lock:
                send(self.sock, message)
        except OSError:
            self.open = False
            with contextlib.suppress(OSError):
                self.sock.shutdown(socket.SHUT_RDWR)


def _read_exact(sock: socket.socket, size: int) -> bytes:
    chunks = bytearray()
    while len(chunks) < size:
        chunk = sock.recv(size - len(chunks))
        if not chunk:
            raise ProtocolError("the connection closed")
        chunks += chunk
    return bytes(chunks)


def decode(body: bytes) -> dict[str, Any]:
    try:
        message = json.loads(body.decode("utf-8"))
    except (UnicodeDecodeError, ValueError) as exc:
        raise ProtocolError(f"not a JSON message ({exc})") from None
    if not isinstance(message, dict):
        raise ProtocolError("a message must be a JSON object")
    return message


def receive(sock: socket.socket) -> dict[str, Any]:
    """The next whole message (blocks; raises ProtocolError when the peer is gone)."""
    (size,) = _HEADER.unpack(_read_exact(sock, _HEADER.size))
    if size > MAX_MESSAGE:
        raise ProtocolError(f"message too large ({size} bytes)")
    return decode(_read_exact(sock, size))


class Reader:
    """Messages from a socket with a timeout: partial reads are kept across timeouts, so a
    caller can poll (e.g. for a cancel event) without losing a half-read message."""

    def __init__(self, sock: socket.socket) -> None:
        self.sock = sock
        self.buffer = bytearray()

    def next(self, timeout: float | None) -> dict[str, Any] | None:
        """The next message, or None when `timeout` passed first."""
        self.sock.settimeout(timeout)
        while True:
            message = self._take()
            if message is not None:
                return message
            try:
                chunk = self.sock.recv(1 << 16)
            except TimeoutError:
                return None
            if not chunk:
                raise ProtocolError("the connection closed")
            self.buffer += chunk

    def _take(self) -> dict[str, Any] | None:
        if len(self.buffer) < _HEADER.size:
            return None
        (size,) = _HEADER.unpack(self.buffer[: _HEADER.size])
        if size > MAX_MESSAGE:
            raise ProtocolError(f"message too large ({size} bytes)")
        end = _HEADER.size + size
        if len(self.buffer) < end:
            return None
        body = bytes(self.buffer[_HEADER.size : end])
        del self.buffer[:end]
        return decode(body)
