"""Line mode runs the engine's command table: the same texts, help and checks as the TUI."""

from __future__ import annotations

import io
from pathlib import Path

from fakes import FakeBackend

from tui.engine.campaign import Campaign, Turn
from tui.engine.cards import Card
from tui.engine.chat import ChatGame, campaign_from_card
from tui.engine.commands import ADVENTURE, CHAT, help_lines
from tui.engine.game import Game
from tui.plain import PlainSession
from tui.plain_chat import PlainChatSession


def adventure_session(tmp_path: Path) -> tuple[PlainSession, io.StringIO, io.StringIO]:
    campaign = Campaign("Cave", turns=[Turn(mode="opening", responses=["A cave."]),
                                       Turn(mode="do", action="> You wait.",
                                            responses=["Rain falls."])])
    out, err = io.StringIO(), io.StringIO()
    return PlainSession(Game(campaign, save_folder=tmp_path), FakeBackend(), out, err), out, err


def test_plain_help_is_generated_from_the_table(tmp_path: Path) -> None:
    s, out, _ = adventure_session(tmp_path)
    s.handle("/help")
    printed = out.getvalue().splitlines()
    assert printed[:len(help_lines(ADVENTURE))] == help_lines(ADVENTURE)
    assert not any(line.startswith("/swipe") for line in printed)
    chat = ChatGame(campaign_from_card(Card(name="Mira", first_mes="Hi."), "Ann"),
                    save_folder=tmp_path)
    out = io.StringIO()
    PlainChatSession(chat, FakeBackend(), out, io.StringIO()).handle("/?")
    assert out.getvalue().splitlines()[:len(help_lines(CHAT))] == help_lines(CHAT)
    assert any(line.startswith("/swipe [next|prev|N]") for line in help_lines(CHAT))


def test_plain_edit_without_text_prints_the_last_response(tmp_path: Path) -> None:
    s, out, err = adventure_session(tmp_path)
    s.handle("/edit")
    assert out.getvalue().splitlines() == ["Rain falls.", "(/edit NEW TEXT replaces it)"]
    assert err.getvalue() == ""
    s.handle("/edit   Snow falls.  ")
    assert s.game.campaign.turns[-1].response == "Snow falls."
    assert "edited · saved" in err.getvalue()


def test_plain_texts_set_with_an_argument_are_stripped(tmp_path: Path) -> None:
    s, out, err = adventure_session(tmp_path)
    for line in ("/memory  A cat.\t", "/note Be grim. ", "/summary  They met. ", "/summary off"):
        s.handle(line)
    campaign = s.game.campaign
    assert (campaign.memory, campaign.authors_note, campaign.summary) == \
        ("A cat.", "Be grim.", "They met.")
    assert not campaign.summary_enabled
    s.handle("/summary")
    assert out.getvalue().splitlines()[-2:] == ["[story so far: off, covers 0 turns]",
                                                 "They met."]
    s.handle("/swipe 1")
    assert err.getvalue().splitlines()[-1] == "/swipe is for chats"
