"""A load run of `grue serve` (issue 11): N players at once on the embedded SmolLM2, shared by
one model process, each starting a new adventure from the home screen and playing T turns.

    python benchmarks/bench_serve_load.py [--sessions 20] [--turns 5]

Starts `grue serve --open` on a free port of 127.0.0.1 with a throwaway GRUE_HOME, connects
`--sessions` asyncssh clients, each with a pty of 80x24 and a key of its own; each waits for
the home screen's model line, presses Enter (the first scenario: a new adventure), waits for
the game screen's "ready", then plays `--turns` short actions. What the game writes is fed to
a small terminal model (`Grid`: cursor moves, text, erases) so the signals are read off the
screen as a player sees it, not off raw bytes:

- sent: the action typed, then Enter;
- first word: the first change to the story rows (above the input line) after the status line
  says "generating…" (the frame that shows it also shows the action), that is, the first piece
  of the reply drawn;
- turn done: the status line says the turn was saved ("saving…"/"saved"), or failed.

While it runs, the resident memory (RSS, from /proc) of every game process, the server and the
model process is sampled each second. After every player left, each player's save is read from
disk: a save without all of its player's turns is a lost save. Printed: turns per minute (all
turns over the wall time of the playing), p50/p95 wait to the first word and to the turn's
end, memory per session (mean of each game's peak RSS) and of the model process, lost saves,
and the load average (the machine may be shared).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import re
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import asyncssh

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from proc_info import children, cmdline  # noqa: E402  (beside this file)

from tui.engine.saves import list_saves, load_save  # noqa: E402
from tui.serve.files import ServeFiles  # noqa: E402
from tui.widgets.settings_form import SAMPLER_FIELDS  # noqa: E402

ACTIONS = ["look around", "open the door", "listen", "walk north", "light the lantern",
           "wait", "search the ground", "call out"]
WAIT = float(os.environ.get("BENCH_WAIT", 600))  # seconds one step may take (a stuck game)
DONE_STATES = ("saving…", "saved", "NOT saved", "error", "nothing written", "stopped")
TEXT_COLS = 76  # the story's text; the scroll bar is to the right of it
F12 = b"\x1b[24~"
CSI = re.compile(rb"\x1b\[([0-9;?<=>]*)([ -/]*)([@-~])")


class Grid:
    """Just enough of a terminal for Textual's output: absolute moves, text, erases."""

    def __init__(self, cols: int = 80, rows: int = 24) -> None:
        self.cols, self.rows = cols, rows
        self.cells = [[" "] * cols for _ in range(rows)]
        self.row = self.col = 0
        self._rest = b""

    def feed(self, data: bytes) -> None:
        text = self._rest + data
        self._rest = b""
        i = 0
        while i < len(text):
            byte = text[i]
            if byte == 0x1B:
                i = self._escape(text, i)
                if i < 0:
                    return
                continue
            if byte == 0x0D:
                self.col = 0
            elif byte == 0x0A:
                self.row = min(self.row + 1, self.rows - 1)
            elif byte == 0x08:
                self.col = max(self.col - 1, 0)
            elif byte >= 0x20:
                end = i + 1
                while end < len(text) and text[end] >= 0x20 and text[end] != 0x7F \
                        and text[end] != 0x1B:
                    end += 1
                chunk = text[i:end]
                try:
                    self._put(chunk.decode("utf-8"))
                except UnicodeDecodeError:  # a character split across reads
                    self._rest = text[i:]
                    return
                i = end
                continue
            i += 1

    def _escape(self, text: bytes, i: int) -> int:
        """Apply the escape sequence at `i`; the index after it (-1: incomplete, kept)."""
        if i + 1 >= len(text):
            self._rest = text[i:]
            return -1
        if text[i + 1] != ord("["):
            if text[i + 1] == ord("]"):  # OSC: up to BEL or ST
                end = text.find(b"\x07", i)
                st = text.find(b"\x1b\\", i)
                ends = [e for e in (end, st) if e >= 0]
                if not ends:
                    self._rest = text[i:]
                    return -1
                return min(ends) + (1 if min(ends) == end else 2)
            return i + 2
        match = CSI.match(text, i)
        if match is None:
            if len(text) - i < 32:
                self._rest = text[i:]
                return -1
            return i + 2
        self._csi(match.group(1).decode(), match.group(3).decode())
        return match.end()

    def _csi(self, params: str, final: str) -> None:
        if params.startswith("?"):
            return
        numbers = [int(p) if p.isdigit() else 0 for p in params.split(";")] if params else []
        first = numbers[0] if numbers else 0
        if final in "Hf":
            self.row = min(max((numbers[0] if numbers else 1) - 1, 0), self.rows - 1)
            self.col = min(max((numbers[1] if len(numbers) > 1 else 1) - 1, 0), self.cols - 1)
        elif final == "G":
            self.col = min(max(first - 1, 0), self.cols - 1)
        elif final == "A":
            self.row = max(self.row - max(first, 1), 0)
        elif final == "B":
            self.row = min(self.row + max(first, 1), self.rows - 1)
        elif final == "C":
            self.col = min(self.col + max(first, 1), self.cols - 1)
        elif final == "D":
            self.col = max(self.col - max(first, 1), 0)
        elif final == "K":
            line = self.cells[self.row]
            span = {0: range(self.col, self.cols), 1: range(0, self.col + 1)}.get(
                first, range(self.cols))
            for c in span:
                line[c] = " "
        elif final == "J" and first == 2:
            self.cells = [[" "] * self.cols for _ in range(self.rows)]

    def _put(self, text: str) -> None:
        for char in text:
            if self.col >= self.cols:
                self.col = self.cols - 1
            self.cells[self.row][self.col] = char
            self.col += 1

    def line(self, row: int) -> str:
        return "".join(self.cells[row])

    def text(self) -> str:
        return "\n".join(self.line(r) for r in range(self.rows))

    def find_row(self, needle: str, last: bool = False) -> int | None:
        rows = range(self.rows - 1, -1, -1) if last else range(self.rows)
        return next((r for r in rows if needle in self.line(r)), None)


@dataclass
class TurnTimes:
    first_word: float
    done: float
    state: str


@dataclass
class PlayerRun:
    number: int
    key: Any
    turns: list[TurnTimes] = field(default_factory=list)
    error: str = ""
    pid: int | None = None


class Client:
    """One player's SSH session: a pty, the screen it shows, and waits on that screen."""

    def __init__(self, conn: Any, proc: Any) -> None:
        self.conn, self.proc = conn, proc
        self.grid = Grid()
        self.changed = asyncio.Event()
        self.ended = False
        self._pump = asyncio.get_running_loop().create_task(self._read())

    async def _read(self) -> None:
        try:
            while data := await self.proc.stdout.read(65536):
                self.grid.feed(data)
                self.changed.set()
        except (asyncssh.Error, OSError):
            pass
        self.ended = True
        self.changed.set()

    async def until(self, check: Any, what: str, timeout: float = WAIT) -> Any:
        deadline = time.monotonic() + timeout
        while True:
            found = check()
            if found:
                return found
            if self.ended or time.monotonic() > deadline:
                raise RuntimeError(f"no {what} ({'ended' if self.ended else 'timed out'}):\n"
                                   f"{self.grid.text()}")
            self.changed.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.changed.wait(), 1.0)

    def type(self, data: bytes) -> None:
        self.proc.stdin.write(data)

    async def leave(self) -> None:
        self.conn.close()
        with contextlib.suppress(Exception):
            await self.conn.wait_closed()
        with contextlib.suppress(Exception):
            await self._pump


async def join(port: int, key: Any) -> Client:
    conn = await asyncssh.connect("127.0.0.1", port, username="player", known_hosts=None,
                                  client_keys=[key], agent_path=None, config=None)
    proc = await conn.create_process(term_type="xterm-256color", term_size=(80, 24),
                                     encoding=None)
    return Client(conn, proc)


def narrated(grid: Grid, story_end: int, action: str) -> bool:
    """Text below this action's echo in the story ("> You look around."): the reply has
    begun. (The echo of an earlier action has that action's reply below it already.)"""
    rows = [grid.line(r)[:TEXT_COLS].strip() for r in range(story_end)]
    echo = max((r for r, text in enumerate(rows) if text.startswith("> ") and action in text),
               default=None)
    return echo is not None and any(rows[echo + 1:])


async def play_turn(client: Client, action: str) -> TurnTimes:
    grid = client.grid
    client.type(action.encode())
    input_row = await client.until(lambda: grid.find_row(action, last=True),
                                   f"the typed {action!r}")
    sent = time.monotonic()
    client.type(b"\r")
    status_row = await client.until(lambda: grid.find_row("generating…", last=True),
                                    "generating… on the status line")
    first = 0.0

    def seen() -> str:
        line = grid.line(status_row)
        if "generating" not in line:
            state = next((s for s in DONE_STATES if s in line), "")
            if state:
                return state
        if not first and narrated(grid, input_row - 1, action):
            return "first"
        return ""

    while True:
        what = await client.until(seen, "the turn's end")
        now = time.monotonic()
        if what == "first":
            first = now
            if os.environ.get("BENCH_DEBUG"):
                print(f"--- first at {now - sent:.2f}\n{grid.text()}", flush=True)
            continue
        if os.environ.get("BENCH_DEBUG"):
            print(f"--- {what} at {now - sent:.2f}\n{grid.text()}", flush=True)
        return TurnTimes(first_word=(first or now) - sent, done=now - sent, state=what)


async def set_max_tokens(client: Client, tokens: int) -> None:
    """Settings (F12), Tab to "Max new tokens", replace its value, Ctrl+S: keys only."""
    grid = client.grid
    client.type(F12)
    await client.until(lambda: "Tab next field" in grid.text(), "the settings screen")
    tabs = len(SAMPLER_FIELDS) + 2  # from the preset: the samplers, then n_ctx
    client.type(b"\t" * tabs + b"\x15" + str(tokens).encode())  # Ctrl+U clears the field
    await client.until(lambda: any("Max new tokens" in line and f" {tokens} " in line
                                   for line in grid.text().splitlines()),
                       f"max new tokens {tokens}")
    client.type(b"\x13")  # Ctrl+S
    await client.until(lambda: "What do you do?" in grid.text(), "the game screen again")


async def play(run: PlayerRun, port: int, turns: int, max_tokens: int) -> None:
    client = await join(port, run.key)
    try:
        grid = client.grid
        await client.until(lambda: "ready (" in grid.text(), "the home screen's model line")
        client.type(b"\r")  # the first scenario: a new adventure
        await client.until(lambda: "ready ·" in grid.text(), "the game screen's ready")
        if max_tokens:
            await set_max_tokens(client, max_tokens)
        for n in range(turns):
            action = ACTIONS[(run.number + n) % len(ACTIONS)]
            run.turns.append(await play_turn(client, action))
    except RuntimeError as exc:
        run.error = str(exc)
    finally:
        await client.leave()


# --- the server and memory -----------------------------------------------------------------


def rss_mb(pid: int) -> float:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return 0.0


class Sampler:
    """Peak RSS per process, sampled every second: the games, the server, the model."""

    def __init__(self, server_pid: int) -> None:
        self.server_pid = server_pid
        self.games: dict[int, float] = {}
        self.model = 0.0
        self.server = 0.0
        self.game_total = 0.0  # the most the games held at once, together

    def sample(self) -> None:
        self.server = max(self.server, rss_mb(self.server_pid))
        total = 0.0
        for pid in children(self.server_pid):
            line = cmdline(pid)
            rss = rss_mb(pid)
            if "tui.serve.model_proc" in line:
                self.model = max(self.model, rss)
            elif "tui.commands.serve_session" in line:
                self.games[pid] = max(self.games.get(pid, 0.0), rss)
                total += rss
        self.game_total = max(self.game_total, total)

    async def run(self, stop: asyncio.Event) -> None:
        while not stop.is_set():
            self.sample()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), 1.0)


def start_server(home: Path, sessions: int, extra: list[str]) -> tuple[subprocess.Popen[bytes],
                                                                        int]:
    env = {**os.environ, "GRUE_HOME": str(home), "PYTHONPATH": str(REPO)}
    server = subprocess.Popen(
        [sys.executable, "-m", "tui.cli", "serve", "--open", "--host", "127.0.0.1", "--port",
         "0", "--max-sessions", str(sessions), "--max-attempts", str(sessions * 3), *extra],
        env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    status = ServeFiles(home / "serve").status
    deadline = time.monotonic() + 60
    while True:
        with contextlib.suppress(OSError, ValueError):
            data = json.loads(status.read_text())
            if data.get("pid") == server.pid:
                return server, int(data["port"])
        if server.poll() is not None or time.monotonic() > deadline:
            raise SystemExit("grue serve did not start")
        time.sleep(0.1)


def stop_server(server: subprocess.Popen[bytes]) -> None:
    if server.poll() is None:
        server.send_signal(signal.SIGTERM)
    try:
        server.wait(60)
    except subprocess.TimeoutExpired:
        server.kill()
        server.wait()


def saved_turns(files: ServeFiles, key: Any) -> tuple[int, int]:
    """The player turns in this player's one save (-1: no save, or not exactly one), and the
    save's max new tokens."""
    saves = list_saves(files.player_home(key.get_fingerprint()) / "saves")
    if len(saves) != 1:
        return -1, 0
    campaign = load_save(saves[0].path)
    return campaign.player_turn_count, campaign.settings.max_new_tokens


# --- the run ------------------------------------------------------------------------------


@dataclass
class LoadResult:
    runs: list[PlayerRun]
    seconds: float
    lost: int
    saved: list[int]
    max_tokens: list[int]  # each save's max new tokens (what the settings screen set)
    memory: Sampler


async def load_run(sessions: int, turns: int, max_tokens: int = 0,
                   extra: list[str] | None = None) -> LoadResult:
    """The bench's core: a server, `sessions` players of `turns` turns, their saves checked."""
    with tempfile.TemporaryDirectory(prefix="grue-load-", dir="/tmp") as folder:
        home = Path(folder)
        files = ServeFiles(home / "serve")
        server, port = start_server(home, sessions, extra or [])
        try:
            memory = Sampler(server.pid)
            stop = asyncio.Event()
            sampling = asyncio.get_running_loop().create_task(memory.run(stop))
            runs = [PlayerRun(n, asyncssh.generate_private_key("ssh-ed25519"))
                    for n in range(sessions)]
            began = time.monotonic()
            await asyncio.gather(*(play(run, port, turns, max_tokens) for run in runs))
            seconds = time.monotonic() - began
            stop.set()
            await sampling
            await wait_for_games(server.pid)
        finally:
            stop_server(server)
        found = [saved_turns(files, run.key) for run in runs]
    saved = [n for n, _ in found]
    lost = sum(1 for run, n in zip(runs, saved, strict=True) if n < max(len(run.turns), turns))
    return LoadResult(runs, seconds, lost, saved, [t for _, t in found], memory)


async def wait_for_games(server_pid: int, timeout: float = 60.0) -> None:
    """Every game has left (each saves on the hang-up) before the saves are read."""
    deadline = time.monotonic() + timeout
    while any("serve_session" in cmdline(p) for p in children(server_pid)):
        if time.monotonic() > deadline:
            return
        await asyncio.sleep(0.2)


def percentile(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q * (len(ordered) - 1))))]


def report(result: LoadResult, sessions: int, turns: int) -> list[str]:
    done = [t for run in result.runs for t in run.turns]
    firsts = [t.first_word for t in done]
    fulls = [t.done for t in done]
    states: dict[str, int] = {}
    for t in done:
        states[t.state] = states.get(t.state, 0) + 1
    mem = result.memory
    games = list(mem.games.values())
    lines = [
        f"{sessions} sessions x {turns} turns: {len(done)} turns in {result.seconds:.1f} s"
        f" = {len(done) / result.seconds * 60:.1f} turns per minute"
        f" (turn ends: {', '.join(f'{k} {v}' for k, v in sorted(states.items()))})",
        f"wait to the first word: p50 {percentile(firsts, 0.5):.2f} s, p95 "
        f"{percentile(firsts, 0.95):.2f} s, max {max(firsts, default=float('nan')):.2f} s",
        f"wait to the turn's end: p50 {percentile(fulls, 0.5):.2f} s, p95 "
        f"{percentile(fulls, 0.95):.2f} s, max {max(fulls, default=float('nan')):.2f} s",
        f"memory: {len(games)} games, peak RSS per game mean "
        f"{statistics.mean(games) if games else 0:.1f} MB (max {max(games, default=0):.1f});"
        f" all games at once {mem.game_total:.0f} MB; model process {mem.model:.0f} MB;"
        f" server {mem.server:.0f} MB",
        f"lost saves: {result.lost} of {sessions} (turns saved per player: "
        f"{sorted(result.saved)}; max new tokens in the saves: "
        f"{sorted(set(result.max_tokens))})",
        f"load average at the end: {' '.join(f'{x:.2f}' for x in os.getloadavg())}"
        f" ({os.cpu_count()} CPUs)",
    ]
    lines += [f"player {run.number} failed: {run.error}" for run in result.runs if run.error]
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sessions", type=int, default=20)
    parser.add_argument("--turns", type=int, default=5)
    parser.add_argument("--max-tokens", type=int, default=48,
                        help="each player sets the reply length on the settings screen first"
                             " (0: the game's default, 160)")
    args = parser.parse_args()
    print(f"load average at the start: {' '.join(f'{x:.2f}' for x in os.getloadavg())}",
          flush=True)
    result = asyncio.run(load_run(args.sessions, args.turns, args.max_tokens))
    print("\n".join(report(result, args.sessions, args.turns)))


if __name__ == "__main__":
    main()
