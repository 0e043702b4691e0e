"""The SSH front door (asyncssh): keys in, one game per interactive session, clean shutdown.

`GrueServer` listens and keeps the list of sessions (and the status file); `Door` is one SSH
connection (authentication, refused requests); `PlayerSession` is one session channel, joined
to its `PtyGame` (docs/architecture.md, "grue serve").
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import logging
import os
import signal
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import asyncssh

from tui.backends.shared_protocol import PLAYER_ENV, SOCKET_ENV
from tui.core.files import write_atomic
from tui.serve.auth import Allowlist, RateLimit
from tui.serve.files import EventLog, ServeFiles, host_key_problem, short_fingerprint
from tui.serve.model_supervisor import ModelSupervisor
from tui.serve.room_protocol import NAME_ENV, ROOMS_ENV
from tui.serve.rooms import RoomService
from tui.serve.session import HANG_UP_GRACE, PtyGame, game_command, game_env
from tui.serve.status import QueueStatus, ServerStatus, SessionStatus, remove_status

# What a terminal needs back after a game died without tidying up: the normal screen, no mouse
# reporting, a cursor, no bracketed paste.
TERMINAL_RESET = b"\x1b[?1049l\x1b[?1000l\x1b[?1003l\x1b[?1006l\x1b[?25h\x1b[?2004l\x1b[0m"
NEEDS_PTY = "grue: this server runs Grue, which needs a terminal: connect with ssh -t"
NO_COMMANDS = "grue: this server runs no commands, only Grue: connect without a command"
MAX_SOCKET_PATH = 100  # bytes: a Unix socket's path is at most 107 on Linux, 103 on macOS
FULL = "grue: the server is full ({n} games running); try again later"
QUEUE_EVERY = 2.0  # seconds between looks at the shared model's queue (for the status file)


@dataclass(frozen=True)
class ServeConfig:
    files: ServeFiles
    port: int = 2222
    host: str = ""  # "" = every interface
    authorized_keys: Path | None = None
    open_door: bool = False  # any key may register (a new key gets a new player folder)
    model_args: tuple[str, ...] = ()  # the model: --model / --backend / --url
    shared_model: bool = True  # one model process for every game (else each game loads one)
    max_sessions: int = 20
    rate_limit: int = 20  # connections + refused keys per address ...
    rate_window: float = 60.0  # ... in this many seconds
    keepalive: float = 30.0  # seconds between keepalives; 3 unanswered drop the link
    login_timeout: float = 30.0
    hang_up_grace: float = HANG_UP_GRACE


def load_host_key(path: Path, log: EventLog) -> asyncssh.SSHKey:
    """The server's Ed25519 host key, made (mode 0600) on first run."""
    if not path.exists():
        key = asyncssh.generate_private_key("ssh-ed25519")
        write_atomic(path, key.export_private_key(), mode=0o600)
        log(f"made a new host key {path} ({key.get_fingerprint()})")
        return key
    problem = host_key_problem(path)
    if problem:
        raise OSError(problem)
    return asyncssh.read_private_key(str(path))


class GrueServer:
    def __init__(self, config: ServeConfig) -> None:
        self.config = config
        self.files = config.files
        self.files.make()
        self.log = EventLog(self.files.server_log)
        self.allowlist = Allowlist(config.authorized_keys, config.open_door, self.log)
        self.limit = RateLimit(config.rate_limit, config.rate_window)
        self.sessions: dict[int, PlayerSession] = {}
        self.numbers = itertools.count(1)
        self.port = config.port
        self.started = time.time()
        self.closing = False
        self._acceptor: asyncssh.SSHAcceptor | None = None
        self._endings: set[asyncio.Task[None]] = set()
        self.doors: set[Door] = set()
        self._stop = asyncio.Event()
        self.model: ModelSupervisor | None = None
        self.rooms: RoomService | None = None
        self.queue = QueueStatus()  # the shared model's line, as last asked
        self.open_rooms: list[dict[str, Any]] = []  # the shared rooms, as last looked at
        self._queue_task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        _route_asyncssh_log(self.files.server_log)
        key = load_host_key(self.files.host_key, self.log)
        if self.config.shared_model:
            socket = self.files.model_socket
            if len(os.fsencode(socket)) > MAX_SOCKET_PATH:
                raise OSError(f"{socket}: the path is too long for a Unix socket; "
                              "set GRUE_HOME to a shorter folder")
            self.model = ModelSupervisor(socket, self.config.model_args, self.files.model_log,
                                         self.log)
            self.model.start()
            self.rooms = self._room_service(socket)
            self._queue_task = asyncio.get_running_loop().create_task(self._watch_queue())
        self._acceptor = await asyncssh.create_server(
            lambda: Door(self), self.config.host or None, self.config.port,
            server_host_keys=[key], public_key_auth=True, password_auth=False,
            kbdint_auth=False, host_based_auth=False, gss_host=None,
            agent_forwarding=False, x11_forwarding=False, allow_scp=False,
            line_editor=False, encoding=None, session_factory=None,
            keepalive_interval=self.config.keepalive, keepalive_count_max=3,
            login_timeout=self.config.login_timeout)
        self.port = self._acceptor.sockets[0].getsockname()[1]
        door = "open registration" if self.config.open_door else \
            f"keys in {self.config.authorized_keys}"
        self.log(f"listening on port {self.port} ({door}), games: "
                 f"{' '.join(self.config.model_args) or 'default model'}")
        self.write_status()

    def _room_service(self, model_socket: Path) -> RoomService:
        """Shared adventures: each room plays on the shared model as a player of its own."""
        from tui.backends.shared import SharedBackend

        rooms = RoomService(self.files.rooms_socket, self.files.rooms, self.files.player_home,
                            lambda name: SharedBackend(model_socket, player=f"room:{name}"),
                            self.log)
        rooms.start()
        return rooms

    async def run(self, ready: Callable[[GrueServer], None] | None = None) -> None:
        """Serve until SIGTERM or SIGINT, then hang up every game (each saves) and exit."""
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(signum, self._stop.set)
        await self.start()
        if ready is not None:
            ready(self)
        try:
            await self._stop.wait()
        finally:
            await self.shutdown()

    def stop(self) -> None:
        self._stop.set()

    async def shutdown(self) -> None:
        if self.closing:
            return
        self.closing = True
        self.log(f"shutting down: hanging up {len(self.sessions)} games")
        if self._acceptor is not None:
            self._acceptor.close()
        await asyncio.gather(*(s.end("the server is shutting down")
                               for s in list(self.sessions.values())))
        if self._endings:
            await asyncio.gather(*self._endings, return_exceptions=True)
        for door in list(self.doors):
            if door.conn is not None:
                door.conn.close()
        if self._acceptor is not None:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self._acceptor.wait_closed(), 5)
        if self.rooms is not None:
            self.rooms.stop()
        if self._queue_task is not None:
            self._queue_task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._queue_task
        if self.model is not None:
            await self.model.stop()
        remove_status(self.files.status)
        self.log("stopped")

    # --- sessions -------------------------------------------------------------------------

    def full(self) -> bool:
        return len(self.sessions) >= self.config.max_sessions

    def add(self, session: PlayerSession) -> None:
        self.sessions[session.number] = session
        self.write_status()

    def remove(self, session: PlayerSession) -> None:
        if self.sessions.pop(session.number, None) is not None:
            self.write_status()

    def keep(self, task: asyncio.Task[None]) -> None:
        """A session's ending, awaited by a shutdown so no game outlives the server."""
        self._endings.add(task)
        task.add_done_callback(self._endings.discard)

    async def _watch_queue(self) -> None:
        """Ask the shared model for its queue, and the rooms for who is in them, every
        QUEUE_EVERY seconds; a change is written to the status file (`grue serve --status`)."""
        assert self.model is not None
        while not self.closing:
            queue = QueueStatus.from_stats(await self.model.stats())
            rooms = self.rooms.overview() if self.rooms is not None else []
            if queue != self.queue or rooms != self.open_rooms:
                self.queue, self.open_rooms = queue, rooms
                self.write_status()
            await asyncio.sleep(QUEUE_EVERY)

    def write_status(self) -> None:
        if self.closing:
            return
        status = ServerStatus(pid=os.getpid(), port=self.port, started=self.started,
                              max_sessions=self.config.max_sessions,
                              sessions=[s.status() for s in self.sessions.values()],
                              queue=self.queue if self.model is not None else None,
                              rooms=self.open_rooms)
        try:
            status.write(self.files.status)
        except OSError as exc:
            self.log(f"cannot write {self.files.status}: {exc}")


def _route_asyncssh_log(path: Path) -> None:
    """asyncssh's own warnings go to the server log, never to the operator's terminal."""

    class Handler(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            EventLog(path)(f"asyncssh: {record.getMessage()}")

    log = logging.getLogger("asyncssh")
    log.handlers = [Handler(logging.WARNING)]
    log.propagate = False


class Door(asyncssh.SSHServer):
    """One SSH connection: who it is (a key), and what it may open (a session, nothing else)."""

    def __init__(self, server: GrueServer) -> None:
        self.server = server
        self.conn: asyncssh.SSHServerConnection | None = None
        self.addr = ""
        self.key: asyncssh.SSHKey | None = None
        self.fingerprint = ""
        self.username = ""  # shown to others in a room (the key is who the player is)

    def connection_made(self, conn: asyncssh.SSHServerConnection) -> None:
        self.conn = conn
        self.server.doors.add(self)
        peer = conn.get_extra_info("peername") or ("?", 0)
        self.addr = str(peer[0])
        limit = self.server.limit
        if self.server.closing or limit.over(self.addr):
            self.server.log(f"{self.addr}: refused (too many attempts, or shutting down)")
            asyncio.get_running_loop().call_soon(
                conn.disconnect, asyncssh.DISC_TOO_MANY_CONNECTIONS,
                "too many attempts from your address: wait a minute")
            return
        limit.count(self.addr)

    def connection_lost(self, exc: Exception | None) -> None:
        self.server.doors.discard(self)

    def begin_auth(self, username: str) -> bool:
        self.username = username
        return True  # every connection must show a key

    def password_auth_supported(self) -> bool:
        return False

    def kbdint_auth_supported(self) -> bool:
        return False

    def public_key_auth_supported(self) -> bool:
        return True

    def validate_public_key(self, username: str, key: asyncssh.SSHKey) -> bool:
        """Asked for each key offered, and again with its signature: the last key accepted
        is the one the player signed with (asyncssh checks the signature after this)."""
        if self.server.limit.over(self.addr):
            return False
        if self.server.allowlist.allows(key, self.addr, self.addr):
            self.key = key
            return True
        self.server.limit.count(self.addr)
        self.server.log(f"{self.addr}: refused key {key.get_fingerprint()}")
        return False

    def auth_completed(self) -> None:
        assert self.key is not None
        self.fingerprint = self.key.get_fingerprint("sha256")
        home = self.server.files.player_home(self.fingerprint)
        if not home.exists():
            home.mkdir(parents=True, mode=0o700)
            self.server.log(f"new player {self.fingerprint} -> {home}")
        key_file = home / "key.pub"
        if not key_file.exists():
            with contextlib.suppress(OSError):
                key_file.write_bytes(self.key.export_public_key())
        self.server.log(f"{self.addr}: {self.fingerprint} logged in")

    def session_requested(self) -> PlayerSession:
        return PlayerSession(self.server, self)

    # Nothing but sessions: no port forwarding either way, no sockets, no tunnels.
    def connection_requested(self, *args: Any) -> bool:
        self.server.log(f"{self.addr}: refused a port forward")
        return False

    def server_requested(self, *args: Any) -> bool:
        self.server.log(f"{self.addr}: refused a remote port forward")
        return False

    def unix_connection_requested(self, *args: Any) -> bool:
        return False

    def unix_server_requested(self, *args: Any) -> bool:
        return False

    def tun_requested(self, *args: Any) -> bool:
        return False

    def tap_requested(self, *args: Any) -> bool:
        return False


class PlayerSession(asyncssh.SSHServerSession):  # type: ignore[type-arg]
    """One session channel: a pty request and a shell start a game; all else is refused."""

    def __init__(self, server: GrueServer, door: Door) -> None:
        self.server = server
        self.door = door
        self.number = next(server.numbers)
        self.chan: asyncssh.SSHServerChannel[bytes] | None = None
        self.term: str | None = None
        self.size = (80, 24)
        self.refusal: str | None = None
        self.game: PtyGame | None = None
        self.since = time.time()
        self.log = EventLog(server.files.session_log(door.fingerprint, self.number))
        self.ending: asyncio.Task[None] | None = None
        self.hung_up = False  # the player left: nothing more is sent
        self.why_ended: str | None = None  # the server hung the game up, and why

    def connection_made(self, chan: asyncssh.SSHServerChannel[bytes]) -> None:
        self.chan = chan

    def pty_requested(self, term_type: str, term_size: tuple[int, int, int, int],
                      term_modes: Any) -> bool:
        self.term = term_type
        if term_size[0] and term_size[1]:
            self.size = (term_size[0], term_size[1])
        return True

    def shell_requested(self) -> bool:
        if self.term is None:
            self.refusal = NEEDS_PTY
        return True

    def exec_requested(self, command: str) -> bool:
        self.refusal = NO_COMMANDS  # accepted only to say so; then the channel ends
        self.server.log(f"{self.door.addr}: {self.door.fingerprint} refused a command")
        return True

    def subsystem_requested(self, subsystem: str) -> bool:
        self.server.log(f"{self.door.addr}: {self.door.fingerprint} refused subsystem "
                        f"{subsystem!r}")
        return False

    def session_started(self) -> None:
        if self.refusal is None and self.server.full():
            self.refusal = FULL.format(n=len(self.server.sessions))
        if self.refusal is not None or self.server.closing:
            self._refuse(self.refusal or "grue: the server is shutting down")
            return
        self.ending = asyncio.get_running_loop().create_task(self._play())
        self.server.keep(self.ending)

    def _refuse(self, message: str) -> None:
        assert self.chan is not None
        self.chan.write_stderr(message.encode() + b"\r\n")
        self.chan.exit(1)

    async def _play(self) -> None:
        term = self.term or "xterm"
        home = self.server.files.player_home(self.door.fingerprint)
        self.game = PtyGame(*self._command(home, term), self.size, self._output,
                            self._game_ended)
        self.server.add(self)
        self.log(f"{self.door.fingerprint} from {self.door.addr}, TERM={term}, "
                 f"{self.size[0]}x{self.size[1]}, home {home}")
        try:
            await self.game.start()
        except OSError as exc:
            self.log(f"cannot start the game: {exc}")
            self.server.remove(self)
            self._refuse(f"grue: the game could not start ({exc})")
            return
        self.log(f"game started, pid {self.game.pid}")
        if self.why_ended is not None:  # hung up while it was starting
            await self.game.hang_up(self.server.config.hang_up_grace)
        self.server.write_status()
        await self.game.done.wait()

    def _command(self, home: Path, term: str) -> tuple[list[str], dict[str, str]]:
        """The game's command and environment: pinned to the shared model, or (without one)
        given the server's model options."""
        model = self.server.model
        if model is None:
            return game_command(self.server.config.model_args), game_env(home, term)
        shared = {SOCKET_ENV: str(model.socket), PLAYER_ENV: self.door.fingerprint,
                  NAME_ENV: self.door.username}
        if self.server.rooms is not None:
            shared[ROOMS_ENV] = str(self.server.rooms.socket_path)
        return game_command(()), game_env(home, term, shared)

    def _output(self, data: bytes) -> None:
        if self.chan is not None and not self.hung_up:
            with contextlib.suppress(OSError):  # the channel closed under us: the end follows
                self.chan.write(data)

    def _game_ended(self, code: int) -> None:
        self.log(f"game ended with status {code}")
        self.server.remove(self)
        if self.hung_up or self.chan is None:
            return
        with contextlib.suppress(OSError):  # the player may be gone already
            self._say_goodbye(self.chan, code)

    def _say_goodbye(self, chan: asyncssh.SSHServerChannel[bytes], code: int) -> None:
        if self.why_ended is not None:
            chan.write(TERMINAL_RESET + f"\r\ngrue: {self.why_ended}; your game is"
                       " saved\r\n".encode())
            chan.exit(0)
            return
        if code != 0:  # killed or crashed: give the terminal back and say so
            chan.write(TERMINAL_RESET + f"\r\ngrue: the game ended unexpectedly (status"
                       f" {code}); your saves are kept\r\n".encode())
        chan.exit(code if 0 <= code < 256 else 1)

    async def end(self, why: str) -> None:
        """Hang the game up (it saves and leaves), then close the channel."""
        self.log(f"hang up: {why}")
        self.why_ended = why
        game = self.game
        if game is not None and game.exit_code is None:
            await game.hang_up(self.server.config.hang_up_grace)

    # --- from the player ------------------------------------------------------------------

    def data_received(self, data: bytes, datatype: int | None) -> None:
        if self.game is not None:
            self.game.write(data)

    def terminal_size_changed(self, width: int, height: int, pixwidth: int,
                              pixheight: int) -> None:
        if not (width and height):
            return
        self.size = (width, height)
        if self.game is not None:
            self.game.resize(width, height)
            self.log(f"resized to {width}x{height}")
            self.server.write_status()

    def eof_received(self) -> bool:
        return True  # the player's input ended; the game goes on until the link drops

    def break_received(self, msec: int) -> bool:
        return False

    def pause_writing(self) -> None:
        if self.game is not None:
            self.game.pause_output()

    def resume_writing(self) -> None:
        if self.game is not None:
            self.game.resume_output()

    def connection_lost(self, exc: Exception | None) -> None:
        """The player left (or the link dropped): the game saves and leaves."""
        self.hung_up = True
        if self.game is not None and self.game.exit_code is None:
            self.server.keep(asyncio.get_running_loop().create_task(
                self.end("the player disconnected")))

    def status(self) -> SessionStatus:
        return SessionStatus(player=short_fingerprint(self.door.fingerprint), since=self.since,
                             term=self.term or "", size=f"{self.size[0]}x{self.size[1]}",
                             address=self.door.addr, child=self.game.pid if self.game else None)


def serve(config: ServeConfig, ready: Callable[[GrueServer], None] | None = None) -> int:
    """Run a server until SIGTERM/SIGINT (the `grue serve` command)."""
    asyncio.run(GrueServer(config).run(ready))
    return 0


def model_args(model: str | None, backend: str | None, url: str | None) -> Sequence[str]:
    args: list[str] = []
    for flag, value in (("--model", model), ("--backend", backend), ("--url", url)):
        if value:
            args += [flag, value]
    return args
