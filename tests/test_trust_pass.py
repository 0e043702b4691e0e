"""Issue "the trust pass": each found bug has a test named after it that failed before."""

from __future__ import annotations

from pathlib import Path

import pytest
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


def test_an_empty_continue_is_never_a_turn(tmp_path: Path) -> None:
    import threading

    from tui.engine.campaign import Settings, campaign_from_scenario
    from tui.engine.context import ContextBuilder
    from tui.engine.game import Game, generate
    from tui.engine.saves import load_save
    from tui.engine.scenario import find_scenario
    from tui.engine.templates import get_template

    game = Game(campaign_from_scenario(find_scenario("lantern-road"), Settings()),
                save_folder=tmp_path)
    fake = FakeBackend(["The road bends west.", "", ""])
    builder = ContextBuilder(fake.tokenize, 2048, 64, get_template("ChatML"))

    def play(request):  # type: ignore[no-untyped-def]
        result = generate(fake, builder, request, game.campaign.settings.sampler,
                          threading.Event(), lambda _t: None)
        return game.commit(request, result)

    assert play(game.request_action(Mode.DO, "walk on")) is not None
    turns = len(game.campaign.turns)
    assert play(game.request_continue()) is None  # the model wrote nothing
    assert len(game.campaign.turns) == turns
    assert play(game.request_retry()) is None  # an empty take is not kept either
    assert game.campaign.turns[-1].responses == ["The road bends west."]
    saved = load_save(game.last_saved)
    assert [t.mode for t in saved.turns][-1] != "continue"


def test_context_json_escapes_c1_controls_and_bidi_overrides() -> None:
    import json

    from tui.commands.context_cmd import json_for_terminal

    data = {"memory": "a\x85b\x9bc\u202ed\u2066e 日本"}
    text = json_for_terminal(data)
    assert not any(0x80 <= ord(c) <= 0x9F or 0x202A <= ord(c) <= 0x202E
                   or 0x2066 <= ord(c) <= 0x2069 for c in text)
    assert "日本" in text  # readable text stays readable
    assert json.loads(text) == data  # and it is the same JSON


@pytest.mark.model
@pytest.mark.parametrize("unwritable", ["a folder", "a full disk"])
def test_a_log_that_cannot_be_written_does_not_stop_the_model(
        smol_path: Path, grue_home: Path, unwritable: str,
        monkeypatch: pytest.MonkeyPatch) -> None:
    """A full disk or read-only home at start-up (item 14): the model loads, without its
    log, and the player is told why once."""
    import contextlib

    from test_plain_disk_full import full_disk_log

    import tui.core.log as log
    from tui.backends.local import LocalBackend

    monkeypatch.setattr(log, "_problem_said", False)
    monkeypatch.setattr(log, "_problem", "")
    logs = grue_home / "logs"
    logs.mkdir(parents=True)
    with contextlib.ExitStack() as stack:
        if unwritable == "a folder":
            (logs / "grue.log").mkdir()  # opening it for appending fails
        else:
            stack.enter_context(full_disk_log(grue_home))  # opens; every write is ENOSPC
        backend = LocalBackend(smol_path, n_ctx=512, vocab_only=True)
        try:
            assert backend.load().n_ctx == 512  # "llama.cpp could not load it" before
        finally:
            backend.close()
    problem = log.take_log_problem()
    assert str(logs / "grue.log") in problem and "cannot be written" in problem
    assert log.take_log_problem() == ""  # said once


def test_line_mode_prints_what_it_saves(tmp_path: Path) -> None:
    """`--plain` used to stream words the end-of-response trim then removed."""
    import io

    from tui.engine.campaign import Campaign, Turn
    from tui.engine.context import ContextBuilder
    from tui.engine.game import Game
    from tui.engine.templates import get_template
    from tui.plain import PlainSession

    campaign = Campaign("Hull", turns=[Turn(mode="opening", responses=["The ship is dark."])])
    fake = FakeBackend(["The airlock opens. Cold air rushes past you. The corridor is",
                        " The lights flicker.\n6"])
    out = io.StringIO()
    session = PlainSession(Game(campaign, save_folder=tmp_path), fake, out, io.StringIO())
    session.builder = ContextBuilder(fake.tokenize, 2048, 64, get_template("ChatML"))
    session.handle("open the airlock")
    saved = campaign.turns[-1].response
    assert saved == "The airlock opens. Cold air rushes past you."
    assert out.getvalue().endswith(saved + "\n") and "The corridor is" not in out.getvalue()
    session.handle("")  # continue: no stray space, and the one-character tail is trimmed
    assert campaign.turns[-1].response.endswith("The lights flicker.")
    assert "\n The lights" not in out.getvalue()
    assert out.getvalue().endswith("The lights flicker.\n")
    session.handle("/retry")
    assert "[retry: a new take of the last response]" in out.getvalue()
