"""The world state's update through a server (docs/architecture.md, "World state", "Remote
backends"): the request carries the schema; a server that refuses it is told once."""

from __future__ import annotations

import io
import json
import threading
from pathlib import Path

from fakes import FakeBackend
from remote_standin import StandIn, completion_event, send_json, send_sse

from tui.backends.remote import KoboldBackend, OpenAIBackend
from tui.core.backend import NoJsonSchema, Prompt
from tui.core.sampler import Sampler
from tui.engine.campaign import Campaign
from tui.engine.game import Game
from tui.engine.world.propose import AFTER_STORY, SCHEMA, UNAVAILABLE
from tui.plain import PlainSession

MODELS = {"object": "list", "data": [{"id": "stand-in", "object": "model"}]}
PROMPT = Prompt(tokens=[], text="What changed, as JSON:")
ANSWER = '{"changes": [{"op": "add_item", "item": "brass lantern"}]}'


def server(status: int) -> StandIn:
    s = StandIn()
    s.route("GET", "/v1/models")(lambda req, conn: send_json(conn, MODELS))

    def complete(req, conn) -> None:  # type: ignore[no-untyped-def]
        if status != 200:
            send_json(conn, {"error": {"message": "response_format is not supported"}}, status)
        else:
            send_sse(conn, [completion_event(ANSWER[:20]), completion_event(ANSWER[20:], "stop"),
                            "data: [DONE]"])

    s.route("POST", "/v1/completions")(complete)
    return s


def test_openai_request_carries_response_format_and_returns_the_json() -> None:
    with server(200) as s:
        backend = OpenAIBackend(s.url, server="vllm")
        backend.load()
        text = backend.complete_json(PROMPT, SCHEMA, Sampler(max_tokens=64), threading.Event())
        assert json.loads(text)["changes"][0]["item"] == "brass lantern"
        body = s.requests[-1].json()
        assert body["response_format"]["type"] == "json_schema"
        assert body["response_format"]["json_schema"]["schema"] == SCHEMA
        backend.close()


def test_llama_server_gets_its_own_json_schema_field_too() -> None:
    with server(200) as s:
        backend = OpenAIBackend(s.url, server="llama-server")
        backend.load()
        backend.complete_json(PROMPT, SCHEMA, Sampler(max_tokens=64), threading.Event())
        body = next(r for r in s.requests if r.path == "/v1/completions").json()
        assert body["json_schema"] == SCHEMA and "response_format" in body
        backend.close()


def test_a_server_answering_400_is_unavailable_and_asked_no_more() -> None:
    with server(400) as s:
        backend = OpenAIBackend(s.url, server="generic")
        backend.load()
        for _ in range(2):
            try:
                backend.complete_json(PROMPT, SCHEMA, Sampler(max_tokens=64), threading.Event())
            except NoJsonSchema as exc:
                assert "HTTP 400" in str(exc) and "\n" not in str(exc)
            else:
                raise AssertionError("a refused schema must raise NoJsonSchema")
        asked = [r for r in s.requests if r.path == "/v1/completions"]
        assert len(asked) == 1  # the second call did not ask again
        backend.close()


def test_kobold_gets_a_gbnf_grammar_made_from_the_schema() -> None:
    s = StandIn()
    s.route("GET", "/api/extra/version")(
        lambda req, conn: send_json(conn, {"result": "KoboldCpp", "version": "1.80"}))
    s.route("GET", "/api/v1/model")(lambda req, conn: send_json(conn, {"result": "m"}))
    s.route("GET", "/api/v1/config/max_context_length")(
        lambda req, conn: send_json(conn, {"value": 2048}))
    s.route("POST", "/api/extra/tokencount")(lambda req, conn: send_json(conn, {"ids": []}))
    s.route("POST", "/api/extra/generate/stream")(lambda req, conn: send_sse(
        conn, ["event: message\ndata: " + json.dumps({"token": ANSWER})]))
    with s:
        backend = KoboldBackend(s.url)
        backend.load()
        text = backend.complete_json(PROMPT, SCHEMA, Sampler(max_tokens=64), threading.Event())
        assert json.loads(text)["changes"][0]["op"] == "add_item"
        body = next(r for r in s.requests if r.path == "/api/extra/generate/stream").json()
        assert "root ::=" in body["grammar"] and "changes-item" in body["grammar"]
        backend.close()


class PausingLines:
    """Lines for line mode that wait, before each, for the idle work to finish (a player
    who reads before typing)."""

    def __init__(self, lines: list[str]) -> None:
        self.lines = list(lines)
        self.session: PlainSession | None = None

    def readline(self) -> str:
        job = self.session.read_ahead_job if self.session else None
        if job is not None:
            job[0].join(30)
        return self.lines.pop(0) + "\n" if self.lines else ""


def test_line_mode_says_once_that_a_server_refusing_the_schema_cannot_update(
        tmp_path: Path) -> None:
    s = StandIn()
    s.route("GET", "/v1/models")(lambda req, conn: send_json(conn, MODELS))

    def complete(req, conn) -> None:  # type: ignore[no-untyped-def]
        if "response_format" in req.json():
            send_json(conn, {"error": {"message": "unknown field response_format"}}, 400)
        else:
            send_sse(conn, [completion_event("You find a brass lantern.", "stop"),
                            "data: [DONE]"])

    s.route("POST", "/v1/completions")(complete)
    with s:
        backend = OpenAIBackend(s.url, server="generic")
        game = Game(Campaign(title="t"), save_folder=tmp_path)
        out, err = io.StringIO(), io.StringIO()
        session = PlainSession(game, backend, out, err)
        lines = PausingLines(["look", "look again", "look once more"])
        lines.session = session
        assert session.run(lines) == 0  # type: ignore[arg-type]
        assert err.getvalue().count(UNAVAILABLE) == 1
        asked = [r for r in s.requests if "response_format" in (r.json() or {})]
        assert len(asked) == 1
        backend.close()


def test_line_mode_asks_after_the_story_where_the_local_cache_is_too_large(
        tmp_path: Path) -> None:
    """The local model's cache too large to copy aside: line mode asks the update after the
    story's prompt, every turn, and never says that updates are paused."""
    backend = FakeBackend(["You take the brass lantern."])
    backend.json_replies = [ANSWER, '{"changes": []}']
    backend.can_keep_cache = lambda: False  # type: ignore[method-assign]
    game = Game(Campaign(title="t"), save_folder=tmp_path)
    out, err = io.StringIO(), io.StringIO()
    session = PlainSession(game, backend, out, err)
    lines = PausingLines(["take the lantern", "look", "look again"])
    lines.session = session
    assert session.run(lines) == 0  # type: ignore[arg-type]
    assert "paused" not in err.getvalue() + out.getvalue()
    assert len(backend.json_prompts) >= 2
    assert all(AFTER_STORY in p.text for p in backend.json_prompts)
    assert "brass lantern" in game.campaign.world_state().items
