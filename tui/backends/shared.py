"""The shared model of `grue serve`: a backend that sends its work to the model process.

A serve session's game does not load a model: `grue serve` runs one model process
(`tui/serve/model_proc.py`) and points every game at its Unix socket ($GRUE_SHARED_MODEL),
which pins the backend whatever the game's settings say (`backends/factory.py`). Requests
and replies are `shared_protocol.py` messages; a generation waits its turn in the model's
fair queue, and the place in line is reported through `Backend.on_queue` (the status line
shows it). A model process that went away is one BackendError line; the next call connects
again (the server restarts it). See docs/architecture.md, "grue serve".
"""

from __future__ import annotations

import contextlib
import itertools
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from tui.backends.ignored import unsupported_by_llama_cpp
from tui.backends.shared_protocol import ProtocolError, Reader, send
from tui.core.backend import (
    Backend,
    BackendError,
    Capabilities,
    ModelInfo,
    NoJsonSchema,
    ProgressCallback,
    Prompt,
    stall_timeout,
)
from tui.core.sampler import Sampler
from tui.core.text import one_line

POLL = 0.1  # seconds between looks at the cancel event while waiting
CONNECT_WAIT = 120.0  # seconds a game waits for the model process to be up (it may be loading)
GONE = "the shared model stopped (the server is restarting it): try again in a moment"


class SharedBackend(Backend):
    reads_ahead = False  # the model's time is shared: nothing is read before Enter
    supports_json_schema = True  # if the model process's backend can (its hello says)
    keeps_side_prompts_apart = True

    def __init__(self, socket_path: str | Path, player: str = "",
                 connect_wait: float = CONNECT_WAIT) -> None:
        self.socket_path = Path(socket_path)
        self.player = player
        self.connect_wait = connect_wait
        self._sock: socket.socket | None = None
        self._reader: Reader | None = None
        self._ids = itertools.count(1)
        self._info: ModelInfo | None = None
        self._hello: dict[str, Any] = {}
        self.capabilities = Capabilities()
        self.last_stats: dict[str, Any] = {}  # the last generation's `done` reply
        self._slot = ""  # inside `keeping_cache`: the side prompt's slot

    # --- connection -----------------------------------------------------------------------

    def load(self, progress: ProgressCallback | None = None) -> ModelInfo:
        if progress is not None:
            progress(0.0)
        self._connect(self.connect_wait)
        if progress is not None:
            progress(1.0)
        return self.info

    def _connect(self, wait: float) -> None:
        deadline = time.monotonic() + wait
        while True:
            sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            try:
                sock.connect(str(self.socket_path))
                break
            except OSError as exc:
                sock.close()
                if time.monotonic() >= deadline:
                    raise BackendError(f"the shared model is not running ({exc.strerror or exc})"
                                       "; the server log says why") from None
                time.sleep(0.2)
        self._sock, self._reader = sock, Reader(sock)
        hello = self._request({"op": "hello", "player": self.player})
        self._hello = hello
        self._info = ModelInfo(
            name=str(hello.get("name", "shared model")), n_ctx=int(hello.get("n_ctx", 2048)),
            train_ctx=hello.get("train_ctx"), chat_template=hello.get("chat_template"),
            bos_token=str(hello.get("bos_token", "")), eos_token=str(hello.get("eos_token", "")),
            architecture=str(hello.get("architecture", "")),
            extra={str(k): str(v) for k, v in (hello.get("extra") or {}).items()})
        self.capabilities = Capabilities(
            counts_tokens=bool(hello.get("counts_tokens", True)),
            can_cancel=bool(hello.get("can_cancel", True)),
            takes_token_prompt=bool(hello.get("takes_token_prompt", True)),
            note=str(hello.get("note", "")))

    def _ensure(self) -> tuple[socket.socket, Reader]:
        if self._sock is None or self._reader is None:
            self._connect(min(self.connect_wait, 5.0))
        assert self._sock is not None and self._reader is not None
        return self._sock, self._reader

    def _drop(self) -> None:
        if self._sock is not None:
            with contextlib.suppress(OSError):
                self._sock.close()
        self._sock, self._reader = None, None

    def _send(self, message: dict[str, Any]) -> None:
        sock, _ = self._ensure()
        try:
            send(sock, message)
        except OSError:
            self._drop()
            raise BackendError(GONE) from None

    def _next(self, timeout: float | None) -> dict[str, Any] | None:
        _, reader = self._ensure()
        try:
            return reader.next(timeout)
        except (ProtocolError, OSError):
            self._drop()
            raise BackendError(GONE) from None

    def _request(self, message: dict[str, Any]) -> dict[str, Any]:
        """Send a request and wait for its answer (stale replies of a stopped stream are
        skipped by their id)."""
        number = next(self._ids)
        self._send({**message, "id": number})
        deadline = time.monotonic() + stall_timeout()
        while True:
            reply = self._next(max(0.01, deadline - time.monotonic()))
            if reply is None:
                self._drop()
                raise BackendError("the shared model did not answer")
            if reply.get("id") != number:
                continue
            if "error" in reply:
                raise BackendError(one_line(str(reply["error"]), 300))
            return reply

    # --- the Backend interface ------------------------------------------------------------

    @property
    def info(self) -> ModelInfo:
        if self._info is None:
            raise BackendError("no model loaded")
        return self._info

    def tokenize(self, text: str, special: bool = True) -> list[int]:
        reply = self._request({"op": "tokenize", "text": text, "special": special})
        return [int(t) for t in reply.get("tokens", [])]

    def detokenize(self, tokens: list[int]) -> str:
        return str(self._request({"op": "detokenize", "tokens": list(tokens)}).get("text", ""))

    def prefix_tokens(self) -> list[int]:
        return [int(t) for t in self._hello.get("prefix_tokens", [])]

    def can_shift(self) -> bool:
        return bool(self._hello.get("can_shift", False))

    def unsupported_samplers(self, sampler: Sampler) -> list[str]:
        if not self._hello.get("local", True):
            return []
        missing = unsupported_by_llama_cpp(sampler)
        if sampler.repetition_range == self._hello.get("repeat_window"):
            missing = [name for name in missing if name != "repetition_range"]
        return missing

    @contextlib.contextmanager
    def keeping_cache(self, resume: threading.Event | None = None, slot: str = "resume"
                      ) -> Iterator[object]:
        """The model process keeps every player's cache by name: a side prompt (the story
        so far, the world state's update) runs there in a slot of its own for this player,
        so the story's cache is not touched, and the side prompt's own is found next time."""
        previous, self._slot = self._slot, slot
        try:
            yield None
        finally:
            self._slot = previous

    def complete_json(self, prompt: Prompt, schema: dict[str, Any], sampler: Sampler,
                      cancel: threading.Event, opening: str = "") -> str:
        if not self._hello.get("json_schema", False):
            raise NoJsonSchema("the shared model cannot constrain output to a JSON schema")
        return "".join(self._job(prompt, sampler, [], cancel, schema, opening))

    def stream(self, prompt: Prompt, sampler: Sampler, stop: list[str],
               cancel: threading.Event) -> Iterator[str]:
        return self._job(prompt, sampler, stop, cancel, None)

    def _job(self, prompt: Prompt, sampler: Sampler, stop: list[str],
             cancel: threading.Event, schema: dict[str, Any] | None, opening: str = ""
             ) -> Iterator[str]:
        number = next(self._ids)
        message: dict[str, Any] = {
            "op": "generate", "id": number, "tokens": list(prompt.tokens), "text": prompt.text,
            "sampler": sampler.to_dict(), "stop": list(stop), "slot": self._slot}
        if schema is not None:
            message["schema"] = schema
            if opening:
                message["opening"] = opening
        self._send(message)
        # A side prompt waits in line behind every turn and nobody waits for it: its place
        # is not shown ("queued: 2nd" would read as the player's turn being stuck).
        tell = (lambda _place: None) if self._slot else self._tell_queue
        finished = cancel_sent = False
        try:
            while True:
                if cancel.is_set() and not cancel_sent:
                    self._send({"op": "cancel", "id": number})
                    cancel_sent = True
                reply = self._next(POLL)
                if reply is None or reply.get("id") != number:
                    continue
                if "queued" in reply:
                    tell(int(reply["queued"]))
                elif reply.get("started"):
                    tell(0)
                elif "text" in reply:
                    yield str(reply["text"])
                elif "error" in reply:
                    finished = True
                    error = one_line(str(reply["error"]), 300)
                    raise NoJsonSchema(error) if reply.get("no_json_schema") \
                        else BackendError(error)
                elif reply.get("done"):
                    finished = True
                    self.last_stats = reply
                    return
        finally:
            tell(0)
            if not finished and not cancel_sent and self._sock is not None:
                with contextlib.suppress(BackendError):  # a stream dropped half way
                    self._send({"op": "cancel", "id": number})

    def _tell_queue(self, place: int) -> None:
        if self.on_queue is not None:
            self.on_queue(place)

    def stats(self) -> dict[str, Any]:
        """What the model process reports: jobs served, tokens read per player, caches."""
        return self._request({"op": "stats"})

    def close(self) -> None:
        self._drop()
