"""Server-kind detection and per-kind requests, against stand-ins shaped like each server's
documented answers (llama-server, vLLM, Ollama, KoboldCpp's /v1, a bare OpenAI clone); plus
the SSE parser, the estimating tokenizer and the sampler mapping on their own."""

from __future__ import annotations

import threading

import pytest
from remote_standin import Request, StandIn, completion_event, send_json, send_sse

from tui.backends.remote import OpenAIBackend
from tui.backends.remote_common import ESTIMATE_NOTE, EstimateTokenizer, active_settings
from tui.backends.sse import Event, SSEError, parse_events
from tui.core.backend import Prompt
from tui.core.sampler import Sampler
from tui.engine.presets import DEFAULT_SAMPLER

TEMPLATE = (
    "{% for m in messages %}<|im_start|>{{ m.role }}\n{{ m.content }}<|im_end|>\n{% endfor %}"
)


def serve(models: list[dict], routes: dict[tuple[str, str], object]) -> StandIn:
    server = StandIn()
    server.route("GET", "/v1/models")(lambda r, c: send_json(c, {"object": "list", "data": models}))
    for (method, path), answer in routes.items():
        server.route(method, path)(
            answer if callable(answer) else (lambda r, c, a=answer: send_json(c, a))
        )
    server.route("POST", "/v1/completions")(
        lambda r, c: send_sse(c, [completion_event("ok", "stop"), "data: [DONE]"])
    )
    return server


def one_request(backend: OpenAIBackend, server: StandIn, prompt: Prompt, sampler: Sampler) -> dict:
    assert "".join(backend.stream(prompt, sampler, ["\n"], threading.Event())) == "ok"
    return next(r for r in reversed(server.requests) if r.path == "/v1/completions").json()


def llama_tokenize(req: Request, conn) -> None:  # type: ignore[no-untyped-def]
    body = req.json()
    assert body["add_special"] is False
    send_json(conn, {"tokens": [{"id": ord(ch), "piece": ch} for ch in body["content"]]})


def test_llama_server() -> None:
    models = [{"id": "smol.gguf", "owned_by": "llamacpp", "meta": {"n_ctx_train": 8192}}]
    props = {
        "default_generation_settings": {"n_ctx": 4096},
        "chat_template": TEMPLATE,
        "bos_token": "<s>",
        "eos_token": "</s>",
    }
    routes = {
        ("GET", "/props"): props,
        ("POST", "/tokenize"): llama_tokenize,
        ("POST", "/detokenize"): {"content": "ab"},
    }
    with serve(models, routes) as server:
        backend = OpenAIBackend(server.url + "/v1")
        progress: list[float] = []
        info = backend.load(progress.append)
        assert progress == [0.0, 1.0]
        assert (info.name, info.n_ctx, info.train_ctx) == ("smol.gguf", 4096, 8192)
        assert info.chat_template == TEMPLATE and (info.bos_token, info.eos_token) == (
            "<s>",
            "</s>",
        )
        assert info.extra["server"] == "llama-server" and info.extra["n_ctx_source"] == "server"
        caps = backend.capabilities
        assert caps.counts_tokens and caps.takes_token_prompt and not caps.note
        assert backend.tokenize("ab") == [97, 98]
        assert backend.detokenize([97, 98]) == "ab"
        sampler = Sampler(
            typical_p=0.9, repetition_penalty=1.1, repetition_range=256, mirostat_mode=1, tfs_z=0.9
        )
        body = one_request(backend, server, Prompt([1, 97, 98], "ab"), sampler)
    assert body["prompt"] == [1, 97, 98]  # token ids: exactly what the context builder made
    assert body["typical_p"] == 0.9 and body["repeat_penalty"] == 1.1
    assert body["repeat_last_n"] == 256 and body["mirostat"] == 1
    assert "tfs_z" not in body
    assert backend.unsupported_samplers(sampler) == ["tfs_z"]


def test_vllm() -> None:
    models = [{"id": "Qwen/Qwen2.5-0.5B", "owned_by": "vllm", "max_model_len": 32768}]
    routes = {("POST", "/tokenize"): {"tokens": [5, 6], "count": 2, "max_model_len": 32768}}
    with serve(models, routes) as server:
        backend = OpenAIBackend(server.url, n_ctx=8192)
        info = backend.load()
        assert info.n_ctx == 8192 and info.extra["n_ctx_source"] == "configured"
        assert backend.tokenize("hi") == [5, 6]
        tok_req = next(r for r in reversed(server.requests) if r.path == "/tokenize").json()
        assert tok_req == {
            "model": "Qwen/Qwen2.5-0.5B",
            "prompt": "hi",
            "add_special_tokens": False,
        }
        body = one_request(backend, server, Prompt([5, 6], "hi"), Sampler(repetition_penalty=1.2))
    assert body["prompt"] == [5, 6] and body["top_k"] == -1 and body["repetition_penalty"] == 1.2


def test_ollama_estimates_tokens() -> None:
    models = [{"id": "llama3.2:1b", "object": "model", "owned_by": "library"}]
    show = {
        "model_info": {"llama.context_length": 131072},
        "parameters": "num_ctx 8192\nstop <|eot_id|>",
        "template": "{{ .Prompt }}",
    }
    routes = {("GET", "/api/version"): {"version": "0.5.7"}, ("POST", "/api/show"): show}
    with serve(models, routes) as server:
        backend = OpenAIBackend(server.url)
        info = backend.load()
        assert info.extra["server"] == "ollama"
        assert (info.n_ctx, info.train_ctx, info.chat_template) == (8192, 131072, None)
        caps = backend.capabilities
        assert not caps.counts_tokens and not caps.takes_token_prompt
        assert caps.note == ESTIMATE_NOTE and "estimate" in caps.note
        text = "The dragon's hoard: 1,204 coins."
        assert backend.detokenize(backend.tokenize(text)) == text
        sampler = Sampler(top_k=40, min_p=0.1, temperature=0.6)
        body = one_request(backend, server, Prompt([1, 2], text), sampler)
    assert body["prompt"] == text and body["temperature"] == 0.6
    assert "top_k" not in body and "min_p" not in body
    assert backend.unsupported_samplers(sampler) == ["top_k", "min_p"]


def test_koboldcpp_openai_endpoint() -> None:
    models = [{"id": "koboldcpp/Tiefighter", "object": "model", "owned_by": "koboldcpp"}]

    def tokencount(req: Request, conn) -> None:  # type: ignore[no-untyped-def]
        ids = [1] + [ord(ch) for ch in req.json()["prompt"]]
        send_json(conn, {"value": len(ids), "ids": ids})

    routes = {
        ("GET", "/api/extra/version"): {"result": "KoboldCpp", "version": "1.80"},
        ("GET", "/api/v1/config/max_context_length"): {"value": 8192},
        ("POST", "/api/extra/tokencount"): tokencount,
    }
    with serve(models, routes) as server:
        backend = OpenAIBackend(server.url)
        info = backend.load()
        assert info.extra["server"] == "koboldcpp" and info.n_ctx == 8192
        assert backend.tokenize("ab") == [97, 98]
        body = one_request(backend, server, Prompt([97], "a"), Sampler(top_a=0.1, tfs_z=0.9))
    assert body["prompt"] == "a" and body["top_a"] == 0.1 and body["tfs"] == 0.9


def test_generic_server_and_forced_kind() -> None:
    models = [{"id": "a"}, {"id": "b"}]
    with serve(models, {}) as server:
        backend = OpenAIBackend(server.url, model="b")
        info = backend.load()
        assert info.name == "b" and info.extra["server"] == "generic"
        assert info.n_ctx == 2048 and info.extra["n_ctx_source"] == "assumed"
        assert not backend.capabilities.counts_tokens
        body = one_request(backend, server, Prompt([], "x"), DEFAULT_SAMPLER)
        assert body["model"] == "b"
        assert set(backend.unsupported_samplers(DEFAULT_SAMPLER)) == {
            "top_k",
            "repetition_penalty",
            "repetition_range",
        }
        server.requests.clear()
        forced = OpenAIBackend(server.url, server="generic", extra={"grammar": "root ::= x"})
        forced.load()
        assert [r.path for r in server.requests] == ["/v1/models"]  # no probing
        assert one_request(forced, server, Prompt([], "x"), Sampler())["grammar"] == "root ::= x"


# -- pieces on their own --------------------------------------------------------------------


def test_sse_parser() -> None:
    raw = [
        b': ping\r\n\r\nevent: message\r\ndata: {"a"',
        b": 1}\r",
        b"\n\r\ndata: line1\ndata: line2\n\nid: 3\nretry: 10\ndata:nospace\n\n",
        b"data: last without blank line",
    ]
    assert list(parse_events(raw)) == [
        Event("message", '{"a": 1}'),
        Event("message", "line1\nline2"),
        Event("message", "nospace"),
        Event("message", "last without blank line"),
    ]
    with pytest.raises(SSEError):
        list(parse_events([b"<html>\n<body>\n"]))


def test_estimate_tokenizer_round_trips_and_overcounts() -> None:
    est = EstimateTokenizer()
    texts = ["", "  two  spaces\n\n\tand tabs", "Ünïcödé ✨ 東京 snake_case 12345", "a" * 50]
    for text in texts:
        assert est.detokenize(est.tokenize(text)) == text
    prose = "The old lighthouse keeper climbed the stairs, counting each step as he went."
    assert 14 <= len(est.tokenize(prose)) <= 40  # a BPE tokenizer needs ~16 here
    assert est.tokenize("the the") == est.tokenize("the") + est.tokenize(" the")


def test_active_settings() -> None:
    assert active_settings(Sampler()) == []
    assert active_settings(Sampler(repetition_range=64, mirostat_tau=3.0, seed=1)) == []
    assert active_settings(Sampler(repetition_penalty=1.1, repetition_range=64)) == [
        "repetition_penalty",
        "repetition_range",
    ]
    assert active_settings(Sampler(mirostat_mode=2, mirostat_eta=0.2)) == [
        "mirostat_mode",
        "mirostat_eta",
    ]
