"""Plain line mode for chats, with the scripted model: commands and what gets printed."""

from __future__ import annotations

import io
from pathlib import Path

from fakes import FakeBackend

from tui.engine.cards import Card
from tui.engine.chat import ChatGame, campaign_from_card
from tui.engine.game import Game
from tui.engine.saves import load_save
from tui.plain import PlainSession
from tui.plain_chat import PlainChatSession, session_for

CARD = Card(name="Mira", first_mes="Evening, {{user}}.", alternate_greetings=["Door, {{user}}!"])


def session(tmp_path: Path, replies: list[str]) -> tuple[PlainChatSession, io.StringIO,
                                                          io.StringIO]:
    game = ChatGame(campaign_from_card(CARD, "Ann"), save_folder=tmp_path)
    out, err = io.StringIO(), io.StringIO()
    backend = FakeBackend(replies, chat_template=None)
    found = session_for(game, backend, out, err)
    assert isinstance(found, PlainChatSession)
    return found, out, err


def test_session_for_picks_by_game(tmp_path: Path) -> None:
    from tui.engine.campaign import Campaign

    plain = session_for(Game(Campaign("Cave"), autosave=False), FakeBackend(), io.StringIO(),
                        io.StringIO())
    assert type(plain) is PlainSession


def test_chat_script(tmp_path: Path) -> None:
    s, out, err = session(tmp_path, ["Sit down.", "Go away.", "I am cold.", "Sure."])
    script = ("/swipe next\n/swipe prev\nHello {{char}}\n/swipe\n/swipe 1\n/messages\n"
              "/impersonate\n/send\n/delete 3\n/delete x\n/bogus\n")
    assert s.run(io.StringIO(script)) == 0
    text, notes = out.getvalue(), err.getvalue()
    assert text.startswith("== Mira ==\n\nMira: Evening, Ann.\n")
    assert "Mira: Door, Ann!" in text  # /swipe next on the greeting
    assert "\nAnn: Hello Mira\n" in text  # echoed with macros applied
    assert "Mira: Sit down." in text and "Mira: Go away." in text
    assert "#0 Mira [1/2]: Evening, Ann." in text
    assert "#2 Mira [1/2]: Sit down." in text
    assert "Ann: I am cold." in text  # the impersonation, then sent as a message
    assert "message #3 deleted" in notes and "usage: /delete N" in notes
    assert "unknown command /bogus" in notes
    campaign = load_save(s.game.last_saved)
    assert [t.action for t in campaign.turns] == ["", "Hello {{char}}", ""]  # #3 was "I am cold."
    assert campaign.turns[2].responses == ["Sure."]
    assert campaign.turns[1].responses == ["Sit down.", "Go away."]
    assert campaign.turns[1].chosen == 0


def test_impersonate_goes_on_from_the_words_given(tmp_path: Path) -> None:
    s, out, _err = session(tmp_path, [" cold and wet.", "Sit by the fire."])
    assert s.run(io.StringIO("/impersonate I am\n/send\n")) == 0
    text = out.getvalue()
    assert "\nAnn: I am cold and wet.\n" in text  # written on from the words, then sent
    assert load_save(s.game.last_saved).turns[1].action == "I am cold and wet."


def test_swipe_edges_and_retry_on_greeting(tmp_path: Path) -> None:
    s, out, err = session(tmp_path, ["Fine."])
    s.load()
    s.handle("/swipe prev")
    s.handle("/retry")
    s.handle("/swipe 9")
    s.handle("/send")
    notes = err.getvalue()
    assert "this is the first one" in notes
    assert "nothing to retry" in notes
    assert "usage: /swipe next|prev|N (N from 1 to 2)" in notes
    assert "nothing to send" in notes
    assert s.game.campaign.turns[0].chosen == 0 and len(s.game.campaign.turns) == 1
