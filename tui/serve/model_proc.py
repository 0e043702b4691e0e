"""The shared model process of `grue serve`: one model for every player's game.

    python -m tui.serve.model_proc --socket PATH [--model FILE | --backend openai --url URL]

Loads the model once, then serves the games (`tui/backends/shared.py`) over a Unix socket
(mode 0600) with the messages of `tui/backends/shared_protocol.py`. Generation runs on one
model thread, taking jobs from a `FairQueue` (round-robin across players); before a player's
job the model's cache is swapped for that player's own, kept in a small LRU (`PlayerCaches`),
so players taking turns do not re-read each other's whole prompts. Tokenizing runs on the
connection threads against a second, vocabulary-only copy of the model, so counting tokens
never waits behind someone's generation. Ends when its standard input closes (the server
went away). See docs/architecture.md, "grue serve".
"""

from __future__ import annotations

import argparse
import contextlib
import itertools
import os
import socket
import sys
import threading
import time
from collections import OrderedDict, deque
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tui.backends.factory import make_backend, resolve_model_path
from tui.backends.shared_protocol import SOCKET_ENV, Peer, ProtocolError, receive
from tui.core.backend import Backend, BackendConfig, BackendError, NoJsonSchema, Prompt
from tui.core.interrupt import Interrupt
from tui.core.sampler import Sampler
from tui.core.text import one_line
from tui.models.memory import (
    KEPT_CACHE_FLOOR,
    available_memory_bytes,
    format_gb,
    kept_cache_budget,
)
from tui.serve.fair_queue import FairQueue

# The recent players whose prompt cache is kept: memory is what runs out, so the byte budget
# decides (SmolLM2's 4,096-token cache is ~90 MB: all of a 20-player load run, where 4 made
# every job re-read its whole story). The budget follows the machine's memory
# (`cache_budget`); CACHE_BYTES where that cannot be told.
CACHE_PLAYERS = 64
CACHE_BYTES = KEPT_CACHE_FLOOR
SERVED_LOG = 1000  # jobs remembered for the stats reply
SLOT_MARK = "\x1f"  # between a player and a side prompt's slot in a cache's name
MAX_OPENING = 40  # characters of a constrained answer's given opening: `{"changes":[`


class PlayerCaches:
    """The model's cache per recent player, least recently used dropped first."""

    def __init__(self, players: int = CACHE_PLAYERS, max_bytes: int = CACHE_BYTES) -> None:
        self.players = players
        self.max_bytes = max_bytes
        self._kept: OrderedDict[str, Any] = OrderedDict()

    def put(self, player: str, kept: Any) -> None:
        self._kept.pop(player, None)
        if kept is None or kept.size > self.max_bytes:
            return
        self._kept[player] = kept
        while len(self._kept) > self.players or self.size > self.max_bytes:
            self._kept.popitem(last=False)

    def take(self, player: str) -> Any:
        return self._kept.pop(player, None)

    @property
    def size(self) -> int:
        return sum(kept.size for kept in self._kept.values())

    def names(self) -> list[str]:
        return list(self._kept)


class Client(Peer):
    """One connected game of the model process."""

    def __init__(self, sock: socket.socket) -> None:
        super().__init__(sock)
        self.player = ""


@dataclass(eq=False)
class Job:
    client: Client
    player: str
    id: int
    tokens: list[int]
    text: str
    sampler: Sampler
    stop: list[str]
    queued: int  # event number when it came in
    cancel: threading.Event = field(default_factory=threading.Event)  # by the game
    place: int = -1  # the place in line last told to the game
    slot: str = ""  # "" the story; else a side prompt's own cache ("world", "resume")
    schema: dict[str, Any] | None = None  # a JSON schema: constrained output (world updates)
    opening: str = ""  # the constrained answer's start, given to the model in the prompt
    halt: threading.Event = field(default_factory=Interrupt)  # stops the model's work at once
    preempted: bool = False  # halted to let a job somebody waits for go first; runs again
    sent_text: bool = False  # text went out: the job can no longer start again unseen
    lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def background(self) -> bool:
        """Nobody waits for it: a side prompt (an update run in the player's pause)."""
        return bool(self.slot)

    def preempt(self) -> bool:
        """Stop it to run again later, if none of its text went out yet."""
        with self.lock:
            if self.sent_text or self.halt.is_set():
                return False
            self.preempted = True
            self.halt.set()
            return True

    def may_send_text(self) -> bool:
        """Whether its text may go out now (not when preempted); once it has, it is never
        preempted (the game would get the text twice)."""
        with self.lock:
            if self.preempted:
                return False
            self.sent_text = True
            return True

    @property
    def cache_key(self) -> str:
        """Whose cache the job runs in: a side prompt (the story so far, the world state's
        update) has one of its own per player, so it never evicts that player's story."""
        return f"{self.player}{SLOT_MARK}{self.slot}" if self.slot else self.player

    def reply(self, **message: Any) -> None:
        self.client.send({"id": self.id, **message})


class ModelService:
    """The model, its queue, the per-player caches, and the tokenizer beside them."""

    def __init__(self, backend: Backend, tokenizer: Backend, caches: PlayerCaches,
                 updates_yield: bool = True) -> None:
        self.backend = backend
        self.tokenizer = tokenizer
        self.tokenizer_lock = threading.Lock()
        self.caches = caches
        # False: updates wait in line like turns (what the serve benchmark compares against).
        self.updates_yield = updates_yield
        self.queue: FairQueue[Job] = FairQueue(
            background=(lambda job: job.background) if updates_yield else None)
        self.events = itertools.count(1)
        self.running: Job | None = None
        self.running_since = 0.0  # when the running job started (epoch seconds)
        self.tokens_read: dict[str, int] = {}  # prompt tokens read per player, all jobs
        self.current = ""  # whose cache the model holds
        self.served: deque[dict[str, Any]] = deque(maxlen=SERVED_LOG)
        self.last_read: dict[str, dict[str, int]] = {}
        self.hello = self._hello()
        self._thread = threading.Thread(target=self._run, name="grue-shared-model", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def _hello(self) -> dict[str, Any]:
        info = self.backend.info
        caps = self.backend.capabilities
        prefix = getattr(self.tokenizer, "prefix_tokens", list)()
        shifts = bool(getattr(self.backend, "can_shift", lambda: False)())
        return {
            "name": info.name, "n_ctx": info.n_ctx, "train_ctx": info.train_ctx,
            "chat_template": info.chat_template, "bos_token": info.bos_token,
            "eos_token": info.eos_token, "architecture": info.architecture,
            "extra": {k: v for k, v in info.extra.items() if k != "path"},
            "counts_tokens": caps.counts_tokens, "can_cancel": caps.can_cancel,
            "takes_token_prompt": caps.takes_token_prompt, "note": caps.note,
            "prefix_tokens": prefix, "can_shift": shifts,
            "local": hasattr(self.backend, "save_cache"),
            "repeat_window": getattr(self.backend, "repeat_window", 0),
            "json_schema": bool(getattr(self.backend, "supports_json_schema", False)),
        }

    # --- requests from the games (connection threads) ------------------------------------

    def tokenize(self, text: str, special: bool) -> list[int]:
        with self.tokenizer_lock:
            return self.tokenizer.tokenize(text, special)

    def detokenize(self, tokens: list[int]) -> str:
        with self.tokenizer_lock:
            return self.tokenizer.detokenize(tokens)

    def submit(self, job: Job) -> None:
        """Queue a job. One somebody waits for halts a running background job (an update in
        another player's pause), which goes back in line and reads on from what it had read:
        Enter never waits for someone else's update."""
        self.queue.put(job)
        running = self.running
        if self.updates_yield and running is not None and running.background \
                and not job.background:
            running.preempt()
        self.tell_places()

    def cancel(self, client: Client, job_id: int | None = None) -> None:
        """Cancel a game's job (`job_id`), or all of them (None: it disconnected)."""
        def mine(job: Job) -> bool:
            return job.client is client and (job_id is None or job.id == job_id)

        for job in self.queue.remove(mine):
            job.reply(done=True, cancelled=True)
        running = self.running
        if running is not None and mine(running):
            running.cancel.set()
            running.halt.set()
        self.tell_places()

    def tell_places(self) -> None:
        """Tell every waiting job its place in line (1 = next) when it changed."""
        idle = self.running is None  # the first in line is being taken: no need to say so
        for place, job in enumerate(self.queue.order(), start=1):
            if job.place != place and not (idle and place == 1):
                job.place = place
                job.reply(queued=place)

    def stats(self) -> dict[str, Any]:
        running = self.running
        now = {"player": running.player, "id": running.id, "since": self.running_since} \
            if running is not None else None
        return {"served": list(self.served), "read": self.last_read,
                "cached": self.caches.names(), "current": self.current,
                "waiting": len(self.queue), "waiting_by_player": self.queue.waiting(),
                "running": now, "tokens_read": dict(self.tokens_read),
                "cache_budget": self.caches.max_bytes}

    # --- the model thread ----------------------------------------------------------------

    def _run(self) -> None:
        while True:
            job = self.queue.take()
            if job is None:
                return
            self.running_since = time.time()
            self.running = job
            started = next(self.events)
            self.tell_places()
            try:
                end = self._serve(job)
            finally:
                self.running = None
            if end is None:  # preempted: back in line, after what preempted it
                self._requeue(job)
                continue
            # Logged before the game hears of the end, so a stats request after it sees it.
            self.served.append({"player": job.player, "id": job.id, "queued": job.queued,
                                "started": started, "finished": next(self.events)})
            job.reply(**end)

    def _requeue(self, job: Job) -> None:
        with job.lock:
            job.preempted = False
            if not job.cancel.is_set():
                job.halt.clear()
        self.queue.put(job)
        self.tell_places()

    def _serve(self, job: Job) -> dict[str, Any] | None:
        """Run one job, streaming its text; the last message for it (done, or an error), or
        None when it was preempted before any of its text went out."""
        if job.cancel.is_set() or not job.client.open:
            return {"done": True, "cancelled": True}
        job.reply(started=True)
        self._switch_to(job.cache_key)
        prompt = Prompt(job.tokens, job.text)
        try:
            if job.schema is not None:
                text = self.backend.complete_json(prompt, job.schema, job.sampler, job.halt,
                                                  job.opening)
                if text and job.may_send_text():
                    job.reply(text=text)
            else:
                for piece in self.backend.stream(prompt, job.sampler, job.stop, job.halt):
                    if not job.may_send_text():
                        break
                    job.reply(text=piece)
                    if not job.client.open:
                        job.cancel.set()
                        job.halt.set()
        except NoJsonSchema as exc:
            return {"error": one_line(str(exc), 300), "no_json_schema": True}
        except BackendError as exc:
            return {"error": one_line(str(exc), 300)}
        except Exception as exc:  # noqa: BLE001 - one game's bad request ends that job only
            return {"error": one_line(f"the shared model failed: {exc}", 300)}
        prefill = getattr(self.backend, "last_prefill", None)
        read = {"reused": getattr(prefill, "reused", 0), "read": getattr(prefill, "read", 0)}
        self.last_read[job.player] = read
        self.tokens_read[job.player] = self.tokens_read.get(job.player, 0) + read["read"]
        if job.preempted and not job.cancel.is_set():
            return None
        return {"done": True, "cancelled": job.cancel.is_set(), **read}

    def _switch_to(self, player: str) -> None:
        """Put `player`'s cache in the model, keeping the one it held for its player."""
        if player == self.current or not hasattr(self.backend, "save_cache"):
            self.current = player
            return
        if self.current:
            self.caches.put(self.current, self.backend.save_cache())
        self.backend.restore_cache(self.caches.take(player))
        self.current = player


def handle(service: ModelService, sock: socket.socket) -> None:
    """One game's connection, until it closes: its jobs are then cancelled."""
    client = Client(sock)
    try:
        while True:
            message = receive(sock)
            answer = _answer(service, client, message)
            if answer is not None:
                client.send({"id": message.get("id"), **answer})
    except (ProtocolError, OSError):
        pass
    finally:
        client.open = False
        service.cancel(client)
        with contextlib.suppress(OSError):
            sock.close()


def _answer(service: ModelService, client: Client, message: dict[str, Any]
            ) -> dict[str, Any] | None:
    op = message.get("op")
    try:
        if op == "hello":
            client.player = str(message.get("player") or f"anonymous-{id(client)}")[:200]
            return service.hello
        if op == "tokenize":
            return {"tokens": service.tokenize(str(message.get("text", "")),
                                               bool(message.get("special", True)))}
        if op == "detokenize":
            return {"text": service.detokenize([int(t) for t in message.get("tokens", [])])}
        if op == "generate":
            service.submit(_job(service, client, message))
            return None
        if op == "cancel":
            service.cancel(client, int(message.get("id", -1)))
            return None
        if op == "stats":
            return service.stats()
    except BackendError as exc:
        return {"error": one_line(str(exc), 300)}
    except (TypeError, ValueError) as exc:
        return {"error": f"bad {op} request: {one_line(str(exc), 200)}"}
    return {"error": f"unknown request {one_line(str(op), 40)!r}"}


def _job(service: ModelService, client: Client, message: dict[str, Any]) -> Job:
    sampler = message.get("sampler") or {}
    if not isinstance(sampler, dict):
        raise ValueError("sampler must be an object")
    return Job(client=client, player=client.player or f"anonymous-{id(client)}",
               id=int(message["id"]), tokens=[int(t) for t in message.get("tokens", [])],
               text=str(message.get("text", "")), sampler=Sampler.from_dict(sampler),
               stop=[str(s) for s in message.get("stop", [])], queued=next(service.events),
               slot=str(message.get("slot") or "")[:40], schema=_schema(message),
               opening=str(message.get("opening") or "")[:MAX_OPENING])


def _schema(message: dict[str, Any]) -> dict[str, Any] | None:
    schema = message.get("schema")
    if schema is not None and not isinstance(schema, dict):
        raise ValueError("schema must be an object")
    return schema


def listen(path: Path) -> socket.socket:
    """A Unix socket at `path` that only this user can open (0600)."""
    with contextlib.suppress(FileNotFoundError):
        path.unlink()
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    old = os.umask(0o177)
    try:
        sock.bind(str(path))
    finally:
        os.umask(old)
    os.chmod(path, 0o600)
    sock.listen(64)
    return sock


def cache_budget(backend: Backend, available: int | None, chosen: int = 0) -> int:
    """The bytes of players' caches to keep: `chosen` (`--cache-bytes`), else from the
    `available` memory read after the model loaded (`memory.kept_cache_budget`); the local
    backend is set to copy out a cache that large."""
    budget = chosen
    if not budget:
        model_bytes = 0
        path = getattr(backend, "model_path", None)
        if isinstance(path, Path):
            with contextlib.suppress(OSError):
                model_bytes = path.stat().st_size
        budget = kept_cache_budget(available, model_bytes)
    if hasattr(backend, "max_kept_bytes"):
        backend.max_kept_bytes = budget
    return budget


def load_model(config: BackendConfig) -> tuple[Backend, Backend]:
    """The generating backend and the tokenizer beside it (vocabulary only when local)."""
    backend = make_backend(config)
    backend.load()
    if hasattr(backend, "save_cache"):
        from tui.backends.local import LocalBackend

        tokenizer: Backend = LocalBackend(resolve_model_path(config.model), vocab_only=True)
    else:
        tokenizer = make_backend(config)
    tokenizer.load()
    return backend, tokenizer


def _exit_when_orphaned() -> None:
    """Our standard input is a pipe from the server: when it closes, the server is gone."""
    def watch() -> None:
        with contextlib.suppress(OSError):
            while sys.stdin.buffer.read(1024):
                pass
        os._exit(0)

    threading.Thread(target=watch, name="grue-orphan-watch", daemon=True).start()


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="grue serve model")
    p.add_argument("--socket", type=Path, required=True)
    p.add_argument("--model", default="")
    p.add_argument("--backend", choices=["local", "openai", "kobold"], default="local")
    p.add_argument("--url", default="")
    p.add_argument("--ctx", type=int, default=4096)
    p.add_argument("--cache-players", type=int, default=CACHE_PLAYERS)
    p.add_argument("--cache-bytes", type=int, default=0,
                   help="bytes of players' caches to keep (0: half the memory available)")
    p.add_argument("--log", type=Path, default=None, help="llama.cpp's log lines")
    p.add_argument("--watch-stdin", action="store_true",
                   help="exit when standard input closes (the server went away)")
    p.add_argument("--updates-in-line", action="store_true",
                   help="updates wait in line like turns (for benchmarks/bench_serve_updates.py)")
    return p.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    os.environ.pop(SOCKET_ENV, None)  # this process is the shared model: load the real one
    if args.watch_stdin:
        _exit_when_orphaned()
    if args.log is not None:
        from tui.backends.local import route_llama_log

        route_llama_log(args.log)
    config = BackendConfig(kind=args.backend, model=args.model, url=args.url, n_ctx=args.ctx,
                           api_key=os.environ.get("GRUE_API_KEY", ""))
    try:
        backend, tokenizer = load_model(config)
    except BackendError as exc:
        print(f"grue serve model: {one_line(str(exc), 300)}", file=sys.stderr, flush=True)
        return 1
    budget = cache_budget(backend, available_memory_bytes(), args.cache_bytes)
    service = ModelService(backend, tokenizer, PlayerCaches(args.cache_players, budget),
                           updates_yield=not args.updates_in_line)
    service.start()
    listener = listen(args.socket)
    print(f"grue serve model: {backend.info.name} ready on {args.socket}, keeping players' "
          f"caches up to {format_gb(budget)}", flush=True)
    while True:
        sock, _ = listener.accept()
        threading.Thread(target=handle, args=(service, sock), name="grue-shared-client",
                         daemon=True).start()


if __name__ == "__main__":
    sys.exit(main())
