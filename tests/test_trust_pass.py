"""Issue "the trust pass": each found bug has a test named after it that failed before."""

from __future__ import annotations

from pathlib import Path

from fakes import FakeBackend
from test_chat import build, chat, run

from tui.engine.actions import Mode
from tui.engine.chat import chat_spec


def test_deleting_an_old_chat_message_keeps_the_next_one_in_the_prompt(tmp_path: Path) -> None:
    game = chat(tmp_path)
    fake = FakeBackend(["Reply one.", "Reply two.", "Reply three."])
    for text in ("First message", "Second message", "Third message"):
        run(game, game.request_action(Mode.SAY, text), fake)
    campaign = game.campaign
    campaign.summary = "Ann arrived at the inn."
    campaign.summary_enabled = True
    campaign.summary_upto = 2  # the greeting and the first exchange are summarised
    assert "Second message" in build(chat_spec(campaign, None)).text
    # delete the first exchange (an already summarised turn): reply, then the player's line
    assert game.delete_message(2) and game.delete_message(1)
    assert campaign.summary_upto == 1
    prompt = build(chat_spec(campaign, None)).text
    assert "Second message" in prompt and "Third message" in prompt
