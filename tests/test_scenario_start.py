"""Starting a scenario that is a menu of options and asks ${...} questions: TUI and plain."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from fakes import FakeBackend

from tui.app import GrueApp
from tui.engine.scenario import find_scenario
from tui.engine.scenario_start import resolve_scenario
from tui.model_host import ModelHost
from tui.screens.adventure import AdventureScreen
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


@pytest.fixture
def menu_scenario(grue_home: Path) -> Path:
    folder = grue_home / "scenarios"
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "menu.toml"
    path.write_text(MENU)
    return path


def test_resolve_picks_and_fills(menu_scenario: Path) -> None:
    asked: list[str] = []
    scenario = resolve_scenario(
        find_scenario("menu"),
        lambda title, options: options.index("The Knight"),
        lambda question, default: asked.append(question) or "Alaric",
    )
    assert scenario is not None
    assert asked == ["Your name?", "Which realm?"]  # a repeated question is asked once
    assert scenario.opening == "You are Alaric, a knight of Alaric."
    assert scenario.memory == "The hero is Alaric."
    assert resolve_scenario(find_scenario("menu"), lambda t, o: None, lambda q, d: "") is None


async def test_tui_asks_in_dialogs_then_plays(menu_scenario: Path) -> None:
    backend = FakeBackend()
    app = GrueApp(host=ModelHost(lambda s: backend, close_backend=False),
                  scenario=find_scenario("menu"))
    async with app.run_test(size=(80, 24), notifications=True) as pilot:
        for _ in range(40):
            if isinstance(app.screen, OptionPickDialog):
                break
            await pilot.pause(0.05)
        assert isinstance(app.screen, OptionPickDialog)
        await pilot.press("enter")  # The Knight
        await pilot.pause(0.2)
        assert isinstance(app.screen, QuestionDialog)
        await pilot.press(*"Brienne", "enter")
        await pilot.pause(0.2)
        await pilot.press(*"Tarth", "enter")
        for _ in range(40):
            if isinstance(app.screen, AdventureScreen):
                break
            await pilot.pause(0.05)
        assert isinstance(app.screen, AdventureScreen)
        assert app.screen.game.campaign.turns[0].response == "You are Brienne, a knight of Tarth."


def test_plain_asks_on_stdin(menu_scenario: Path, grue_home: Path) -> None:
    env = {**os.environ, "GRUE_HOME": str(grue_home)}
    run = subprocess.run(
        [sys.executable, "-m", "tui.cli", "new", "menu", "--plain", "--max-tokens", "8"],
        input="9\n1\nAlaric\nGondor\n", text=True, capture_output=True, env=env, timeout=120,
    )
    assert run.returncode == 0, run.stderr
    assert "1. The Knight" in run.stdout and "(a number from 1 to 2)" in run.stdout
    assert "You are Alaric, a knight of Gondor." in run.stdout
