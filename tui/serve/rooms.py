"""Shared adventures of `grue serve`: the room service, the one writer of every room's story.

Runs on threads in the server process, on its own Unix socket ($GRUE_HOME/serve/rooms.sock,
0600). A player's game (`serve/room_client.py`) opens a room from its adventure or joins one by
name; then it sends actions and the service runs each turn through the engine (`engine/game.py`)
on the shared model, saving the room's campaign under `serve/rooms/<name>/` like any save,
and broadcasts every event (who acted, each streamed piece, the end) to every member in one
order. One turn at a time: an action while another runs is refused, naming who is taking it.
The host (who opened the room; the next member when they leave) may undo and kick.
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

from tui.backends.shared_protocol import Peer, ProtocolError, receive
from tui.core.backend import Backend, BackendError
from tui.core.log import log_exception
from tui.core.text import clean, one_line
from tui.engine.actions import Action, Mode, make_action
from tui.engine.adventure import adventure_spec, story_blocks
from tui.engine.campaign import Campaign
from tui.engine.game import Game, GenerationResult, TurnRequest, generate, make_builder
from tui.engine.saves import SaveError, list_saves, load_save, release_save
from tui.serve.room_protocol import by_player, player_name, room_name

MODES = {m.value: m for m in (Mode.DO, Mode.SAY, Mode.STORY, Mode.CONTINUE)}
MAX_ACTION = 2000  # characters of one action
MAX_NAME_BASE = 16  # a display name shortened before a "-2" is added


class Member(Peer):
    """One connected game in the rooms service."""

    def __init__(self, sock: socket.socket, number: int) -> None:
        super().__init__(sock)
        self.number = number
        self.player = ""  # the key's fingerprint
        self.name = ""
        self.room: Room | None = None


class Room:
    """One shared adventure: its campaign (the engine's `Game`, saved after every turn), its
    members, and the turn running. Every change and broadcast happens under `lock`, so each
    member gets the events in the same order."""

    def __init__(self, name: str, game: Game, backend: Backend, host: Member) -> None:
        self.name = name
        self.game = game
        self.backend = backend
        self.host = host
        self.members: list[Member] = []
        self.lock = threading.RLock()
        self.seq = itertools.count(1)
        self.taker: str | None = None  # who is taking a turn
        self.live: list[str] = []  # the running turn: its action line, then its pieces so far
        self.cancel = threading.Event()
        self.loaded = False  # the backend: loaded at the first turn

    def broadcast(self, event: dict[str, Any]) -> None:
        with self.lock:
            message = {**event, "seq": next(self.seq)}
            for member in list(self.members):
                member.send(message)

    def names(self) -> list[str]:
        return [m.name for m in self.members]

    def tell_members(self) -> None:
        self.broadcast({"ev": "members", "members": self.names(), "host": self.host.name})

    def overview(self) -> dict[str, Any]:
        """The room as `grue serve --status` lists it."""
        with self.lock:
            return {"name": self.name, "players": ", ".join(self.names()),
                    "host": self.host.name, "taking": self.taker or "",
                    "turns": len(self.game.campaign.turns)}

    def snapshot(self) -> dict[str, Any]:
        """What a member joining sees: the story, who is here, and a turn half written."""
        return {"ev": "joined", "room": self.name, "title": self.game.campaign.title,
                "blocks": story_blocks(self.game.campaign), "members": self.names(),
                "host": self.host.name, "taker": self.taker, "live": list(self.live)}


class RoomService:
    """The rooms of one server: `start()` listens, `stop()` ends every room (all saved)."""

    def __init__(self, socket_path: Path, folder: Path, player_home: Callable[[str], Path],
                 backend_for: Callable[[str], Backend],
                 log: Callable[[str], None] = lambda line: None) -> None:
        self.socket_path = socket_path
        self.folder = folder
        self.player_home = player_home
        self.backend_for = backend_for
        self.log = log
        self.rooms: dict[str, Room] = {}
        self.lock = threading.Lock()
        self.numbers = itertools.count(1)
        self._server: socket.socket | None = None
        self._members: set[Member] = set()

    # --- the socket -----------------------------------------------------------------------

    def overview(self) -> list[dict[str, Any]]:
        """Each open room, by name (for the status file)."""
        with self.lock:
            rooms = sorted(self.rooms.values(), key=lambda r: r.name)
        return [room.overview() for room in rooms]

    def start(self) -> None:
        self.folder.mkdir(parents=True, exist_ok=True, mode=0o700)
        with contextlib.suppress(FileNotFoundError):
            self.socket_path.unlink()
        server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        old = os.umask(0o177)  # the socket is made 0600: only the server's user connects
        try:
            server.bind(str(self.socket_path))
        finally:
            os.umask(old)
        os.chmod(self.socket_path, 0o600)
        server.listen(64)
        self._server = server
        threading.Thread(target=self._accept, name="grue-rooms", daemon=True).start()

    def stop(self) -> None:
        if self._server is not None:
            with contextlib.suppress(OSError):
                self._server.close()
            self._server = None
        with contextlib.suppress(FileNotFoundError):
            self.socket_path.unlink()
        for room in list(self.rooms.values()):
            room.cancel.set()
        for member in list(self._members):
            with contextlib.suppress(OSError):
                member.sock.shutdown(socket.SHUT_RDWR)

    def _accept(self) -> None:
        while self._server is not None:
            try:
                sock, _ = self._server.accept()
            except OSError:
                return
            member = Member(sock, next(self.numbers))
            self._members.add(member)
            threading.Thread(target=self._serve, args=(member,), daemon=True,
                             name=f"grue-room-member-{member.number}").start()

    def _serve(self, member: Member) -> None:
        try:
            while True:
                message = receive(member.sock)
                reply = self.handle(member, message)
                if reply is not None and "id" in message:
                    member.send({"id": message["id"], **reply})
        except (ProtocolError, OSError):
            pass
        except Exception as exc:  # noqa: BLE001 - one member's error ends its connection only
            log_exception("room service", exc)
        finally:
            member.open = False
            self.leave(member)
            self._members.discard(member)
            with contextlib.suppress(OSError):
                member.sock.close()

    # --- requests -------------------------------------------------------------------------

    def handle(self, member: Member, message: dict[str, Any]) -> dict[str, Any] | None:
        """One request; the answer for its sender (None: nothing to answer)."""
        op = message.get("op")
        if op == "hello":
            member.player = str(message.get("player", ""))
            fallback = f"player-{member.number}"
            member.name = player_name(str(message.get("name", "")), fallback)
            return {"ok": True, "name": member.name}
        if not member.player:
            return {"error": "say hello first"}
        handlers: dict[str, Callable[[Member, dict[str, Any]], dict[str, Any] | None]] = {
            "open": self.open_room, "join": self.join_room, "leave": self._leave_op,
            "act": self.act, "undo": self.undo, "kick": self.kick, "who": self.who,
        }
        handler = handlers.get(str(op))
        if handler is None:
            return {"error": f"unknown request {one_line(str(op), 40)!r}"}
        try:
            return handler(member, message)
        except SaveError as exc:
            return {"error": one_line(str(exc), 300)}

    def _room_folder(self, name: str) -> Path:
        return self.folder / name

    def open_room(self, member: Member, message: dict[str, Any]) -> dict[str, Any]:
        """Open a room: a saved room of that name is resumed; else it starts from a copy of
        the player's own save (`save`, a folder inside their home)."""
        name = room_name(str(message.get("room", "")))
        if name is None:
            return {"error": "a room's name is letters, digits, - and _ (at most 24)"}
        if member.room is not None:
            return {"error": f"you are in room {member.room.name}: /room leave first"}
        with self.lock:
            if name in self.rooms:
                return {"error": f"room {name} is open already: /room join {name}"}
            game = self._resume(name) or self._copy(member, message, name)
            if isinstance(game, str):
                return {"error": game}
            room = Room(name, game, self.backend_for(name), member)
            self.rooms[name] = room
        self.log(f"room {name} opened by {member.name} ({member.player})")
        self._enter(member, room)
        return {"ok": True, "room": name}

    def _resume(self, name: str) -> Game | None:
        folder = self._room_folder(name)
        saves = list_saves(folder) if folder.is_dir() else []
        if not saves:
            return None
        campaign = load_save(saves[0].path, lock=True)
        return Game(campaign, save_folder=folder)

    def _copy(self, member: Member, message: dict[str, Any], name: str) -> Game | str:
        raw = message.get("save")
        if not raw:
            return f"no saved room {name}: open it from an adventure"
        path = Path(str(raw)).resolve()
        home = self.player_home(member.player).resolve()
        if not path.is_relative_to(home):
            return "a room starts from one of your own saves"
        campaign = load_save(path)
        if campaign.kind == "chat":
            return "rooms are for adventures"
        game = Game(campaign, save_folder=self._room_folder(name))
        game.save()  # a save of its own, under serve/rooms/<name>/
        return game

    def join_room(self, member: Member, message: dict[str, Any]) -> dict[str, Any]:
        name = room_name(str(message.get("room", "")))
        if member.room is not None:
            return {"error": f"you are in room {member.room.name}: /room leave first"}
        room = self.rooms.get(name or "")
        if room is None:
            return {"error": f"no room {one_line(str(message.get('room', '')), 30)} is open"}
        self._enter(member, room)
        return {"ok": True, "room": room.name}

    def _enter(self, member: Member, room: Room) -> None:
        with room.lock:
            taken = set(room.names())
            base, n = member.name, 2
            while member.name in taken:  # two Anas in one room: Ana and Ana-2
                member.name, n = f"{base[:MAX_NAME_BASE]}-{n}", n + 1
            room.members.append(member)
            member.room = room
            member.send({**room.snapshot(), "you": member.name})
            room.broadcast({"ev": "notice", "text": f"{member.name} joined"})
            room.tell_members()

    def _leave_op(self, member: Member, message: dict[str, Any]) -> dict[str, Any]:
        if member.room is None:
            return {"error": "you are in no room"}
        self.leave(member)
        return {"ok": True}

    def leave(self, member: Member, why: str = "left") -> None:
        room = member.room
        if room is None:
            return
        with room.lock:
            member.room = None
            if member in room.members:
                room.members.remove(member)
            if not room.members:
                self._close(room)
                return
            if room.host is member:
                room.host = room.members[0]
            room.broadcast({"ev": "notice", "text": f"{member.name} {why}"})
            room.tell_members()

    def _close(self, room: Room) -> None:
        """The last member left: the turn stops (what is committed is saved), the save's
        lock is let go, and the room can be opened again by name."""
        room.cancel.set()
        with self.lock:
            self.rooms.pop(room.name, None)
        release_save(room.game.campaign)
        self.log(f"room {room.name} closed")

    def who(self, member: Member, message: dict[str, Any]) -> dict[str, Any]:
        room = member.room
        if room is None:
            return {"error": "you are in no room"}
        return {"ok": True, "members": room.names(), "host": room.host.name,
                "taker": room.taker}

    @staticmethod
    def hosted_room(member: Member, verb: str) -> Room | dict[str, Any]:
        """The member's room if they are its host; else the refusal to answer."""
        room = member.room
        if room is None:
            return {"error": "you are in no room"}
        if room.host is not member:
            return {"error": f"only the host ({room.host.name}) can {verb}"}
        return room

    def kick(self, member: Member, message: dict[str, Any]) -> dict[str, Any]:
        room = self.hosted_room(member, "kick")
        if not isinstance(room, Room):
            return room
        name = str(message.get("name", "")).strip().lower()
        target = next((m for m in room.members if m.name.lower() == name), None)
        if target is None or target is member:
            return {"error": f"no one else called {one_line(name, 30)} is here"}
        # Out of the room before told so: an action sent on hearing it finds no room.
        self.leave(target, why=f"was sent away by {member.name}")
        target.send({"ev": "kicked", "by": member.name})
        return {"ok": True}

    def undo(self, member: Member, message: dict[str, Any]) -> dict[str, Any]:
        room = self.hosted_room(member, "undo")
        if not isinstance(room, Room):
            return room
        with room.lock:
            if room.taker is not None:
                return {"error": f"{room.taker} is taking a turn"}
            if room.game.undo() is None:
                return {"error": "nothing to undo"}
            room.broadcast({"ev": "story", "blocks": story_blocks(room.game.campaign),
                            "text": f"{member.name} took back the last turn"})
        return {"ok": True}

    # --- turns ----------------------------------------------------------------------------

    def act(self, member: Member, message: dict[str, Any]) -> dict[str, Any]:
        """A member's action: refused while another turn runs (free for all, one at a time);
        else announced to everyone and written on a thread of its own."""
        room = member.room
        if room is None:
            return {"error": "you are in no room"}
        mode = MODES.get(str(message.get("mode", "do")), Mode.DO)
        raw = clean(str(message.get("text", "")))[:MAX_ACTION]
        with room.lock:
            if member.room is not room:  # left or sent away meanwhile
                return {"error": "you are in no room"}
            if room.taker is not None:
                return {"error": f"{room.taker} is taking a turn"}
            request = turn_request(room.game.campaign, make_action(mode, raw), member.name)
            room.taker = member.name
            room.cancel = threading.Event()
            action = request.action.text if request.action else ""
            room.live = [action]
            room.broadcast({"ev": "turn", "by": member.name, "action": action})
        threading.Thread(target=self._run_turn, args=(room, request, room.cancel),
                         name=f"grue-room-{room.name}", daemon=True).start()
        return {"ok": True}

    def _run_turn(self, room: Room, request: TurnRequest, cancel: threading.Event) -> None:
        def piece(text: str) -> None:
            with room.lock:
                room.live.append(text)
                room.broadcast({"ev": "text", "text": text})

        try:
            result = self._generate(room, request, cancel, piece)
        except BackendError as exc:
            self._failed(room, one_line(str(exc), 300))
            return
        except Exception as exc:  # noqa: BLE001 - one line for the room; the log has it all
            log_exception(f"room {room.name}: a turn failed", exc)
            self._failed(room, f"the turn failed: {one_line(str(exc), 200)}")
            return
        with room.lock:
            room.taker, room.live = None, []
            try:
                turn = room.game.commit(request, result)
            except SaveError as exc:
                room.broadcast({"ev": "notice", "text": f"NOT saved: {one_line(str(exc))}"})
                turn = room.game.campaign.last_turn()
            text = turn.response.strip() if turn is not None else ""
            room.broadcast({"ev": "done", "text": text,
                            "blocks": story_blocks(room.game.campaign)})

    def _generate(self, room: Room, request: TurnRequest, cancel: threading.Event,
                  on_text: Callable[[str], None]) -> GenerationResult:
        backend = room.backend
        if not room.loaded:  # connects to the shared model (it may still be loading)
            backend.load()
            room.loaded = True
        campaign = room.game.campaign
        sampler = campaign.settings.sampler
        if campaign.settings.seed is not None:
            sampler = sampler.with_changes(seed=campaign.settings.seed)
        return generate(backend, make_builder(backend, campaign), request, sampler, cancel,
                        on_text)

    def _failed(self, room: Room, error: str) -> None:
        with room.lock:
            room.taker, room.live = None, []
            room.broadcast({"ev": "failed", "text": error,
                            "blocks": story_blocks(room.game.campaign)})


def turn_request(campaign: Campaign, action: Action, name: str) -> TurnRequest:
    """The engine's request for a member's action, told about them by name."""
    if action.mode is Mode.CONTINUE:
        return TurnRequest("continue", adventure_spec(campaign, None, continuing=True), action)
    text = by_player(action.text, name)
    named = Action(action.mode, action.raw, text)
    return TurnRequest("action", adventure_spec(campaign, text, continuing=False), named)
