"""A game's end of a shared adventure: connects to the room service of `grue serve`
(`serve/rooms.py`), opens or joins a room, sends actions and commands, and hands every event
the room broadcasts to `on_event`, in the order they came, from a reader thread.

See docs/architecture.md, "grue serve".
"""

from __future__ import annotations

import contextlib
import itertools
import os
import socket
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

from tui.backends.shared_protocol import PLAYER_ENV, ProtocolError, Reader, send
from tui.core.text import one_line
from tui.serve.room_protocol import NAME_ENV, ROOMS_ENV

REPLY_WAIT = 30.0  # seconds to wait for the service to answer an open or a join
GONE = "the room service is not answering"


class RoomError(Exception):
    """A one-line refusal or failure, for a notice."""


def rooms_socket() -> Path | None:
    """The room service of the `grue serve` this game runs under, or None (not served)."""
    path = os.environ.get(ROOMS_ENV)
    return Path(path) if path else None


class RoomClient:
    """One game's connection to the room service. `enter` (open or join) waits for the
    answer; then a thread reads the room's events and answers to later requests (a refusal
    comes back as an event `{"ev": "refused"}`)."""

    def __init__(self, socket_path: Path, player: str = "", name: str = "") -> None:
        self.socket_path = socket_path
        self.player = player or os.environ.get(PLAYER_ENV, "")
        self.name = name or os.environ.get(NAME_ENV, "")
        self._sock: socket.socket | None = None
        self._reader: Reader | None = None
        self._ids = itertools.count(1)
        self._lock = threading.Lock()
        self.on_event: Callable[[dict[str, Any]], None] = lambda event: None
        self.room = ""

    def _connect(self) -> None:
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            sock.connect(str(self.socket_path))
        except OSError as exc:
            sock.close()
            raise RoomError(f"rooms are not available ({exc.strerror or exc})") from None
        self._sock, self._reader = sock, Reader(sock)
        reply = self._request({"op": "hello", "player": self.player, "name": self.name})
        self.name = str(reply.get("name", self.name))

    def _request(self, message: dict[str, Any]) -> dict[str, Any]:
        """Send and wait for the answer; events that come first are kept for `on_event`."""
        assert self._sock is not None and self._reader is not None
        number = next(self._ids)
        try:
            self._send({**message, "id": number})
            while True:
                reply = self._reader.next(REPLY_WAIT)
                if reply is None:
                    raise RoomError(GONE)
                if reply.get("id") == number:
                    break
                self._early.append(reply)
        except (OSError, ProtocolError):
            self.close()
            raise RoomError(GONE) from None
        if "error" in reply:
            raise RoomError(one_line(str(reply["error"]), 300))
        return reply

    def _send(self, message: dict[str, Any]) -> None:
        assert self._sock is not None
        with self._lock:
            send(self._sock, message)

    def enter(self, verb: str, room: str, save: Path | None = None) -> str:
        """Open (`verb` "open", from `save`) or join a room; its name. Then events flow to
        `on_event`, starting with "joined" (the story so far)."""
        self._early: list[dict[str, Any]] = []
        self._connect()
        message: dict[str, Any] = {"op": verb, "room": room}
        if save is not None:
            message["save"] = str(save)
        try:
            reply = self._request(message)
        except RoomError:
            self.close()
            raise
        self.room = str(reply.get("room", room))
        threading.Thread(target=self._read, name="grue-room-client", daemon=True).start()
        return self.room

    def _read(self) -> None:
        for event in self._early:
            self.on_event(event)
        self._early = []
        reader = self._reader
        while reader is not None:
            try:
                message = reader.next(None)
            except (OSError, ProtocolError):
                if self._sock is not None:  # not closed by us: the service went away
                    self.on_event({"ev": "gone", "text": GONE})
                return
            if message is None:
                continue
            if "ev" in message:
                self.on_event(message)
            elif "error" in message:
                self.on_event({"ev": "refused", "id": message.get("id"),
                               "text": one_line(str(message["error"]), 300)})
            elif "members" in message:
                self.on_event({"ev": "who", **message})

    def request(self, op: str, **fields: Any) -> int | None:
        """A request whose answer comes back as an event (act, undo, kick, who, leave); its
        id, which a refusal carries (None when the service is gone)."""
        if self._sock is None:
            self.on_event({"ev": "gone", "text": GONE})
            return None
        number = next(self._ids)
        try:
            self._send({"op": op, "id": number, **fields})
        except OSError:
            self.on_event({"ev": "gone", "text": GONE})
            return None
        return number

    def close(self) -> None:
        sock, self._sock, self._reader = self._sock, None, None
        if sock is not None:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)
            with contextlib.suppress(OSError):
                sock.close()
