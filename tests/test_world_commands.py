"""World commands in line mode and in the TUI: shown, corrected, saved, undone with the turn."""

from __future__ import annotations

import io
import os
import subprocess
import sys
from pathlib import Path

import pytest
from fakes import FakeBackend

from tui.app import GrueApp
from tui.engine.campaign import campaign_from_scenario
from tui.engine.game import Game
from tui.engine.saves import load_save, release_save
from tui.engine.scenario import find_scenario
from tui.model_host import ModelHost
from tui.plain import PlainSession


def lantern_game(folder: Path) -> Game:
    return Game(campaign_from_scenario(find_scenario("lantern-road")), save_folder=folder)


def test_line_mode_shows_and_corrects_the_state(tmp_path: Path) -> None:
    out, err = io.StringIO(), io.StringIO()
    s = PlainSession(lantern_game(tmp_path), FakeBackend(["You walk."]), out, err)
    s.handle("/where")
    assert out.getvalue().splitlines()[-1] == (
        "Where: the cottage by the Lantern Road (a cold, shuttered cottage at the road's end; "
        "a rusted mailbox by the gate); exits: the Lantern Road, the Thornwood, the cottage door")
    s.handle("/inv")
    assert out.getvalue().splitlines()[-1] == "Carrying: nothing"
    s.handle("/inv add brass lantern")
    assert "+ brass lantern · saved" in err.getvalue()
    s.handle("/move thornwood")  # a unique part of a known exit
    assert "→ the Thornwood · saved" in err.getvalue()
    s.handle("/inv drop lantern")
    assert "- brass lantern · saved" in err.getvalue()
    s.handle("/inv drop lantern")
    assert "not changed: not carrying lantern" in err.getvalue()
    s.handle("/quest done ilse")
    s.handle("/fact gate = locked")
    s.handle("/quests")
    assert out.getvalue().splitlines()[-1] == "done: find Warden Ilse"
    s.handle("/state")
    assert "Facts: brass lantern: unlit; gate: locked" in \
        out.getvalue()
    world = s.game.campaign.world_state()
    release_save(s.game.campaign)
    assert s.game.last_saved is not None
    back = load_save(s.game.last_saved)
    assert back.world_state() == world and world.place == "the Thornwood"


@pytest.mark.model
def test_line_mode_corrections_go_with_the_turn_they_follow(grue_home: Path) -> None:
    """With the real model, as a script plays: a correction follows its turn through undo
    and redo, and a retry's new take does not carry it."""
    script = ("take the lantern\n/inv add brass lantern\n/inv\n/undo\n/inv\n/redo\n/inv\n"
              "/retry\n/inv\n")
    run = subprocess.run(
        [sys.executable, "-m", "tui.cli", "new", "lantern-road", "--plain", "--seed", "3",
         "--max-tokens", "16"], input=script, text=True, capture_output=True,
        env={**os.environ, "GRUE_HOME": str(grue_home)}, timeout=300)
    assert run.returncode == 0, run.stderr
    shown = [line for line in run.stdout.splitlines() if line.startswith("Carrying:")]
    assert shown == ["Carrying: brass lantern", "Carrying: nothing", "Carrying: brass lantern",
                     "Carrying: nothing"]
    assert "+ brass lantern · saved" in run.stderr
    [folder] = [p.parent for p in (grue_home / "saves").glob("*/campaign.toml")]
    back = load_save(folder)
    turn = back.turns[-1]
    assert turn.chosen == 1 and [c.item for c in turn.changes[0]] == ["brass lantern"]
    assert back.world_state().items == []
    turn.chosen = 0  # the first take, chosen again, brings its correction back
    assert back.world_state().items == ["brass lantern"]


def test_world_commands_are_for_adventures(tmp_path: Path) -> None:
    from tui.engine.cards import Card
    from tui.engine.chat import ChatGame, campaign_from_card
    from tui.plain_chat import PlainChatSession

    chat = ChatGame(campaign_from_card(Card(name="Mira", first_mes="Hi."), "Ann"),
                    save_folder=tmp_path)
    err = io.StringIO()
    PlainChatSession(chat, FakeBackend(), io.StringIO(), err).handle("/inv add x")
    assert "/inv is for adventures" in err.getvalue()


async def test_tui_world_commands_show_and_change_the_state(tmp_path: Path) -> None:
    game = lantern_game(tmp_path)
    backend = FakeBackend(["You go."])
    app = GrueApp(game=game, host=ModelHost(lambda s: backend, close_backend=False))
    async with app.run_test(size=(80, 24), notifications=True) as pilot:
        await pilot.pause()
        for key in "/inv add rope":
            await pilot.press("space" if key == " " else key)
        await pilot.press("enter")
        await pilot.pause()
        assert game.campaign.world_state().items == ["rope"]
        assert "+ rope" in app.screen.status.state
        for key in "/state":
            await pilot.press(key)
        await pilot.press("enter")
        await pilot.pause()
        assert any("Carrying: rope" in str(n.message) for n in app._notifications)
