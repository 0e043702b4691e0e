"""`grue serve`'s shared model (issue 11 item 3): the model process on the real SmolLM2, its
protocol, the games' SharedBackend, the fair queue, per-player prompt caches, and a restart
after the process dies (docs/architecture.md, "grue serve")."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import socket
import stat
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tui.backends.shared import GONE, SharedBackend
from tui.backends.shared_protocol import Reader, send
from tui.core.backend import Backend, BackendError, Prompt
from tui.core.sampler import Sampler
from tui.serve.fair_queue import FairQueue

REPO = Path(__file__).resolve().parents[1]
WAIT = 60.0  # generous: a behaviour check, not a timing
STORY = ("The old lighthouse stood at the edge of the cliff, its lamp long dark. Waves broke "
         "against the rocks below, and gulls wheeled over the grey water. ")


@pytest.fixture
def short_dir() -> Iterator[Path]:
    """A folder with a short path: a Unix socket's path is at most ~100 bytes."""
    with tempfile.TemporaryDirectory(prefix="grue-", dir="/tmp") as folder:
        yield Path(folder)


def start_model(smol_path: Path, folder: Path, *extra: str) -> subprocess.Popen[bytes]:
    sock = folder / "model.sock"
    proc = subprocess.Popen(
        [sys.executable, "-m", "tui.serve.model_proc", "--socket", str(sock), "--model",
         str(smol_path), "--ctx", "2048", "--log", str(folder / "llama.log"), "--watch-stdin",
         *extra],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
        cwd=REPO, env={**os.environ, "PYTHONPATH": str(REPO)})
    assert proc.stdout is not None
    line = proc.stdout.readline().decode()  # "ready on ..." once it listens
    assert "ready on" in line, line
    return proc


@pytest.fixture
def model(smol_path: Path, short_dir: Path) -> Iterator[Path]:
    proc = start_model(smol_path, short_dir)
    try:
        yield short_dir / "model.sock"
    finally:
        proc.kill()
        proc.wait()


class Raw:
    """A game speaking the protocol by hand, so several jobs can be in the queue at once."""

    def __init__(self, path: Path, player: str) -> None:
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.connect(str(path))
        self.reader = Reader(self.sock)
        self.player = player
        self.messages: list[dict[str, Any]] = []
        send(self.sock, {"op": "hello", "id": 0, "player": player})
        self.hello = self.wait(lambda m: m.get("id") == 0)

    def wait(self, done: Any) -> dict[str, Any]:
        deadline = time.monotonic() + WAIT
        while time.monotonic() < deadline:
            message = self.reader.next(0.5)
            if message is not None:
                self.messages.append(message)
                if done(message):
                    return message
        raise AssertionError(f"{self.player}: no answer")

    def generate(self, number: int, tokens: list[int], max_tokens: int = 6, slot: str = "",
                 schema: dict[str, Any] | None = None) -> None:
        message = {"op": "generate", "id": number, "tokens": tokens,
                   "sampler": Sampler(max_tokens=max_tokens, seed=1).to_dict(), "stop": [],
                   "slot": slot}
        if schema is not None:
            message["schema"] = schema
        send(self.sock, message)

    def keep_busy(self, number: int, max_tokens: int = 1500) -> None:
        """A job that holds the model a while whatever it samples (SmolLM2's text, and so
        where it ends, differs from one CPU to another): ~800 prompt tokens to read, none of
        them cached, then up to `max_tokens` to write."""
        self.generate(number, [1, *self.tokenize(f"Part {number}. " + STORY * 24)],
                      max_tokens=max_tokens)

    def tokenize(self, text: str) -> list[int]:
        send(self.sock, {"op": "tokenize", "id": -1, "text": text})
        return list(self.wait(lambda m: m.get("id") == -1)["tokens"])

    def close(self) -> None:
        self.sock.close()


def test_the_socket_is_private(model: Path) -> None:
    assert stat.S_IMODE(model.stat().st_mode) == 0o600


def test_a_generation_streams_what_the_local_model_streams(model: Path,
                                                           smol_backend: Backend) -> None:
    shared = SharedBackend(model, player="A")
    info = shared.load()
    assert info.name == smol_backend.info.name and info.n_ctx == smol_backend.info.n_ctx
    text = "The door creaks open and"
    tokens = shared.prefix_tokens() + shared.tokenize(text)
    assert shared.tokenize(text) == smol_backend.tokenize(text)
    assert shared.detokenize(tokens[1:]) == smol_backend.detokenize(tokens[1:])
    sampler = Sampler(max_tokens=24, temperature=0.8, seed=1234)
    local = "".join(smol_backend.stream(Prompt(tokens, text), sampler, [], threading.Event()))
    remote = "".join(shared.stream(Prompt(tokens, text), sampler, [], threading.Event()))
    assert remote == local and remote.strip()
    shared.close()


def test_cancel_stops_a_generation_and_a_waiting_one(model: Path) -> None:
    shared = SharedBackend(model, player="A")
    shared.load()
    tokens = shared.prefix_tokens() + shared.tokenize(STORY)
    cancel = threading.Event()
    pieces = []
    for piece in shared.stream(Prompt(tokens, ""), Sampler(max_tokens=1500, seed=3), [],
                               cancel):
        pieces.append(piece)
        if len(pieces) == 2:
            cancel.set()
    assert shared.last_stats.get("cancelled") is True
    assert len(pieces) < 50  # a handful in flight when Esc landed, not 1500 tokens
    # A job still waiting in the queue is taken out of it.
    busy = Raw(model, "B")
    busy.keep_busy(1)
    busy.wait(lambda m: m.get("started"))
    waiting = Raw(model, "C")
    waiting.generate(7, tokens)
    waiting.wait(lambda m: "queued" in m)
    send(waiting.sock, {"op": "cancel", "id": 7})
    end = waiting.wait(lambda m: m.get("done"))
    assert end["cancelled"] is True and not any(m.get("started") for m in waiting.messages)
    busy.close()
    waiting.close()


def test_three_players_one_model_no_one_waits_for_two_jobs_of_another(model: Path) -> None:
    players = {name: Raw(model, name) for name in "ABC"}
    tokens = [1, *players["A"].tokenize("Once upon a time")]
    for raw in players.values():
        for k in range(3):
            raw.generate(k, tokens)
    for raw in players.values():
        for k in range(3):
            raw.wait(lambda m, k=k: m.get("id") == k and m.get("done"))
    stats = players["A"]
    send(stats.sock, {"op": "stats", "id": 99})
    served = stats.wait(lambda m: m.get("id") == 99)["served"]
    assert sorted((s["player"], s["id"]) for s in served) == \
        sorted((p, k) for p in "ABC" for k in range(3))
    # A job is ready when it came in and its player's previous job ended (one in flight per
    # player); from then until it starts, no other player may start two jobs.
    finished: dict[str, int] = {}
    for job in sorted(served, key=lambda s: s["started"]):
        ready = max(job["queued"], finished.get(job["player"], 0))
        before = [s["player"] for s in served if ready < s["started"] < job["started"]]
        assert all(before.count(other) <= 1 for other in "ABC" if other != job["player"]), \
            (job, served)
        finished[job["player"]] = job["finished"]
    # Waiting players were told their place in line, and it only went down.
    places = [m["queued"] for raw in players.values() for m in raw.messages if "queued" in m]
    assert places and max(places) >= 3
    for raw in players.values():
        raw.close()


def test_a_players_next_turn_reuses_their_cache_after_another_players_turn(
        model: Path) -> None:
    a, b = Raw(model, "A"), Raw(model, "B")
    story_a = [1, *a.tokenize(STORY * 4)]
    story_b = [1, *b.tokenize("A different tale of dragons and kings. " * 20)]

    def turn(raw: Raw, number: int, tokens: list[int]) -> dict[str, Any]:
        raw.generate(number, tokens, max_tokens=4)
        return raw.wait(lambda m: m.get("id") == number and m.get("done"))

    first = turn(a, 1, story_a)
    assert first["read"] == len(story_a)  # read whole, once
    other = turn(b, 1, story_b)
    assert other["read"] == len(story_b)
    action = a.tokenize(" You climb the stairs.")
    again = turn(a, 2, story_a + action)
    assert again["reused"] >= len(story_a) - 1  # A's cache came back: only the action is read
    assert again["read"] <= len(action) + 1
    back = turn(b, 2, story_b + action)
    assert back["reused"] >= len(story_b) - 1
    a.close()
    b.close()


def test_a_disconnect_cancels_that_players_jobs(model: Path) -> None:
    leaving, staying = Raw(model, "A"), Raw(model, "B")
    tokens = [1, *leaving.tokenize(STORY)]
    leaving.keep_busy(1)
    leaving.generate(2, tokens, max_tokens=1500)
    leaving.wait(lambda m: m.get("started"))
    staying.generate(1, tokens, max_tokens=4)
    staying.wait(lambda m: "queued" in m)
    leaving.close()
    staying.wait(lambda m: m.get("id") == 1 and m.get("done"))
    send(staying.sock, {"op": "stats", "id": 99})
    served = staying.wait(lambda m: m.get("id") == 99)["served"]
    assert [(s["player"], s["id"]) for s in served] == [("A", 1), ("B", 1)]  # A's 2nd dropped
    staying.close()


def test_bad_requests_get_one_line_errors(model: Path) -> None:
    raw = Raw(model, "A")
    send(raw.sock, {"op": "launch", "id": 5})
    assert "unknown request" in raw.wait(lambda m: m.get("id") == 5)["error"]
    send(raw.sock, {"op": "detokenize", "id": 6, "tokens": ["x"]})
    assert "bad detokenize request" in raw.wait(lambda m: m.get("id") == 6)["error"]
    raw.close()


def test_a_dead_model_process_is_one_line_then_restarted(smol_path: Path,
                                                          short_dir: Path) -> None:
    from tui.serve.files import EventLog
    from tui.serve.model_supervisor import ModelSupervisor

    sock = short_dir / "model.sock"
    log = short_dir / "server.log"

    async def scenario() -> None:
        supervisor = ModelSupervisor(sock, ["--model", str(smol_path), "--ctx", "1024"],
                                     short_dir / "model.log", EventLog(log))
        supervisor.start()
        shared = SharedBackend(sock, player="A", connect_wait=WAIT)
        try:
            await asyncio.to_thread(shared.load)
            first = supervisor.pid
            assert first is not None
            os.kill(first, signal.SIGKILL)
            with pytest.raises(BackendError) as failed:
                await asyncio.to_thread(lambda: list(shared.stream(
                    Prompt([1, 2, 3], ""), Sampler(max_tokens=400), [], threading.Event())))
            assert str(failed.value) == GONE and "\n" not in str(failed.value)
            deadline = time.monotonic() + WAIT
            while True:  # the server starts it again; the game's next call connects again
                try:
                    tokens = await asyncio.to_thread(shared.tokenize, "hello")
                    break
                except BackendError:
                    assert time.monotonic() < deadline, log.read_text()
                    await asyncio.sleep(0.2)
            assert tokens and supervisor.pid not in (None, first)
            assert supervisor.restarts == 1
        finally:
            shared.close()
            await supervisor.stop()

    asyncio.run(scenario())
    assert "restarting" in log.read_text()
    assert not sock.exists()


def test_the_game_is_pinned_to_the_shared_model(monkeypatch: pytest.MonkeyPatch) -> None:
    from tui.backends.factory import make_backend
    from tui.backends.shared_protocol import PLAYER_ENV, SOCKET_ENV
    from tui.core.backend import BackendConfig

    monkeypatch.setenv(SOCKET_ENV, "/tmp/grue-x/model.sock")
    monkeypatch.setenv(PLAYER_ENV, "SHA256:abc")
    for config in (BackendConfig(kind="local", model="/etc/passwd"),
                   BackendConfig(kind="openai", url="http://169.254.169.254/")):
        backend = make_backend(config)
        assert isinstance(backend, SharedBackend)
        assert str(backend.socket_path) == "/tmp/grue-x/model.sock"
        assert backend.player == "SHA256:abc"


def test_the_fair_queue_takes_players_in_turn() -> None:
    class Job:
        def __init__(self, player: str, n: int) -> None:
            self.player, self.n = player, n

    queue: FairQueue[Job] = FairQueue()
    for player, n in [("A", 1), ("A", 2), ("A", 3), ("B", 1), ("C", 1), ("C", 2)]:
        queue.put(Job(player, n))
    assert [(j.player, j.n) for j in queue.order()] == \
        [("A", 1), ("B", 1), ("C", 1), ("A", 2), ("C", 2), ("A", 3)]
    taken = []
    while len(queue):
        job = queue.take(0)
        assert job is not None
        taken.append((job.player, job.n))
        if job.player == "B" and job.n == 1:
            queue.put(Job("B", 2))  # back in line behind the others
    assert taken == [("A", 1), ("B", 1), ("C", 1), ("A", 2), ("B", 2), ("C", 2), ("A", 3)]
    queue.put(Job("A", 9))
    assert [j.n for j in queue.remove(lambda j: j.player == "A")] == [9]
    assert queue.take(0) is None


def test_the_fair_queue_takes_a_job_somebody_waits_for_before_a_background_one() -> None:
    class Job:
        def __init__(self, player: str, n: int, background: bool = False) -> None:
            self.player, self.n, self.background = player, n, background

    queue: FairQueue[Job] = FairQueue(background=lambda job: job.background)
    for job in [Job("A", 1, True), Job("A", 2), Job("B", 1), Job("C", 1, True), Job("D", 1)]:
        queue.put(job)
    # A player's own jobs stay in order: A's turn waits behind A's update, then goes first.
    expected = [("B", 1), ("D", 1), ("A", 1), ("A", 2), ("C", 1)]
    assert [(j.player, j.n) for j in queue.order()] == expected
    taken = []
    while len(queue):
        job = queue.take(0)
        assert job is not None
        taken.append((job.player, job.n))
    assert taken == expected


def test_another_players_update_waits_for_a_turn_somebody_waits_for(model: Path) -> None:
    """A world or story-so-far update (a job with a slot) runs in its player's pause; a turn
    another player is waiting for goes first, even when the update came first."""
    players = {name: Raw(model, name) for name in "ABC"}
    tokens = [1, *players["A"].tokenize(STORY)]
    # Keeps the model busy meanwhile; a short reply, as C reads none until the end (a game
    # that leaves ~70 messages unread is dropped).
    players["C"].keep_busy(1, max_tokens=40)
    players["C"].wait(lambda m: m.get("started"))
    players["A"].generate(1, tokens, slot="world")
    players["A"].wait(lambda m: "queued" in m)
    players["B"].generate(1, tokens)
    for raw in players.values():
        raw.wait(lambda m: m.get("id") == 1 and m.get("done"))
    send(players["A"].sock, {"op": "stats", "id": 99})
    served = players["A"].wait(lambda m: m.get("id") == 99)["served"]
    started = {s["player"]: s["started"] for s in served}
    assert started["C"] < started["B"] < started["A"], served
    for raw in players.values():
        raw.close()


def test_a_turn_halts_another_players_running_update_which_then_reads_on(
        model: Path) -> None:
    """Enter never waits for someone else's update: the running update stops, the turn
    runs, and the update runs again from what it had read (its slot's cache) to a whole
    answer, not a cancelled one."""
    from tui.engine.world.propose import SCHEMA

    updater, player = Raw(model, "A"), Raw(model, "B")
    long_prompt = [1, *updater.tokenize(STORY * 24)]
    updater.generate(1, long_prompt, max_tokens=120, slot="world", schema=SCHEMA)
    updater.wait(lambda m: m.get("started"))
    time.sleep(1.0)  # past its first chunk (a halt drops the chunk being read)
    player.generate(1, [1, *player.tokenize(STORY)])
    turn_end = player.wait(lambda m: m.get("done"))
    update_end = updater.wait(lambda m: m.get("done"))
    send(player.sock, {"op": "stats", "id": 99})
    served = {s["player"]: s for s in player.wait(lambda m: m.get("id") == 99)["served"]}
    assert served["B"]["finished"] < served["A"]["started"], served  # it waited for the turn
    assert turn_end["cancelled"] is False and update_end["cancelled"] is False
    assert sum(1 for m in updater.messages if m.get("started")) == 2
    text = "".join(m["text"] for m in updater.messages if "text" in m)
    assert isinstance(json.loads(text)["changes"], list)
    assert update_end["read"] < len(long_prompt) - 32  # it read on from where it stopped
    updater.close()
    player.close()


async def test_the_status_line_shows_the_place_in_the_queue() -> None:
    """The game screen shows what a shared model's queue says (Backend.on_queue)."""
    from fakes import FakeBackend

    from tui.app import GrueApp
    from tui.engine.campaign import campaign_from_scenario
    from tui.engine.game import Game
    from tui.engine.scenario import find_scenario
    from tui.model_host import ModelHost
    from tui.screens.adventure import AdventureScreen
    from tui.widgets.status_bar import StatusBar

    go = threading.Event()

    class Queued(FakeBackend):
        def stream(self, prompt: Prompt, sampler: Sampler, stop: list[str],
                   cancel: threading.Event) -> Iterator[str]:
            assert self.on_queue is not None
            self.on_queue(2)
            go.wait(WAIT)
            self.on_queue(0)
            yield from super().stream(prompt, sampler, stop, cancel)

    backend = Queued(["The gate opens."])
    game = Game(campaign_from_scenario(find_scenario("lantern-road")))
    app = GrueApp(game=game, host=ModelHost(backend_factory=lambda s: backend,
                                            close_backend=False))
    async with app.run_test(size=(100, 24), notifications=True) as pilot:
        screen = app.screen
        assert isinstance(screen, AdventureScreen)

        async def until(condition: Any) -> None:
            deadline = time.monotonic() + WAIT
            while not condition():
                assert time.monotonic() < deadline
                await pilot.pause(0.05)

        await until(lambda: screen.model_ready)
        await pilot.press(*"open the gate", "enter")
        status = screen.query_one(StatusBar)
        await until(lambda: "queued: 2nd" in (status.shown or ""))
        go.set()
        await until(lambda: screen.pending is None and len(game.campaign.turns) == 2)
        assert "queued" not in (status.shown or "")


def test_an_update_waiting_in_line_does_not_show_as_a_queued_turn(model: Path) -> None:
    """The status line's "queued: 2nd" is for a turn the player waits for. An update waits
    in line behind every turn now; shown, it would read as if the player's turn were stuck."""
    from tui.engine.world.propose import SCHEMA

    busy = Raw(model, "A")
    tokens = [1, *busy.tokenize(STORY)]
    shared = SharedBackend(model, player="B")
    shared.load()
    places: list[int] = []
    shared.on_queue = places.append
    busy.keep_busy(1)
    busy.wait(lambda m: m.get("started"))
    reading = threading.Thread(target=busy.wait, args=(lambda m: m.get("done"),), daemon=True)
    reading.start()  # a game reads its replies as they come
    done = threading.Event()

    def update() -> None:
        with shared.keeping_cache(slot="world"):
            shared.complete_json(Prompt(tokens, ""), SCHEMA, Sampler(max_tokens=40, seed=2),
                                 threading.Event())
        done.set()

    threading.Thread(target=update, daemon=True).start()
    assert done.wait(WAIT)
    assert not [p for p in places if p > 0], places  # it waited, unseen
    reading.join(WAIT)
    busy.keep_busy(2)
    busy.wait(lambda m: m.get("id") == 2 and m.get("started"))
    reading = threading.Thread(target=busy.wait, args=(lambda m: m.get("id") == 2 and
                                                       m.get("done"),), daemon=True)
    reading.start()
    "".join(shared.stream(Prompt(tokens, ""), Sampler(max_tokens=4, seed=1), [],
                          threading.Event()))
    assert 1 in places  # a turn waiting is shown
    reading.join(WAIT)
    busy.close()
    shared.close()


# Each reply is at least two messages (started, done) and a full socket holds ~70 small ones.
STUCK_JOBS = 200


def test_a_game_that_stops_reading_does_not_hold_up_everyone(model: Path) -> None:
    """The model thread sends every piece of a reply to its game. A game that stopped reading
    (stuck) filled its socket, and the send blocked the model for every player until that
    game's connection closed. Now a send that cannot go out for `SEND_STALL` seconds drops
    that game (it reconnects at its next request) and the model goes on.

    The stuck game asks for many long replies: one reply that ends early (the sampled text
    differs between CPUs) would leave its socket far from full, and nothing to drop."""
    from tui.backends.shared_protocol import SEND_STALL

    stuck, other = Raw(model, "A"), Raw(model, "B")
    tokens = [1, *stuck.tokenize(STORY)]
    for number in range(1, STUCK_JOBS + 1):  # and never read again
        stuck.generate(number, tokens, max_tokens=1500)
    other.generate(1, tokens, max_tokens=4)
    started = time.monotonic()
    end = other.wait(lambda m: m.get("id") == 1 and m.get("done"))
    assert end["cancelled"] is False
    assert time.monotonic() - started < WAIT
    stuck.sock.settimeout(WAIT)
    try:  # the stuck game's connection was closed by the model: what was sent, then the end
        while stuck.sock.recv(65536):
            pass
    except TimeoutError:
        pytest.fail("the stuck game's connection stayed open")
    except ConnectionResetError:
        pass
    assert SEND_STALL < WAIT / 2
    stuck.close()
    other.close()


def test_a_room_member_or_a_game_that_stops_reading_is_dropped_not_waited_for() -> None:
    """`Peer` is how the model process and the rooms service send to a game (a room sends
    every event to every member under the room's lock: one stuck member held up the room)."""
    from tui.backends.shared_protocol import SEND_STALL, Peer
    from tui.serve.rooms import Member

    ours, theirs = socket.socketpair()
    member = Member(ours, 1)
    assert isinstance(member, Peer)
    started = time.monotonic()
    while member.open:  # the other end never reads: its buffer fills, then the send stalls
        member.send({"ev": "story", "text": "x" * 1000})
        assert time.monotonic() - started < WAIT
    assert time.monotonic() - started >= SEND_STALL - 1
    theirs.settimeout(WAIT)
    while theirs.recv(65536):  # what went out, then the end: the connection was shut
        pass
    member.send({"ev": "more"})  # dropped games are sent nothing, and nothing blocks
    ours.close()
    theirs.close()


def test_the_status_shows_the_queue(model: Path, short_dir: Path) -> None:
    """`grue serve --status` shows the job running, who waits with how many jobs, and the
    prompt tokens read per player: asked of the model process as the server asks it."""
    from tui.serve.files import EventLog
    from tui.serve.model_supervisor import ModelSupervisor
    from tui.serve.status import QueueStatus, ServerStatus, status_lines

    supervisor = ModelSupervisor(model, [], short_dir / "model.log",
                                 EventLog(short_dir / "server.log"))
    busy, second, third = Raw(model, "SHA256:busyplayer0001"), Raw(model, "B"), Raw(model, "C")
    tokens = [1, *busy.tokenize(STORY)]
    busy.keep_busy(1)
    busy.wait(lambda m: m.get("started"))
    second.generate(1, tokens)
    second.generate(2, tokens)
    third.generate(1, tokens)
    # Each game has its own socket: one's job being queued says nothing of another's.
    second.wait(lambda m: m.get("id") == 2 and "queued" in m)
    third.wait(lambda m: "queued" in m)
    queue = QueueStatus.from_stats(asyncio.run(supervisor.stats()))
    assert queue.up and queue.running is not None
    assert queue.running["player"] == "SHA256:busyplayer00" and queue.running["id"] == 1
    assert queue.waiting == {"B": 2, "C": 1}
    status = ServerStatus(pid=os.getpid(), port=2222, started=time.time(), max_sessions=20,
                          queue=queue)
    status.write(short_dir / "status.json")
    code, lines = status_lines(short_dir / "status.json")
    assert code == 0
    assert "model queue: running SHA256:busyplayer00 (job 1," in lines[1]
    waiting = lines[1].partition("waiting: ")[2]  # in rotation order: who came in first
    assert sorted(waiting.split(", ")) == ["B 2", "C 1"] and lines[-1] == "rooms: none"
    send(busy.sock, {"op": "cancel", "id": 1})
    for raw, last in ((busy, 1), (second, 2), (third, 1)):
        raw.wait(lambda m, last=last: m.get("id") == last and m.get("done"))
    after = QueueStatus.from_stats(asyncio.run(supervisor.stats()))
    assert after.running is None and after.waiting == {}
    assert after.tokens_read["B"] > 0 and set(after.tokens_read) == {
        "SHA256:busyplayer00", "B", "C"}
    for raw in (busy, second, third):
        raw.close()
    down = QueueStatus.from_stats(None)  # the model process is not answering
    assert not down.up


def test_the_player_caches_are_bounded_by_bytes_not_a_handful_of_players() -> None:
    """20 players with small caches are all kept (4 made every job of a 20-player run re-read
    its story); past the byte budget the least recently used go first."""
    from types import SimpleNamespace

    from tui.serve.model_proc import PlayerCaches

    caches = PlayerCaches(max_bytes=100)
    for i in range(20):
        caches.put(f"p{i}", SimpleNamespace(size=5))
    assert len(caches.names()) == 20 and caches.size == 100
    caches.put("p0", caches.take("p0"))  # p0 played again: the most recent now
    caches.put("big", SimpleNamespace(size=20))
    assert caches.names()[:2] == ["p5", "p6"] and caches.size <= 100
    assert "p0" in caches.names() and "p1" not in caches.names()
    caches.put("huge", SimpleNamespace(size=101))  # larger than the budget: not kept
    assert "huge" not in caches.names()


def test_the_world_update_runs_on_the_shared_model_beside_the_players_story(
        model: Path) -> None:
    """`grue serve` keeps the world state too: the update's JSON comes from the shared model
    under the schema's grammar, in a cache slot of its own for that player, so the player's
    next turn still finds the story cached (before, the shared model said "state updates
    unavailable on this server")."""
    from tui.engine.world.propose import OPENING, SCHEMA

    shared = SharedBackend(model, player="A")
    shared.load()
    story = [*shared.prefix_tokens(), *shared.tokenize(STORY * 4)]
    sampler = Sampler(max_tokens=4, seed=1)
    "".join(shared.stream(Prompt(story, STORY), sampler, [], threading.Event()))
    request = [*shared.prefix_tokens(), *shared.tokenize("What changed, as JSON:")]
    with shared.keeping_cache(slot="world"):
        text = shared.complete_json(Prompt(request, ""), SCHEMA,
                                    Sampler(max_tokens=60, seed=2), threading.Event(), OPENING)
    assert isinstance(json.loads(text)["changes"], list) and text.startswith(OPENING)
    # The answer's opening was read with the prompt, not sampled under the grammar.
    given = len(request) + len(shared.tokenize(OPENING, special=False))
    assert shared.last_stats["reused"] + shared.last_stats["read"] == given
    action = shared.tokenize(" You climb the stairs.")
    "".join(shared.stream(Prompt(story + action, ""), sampler, [], threading.Event()))
    assert shared.last_stats["reused"] >= len(story) - 1  # the story was not evicted
    assert "A\x1fworld" in shared.stats()["cached"]
    shared.close()
