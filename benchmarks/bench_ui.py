"""What the screen costs: the real `grue` under a pseudo-terminal at 80x24, fed by a stand-in
OpenAI-compatible server in this process (a real backend path, no test hook in the game).

    python benchmarks/bench_ui.py [--tokens 600] [--rate 60] [--keys 40]
    python benchmarks/bench_ui.py --launch-only [--runs 3] [--against OTHER_CHECKOUT]
                                  [--no-bytecode]

Measures, for issue 9 items 6 and 7:
- bytes written to the terminal per streamed token and per streamed text byte, TUI and
  `--plain` (bytes from the first token to 0.15 s after the last: the flushes, not the
  end-of-turn status);
- keystroke latency: a key written to the pty until its character is in the output, while
  the model streams and while idle (p50/p95/max);
- bytes per second to an idle screen (the game open, nothing happening, 5 s);
- launch to the home screen's first frame with 100 saves, one of 10,000 turns;
- in process (`App.run_test`): a streamed turn appended to a story holding 5,000 turns vs 10.
Targets: <= 150 B/token, <= 1.1 B/text byte in --plain, keys while streaming p95 <= 50 ms,
launch <= 1 s, append at 5,000 turns about what it costs at 10.
"""

from __future__ import annotations

import argparse
import asyncio
import fcntl
import json
import os
import select
import statistics
import struct
import subprocess
import sys
import tempfile
import termios
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tui.engine.campaign import OPENING, Campaign, Turn  # noqa: E402

COLS, ROWS = 80, 24
WORDS = ["the", "lamp", "gutters", "as", "you", "walk", "on", "and", "a", "cold", "wind",
         "moves", "through", "old", "thorn", "trees", "beyond", "road", "fog", "rises"]
KEY_CHARS = "@#%&=+~$"  # never in the streamed text, the status line or the footer


def story_tokens(n: int) -> list[str]:
    """`n` word tokens (~4.6 bytes each, like SmolLM2's), sentences of 12 words."""
    out: list[str] = []
    for i in range(n):
        word = WORDS[(i * 7 + i // 20) % len(WORDS)]
        if i % 12 == 0:
            word = word.capitalize()
        out.append(" " + word + ("." if i % 12 == 11 else ""))
    return out


# --- the stand-in server ------------------------------------------------------------------


@dataclass
class Stream:
    """When the tokens of the latest completion went out."""

    tokens: int = 0
    text_bytes: int = 0
    first: float = 0.0
    last: float = 0.0
    done: threading.Event = field(default_factory=threading.Event)


class StandInServer:
    """`/v1/models` and a streaming `/v1/completions` at `rate` tokens a second."""

    def __init__(self, tokens: int, rate: float) -> None:
        self.tokens = story_tokens(tokens)
        self.rate = rate
        self.stream = Stream()
        outer = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: object) -> None:
                pass

            def _json(self, status: int, data: object) -> None:
                body = json.dumps(data).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def do_GET(self) -> None:
                if self.path == "/v1/models":
                    self._json(200, {"object": "list", "data": [{"id": "bench-model"}]})
                else:
                    self._json(404, {"error": "not found"})

            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = json.loads(self.rfile.read(length) or b"{}")
                if self.path != "/v1/completions" or not body.get("stream"):
                    self._json(404, {"error": "not found"})
                    return
                outer.serve_stream(self)

        class Server(ThreadingHTTPServer):
            def handle_error(self, request: object, client_address: object) -> None:
                pass  # a client that hung up (the game quit mid-stream)

        self.httpd = Server(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def serve_stream(self, handler: BaseHTTPRequestHandler) -> None:
        handler.send_response(200)
        handler.send_header("Content-Type", "text/event-stream")
        handler.send_header("Transfer-Encoding", "chunked")
        handler.end_headers()
        stream = self.stream = Stream()

        def send(data: str) -> None:
            payload = f"data: {data}\n\n".encode()
            handler.wfile.write(f"{len(payload):x}\r\n".encode() + payload + b"\r\n")
            handler.wfile.flush()

        start = time.monotonic()
        for i, token in enumerate(self.tokens):
            wait = start + i / self.rate - time.monotonic()
            if wait > 0:
                time.sleep(wait)
            last = i == len(self.tokens) - 1
            send(json.dumps({"choices": [{"text": token, "index": 0,
                                          "finish_reason": "length" if last else None}]}))
            now = time.monotonic()
            stream.first = stream.first or now
            stream.last = now
            stream.tokens += 1
            stream.text_bytes += len(token.encode())
        send("[DONE]")
        handler.wfile.write(b"0\r\n\r\n")
        handler.wfile.flush()
        stream.done.set()

    def close(self) -> None:
        self.httpd.shutdown()


# --- the game under a pseudo-terminal -----------------------------------------------------


class PtyGame:
    """`grue ARGS` on a pty of COLS x ROWS; every byte it writes is kept with its time."""

    def __init__(self, args: list[str], home: Path, root: Path = ROOT,
                 bytecode: Path | None = None) -> None:
        """`root`: the source tree whose `tui` runs (another checkout, to compare).
        `bytecode`: a folder for compiled modules, as an installed `grue` has them (else the
        environment decides; PYTHONDONTWRITEBYTECODE compiles every module every run)."""
        master, slave = os.openpty()
        fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", ROWS, COLS, 0, 0))
        env = {**os.environ, "GRUE_HOME": str(home), "TERM": "xterm-256color",
               "COLUMNS": str(COLS), "LINES": str(ROWS), "PYTHONPATH": str(root)}
        env.pop("NO_COLOR", None)
        if bytecode is not None:
            env.pop("PYTHONDONTWRITEBYTECODE", None)
            env["PYTHONPYCACHEPREFIX"] = str(bytecode)
        self.started = time.monotonic()
        self.proc = subprocess.Popen([sys.executable, "-m", "tui.cli", *args], stdin=slave,
                                     stdout=slave, stderr=slave, env=env, cwd=root,
                                     start_new_session=True)
        os.close(slave)
        self.master = master
        self.chunks: list[tuple[float, bytes]] = []
        self.lock = threading.Lock()
        self.reader = threading.Thread(target=self._read, daemon=True)
        self.reader.start()

    def _read(self) -> None:
        while True:
            ready, _, _ = select.select([self.master], [], [], 0.5)
            if not ready:
                if self.proc.poll() is not None:
                    return
                continue
            try:
                data = os.read(self.master, 65536)
            except OSError:
                return
            if not data:
                return
            with self.lock:
                self.chunks.append((time.monotonic(), data))

    def mark(self) -> int:
        with self.lock:
            return len(self.chunks)

    def wait_for(self, needle: bytes, since: int = 0, timeout: float = 30.0) -> float:
        """The time of the first chunk from `since` on whose text holds `needle`."""
        deadline = time.monotonic() + timeout
        seen = since
        tail = b""
        while time.monotonic() < deadline:
            with self.lock:
                new = self.chunks[seen:]
            for when, data in new:
                if needle in tail + data:
                    return when
                tail = (tail + data)[-len(needle):]
            seen += len(new)
            time.sleep(0.001)
        raise TimeoutError(f"{needle!r} did not appear within {timeout} s")

    def bytes_between(self, start: float, end: float) -> int:
        with self.lock:
            return sum(len(d) for t, d in self.chunks if start <= t <= end)

    def write(self, data: bytes) -> float:
        now = time.monotonic()
        os.write(self.master, data)
        return now

    def quiet(self, seconds: float = 0.3, timeout: float = 10.0) -> None:
        """Wait until nothing has been written for `seconds`."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self.lock:
                last = self.chunks[-1][0] if self.chunks else self.started
            if time.monotonic() - last >= seconds:
                return
            time.sleep(0.02)

    def close(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        os.close(self.master)


def play_args(server: StandInServer, save: Path, plain: bool = False) -> list[str]:
    """Resume `save` on the stand-in server (a long campaign: the story view is full)."""
    return ["resume", str(save), "--backend", "openai", "--url", server.url,
            "--max-tokens", "4000", *(["--plain"] if plain else [])]


def make_campaign(saves: Path, title: str, turns: int) -> Path:
    """A save of `turns` turns (~620 bytes of text each) in `saves`; returns its folder."""
    from tui.engine.saves import release_save, write_save
    from tui.engine.saves.folder import unbind

    saves.mkdir(parents=True, exist_ok=True)
    text = " ".join(WORDS * 6).capitalize() + "."
    c = Campaign(title=title)
    c.turns.append(Turn(OPENING, responses=["It begins on the Lantern Road."]))
    for i in range(turns - 1):
        c.turns.append(Turn("do", f"> You walk on ({i}).", [text]))
    folder = write_save(c, saves)
    release_save(c)  # the game under the pty plays it
    unbind(c)
    return folder


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def latency_figures(ms: list[float]) -> str:
    if not ms:
        return "no keys measured"
    return (f"p50 {statistics.median(ms):.0f} ms, p95 {pct(ms, 0.95):.0f} ms, "
            f"max {max(ms):.0f} ms ({len(ms)} keys)")


def type_keys(game: PtyGame, count: int, until: threading.Event | None = None,
              gap: float = 0.12) -> list[float]:
    """Type `count` keys one by one (each erased again); ms from write to its echo."""
    out: list[float] = []
    for i in range(count):
        if until is not None and until.is_set():
            break
        char = KEY_CHARS[i % len(KEY_CHARS)].encode()
        since = game.mark()
        sent = game.write(char)
        try:
            seen = game.wait_for(char, since, timeout=5.0)
        except TimeoutError:
            continue
        out.append((seen - sent) * 1000)
        game.write(b"\x7f")  # backspace: the input is empty again
        time.sleep(gap)
    return out


def open_game(game: PtyGame) -> None:
    game.wait_for(b"bench-model", timeout=60)  # the status line: the backend answered
    game.quiet(0.5)


def bench_streaming(server: StandInServer, home: Path, save: Path,
                    keys: int) -> dict[str, object]:
    game = PtyGame(play_args(server, save), home)
    try:
        open_game(game)
        idle_keys = type_keys(game, keys)
        game.quiet(0.5)
        start = time.monotonic()
        time.sleep(5.0)
        idle_bytes = game.bytes_between(start, time.monotonic())
        # turn 1: nothing typed while it streams
        game.write(b"look around\r")
        server_stream_started = time.monotonic()
        while server.stream.first == 0.0 or server.stream.first < server_stream_started:
            time.sleep(0.01)
        stream = server.stream
        stream.done.wait(120)
        time.sleep(0.15)
        streamed = game.bytes_between(stream.first, stream.last + 0.15)
        game.quiet(0.5)
        # turn 2: keys typed while it streams
        game.write(b"\r")  # an empty line continues the story
        time.sleep(0.3)
        busy_keys = type_keys(game, keys, until=server.stream.done)
        server.stream.done.wait(120)
        return {
            "tokens": stream.tokens, "text_bytes": stream.text_bytes, "bytes": streamed,
            "idle_bytes_per_s": idle_bytes / 5.0, "idle_keys": idle_keys,
            "busy_keys": busy_keys, "seconds": stream.last - stream.first,
        }
    finally:
        game.close()


def bench_plain(server: StandInServer, home: Path, save: Path) -> dict[str, int]:
    game = PtyGame(play_args(server, save, plain=True), home)
    try:
        game.wait_for(b">", timeout=60)
        game.quiet(0.5)
        game.write(b"look around\n")
        since = time.monotonic()
        while server.stream.first < since:
            time.sleep(0.01)
        stream = server.stream
        stream.done.wait(120)
        game.quiet(0.5)
        written = game.bytes_between(stream.first, stream.last + 0.3)
        return {"tokens": stream.tokens, "text_bytes": stream.text_bytes, "bytes": written}
    finally:
        game.close()


# --- launch with many saves -----------------------------------------------------------------


def make_saves(home: Path, count: int, long_turns: int) -> str:
    """`count` saves in `home`, one of `long_turns` turns; returns the long one's title."""
    for n in range(count):  # the long one last: the newest, shown first
        make_campaign(home / "saves", f"Bench save {n}", long_turns if n == count - 1 else 5 + n)
    return f"Bench save {count - 1}"


def launch_once(home: Path, title: str, root: Path = ROOT, bytecode: bool = True) -> float:
    """Seconds from starting `grue` (the code in `root`) until `title` is on the screen.
    `bytecode`: compiled modules are kept (in `home`), as an installed `grue` has them."""
    game = PtyGame([], home, root, bytecode=home / "bytecode" if bytecode else None)
    try:
        seen = game.wait_for(title.encode(), timeout=60)
        return seen - game.started
    finally:
        game.close()


def bench_launch(home: Path, title: str, repeat: int = 3, against: Path | None = None,
                 bytecode: bool = True) -> tuple[list[float], list[float]]:
    """Launch times of this tree and, alternated run by run, of the tree `against`; the
    first launch of each is a warm-up (the OS caches the files, Python compiles)."""
    ours: list[float] = []
    theirs: list[float] = []
    for run in range(repeat + 1):
        took = launch_once(home, title, ROOT, bytecode)
        if run:
            ours.append(took)
        if against is not None:
            took = launch_once(home, title, against, bytecode)
            if run:
                theirs.append(took)
    return ours, theirs


def launch_only(runs: int, against: Path | None, bytecode: bool) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        home = Path(tmp) / "launch"
        title = make_saves(home, 100, 10_000)
        ours, theirs = bench_launch(home, title, runs, against, bytecode)
        if not bytecode:
            print("(no compiled modules kept: every module compiled on every launch)")
    print_launch(ours)
    if against is not None:
        print(f"  {against} (alternated with the runs above): median "
              f"{statistics.median(theirs):.2f} s ({', '.join(f'{t:.2f}' for t in theirs)}); "
              f"this tree / that one: {statistics.median(ours) / statistics.median(theirs):.2f}x")


def print_launch(launch: list[float]) -> None:
    print(f"launch to the home screen, 100 saves (one of 10,000 turns): "
          f"median {statistics.median(launch):.2f} s of {len(launch)} "
          f"({', '.join(f'{t:.2f}' for t in launch)})   (target <= 1 s)")


# --- appending to a long story, in process --------------------------------------------------


def bench_append(turns: int, flushes: int = 60) -> float:
    """UI-thread ms per flush of streamed text into a story showing a campaign of `turns`:
    the time in `append_live` and in the screen updates that follow (layout, compositing,
    rendering). Pilot's own pause walks every widget, so it is not what is timed."""
    from textual.screen import Screen

    from tui.app import GrueApp
    from tui.engine.game import Game
    from tui.model_host import ModelHost
    from tui.screens.adventure import AdventureScreen
    from tui.widgets.story_view import StoryView

    sys.path.insert(0, str(ROOT / "tests"))
    from fakes import FakeBackend

    text = " ".join(WORDS * 5).capitalize() + "."
    c = Campaign(title="append")
    c.turns.append(Turn(OPENING, responses=["It begins."]))
    for i in range(turns - 1):
        c.turns.append(Turn("do", f"> You walk on ({i}).", [text]))
    host = ModelHost(backend_factory=lambda settings: FakeBackend(), close_backend=False)
    app = GrueApp(game=Game(c), host=host)
    tokens = story_tokens(flushes * 3)
    spent = [0.0, 0]  # seconds, nesting depth

    def timed(method):  # type: ignore[no-untyped-def]
        def run(*args, **kwargs):  # type: ignore[no-untyped-def]
            spent[1] += 1
            start = time.perf_counter()
            try:
                return method(*args, **kwargs)
            finally:
                spent[1] -= 1
                if not spent[1]:
                    spent[0] += time.perf_counter() - start
        return run

    async def run() -> float:
        async with app.run_test(size=(COLS, ROWS)) as pilot:
            for _ in range(5):
                await pilot.pause(0.2)
            screen = app.screen
            assert isinstance(screen, AdventureScreen)
            story = screen.story
            story.start_live()
            await pilot.pause(0.2)
            spent[0] = 0.0
            for i in range(flushes):
                story.append_live("".join(tokens[i * 3:i * 3 + 3]))
                await asyncio.sleep(0.06)  # the screen's update runs in between
            return spent[0] * 1000 / flushes

    real_update, real_append = Screen._on_timer_update, StoryView.append_live
    Screen._on_timer_update = timed(real_update)  # type: ignore[method-assign]
    StoryView.append_live = timed(real_append)  # type: ignore[method-assign]
    try:
        return asyncio.run(run())
    finally:
        Screen._on_timer_update = real_update  # type: ignore[method-assign]
        StoryView.append_live = real_append  # type: ignore[method-assign]


# --- main -----------------------------------------------------------------------------------


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--tokens", type=int, default=600, help="tokens per streamed reply")
    parser.add_argument("--rate", type=float, default=60.0, help="tokens a second")
    parser.add_argument("--keys", type=int, default=40, help="keys typed per latency run")
    parser.add_argument("--turns", type=int, default=1000,
                        help="turns in the campaign played while streaming")
    parser.add_argument("--launch-only", action="store_true",
                        help="only the launch figures (--runs launches)")
    parser.add_argument("--runs", type=int, default=3, help="launches to time")
    parser.add_argument("--no-bytecode", action="store_true",
                        help="launch without keeping compiled modules (as under "
                             "PYTHONDONTWRITEBYTECODE): every module compiled every launch")
    parser.add_argument("--against", type=Path, default=None, metavar="DIR",
                        help="with --launch-only: also launch the tree in DIR (another "
                             "checkout), alternated with this one")
    opts = parser.parse_args()
    if opts.launch_only:
        launch_only(opts.runs, opts.against, not opts.no_bytecode)
        return

    server = StandInServer(opts.tokens, opts.rate)
    with tempfile.TemporaryDirectory() as tmp:
        home = Path(tmp) / "play"
        save = make_campaign(Path(tmp) / "campaign", "Streaming bench", opts.turns)
        s = bench_streaming(server, home, save, opts.keys)
        save = make_campaign(Path(tmp) / "campaign-plain", "Streaming bench", opts.turns)
        p = bench_plain(server, Path(tmp) / "plain", save)
        launch_home = Path(tmp) / "launch"
        title = make_saves(launch_home, 100, 10_000)
        launch, _ = bench_launch(launch_home, title, opts.runs,
                                 bytecode=not opts.no_bytecode)
    server.close()
    bench_append(10, 5)  # warm up: the first app of a process pays for imports and CSS
    runs = [(bench_append(10), bench_append(5000)) for _ in range(3)]
    append_10 = statistics.median(r[0] for r in runs)
    append_5000 = statistics.median(r[1] for r in runs)

    tokens, text_bytes, written = int(s["tokens"]), int(s["text_bytes"]), int(s["bytes"])
    busy: list[float] = s["busy_keys"]  # type: ignore[assignment]
    idle: list[float] = s["idle_keys"]  # type: ignore[assignment]
    print(f"streaming {tokens} tokens ({text_bytes} text bytes) at {opts.rate:g} tokens/s "
          f"into a campaign of {opts.turns} turns, {COLS}x{ROWS}, TERM=xterm-256color")
    print(f"  TUI:     {written} bytes = {written / tokens:.0f} B/token, "
          f"{written / text_bytes:.1f} B/text byte   (target <= 150 B/token)")
    print(f"  --plain: {p['bytes']} bytes = {p['bytes'] / p['text_bytes']:.2f} B/text byte "
          f"({p['tokens']} tokens)   (target <= 1.1)")
    print(f"keys while streaming: {latency_figures(busy)}   (target p95 <= 50 ms)")
    print(f"keys while idle:      {latency_figures(idle)}")
    print(f"idle screen: {s['idle_bytes_per_s']:.0f} bytes/s over 5 s   (target ~0)")
    print_launch(launch)
    print(f"a flush appended to the story (UI-thread ms, median of 3): {append_10:.2f} ms at "
          f"10 turns, {append_5000:.2f} ms at 5,000 turns: ratio {append_5000 / append_10:.2f}x"
          f"   (target ~1x)")


if __name__ == "__main__":
    main()
