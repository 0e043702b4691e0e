"""One way to start a game (`tui.engine.start`): the command line and the TUI make the same
campaign from the same inputs, and every option reaches it."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from fakes import FakeBackend

from tui import cli
from tui.app import GrueApp
from tui.engine.cards import Card
from tui.engine.formats.lorebooks import LoreFormatError
from tui.engine.saves import FORMAT_VERSION, campaign_to_dict, list_saves, load_save
from tui.engine.scenario import find_scenario
from tui.engine.start import (
    Asker,
    ImportedStory,
    SavedGame,
    SettingsOverride,
    StartError,
    StartOptions,
    start_game,
)
from tui.model_host import ModelHost
from tui.screens.adventure import AdventureScreen
from tui.screens.chat import ChatScreen
from tui.screens.home import HomeScreen
from tui.screens.scenario_setup import OptionPickDialog, QuestionDialog

MENU = """
title = "Pick a Path"
[[options]]
title = "The Knight"
opening = "You are ${Your name?}, a knight of ${Which realm?}."
memory = "The hero is ${Your name?}."
[[options]]
title = "The Thief"
opening = "You are a thief."
"""

LOREBOOK = {"entries": {"0": {"uid": 0, "key": ["Tarth"], "content": "Tarth is an island.",
                              "comment": "Tarth"}}}


@pytest.fixture
def menu_scenario(grue_home: Path) -> Path:
    folder = grue_home / "scenarios"
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "menu.toml"
    path.write_text(MENU)
    return path


@pytest.fixture
def lorebook(tmp_path: Path) -> Path:
    path = tmp_path / "isles.json"
    path.write_text(json.dumps(LOREBOOK))
    return path


def comparable(path: Path) -> dict[str, Any]:
    """A save as data, without what differs between two runs (id, times)."""
    data = campaign_to_dict(load_save(path), FORMAT_VERSION)
    for key in ("id", "created", "updated"):
        data.pop(key)
    return data


def knight_asker() -> Asker:
    answers = iter(["Brienne", "Tarth"])
    return Asker(lambda title, options: options.index("The Knight"),
                 lambda question, default: next(answers))


async def answer_knight_dialogs(app: GrueApp, pilot: Any) -> None:
    """In the TUI: pick The Knight, answer Brienne and Tarth, wait for the game."""
    for _ in range(60):
        if isinstance(app.screen, OptionPickDialog):
            break
        await pilot.pause(0.05)
    assert isinstance(app.screen, OptionPickDialog)
    await pilot.press("enter")
    await pilot.pause(0.2)
    assert isinstance(app.screen, QuestionDialog)
    await pilot.press(*"Brienne", "enter")
    await pilot.pause(0.2)
    await pilot.press(*"Tarth", "enter")
    for _ in range(60):
        if isinstance(app.screen, AdventureScreen):
            break
        await pilot.pause(0.05)
    assert isinstance(app.screen, AdventureScreen)


def captured_app(monkeypatch: pytest.MonkeyPatch, argv: list[str]) -> GrueApp:
    """The app `grue ARGV` would run, built by the real command line but not run."""
    made: list[GrueApp] = []
    monkeypatch.setattr(GrueApp, "run", lambda self, *a, **k: made.append(self))
    assert cli.main(argv) == 0
    assert len(made) == 1
    app = made[0]
    backend = FakeBackend()
    app.host = ModelHost(lambda s: backend, close_backend=False)
    return app


async def test_lorebook_reaches_a_scenario_with_options_started_in_the_tui(
        menu_scenario: Path, lorebook: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    app = captured_app(monkeypatch, ["new", "menu", "--lorebook", str(lorebook), "--seed", "7"])
    async with app.run_test(size=(80, 24)) as pilot:
        await answer_knight_dialogs(app, pilot)
        campaign = app.screen.game.campaign
        assert [b.name for b in campaign.lorebooks] == ["isles"]
        assert campaign.settings.seed == 7
    saved = load_save(list_saves()[0].path)  # the first save has them too
    assert [b.name for b in saved.lorebooks] == ["isles"]
    assert saved.turns[0].response == "You are Brienne, a knight of Tarth."


async def test_cli_and_tui_make_the_same_adventure(
        menu_scenario: Path, lorebook: Path, grue_home: Path,
        monkeypatch: pytest.MonkeyPatch) -> None:
    argv = ["new", "menu", "--lorebook", str(lorebook), "--seed", "7", "--ctx", "1024",
            "--preset", "Simple Balanced"]
    app = captured_app(monkeypatch, argv)
    async with app.run_test(size=(80, 24)) as pilot:
        await answer_knight_dialogs(app, pilot)
    [tui_save] = list_saves()
    env = {**os.environ, "GRUE_HOME": str(grue_home)}
    run = subprocess.run([sys.executable, "-m", "tui.cli", *argv, "--plain", "--max-tokens", "8"],
                         input="1\nBrienne\nTarth\n", text=True, capture_output=True, env=env,
                         timeout=180)
    assert run.returncode == 0, run.stderr
    said = run.stdout + run.stderr
    assert "Loading model SmolLM2 135M Instruct (embedded)" in said  # one name, before and
    assert "Model SmolLM2 135M Instruct (embedded) ready" in said  # after loading
    cli_save = next(s for s in list_saves() if s.path != tui_save.path)
    tui_data, cli_data = comparable(tui_save.path), comparable(cli_save.path)
    cli_data["settings"]["max_new_tokens"] = tui_data["settings"]["max_new_tokens"]
    assert tui_data == cli_data
    assert tui_data["settings"]["n_ctx"] == 1024 and tui_data["settings"]["seed"] == 7


async def test_cli_and_tui_make_the_same_chat(grue_home: Path,
                                              monkeypatch: pytest.MonkeyPatch) -> None:
    app = GrueApp(host=ModelHost(lambda s: FakeBackend(), close_backend=False))
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause(0.2)
        assert isinstance(app.screen, HomeScreen)
        menu = app.screen.query_one("OptionList")
        labels = [str(menu.get_option_at_index(i).prompt) for i in range(menu.option_count)]
        menu.highlighted = next(i for i, label in enumerate(labels) if "CASSIA" in label.upper())
        await pilot.press("enter")
        await pilot.pause(0.3)
        assert isinstance(app.screen, ChatScreen)
    [tui_save] = list_saves()
    made: list[GrueApp] = []
    monkeypatch.setattr(GrueApp, "run", lambda self, *a, **k: made.append(self))
    assert cli.main(["chat", "cassia"]) == 0
    cli_save = next(s for s in list_saves() if s.path != tui_save.path)
    assert comparable(tui_save.path) == comparable(cli_save.path)


def test_a_card_chat_gets_the_persona_and_lorebooks(lorebook: Path) -> None:
    options = StartOptions(lorebooks=(str(lorebook),), persona_name="Ada",
                           persona_description="a lighthouse keeper",
                           settings=SettingsOverride(n_ctx=2048))
    game = start_game(Card(name="Quill", first_mes="Hello, {{user}}."), options)
    assert game is not None
    campaign = game.campaign
    assert campaign.extra["persona"] == {"name": "Ada", "description": "a lighthouse keeper"}
    assert [b.name for b in campaign.lorebooks] == ["isles"]
    assert campaign.settings.n_ctx == 2048
    assert load_save(list_saves()[0].path).extra["persona"]["name"] == "Ada"


def test_a_bad_lorebook_or_setting_is_reported_before_anything_is_saved(
        menu_scenario: Path) -> None:
    with pytest.raises(LoreFormatError, match="nope"):
        start_game(find_scenario("menu"), StartOptions(lorebooks=("nope",)), knight_asker())
    with pytest.raises(StartError, match="--ctx"):
        start_game(find_scenario("menu"), StartOptions(settings=SettingsOverride(n_ctx=5)),
                   knight_asker())
    with pytest.raises(StartError, match="asks questions"):
        start_game(find_scenario("menu"))
    assert list_saves() == []


def test_cancelling_saves_nothing(menu_scenario: Path) -> None:
    assert start_game(find_scenario("menu"), asker=Asker(lambda t, o: None,
                                                         lambda q, d: "")) is None
    assert list_saves() == []


def test_a_save_keeps_its_settings_unless_overridden(lorebook: Path) -> None:
    game = start_game(find_scenario("lantern-road"), StartOptions(
        settings=SettingsOverride(seed=3, n_ctx=2048)))
    assert game is not None
    path = list_saves()[0].path
    again = start_game(SavedGame(path), StartOptions(settings=SettingsOverride(seed=9),
                                                     lorebooks=(str(lorebook),)))
    assert again is not None
    assert again.campaign.settings.seed == 9 and again.campaign.settings.n_ctx == 2048
    assert [b.name for b in again.campaign.lorebooks] == ["isles"]


def test_two_games_started_in_the_same_second_get_two_saves() -> None:
    one = start_game(find_scenario("lantern-road"))
    two = start_game(find_scenario("lantern-road"))
    assert one is not None and two is not None
    assert one.campaign.id != two.campaign.id
    assert len(list_saves()) == 2


def test_an_imported_story_never_replaces_a_save() -> None:
    game = start_game(find_scenario("lantern-road"))
    assert game is not None
    clash = load_save(list_saves()[0].path)  # a story with the very same id
    started = start_game(ImportedStory(clash))
    assert started is not None and started.campaign.id != game.campaign.id
    assert len(list_saves()) == 2
