"""OpenAI-compatible completion servers: llama-server, llama_cpp.server, vLLM, Ollama, KoboldCpp.

They share `/v1/models` and a streaming `/v1/completions`, and differ in everything else:
which sampler fields they read, whether they tokenize, whether a prompt may be token ids and
where the context size is told. `load()` finds out which kind answers (see `_detect`) and a
`ServerKind` row holds the differences.
"""

from __future__ import annotations

import json
import re
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from typing import Any

from tui.backends.json_grammar import schema_grammar
from tui.backends.remote_common import (
    ESTIMATE_NOTE,
    FIELDS_REFUSED,
    EstimateTokenizer,
    ReplyCap,
    sampler_fields,
    unsupported,
)
from tui.backends.remote_http import Cancelled, Endpoint, HttpClient, one_line
from tui.backends.remote_kobold import SAMPLERS as KOBOLD_SAMPLERS
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

DEFAULT_N_CTX = 2048  # llama_cpp.server's own default, used when a server does not say
PROBE_TIMEOUT = 10.0

_OPENAI = {
    "temperature": "temperature",
    "top_p": "top_p",
    "presence_penalty": "presence_penalty",
    "frequency_penalty": "frequency_penalty",
}
_LLAMA_CPP_PYTHON = {
    **_OPENAI,
    "top_k": "top_k",
    "min_p": "min_p",
    "repetition_penalty": "repeat_penalty",
    "mirostat_mode": "mirostat_mode",
    "mirostat_tau": "mirostat_tau",
    "mirostat_eta": "mirostat_eta",
}
# llama.cpp dropped tail-free sampling (tfs_z) in late 2024.
_LLAMA_SERVER = {
    **_OPENAI,
    "top_k": "top_k",
    "min_p": "min_p",
    "typical_p": "typical_p",
    "repetition_penalty": "repeat_penalty",
    "repetition_range": "repeat_last_n",
    "mirostat_mode": "mirostat",
    "mirostat_tau": "mirostat_tau",
    "mirostat_eta": "mirostat_eta",
}
_VLLM = {
    **_OPENAI,
    "top_k": "top_k",
    "min_p": "min_p",
    "repetition_penalty": "repetition_penalty",
}
# KoboldCpp's /v1 handler passes its own sampler names through to the generator.
_KOBOLDCPP = {**KOBOLD_SAMPLERS, "mirostat_mode": "mirostat_mode"}


@dataclass(frozen=True)
class ServerKind:
    """What one kind of OpenAI-compatible server can do, and how it is asked."""

    name: str
    samplers: dict[str, str] = field(default_factory=lambda: dict(_OPENAI))
    takes_token_prompt: bool = False
    tokenize_path: str | None = None  # None: estimate from characters
    detokenize_path: str | None = None


KINDS: dict[str, ServerKind] = {
    k.name: k
    for k in (
        ServerKind("llama-server", _LLAMA_SERVER, True, "/tokenize", "/detokenize"),
        # prompt is `str | list[str]` there (verified against 0.3.x): no token ids
        ServerKind(
            "llama-cpp-python", _LLAMA_CPP_PYTHON, False, "/extras/tokenize", "/extras/detokenize"
        ),
        ServerKind("vllm", _VLLM, True, "/tokenize", "/detokenize"),
        ServerKind(
            "koboldcpp", _KOBOLDCPP, False, "/api/extra/tokencount", "/api/extra/detokenize"
        ),
        ServerKind("ollama"),
        ServerKind("generic"),
    )
}


class OpenAIBackend(Backend):
    """A server speaking the OpenAI completions API (text completion, not chat).

    `server` forces a kind from `KINDS` instead of detecting it. `n_ctx` is the context size
    to assume when the server does not tell, and a cap when it does. `extra` is merged into
    every completion request (server-specific fields such as `min_tokens` or `grammar`).
    `api_key` is sent as `Authorization: Bearer`; `timeout` is the stall timeout in seconds
    (how long the server may say nothing).
    """

    def __init__(
        self,
        url: str,
        model: str | None = None,
        api_key: str | None = None,
        timeout: float = STALL_TIMEOUT,
        *,
        connect_timeout: float = 5.0,
        n_ctx: int | None = None,
        server: str | None = None,
        extra: dict[str, Any] | None = None,
    ) -> None:
        endpoint = Endpoint.parse(url)
        if endpoint.prefix.endswith("/v1"):  # accept both http://host:port and .../v1
            endpoint = replace(endpoint, prefix=endpoint.prefix[: -len("/v1")])
        if server is not None and server not in KINDS:
            raise BackendError(f"unknown server kind {server!r} (one of {', '.join(KINDS)})")
        headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
        self._client = HttpClient(
            endpoint, endpoint.base + "/v1", connect_timeout, timeout, headers
        )
        self._model = model
        self._n_ctx = n_ctx
        self._forced_kind = server
        self._extra = dict(extra or {})
        self.kind: ServerKind = KINDS[server or "generic"]
        self._info: ModelInfo | None = None
        self._estimate: EstimateTokenizer | None = None
        self._bos_prefix: list[int] = []
        self._json_refused = ""  # why the server refused a JSON schema (asked no more)
        self.capabilities = Capabilities(takes_token_prompt=False)

    @property
    def stall_timeout(self) -> float:
        return self._client.read_timeout

    def close(self) -> None:
        self._client.close()

    # -- loading -------------------------------------------------------------------------

    def load(self, progress: ProgressCallback | None = None) -> ModelInfo:
        if progress:
            progress(0.0)
        models = self._list_models()
        if self._model is None:
            entry = models[0]
        else:
            entry = next((m for m in models if m.get("id") == self._model), {"id": self._model})
        model_id = str(entry["id"])
        self.kind = KINDS[self._forced_kind] if self._forced_kind else self._detect(entry)
        info = self._describe(model_id, entry)
        self._info = info
        counts = False
        if self.kind.tokenize_path is not None:
            try:
                empty = self._remote_tokenize("")
                counts = True
                if self.kind.name in ("llama-cpp-python", "koboldcpp"):
                    # these add BOS when the model wants one: learn it so tokenize() drops it
                    self._bos_prefix = empty
            except BackendError:
                pass  # an older server without the endpoint: estimate instead
        self._estimate = None if counts else EstimateTokenizer()
        self.capabilities = Capabilities(
            counts_tokens=counts,
            can_cancel=True,
            takes_token_prompt=self.kind.takes_token_prompt and counts,
            note="" if counts else ESTIMATE_NOTE,
        )
        if progress:
            progress(1.0)
        return info

    def _unexpected(self, path: str, data: Any) -> BackendError:
        shown = one_line(json.dumps(data), 60)
        return BackendError(f"{self._client.where(path)}: unexpected answer {shown}")

    @property
    def _probe_timeout(self) -> float:
        return min(PROBE_TIMEOUT, self._client.read_timeout)

    def _list_models(self) -> list[dict[str, Any]]:
        data = self._client.get_json("/v1/models", timeout=self._probe_timeout)
        entries = data.get("data") if isinstance(data, dict) else None
        if not isinstance(entries, list) or not all(
            isinstance(e, dict) and isinstance(e.get("id"), str) for e in entries
        ):
            raise self._unexpected("/v1/models", data)
        if not entries and self._model is None:
            raise BackendError(f"{self._client.where('/v1/models')}: the server lists no model")
        return entries

    def _probe(self, method: str, path: str, body: Any = None) -> Any:
        """JSON from `path`, or None if the server does not have it (any error)."""
        try:
            resp = self._client.request(method, path, body, timeout=self._probe_timeout)
            return json.loads(resp.body.decode("utf-8"))
        except (BackendError, ValueError):
            return None

    def _detect(self, entry: dict[str, Any]) -> ServerKind:
        owner = entry.get("owned_by")
        if owner == "llamacpp" or isinstance(entry.get("meta"), dict):
            return KINDS["llama-server"]
        if owner == "vllm" or "max_model_len" in entry:
            return KINDS["vllm"]
        found = self._probe("POST", "/extras/tokenize", {"input": ""})
        if isinstance(found, dict) and isinstance(found.get("tokens"), list):
            return KINDS["llama-cpp-python"]
        version = self._probe("GET", "/api/extra/version")
        if isinstance(version, dict) and version.get("result") == "KoboldCpp":
            return KINDS["koboldcpp"]
        props = self._probe("GET", "/props")
        if isinstance(props, dict) and "default_generation_settings" in props:
            return KINDS["llama-server"]
        version = self._probe("GET", "/api/version")
        if isinstance(version, dict) and "version" in version:
            return KINDS["ollama"]
        return KINDS["generic"]

    def _describe(self, model_id: str, entry: dict[str, Any]) -> ModelInfo:
        """ModelInfo from whatever this kind of server tells about the loaded model."""
        n_ctx: int | None = None
        train_ctx: int | None = None
        template = None
        bos = eos = ""
        kind = self.kind.name
        if kind == "llama-server":
            meta = entry.get("meta") if isinstance(entry.get("meta"), dict) else {}
            train_ctx = _int(meta.get("n_ctx_train"))
            props = self._probe("GET", "/props") or {}
            if isinstance(props, dict):
                settings = props.get("default_generation_settings")
                if isinstance(settings, dict):
                    n_ctx = _int(settings.get("n_ctx"))
                n_ctx = n_ctx or _int(props.get("n_ctx"))
                template = _str(props.get("chat_template"))
                bos, eos = _str(props.get("bos_token")) or "", _str(props.get("eos_token")) or ""
        elif kind == "vllm":
            n_ctx = _int(entry.get("max_model_len"))
        elif kind == "koboldcpp":
            found = self._probe("GET", "/api/v1/config/max_context_length")
            n_ctx = _int(found.get("value")) if isinstance(found, dict) else None
        elif kind == "ollama":
            train_ctx, n_ctx, template = self._ollama_show(model_id)
        source = "server" if n_ctx else "assumed"
        if self._n_ctx:
            source = "configured" if not n_ctx or self._n_ctx < n_ctx else source
            n_ctx = min(self._n_ctx, n_ctx or self._n_ctx)
        extra = {"server": kind, "url": self._client.label, "n_ctx_source": source}
        return ModelInfo(
            name=model_id,
            n_ctx=n_ctx or DEFAULT_N_CTX,
            train_ctx=train_ctx,
            chat_template=template,
            bos_token=bos,
            eos_token=eos,
            extra=extra,
        )

    def _ollama_show(self, model_id: str) -> tuple[int | None, int | None, str | None]:
        shown = self._probe("POST", "/api/show", {"model": model_id})
        if not isinstance(shown, dict):
            return None, None, None
        train = None
        info = shown.get("model_info")
        if isinstance(info, dict):
            train = next((_int(v) for k, v in info.items() if k.endswith(".context_length")), None)
        n_ctx = None
        for line in str(shown.get("parameters") or "").splitlines():
            key, _, value = line.partition(" ")
            if key == "num_ctx":
                n_ctx = _int(value.strip())
        # Ollama's template is a Go template, not Jinja: keep it out of chat_template
        return train, n_ctx, None

    @property
    def info(self) -> ModelInfo:
        if self._info is None:
            raise BackendError("not connected: call load() first")
        return self._info

    # -- tokens ----------------------------------------------------------------------------

    def _remote_tokenize(self, text: str, special: bool = True) -> list[int]:
        kind, path = self.kind.name, self.kind.tokenize_path
        assert path is not None
        if kind == "llama-server":
            body: dict[str, Any] = {"content": text, "add_special": False, "parse_special": special}
        elif kind == "vllm":
            body = {"model": self.info.name, "prompt": text, "add_special_tokens": False}
        elif kind == "koboldcpp":
            body = {"prompt": text}
        else:
            body = {"input": text}
        data = self._client.post_json(path, body)
        key = "ids" if kind == "koboldcpp" else "tokens"
        tokens = data.get(key) if isinstance(data, dict) else None
        if not isinstance(tokens, list):
            raise self._unexpected(path, data)
        # llama-server answers [{"id": .., "piece": ..}] when asked for pieces
        ids = [t.get("id") if isinstance(t, dict) else t for t in tokens]
        if not all(isinstance(t, int) for t in ids):
            raise BackendError(f"{self._client.where(path)}: token ids are not integers")
        return ids

    def tokenize(self, text: str, special: bool = True) -> list[int]:
        """Token ids from the server. Only llama-server honours `special=False`: the
        llama_cpp.server and KoboldCpp endpoints always parse special tokens."""
        if self._estimate is not None:
            return self._estimate.tokenize(text)
        self.info  # noqa: B018 - raises if not loaded
        ids = self._remote_tokenize(text, special)
        prefix = self._bos_prefix
        if prefix and ids[: len(prefix)] == prefix:
            ids = ids[len(prefix) :]
        return ids

    def detokenize(self, tokens: list[int]) -> str:
        if self._estimate is not None:
            return self._estimate.detokenize(tokens)
        path = self.kind.detokenize_path
        assert path is not None
        kind = self.kind.name
        if kind == "koboldcpp":
            body: dict[str, Any] = {"ids": tokens}
        elif kind == "vllm":
            body = {"model": self.info.name, "tokens": tokens}
        else:
            body = {"tokens": tokens}
        data = self._client.post_json(path, body)
        key = {"llama-server": "content", "vllm": "prompt", "koboldcpp": "result"}.get(kind, "text")
        text = data.get(key) if isinstance(data, dict) else None
        if not isinstance(text, str):
            raise self._unexpected(path, data)
        return text

    # -- generation ------------------------------------------------------------------------

    def unsupported_samplers(self, sampler: Sampler) -> list[str]:
        return unsupported(sampler, self.kind.samplers)

    def request_body(self, prompt: Prompt, sampler: Sampler, stop: list[str]) -> dict[str, Any]:
        """The JSON of one streaming completion request."""
        use_tokens = self.capabilities.takes_token_prompt and bool(prompt.tokens)
        body: dict[str, Any] = {
            "model": self.info.name,
            "prompt": list(prompt.tokens) if use_tokens else prompt.text,
            "stream": True,
            "max_tokens": sampler.max_tokens,
        }
        if stop:
            body["stop"] = list(stop)
        if sampler.seed is not None:
            body["seed"] = sampler.seed
        body.update(sampler_fields(sampler, self.kind.samplers))
        if self.kind.name == "vllm" and body.get("top_k") == 0:
            body["top_k"] = -1  # vLLM's "off"
        body.update(self._extra)
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

    def json_fields(self, schema: dict[str, Any]) -> dict[str, Any]:
        """The request fields that constrain a completion to `schema` on this kind of server:
        `response_format` (vLLM, llama-server, and the kinds not known to lack it), with
        llama-server's own `json_schema` beside it; a GBNF `grammar` made from the schema
        where the server takes one and not a schema (KoboldCpp, llama_cpp.server)."""
        if self.kind.name in ("koboldcpp", "llama-cpp-python"):
            return {"grammar": schema_grammar(schema)}
        fields: dict[str, Any] = {"response_format": {
            "type": "json_schema",
            "json_schema": {"name": "grue_update", "schema": schema, "strict": True},
        }}
        if self.kind.name == "llama-server":
            fields["json_schema"] = schema
        return fields

    def complete_json(self, prompt: Prompt, schema: dict[str, Any], sampler: Sampler,
                      cancel: threading.Event, opening: str = "") -> str:
        """A completion constrained to `schema`; a server that refuses the fields (HTTP 400,
        404, 422, 501...) raises NoJsonSchema, now and at every later call."""
        if self._json_refused:
            raise NoJsonSchema(self._json_refused)
        fields = self.json_fields(schema)
        return "".join(self._stream(prompt, sampler, [], cancel, fields))

    def _stream(self, prompt: Prompt, sampler: Sampler, stop: list[str],
                cancel: threading.Event, fields: dict[str, Any]) -> Iterator[str]:
        body = {**self.request_body(prompt, sampler, stop), **fields}
        path = "/v1/completions"
        label = self._client.where(path)
        cap = ReplyCap(sampler.max_tokens)
        try:
            with self._client.open("POST", path, body, cancel=cancel) as conn:
                resp = conn.response
                if resp.status >= 400:
                    error = self._learn_n_ctx(self._client.http_error(path, conn.error_response()))
                    if fields and resp.status in FIELDS_REFUSED:
                        self._json_refused = str(error)
                        raise NoJsonSchema(str(error))
                    raise error
                if resp.content_type == "application/json":  # the server ignored stream: true
                    data = _loads(b"".join(conn.body(32 * 1024 * 1024)).decode("utf-8"), label)
                    text, _ = _completion_text(data, label)
                    if text:
                        yield text
                    return
                if resp.content_type not in ("text/event-stream", ""):
                    raise BackendError(
                        f"{label}: expected an event stream, got {resp.content_type}"
                    )
                outcome = yield from _read_events(cap.read(conn.body()), label, cancel, cap)
                if outcome == "done" and not (cancel.is_set() or cap.runaway or cap.out_of_bytes):
                    conn.drain()  # keep the connection for the next request
        except Cancelled:
            return
        except SSEError as exc:
            raise BackendError(f"{label}: not an event stream ({exc})") from None
        if outcome == "empty":
            raise self._why_empty(body, label)
        if outcome == "cut":
            raise BackendError(f"{label}: stream cut off before the end")

    def _why_empty(self, body: dict[str, Any], label: str) -> BackendError:
        """An event stream that closed before its first event: llama_cpp.server does that when
        the prompt fails (say, longer than its context). The same request without streaming
        (and one token) gets the reason as an HTTP error."""
        probe = {**body, "stream": False, "max_tokens": 1}
        try:
            self._client.request("POST", "/v1/completions", probe)
        except BackendError as exc:
            return self._learn_n_ctx(exc)
        return BackendError(f"{label}: stream ended before any text, with no reason given")

    def _learn_n_ctx(self, exc: BackendError) -> BackendError:
        """A context-length error tells the real context size: keep it if ours was a guess."""
        m = re.search(r"maximum context length is (\d+) tokens", str(exc))
        info = self._info
        if m and info is not None and info.extra.get("n_ctx_source") == "assumed":
            extra = {**info.extra, "n_ctx_source": "server"}
            self._info = replace(info, n_ctx=int(m.group(1)), extra=extra)
        return exc


def _read_events(
    chunks: Iterator[bytes], label: str, cancel: threading.Event, cap: ReplyCap
) -> Iterator[str]:
    """Yield the text of completion events; return how the stream ended:
    "done" ([DONE], a finish reason, past the reply cap, or cancelled), "empty" (no event at
    all) or "cut"."""
    finished = seen = False
    for event in parse_events(chunks):
        if cancel.is_set() or event.data.strip() == "[DONE]":
            return "done"
        if cap.out_of_bytes:  # the rest of a cut-off event
            break
        seen = True
        text, reason = _completion_text(_loads(event.data, label), label)
        finished = finished or reason is not None
        if text:
            if not cap.take():
                return "done"
            yield text
            if cancel.is_set():
                return "done"
    if cap.out_of_bytes:
        cap.check_some_text(label)
        return "done"
    return "done" if finished else ("cut" if seen else "empty")


def _loads(text: str, label: str) -> Any:
    try:
        return json.loads(text)
    except ValueError:
        raise BackendError(f"{label}: not JSON: {one_line(text, 60)!r}") from None


def _completion_text(data: Any, label: str) -> tuple[str, str | None]:
    """The text and finish reason of one completion chunk; server errors become BackendError."""
    if isinstance(data, dict) and "error" in data:
        err = data["error"]
        msg = err.get("message") if isinstance(err, dict) else err
        raise BackendError(f"{label}: server error: {one_line(str(msg))}")
    choices = data.get("choices") if isinstance(data, dict) else None
    if not isinstance(choices, list):
        raise BackendError(f"{label}: unexpected data {one_line(json.dumps(data), 60)}")
    if not choices:
        return "", None  # e.g. a usage-only chunk
    choice = choices[0]
    text = choice.get("text") if isinstance(choice, dict) else None
    if not isinstance(text, str):
        raise BackendError(f"{label}: unexpected data {one_line(json.dumps(data), 60)}")
    reason = choice.get("finish_reason")
    return text, reason if isinstance(reason, str) else None


def _int(value: Any) -> int | None:
    try:
        n = int(value)
    except (TypeError, ValueError):
        return None
    return n if n > 0 else None


def _str(value: Any) -> str | None:
    return value if isinstance(value, str) and value else None
