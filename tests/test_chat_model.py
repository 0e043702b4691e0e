"""Chats with the real SmolLM2 model: in process, and `grue chat/resume --plain` as a script."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import tomllib
from pathlib import Path

import pytest

from tui.core.backend import Backend
from tui.engine.actions import Mode
from tui.engine.campaign import OPENING, Settings
from tui.engine.cards import Card
from tui.engine.chat import ChatGame, campaign_from_card, game_for
from tui.engine.game import Game, TurnRequest, generate, make_builder
from tui.engine.saves import dumps, load_save, release_save, write_save

pytestmark = pytest.mark.model

CARD = Card(
    name="Bram",
    description="{{char}} is a gruff old ferryman on a misty river. He talks in short sentences.",
    personality="gruff, honest, tired",
    first_mes="*{{char}} leans on his pole.* Crossing costs a coin, {{user}}.",
    alternate_greetings=["*{{char}} spits into the river.* Well? In or out?"],
    mes_example="<START>\n{{user}}: How deep is it?\n{{char}}: Deep enough. Sit still.",
)


def reply(game: Game, backend: Backend, request: TurnRequest) -> str:
    builder = make_builder(backend, game.campaign)
    sampler = game.campaign.settings.sampler.with_changes(seed=1)
    result = generate(backend, builder, request, sampler, threading.Event(), lambda _t: None)
    assert not result.cancelled
    assert result.report.total_tokens <= builder.budget
    return game.commit(request, result).response


def test_chat_reply_swipe_save_resume(smol_backend: Backend, tmp_path: Path) -> None:
    settings = Settings(n_ctx=2048, max_new_tokens=32, seed=1)
    campaign = campaign_from_card(CARD, "Ann", settings=settings)
    game = game_for(campaign, save_folder=tmp_path)
    assert isinstance(game, ChatGame)
    assert campaign.turns[0].mode == OPENING and len(campaign.turns[0].responses) == 2

    first = reply(game, smol_backend, game.request_action(Mode.SAY, "Is the river safe tonight?"))
    assert len(first.split()) >= 2
    swipe = game.request_swipe()
    assert swipe is not None
    reply(game, smol_backend, swipe)
    turn = campaign.turns[-1]
    assert len(turn.responses) == 2 and turn.chosen == 1 and turn.responses[0] == first
    assert game.swipe(-1) and turn.chosen == 0

    resumed = load_save(game.last_saved)
    again = game_for(resumed, save_folder=tmp_path)
    assert isinstance(again, ChatGame)
    assert resumed.turns[-1].responses == turn.responses and resumed.turns[-1].chosen == 0
    request = again.request_action(Mode.SAY, "Then take me across, Bram.")
    assert request.spec.history[-1].text == first  # the swipe shown is what the model reads
    second = reply(again, smol_backend, request)
    assert second.strip()
    saved = load_save(again.last_saved)
    assert [t.action for t in saved.turns] == ["", "Is the river safe tonight?",
                                               "Then take me across, Bram."]


def grue(args: list[str], stdin: str, home: Path,
         timeout: float = 400) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "GRUE_HOME": str(home)}
    return subprocess.run([sys.executable, "-m", "tui.cli", *args], input=stdin, text=True,
                          capture_output=True, env=env, timeout=timeout)


def test_grue_chat_plain_prints_greeting_and_reply(grue_home: Path) -> None:
    run = grue(["chat", "Ottoline Vask", "--plain", "--seed", "1", "--max-tokens", "24",
                "--ctx", "2048", "--persona", "Ann"], "Hello, who are you?\n/quit\n", grue_home)
    assert run.returncode == 0, run.stderr
    out = run.stdout
    assert "== Ottoline Vask ==" in out
    assert "\nOttoline Vask: " in out.split("Ann: Hello, who are you?")[0]  # the greeting
    assert "{{user}}" not in out and "\x1b" not in out
    after = out.split("Ann: Hello, who are you?", 1)[1]
    assert after.lstrip().startswith("Ottoline Vask:")
    assert len(after.split(":", 1)[1].split()) >= 2
    [save] = sorted((grue_home / "saves").glob("*/campaign.toml"))
    data = tomllib.loads(dumps(load_save(save.parent)))
    assert data["kind"] == "chat" and data["extra"]["persona"]["name"] == "Ann"
    assert data["turns"][-1]["action"] == "Hello, who are you?"
    assert data["turns"][-1]["responses"][0].strip()


def test_grue_resume_plain_continues_a_chat(grue_home: Path) -> None:
    campaign = campaign_from_card(CARD, "Ann", settings=Settings(n_ctx=2048, seed=1))
    turn = campaign.begin_turn("chat", "Is it far?")
    turn.responses.append("Far enough.")
    write_save(campaign)
    release_save(campaign)  # this process wrote it; let `grue resume` play it
    run = grue(["resume", "--plain", "--max-tokens", "24"], "How long, then?\n", grue_home)
    assert run.returncode == 0, run.stderr
    assert "Bram: Far enough." in run.stdout  # the recap, with names
    after = run.stdout.split("Ann: How long, then?", 1)[1]
    assert after.lstrip().startswith("Bram:")
    data = tomllib.loads(dumps(load_save(next((grue_home / "saves").glob("*/campaign.toml")))))
    assert data["turns"][-1]["action"] == "How long, then?"  # sent as typed
