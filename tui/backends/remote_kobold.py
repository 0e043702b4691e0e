"""KoboldCpp's own API (`/api/v1`, `/api/extra`): more samplers than its OpenAI endpoint.

Streaming is `POST /api/extra/generate/stream`: SSE `event: message` with
`data: {"token": "..."}`, the connection closing at the end. A `genkey` identifies our
generation so `/api/extra/abort` stops exactly it (KoboldCpp keeps generating after a client
disconnects unless told).
"""

from __future__ import annotations

import contextlib
import json
import sys
import threading
import uuid
from collections.abc import Iterator
from typing import Any

from tui.backends.json_grammar import schema_grammar
from tui.backends.remote_common import (
    FIELDS_REFUSED,
    ReplyCap,
    sampler_fields,
    unsupported,
)
from tui.backends.remote_http import Cancelled, Endpoint, HttpClient, one_line
from tui.backends.sse import SSEError, parse_events
from tui.core.backend import (
    STALL_TIMEOUT,
    Backend,
    BackendError,
    Capabilities,
    ModelInfo,
    NoJsonSchema,
    ProgressCallback,
    Prompt,
)
from tui.core.sampler import Sampler

PROBE_TIMEOUT = 10.0
ABORT_TIMEOUT = 3.0

SAMPLERS = {
    "temperature": "temperature",
    "top_p": "top_p",
    "top_k": "top_k",
    "min_p": "min_p",
    "typical_p": "typical",
    "tfs_z": "tfs",
    "top_a": "top_a",
    "repetition_penalty": "rep_pen",
    "repetition_range": "rep_pen_range",
    "repetition_slope": "rep_pen_slope",
    "presence_penalty": "presence_penalty",
    "mirostat_mode": "mirostat",
    "mirostat_tau": "mirostat_tau",
    "mirostat_eta": "mirostat_eta",
}


class KoboldBackend(Backend):
    """A KoboldCpp server through its native API.

    KoboldCpp serves one model, so `model` is only a label check: a different name loaded
    there is reported in `info.extra["asked_model"]`, not refused. `n_ctx` caps the context;
    `api_key` is the server's `--password` (sent as `Authorization: Bearer`); `timeout` is the
    stall timeout in seconds.
    """

    capabilities = Capabilities(counts_tokens=True, can_cancel=True, takes_token_prompt=False)

    def __init__(
        self,
        url: str,
        model: str | None = None,
        timeout: float = STALL_TIMEOUT,
        *,
        api_key: str | None = None,
        connect_timeout: float = 5.0,
        n_ctx: int | None = None,
    ) -> None:
        endpoint = Endpoint.parse(url)
        if endpoint.prefix.endswith("/api"):
            endpoint = Endpoint(endpoint.scheme, endpoint.host, endpoint.port, endpoint.prefix[:-4])
        headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}  # --password
        self._client = HttpClient(
            endpoint, endpoint.base + "/api", connect_timeout, timeout, headers
        )
        self._model = model
        self._n_ctx = n_ctx
        self._info: ModelInfo | None = None
        self._bos_prefix: list[int] = []
        self._json_refused = ""  # why the server refused a grammar (asked no more)

    @property
    def stall_timeout(self) -> float:
        return self._client.read_timeout

    def close(self) -> None:
        self._client.close()

    def _get(self, path: str) -> Any:
        return self._client.get_json(path, timeout=min(PROBE_TIMEOUT, self._client.read_timeout))

    def load(self, progress: ProgressCallback | None = None) -> ModelInfo:
        if progress:
            progress(0.0)
        version = self._get("/api/extra/version")
        if not isinstance(version, dict) or not isinstance(version.get("result"), str):
            raise BackendError(
                f"{self._client.where('/api/extra/version')}: not a KoboldCpp answer "
                f"{one_line(json.dumps(version), 60)}"
            )
        model = self._get("/api/v1/model")
        name = model.get("result") if isinstance(model, dict) else None
        ctx = self._get("/api/v1/config/max_context_length")
        n_ctx = ctx.get("value") if isinstance(ctx, dict) else None
        if not isinstance(name, str) or not isinstance(n_ctx, int) or n_ctx <= 0:
            raise BackendError(
                f"{self._client.where('/api/v1')}: unexpected model or context answer"
            )
        name = name.removeprefix("koboldcpp/")
        extra = {
            "server": "koboldcpp",
            "url": self._client.label,
            "version": str(version.get("version", "")),
            "n_ctx_source": "server",
        }
        if self._n_ctx and self._n_ctx < n_ctx:
            n_ctx, extra["n_ctx_source"] = self._n_ctx, "configured"
        if self._model and self._model != name:
            extra["asked_model"] = self._model
        self._info = ModelInfo(name=name, n_ctx=n_ctx, extra=extra)
        self._bos_prefix = self._count("")  # KoboldCpp may add BOS: learn it to drop it
        if progress:
            progress(1.0)
        return self._info

    @property
    def info(self) -> ModelInfo:
        if self._info is None:
            raise BackendError("not connected: call load() first")
        return self._info

    def _count(self, text: str) -> list[int]:
        path = "/api/extra/tokencount"
        data = self._client.post_json(path, {"prompt": text})
        ids = data.get("ids") if isinstance(data, dict) else None
        if not isinstance(ids, list) or not all(isinstance(t, int) for t in ids):
            raise BackendError(
                f"{self._client.where('/api/extra/tokencount')}: no token ids in answer"
            )
        return ids

    def tokenize(self, text: str, special: bool = True) -> list[int]:
        self.info  # noqa: B018 - raises if not loaded
        ids = self._count(text)
        prefix = self._bos_prefix
        return ids[len(prefix) :] if prefix and ids[: len(prefix)] == prefix else ids

    def detokenize(self, tokens: list[int]) -> str:
        data = self._client.post_json("/api/extra/detokenize", {"ids": tokens})
        text = data.get("result") if isinstance(data, dict) else None
        if not isinstance(text, str):
            raise BackendError(f"{self._client.where('/api/extra/detokenize')}: no text in answer")
        return text

    def unsupported_samplers(self, sampler: Sampler) -> list[str]:
        return unsupported(sampler, SAMPLERS)

    def request_body(
        self, prompt: Prompt, sampler: Sampler, stop: list[str], genkey: str
    ) -> dict[str, Any]:
        body: dict[str, Any] = {
            "prompt": prompt.text,
            "max_length": sampler.max_tokens,
            "max_context_length": self.info.n_ctx,
            "stop_sequence": list(stop),
            "trim_stop": True,
            "sampler_seed": -1 if sampler.seed is None else sampler.seed,
            "genkey": genkey,
        }
        body.update(sampler_fields(sampler, SAMPLERS))
        return body

    def stream(
        self,
        prompt: Prompt,
        sampler: Sampler,
        stop: list[str],
        cancel: threading.Event,
    ) -> Iterator[str]:
        return self._stream(prompt, sampler, stop, cancel, {})

    supports_json_schema = True

    def complete_json(self, prompt: Prompt, schema: dict[str, Any], sampler: Sampler,
                      cancel: threading.Event, opening: str = "") -> str:
        """KoboldCpp takes a GBNF `grammar`, made from the schema here; a server that
        answers it with an HTTP error (an old version) raises NoJsonSchema, now and later."""
        if self._json_refused:
            raise NoJsonSchema(self._json_refused)
        grammar = schema_grammar(schema)
        return "".join(self._stream(prompt, sampler, [], cancel, {"grammar": grammar}))

    def _stream(self, prompt: Prompt, sampler: Sampler, stop: list[str],
                cancel: threading.Event, fields: dict[str, Any]) -> Iterator[str]:
        genkey = "grue-" + uuid.uuid4().hex[:12]
        body = {**self.request_body(prompt, sampler, stop, genkey), **fields}
        path = "/api/extra/generate/stream"
        label = self._client.where(path)
        finished = False
        cap = ReplyCap(sampler.max_tokens)
        try:
            with self._client.open("POST", path, body, cancel=cancel) as conn:
                resp = conn.response
                if resp.status >= 400:
                    error = self._client.http_error(path, conn.error_response())
                    if fields and resp.status in FIELDS_REFUSED:
                        self._json_refused = str(error)
                        raise NoJsonSchema(str(error))
                    raise error
                if resp.content_type not in ("text/event-stream", ""):
                    raise BackendError(
                        f"{label}: expected an event stream, got {resp.content_type}"
                    )
                for event in parse_events(cap.read(conn.body())):
                    if cancel.is_set() or cap.out_of_bytes:
                        break
                    token = _token(event.data, label)
                    if token:
                        if not cap.take():
                            break
                        yield token
                    if cancel.is_set():
                        break
                else:
                    finished = not cap.out_of_bytes
                if cap.out_of_bytes:
                    cap.check_some_text(label)
        except Cancelled:
            pass
        except SSEError as exc:
            raise BackendError(f"{label}: not an event stream ({exc})") from None
        finally:
            # cancelled, capped, or the caller stopped reading: a disconnect alone does not
            # stop KoboldCpp
            capped = cap.runaway or cap.out_of_bytes
            if not finished and (cancel.is_set() or capped or _closing()):
                self._abort(genkey)

    def _abort(self, genkey: str) -> None:
        """Tell KoboldCpp to stop; a failure here only means it was already done."""
        with contextlib.suppress(BackendError):
            self._client.request(
                "POST", "/api/extra/abort", {"genkey": genkey}, timeout=ABORT_TIMEOUT
            )


def _closing() -> bool:
    """True while a generator is being closed early (GeneratorExit in flight)."""
    return isinstance(sys.exc_info()[1], GeneratorExit)


def _token(data: str, label: str) -> str:
    try:
        obj = json.loads(data)
    except ValueError:
        raise BackendError(f"{label}: not JSON: {one_line(data, 60)!r}") from None
    token = obj.get("token") if isinstance(obj, dict) else None
    if not isinstance(token, str):
        raise BackendError(f"{label}: unexpected data {one_line(data, 60)}")
    return token
