"""Memory per `grue serve` session: each session is a Grue process of its own; the model is
either one shared model process (the default) or a copy in every game (`--model-per-game`).

    python benchmarks/bench_serve_memory.py [--sessions 3]

Starts `grue serve --open` on 127.0.0.1 three times, side by side in the same run: with the
embedded SmolLM2-135M shared by one model process, with a copy of it in each game
(`--model-per-game`), and with `--model-per-game --backend openai` pointing at a port where
nothing listens (the game runs, no model is loaded). For each, `--sessions` players connect
with asyncssh and wait for the home screen's model line; then the resident memory (RSS) and
proportional share (PSS: shared pages, such as the mmapped GGUF file, divided among the
processes mapping them) of every game process, of the server and of the model process are
read from /proc. Total = games + server + model process.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import asyncssh
from proc_info import children, cmdline  # beside this file

REPO = Path(__file__).resolve().parents[1]


def memory_mb(pid: int) -> tuple[float, float]:
    """(RSS, PSS) of a process in MB."""
    values = {}
    for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines()[1:]:
        name, _, rest = line.partition(":")
        values[name] = int(rest.split()[0]) / 1024
    return values["Rss"], values["Pss"]


async def play(port: int, needle: bytes) -> asyncssh.SSHClientConnection:
    key = asyncssh.generate_private_key("ssh-ed25519")
    conn = await asyncssh.connect("127.0.0.1", port, username="p", known_hosts=None,
                                  client_keys=[key], agent_path=None, config=None)
    proc = await conn.create_process(term_type="xterm-256color", term_size=(80, 24),
                                     encoding=None)
    seen = b""
    deadline = time.monotonic() + 180
    while needle not in seen:
        if time.monotonic() > deadline:
            raise SystemExit(f"no {needle!r} on the home screen: {seen[-400:]!r}")
        seen += await asyncio.wait_for(proc.stdout.read(65536), 180)
    return conn


async def measure(label: str, args: list[str], sessions: int, needle: bytes) -> dict[str, float]:
    with tempfile.TemporaryDirectory() as home:
        env = {**os.environ, "GRUE_HOME": home, "PYTHONPATH": str(REPO)}
        server = subprocess.Popen([sys.executable, "-m", "tui.cli", "serve", "--open",
                                   "--host", "127.0.0.1", "--port", "0", *args], env=env,
                                  stderr=subprocess.DEVNULL)
        status_file = Path(home) / "serve" / "status.json"
        while not status_file.exists():
            await asyncio.sleep(0.1)
        port = json.loads(status_file.read_text())["port"]
        conns = [await play(port, needle) for _ in range(sessions)]
        status = json.loads(status_file.read_text())
        games = [memory_mb(s["child"]) for s in status["sessions"]]
        server_rss, _ = memory_mb(server.pid)
        model_rss = sum(memory_mb(pid)[0] for pid in children(server.pid)
                        if "tui.serve.model_proc" in cmdline(pid))
        for conn in conns:
            conn.close()
        server.send_signal(signal.SIGTERM)
        server.wait(60)
    rss = statistics.mean(g[0] for g in games)
    pss = statistics.mean(g[1] for g in games)
    total = sum(g[0] for g in games) + server_rss + model_rss
    print(f"{label:<38} games {len(games)}  RSS/game {rss:6.1f} MB  PSS/game {pss:6.1f} MB"
          f"  server {server_rss:5.1f} MB  model process {model_rss:6.1f} MB"
          f"  total RSS {total:7.1f} MB")
    return {"rss": rss, "pss": pss, "server": server_rss, "model": model_rss, "total": total}


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--sessions", type=int, default=3)
    args = parser.parse_args()
    shared = await measure("embedded SmolLM2, one shared process", [], args.sessions,
                           b"ready (")
    with_model = await measure("embedded SmolLM2, a copy per game", ["--model-per-game"],
                               args.sessions, b"ready (")
    without = await measure("no model (--backend openai, down)",
                            ["--model-per-game", "--backend", "openai", "--url",
                             "http://127.0.0.1:9"], args.sessions, b"Model: failed")
    print(f"a copy per game: the model's cost per session RSS "
          f"+{with_model['rss'] - without['rss']:.1f} MB, PSS "
          f"+{with_model['pss'] - without['pss']:.1f} MB")
    print(f"shared: a game's RSS {shared['rss']:.1f} MB against {with_model['rss']:.1f} MB "
          f"({with_model['rss'] / shared['rss']:.2f}x less); total RSS for {args.sessions} "
          f"sessions {shared['total']:.0f} MB against {with_model['total']:.0f} MB "
          f"({with_model['total'] / shared['total']:.2f}x less)")


if __name__ == "__main__":
    asyncio.run(main())
