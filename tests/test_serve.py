"""`grue serve` (issue 11): a real asyncssh client against a real server process on 127.0.0.1,
with throwaway keys. Each session runs the real TUI in a pty; where a game needs a model it is
the stand-in OpenAI-compatible server of tests/test_hangup_pty.py, which streams slowly when
asked, so a disconnect can land mid-reply."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

asyncssh = pytest.importorskip("asyncssh")

from remote_standin import Request, StandIn, completion_event, send_json, send_sse  # noqa: E402

from tui.engine.campaign import Settings, Turn, campaign_from_scenario  # noqa: E402
from tui.engine.saves import list_saves, load_save, write_save  # noqa: E402
from tui.engine.saves.lock import release  # noqa: E402
from tui.engine.scenario import find_scenario  # noqa: E402
from tui.serve.files import ServeFiles, fingerprint_name  # noqa: E402
from tui.serve.status import read_status, status_lines  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
WAIT = 30.0  # generous: a behaviour check, not a timing
HOME_SCREEN = b"G R U E"
MODELS = {"object": "list", "data": [{"id": "stand-in", "object": "model"}]}
QUICK_REPLY = "The road is quiet."
SLOW = [f"word{i} " for i in range(400)]


class Model(StandIn):
    """The first turn is answered at once, later ones slowly (so a hang-up lands mid-stream)."""

    def __init__(self) -> None:
        super().__init__()
        self.turns = 0
        self.slow_started = threading.Event()
        self.finished = 0  # streams read to their end
        self.route("GET", "/v1/models")(lambda req, conn: send_json(conn, MODELS))
        self.route("POST", "/v1/completions")(self.complete)

    def complete(self, req: Request, conn: Any) -> None:
        self.turns += 1
        slow = self.turns > 1
        if slow:
            self.slow_started.set()
        words = SLOW if slow else ["You look around. ", QUICK_REPLY]
        with contextlib.suppress(OSError):
            send_sse(conn, [completion_event(w) for w in words]
                     + [completion_event("", "stop"), "data: [DONE]"],
                     delay=0.05 if slow else 0.0)
            self.finished += 1


class Server:
    """`grue serve` in a process of its own, on a free port of 127.0.0.1."""

    def __init__(self, home: Path, args: list[str]) -> None:
        self.files = ServeFiles(home / "serve")
        env = {**os.environ, "GRUE_HOME": str(home), "PYTHONPATH": str(REPO)}
        self.out = home.parent / "serve.out"  # what the server printed
        with self.out.open("ab") as out:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "tui.cli", "serve", "--host", "127.0.0.1", "--port", "0",
                 *args], env=env, stdout=out, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + WAIT
        while True:
            status = read_status(self.files.status)
            if status is not None and status.pid == self.proc.pid:
                self.port = status.port
                return
            if self.proc.poll() is not None or time.monotonic() > deadline:
                out = self.out.read_text(errors="replace")[-2000:]
                raise AssertionError(f"the server did not start: {out}")
            time.sleep(0.05)

    def sessions(self) -> list[Any]:
        status = read_status(self.files.status)
        return status.sessions if status else []

    def log(self) -> str:
        return self.files.server_log.read_text(encoding="utf-8")

    def stop(self) -> int:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        try:
            return self.proc.wait(WAIT)
        finally:
            if self.proc.poll() is None:
                self.proc.kill()
                self.proc.wait()


@pytest.fixture
def serve(grue_home: Path) -> Iterator[Callable[..., Server]]:
    started: list[Server] = []

    def start(*args: str) -> Server:
        server = Server(grue_home, list(args))
        started.append(server)
        return server

    yield start
    for server in started:
        server.stop()


@pytest.fixture
def model() -> Iterator[Model]:
    with Model() as server:
        yield server


def new_key() -> Any:
    return asyncssh.generate_private_key("ssh-ed25519")


def allowlist(path: Path, *keys: Any) -> Path:
    path.write_bytes(b"".join(k.export_public_key() for k in keys))
    return path


def connect(port: int, key: Any | None, username: str = "anyone", **kw: Any) -> Any:
    """A client that offers exactly `key` (None: no key at all), never the agent's."""
    return asyncssh.connect("127.0.0.1", port, username=username, known_hosts=None,
                            client_keys=[key] if key is not None else None, agent_path=None,
                            config=None, **kw)


class Player:
    """An interactive session: a pty of `size`, everything the game writes collected."""

    def __init__(self, conn: Any, proc: Any) -> None:
        self.conn = conn
        self.proc = proc
        self.output = bytearray()
        self._pump = asyncio.get_running_loop().create_task(self._read())

    @classmethod
    async def join(cls, port: int, key: Any, size: tuple[int, int] = (80, 24),
                   username: str = "anyone") -> Player:
        conn = await connect(port, key, username)
        proc = await conn.create_process(term_type="xterm-256color", term_size=size,
                                         encoding=None)
        return cls(conn, proc)

    async def _read(self) -> None:
        while True:
            try:
                data = await self.proc.stdout.read(65536)
            except (asyncssh.Error, OSError):  # the server went away
                return
            if not data:
                return
            self.output += data

    def mark(self) -> int:
        return len(self.output)

    async def wait_for(self, needle: bytes, start: int = 0, timeout: float = WAIT) -> None:
        deadline = time.monotonic() + timeout
        while needle not in self.output[start:]:
            if self._pump.done() or time.monotonic() > deadline:
                tail = bytes(self.output[-1500:]).decode("utf-8", "replace")
                raise AssertionError(f"no {needle!r} (ended: {self._pump.done()}):\n{tail}")
            await asyncio.sleep(0.05)

    def type(self, data: bytes) -> None:
        self.proc.stdin.write(data)

    async def leave(self) -> None:
        self.conn.close()
        with contextlib.suppress(Exception):
            await self.conn.wait_closed()
        await self._pump


@pytest.fixture
async def players() -> AsyncIterator[list[Player]]:
    joined: list[Player] = []
    yield joined
    for player in joined:
        await player.leave()


async def until(check: Callable[[], bool], what: str, timeout: float = WAIT) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.05)


def gone(pid: int) -> bool:
    """No such process (reaped), not merely a zombie."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    return Path(f"/proc/{pid}/stat").read_text().split()[2] == "X"


def ended(pid: int) -> bool:
    """Gone, or a zombie waiting for whoever adopted it."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().split()[2] in "ZX"
    except OSError:
        return True


# --- the front door -----------------------------------------------------------------------


async def test_refused_without_a_key_and_with_an_unknown_key(serve, tmp_path: Path) -> None:
    listed, stranger = new_key(), new_key()
    server = serve("--authorized-keys", str(allowlist(tmp_path / "keys", listed)))
    with pytest.raises(asyncssh.PermissionDenied):
        async with connect(server.port, None, password="guess"):
            pass
    with pytest.raises(asyncssh.PermissionDenied):
        async with connect(server.port, stranger):
            pass
    assert not any(server.files.players.iterdir())  # no folder for anyone refused
    assert f"refused key {stranger.get_fingerprint()}" in server.log()
    host_key = server.files.host_key
    assert host_key.stat().st_mode & 0o777 == 0o600


async def test_a_listed_key_plays_and_the_list_is_read_at_every_login(
        serve, players: list[Player], tmp_path: Path) -> None:
    first, second = new_key(), new_key()
    keys = allowlist(tmp_path / "keys", first)
    server = serve("--authorized-keys", str(keys))
    players.append(await Player.join(server.port, first))
    await players[0].wait_for(HOME_SCREEN)
    home = server.files.player_home(first.get_fingerprint())
    assert (home / "key.pub").read_bytes() == first.export_public_key()
    [session] = server.sessions()
    assert session.player == "SHA256:" + first.get_fingerprint()[7:19]
    assert session.term == "xterm-256color" and session.size == "80x24"

    allowlist(keys, second)  # edited while the server runs: the second key in, the first out
    async with connect(server.port, second):
        pass
    with pytest.raises(asyncssh.PermissionDenied):
        async with connect(server.port, first):
            pass


async def test_open_registration_gives_a_new_key_its_own_folder(
        serve, players: list[Player]) -> None:
    server = serve("--open")
    key = new_key()
    players.append(await Player.join(server.port, key))
    await players[0].wait_for(HOME_SCREEN)
    home = server.files.players / fingerprint_name(key.get_fingerprint())
    assert (home / "key.pub").is_file()
    assert (home / "saves").is_dir()  # the game runs with this folder as its home
    assert f"new player {key.get_fingerprint()}" in server.log()


async def test_only_interactive_sessions_are_served(serve) -> None:
    server = serve("--open")
    async with connect(server.port, new_key()) as conn:
        ran = await conn.run("cat /etc/passwd", encoding=None)
        assert ran.exit_status == 1 and ran.stdout == b""
        assert b"runs no commands" in ran.stderr
        shell = await conn.run(encoding=None)  # a shell without a pty
        assert shell.exit_status == 1 and b"needs a terminal" in shell.stderr
        with pytest.raises(asyncssh.ChannelOpenError):  # the subsystem is refused
            await conn.start_sftp_client()
        with pytest.raises(asyncssh.ChannelOpenError):
            await conn.open_connection("127.0.0.1", server.port)
        with pytest.raises(asyncssh.ChannelListenError):
            await conn.start_server(lambda *a: None, "127.0.0.1", 0)
    assert server.sessions() == []


async def test_too_many_attempts_from_one_address_are_refused(serve, tmp_path: Path) -> None:
    listed = new_key()
    server = serve("--authorized-keys", str(allowlist(tmp_path / "keys", listed)),
                   "--max-attempts", "4")
    for _ in range(2):  # a connection and a refused key each count
        with pytest.raises(asyncssh.PermissionDenied):
            async with connect(server.port, new_key()):
                pass
    with pytest.raises((asyncssh.DisconnectError, ConnectionError)):
        async with connect(server.port, listed):  # even the right key, until the minute ends
            pass
    assert "too many attempts" in server.log()


async def test_the_session_cap(serve, players: list[Player]) -> None:
    server = serve("--open", "--max-sessions", "1")
    players.append(await Player.join(server.port, new_key()))
    await players[0].wait_for(HOME_SCREEN)
    async with connect(server.port, new_key()) as conn:
        proc = await conn.create_process(term_type="xterm", term_size=(80, 24), encoding=None)
        assert await proc.wait_closed() is None
        assert proc.exit_status == 1
        assert b"server is full" in await proc.stderr.read()
    assert len(server.sessions()) == 1


# --- a game per session -------------------------------------------------------------------


async def test_a_resize_reaches_the_game(serve, players: list[Player]) -> None:
    server = serve("--open")
    player = await Player.join(server.port, new_key(), size=(80, 24))
    players.append(player)
    await player.wait_for(HOME_SCREEN)
    assert b"\x1b[40;" not in player.output  # 24 rows: nothing is drawn on row 40
    mark = player.mark()
    player.proc.change_terminal_size(100, 40)
    await player.wait_for(b"\x1b[40;", mark)  # the footer moved to the new last row
    await until(lambda: server.sessions()[0].size == "100x40", "the new size in the status")
    code, lines = status_lines(server.files.status)
    assert code == 0 and "1 of 20 sessions" in lines[0] and "100x40" in lines[1]


def played_save(home: Path, url: str) -> Path:
    """A save with one turn played, in a player's own home folder, on the stand-in model.
    A slow reply takes 20 s (400 words, 50 ms apart) and is not cut at fewer tokens: the
    tests' hang-ups land mid-reply however slow the machine (at 48 tokens a reply was done in
    2.4 s, and a complete reply is rightly kept)."""
    settings = Settings(backend="openai", url=url, n_ctx=2048, max_new_tokens=len(SLOW))
    campaign = campaign_from_scenario(find_scenario("lantern-road"), settings)
    campaign.turns.append(Turn("do", "> You walk on.", ["The lantern flickers."]))
    folder = write_save(campaign, home / "saves")
    release(folder)
    return folder


async def resume_and_play(server: Server, model: Model, key: Any) -> tuple[Player, Path]:
    """Join, continue the save from the home screen, play a quick turn, start a slow one."""
    home = server.files.player_home(key.get_fingerprint())
    played_save(home, model.url)
    player = await Player.join(server.port, key)
    await player.wait_for(b"ready (")  # the home screen, its model loaded
    mark = player.mark()
    player.type(b"\r")  # the highlighted entry: the save
    await player.wait_for(b"The lantern flickers.", mark)
    await player.wait_for("ready · F1".encode(), mark)  # the status line: the model is loaded
    mark = player.mark()
    player.type(b"look\r")
    await player.wait_for(QUICK_REPLY.encode(), mark)
    player.type(b"listen\r")
    await until(model.slow_started.is_set, "the slow turn")
    await player.wait_for(b"word3")
    return player, home


def the_save(home: Path) -> Any:
    [summary] = list_saves(home / "saves")
    return load_save(summary.path)


async def test_a_disconnect_mid_reply_saves_and_leaves_no_process(
        serve, model: Model) -> None:
    server = serve("--open", "--backend", "openai", "--url", model.url)
    key = new_key()
    player, home = await resume_and_play(server, model, key)
    [session] = server.sessions()
    await player.leave()
    await until(lambda: not server.sessions(), "the session to end")
    assert gone(session.child)
    saved = the_save(home)
    assert [t.action for t in saved.turns[-2:]] == ["> You walk on.", "> You look."]
    assert QUICK_REPLY in saved.turns[-1].response  # the cut reply is not kept
    assert model.finished == 1  # the slow stream was stopped mid-way
    [log] = server.files.logs.glob("*-1.log")
    assert "game ended with status 0" in log.read_text()  # it left on the hang-up, not a kill


async def test_sigterm_hangs_up_every_game_then_the_server_exits(
        serve, model: Model) -> None:
    server = serve("--open", "--backend", "openai", "--url", model.url)
    player, home = await resume_and_play(server, model, new_key())
    [session] = server.sessions()
    mark = player.mark()
    assert await asyncio.to_thread(server.stop) == 0
    await player.wait_for(b"the server is shutting down; your game is saved", mark)
    assert gone(session.child)
    assert the_save(home).turns[-1].action == "> You look."
    assert not server.files.status.exists()
    code, [line] = status_lines(server.files.status)
    assert code == 1 and "no server is running" in line
    await player.leave()


async def test_a_server_killed_outright_still_lets_its_games_save(
        serve, model: Model) -> None:
    """The game's pty is its controlling terminal: when the server dies, the kernel hangs the
    game up (SIGHUP), and it saves and leaves as on a disconnect."""
    server = serve("--open", "--backend", "openai", "--url", model.url)
    player, home = await resume_and_play(server, model, new_key())
    [session] = server.sessions()
    server.proc.kill()
    server.proc.wait(WAIT)
    await until(lambda: ended(session.child), "the orphaned game to end")
    assert the_save(home).turns[-1].action == "> You look."
    assert model.finished == 1
    await player.leave()


async def test_a_crashed_game_leaves_the_other_sessions_alone(
        serve, players: list[Player]) -> None:
    server = serve("--open")
    crashing, other = new_key(), new_key()
    players.extend([await Player.join(server.port, crashing),
                    await Player.join(server.port, other)])
    for player in players:
        await player.wait_for(HOME_SCREEN)
    victim = next(s for s in server.sessions() if crashing.get_fingerprint()[7:19] in s.player)
    os.kill(victim.child, signal.SIGKILL)
    await players[0].wait_for(b"the game ended unexpectedly")
    await until(lambda: players[0].proc.exit_status is not None, "the crashed session to close")
    assert players[0].proc.exit_status == 1
    assert b"\x1b[?1049l" in players[0].output  # the player's terminal was given back
    [left] = server.sessions()
    assert other.get_fingerprint()[7:19] in left.player
    mark = players[1].mark()
    players[1].proc.change_terminal_size(90, 40)  # the other game still answers
    await players[1].wait_for(b"\x1b[40;", mark)


def test_status_without_a_server(grue_home: Path) -> None:
    code, [line] = status_lines(ServeFiles(grue_home / "serve").status)
    assert code == 1 and line.startswith("grue serve: no server is running")
    result = subprocess.run([sys.executable, "-m", "tui.cli", "serve", "--status"],
                            env={**os.environ, "PYTHONPATH": str(REPO)}, capture_output=True,
                            text=True, timeout=WAIT)
    assert result.returncode == 1 and result.stdout.count("\n") == 1


def test_serve_needs_a_way_in(grue_home: Path) -> None:
    result = subprocess.run([sys.executable, "-m", "tui.cli", "serve"],
                            env={**os.environ, "PYTHONPATH": str(REPO)}, capture_output=True,
                            text=True, timeout=WAIT)
    assert result.returncode == 2
    assert result.stderr.strip() == ("grue: grue serve needs --authorized-keys FILE, or --open"
                                     " to let any key in")


# --- shared adventures (rooms) --------------------------------------------------------------

ROOM_REPLIES = ["The gate groans open.", "A bell answers from the tower."]


class RoomModel(StandIn):
    """Quick replies, one per turn, in order: each turn's narration is told apart."""

    def __init__(self) -> None:
        super().__init__()
        self.turns = 0
        self.route("GET", "/v1/models")(lambda req, conn: send_json(conn, MODELS))
        self.route("POST", "/v1/completions")(self.complete)

    def complete(self, req: Request, conn: Any) -> None:
        reply = ROOM_REPLIES[min(self.turns, len(ROOM_REPLIES) - 1)]
        self.turns += 1
        with contextlib.suppress(OSError):
            send_sse(conn, [completion_event(w + " ") for w in reply.split()]
                     + [completion_event("", "stop"), "data: [DONE]"])


async def in_an_adventure(server: Server, url: str, name: str) -> Player:
    """A player (SSH user `name`) in their own save, its model loaded."""
    key = new_key()
    played_save(server.files.player_home(key.get_fingerprint()), url)
    player = await Player.join(server.port, key, username=name)
    await player.wait_for(b"ready (")
    mark = player.mark()
    player.type(b"\r")
    await player.wait_for(b"The lantern flickers.", mark)
    await player.wait_for("ready · F1".encode(), mark)
    return player


def status_turns(server: Server) -> int:
    status = read_status(server.files.status)
    assert status is not None
    return int(status.rooms[0]["turns"])


def places(output: bytes, needles: list[bytes]) -> list[int]:
    return [output.find(needle) for needle in needles]


async def test_two_players_in_one_room_see_the_same_narration_in_the_same_order(
        serve, players: list[Player]) -> None:
    with RoomModel() as model:
        server = serve("--open", "--backend", "openai", "--url", model.url)
        ana = await in_an_adventure(server, model.url, "ana")
        players.append(ana)
        bo = await in_an_adventure(server, model.url, "bo")
        players.append(bo)
        ana.type(b"/room open inn\r")
        await ana.wait_for(b"room inn")
        bo.type(b"/room join inn\r")
        await bo.wait_for(b"Ana (host), Bo")
        start = [ana.mark(), bo.mark()]
        ana.type(b"look around\r")
        for player in (ana, bo):
            await player.wait_for(ROOM_REPLIES[0].encode())
        bo.type(b"say hello\r")
        for player in (ana, bo):
            await player.wait_for(ROOM_REPLIES[1].encode())
        story = [b"Ana looks around.", ROOM_REPLIES[0].encode(), b'Bo says "Hello."',
                 ROOM_REPLIES[1].encode()]
        for player, mark in zip((ana, bo), start, strict=True):
            seen = places(bytes(player.output[mark:]), story)
            assert -1 not in seen and seen == sorted(seen), seen
        await until(lambda: bool((status := read_status(server.files.status))
                                 and status.rooms and status.rooms[0]["turns"] >= 3),
                    "the room in the status")
        code, lines = status_lines(server.files.status)
        at = lines.index("rooms: 1")
        assert lines[at + 1].split() == ["inn", str(status_turns(server)), "turns", "host",
                                         "Ana", "players", "Ana,", "Bo"], lines
        [saved] = list_saves(server.files.root / "rooms" / "inn")
        assert [t.action for t in load_save(saved.path).turns[-2:]] == \
            ["> Ana looks around.", '> Bo says "Hello."']


async def test_a_served_game_keeps_typed_paths_in_the_players_folder(
        serve, model: Model, players: list[Player]) -> None:
    """`/lore FILE` with a path out of the player's folder is one line naming it; and the
    status shows the shared model's queue (answering) and no rooms."""
    server = serve("--open", "--backend", "openai", "--url", model.url)
    player = await Player.join(server.port, new_key())
    players.append(player)
    await player.wait_for(b"ready (")
    player.type(b"\r")  # a new adventure: the first scenario
    await player.wait_for("ready · F1".encode())
    mark = player.mark()
    player.type(b"/lore /etc/passwd\r")
    await player.wait_for(b"/etc/passwd: outside", mark)
    await until(lambda: bool((status := read_status(server.files.status)) and status.queue
                             and status.queue.up), "the model's queue in the status")
    code, lines = status_lines(server.files.status)
    assert code == 0 and lines[2].startswith("model queue: running nothing; waiting: nobody")
    assert lines[-1] == "rooms: none"
