"""Turns through the engine with a scripted model: retry, undo, redo, edit, continue."""

from __future__ import annotations

import threading

from fakes import FakeBackend

from tui.engine.actions import Mode
from tui.engine.campaign import OPENING, Campaign, Turn
from tui.engine.game import Game, generate, make_builder
from tui.engine.saves import load_save, save_path


def new_game(replies: list[str]) -> tuple[Game, FakeBackend]:
    c = Campaign(title="Game Test", memory="You are a thief.")
    c.turns.append(Turn(OPENING, responses=["A guard snores by the vault."]))
    backend = FakeBackend(replies)
    backend.load()
    return Game(c), backend


def play(game: Game, backend: FakeBackend, request) -> str:  # type: ignore[no-untyped-def]
    builder = make_builder(backend, game.campaign)
    streamed: list[str] = []
    result = generate(backend, builder, request, game.campaign.settings.sampler,
                      threading.Event(), streamed.append)
    game.commit(request, result)
    return "".join(streamed)


def test_action_turn_streams_commits_and_saves() -> None:
    game, backend = new_game(["The vault door swings open."])
    streamed = play(game, backend, game.request_action(Mode.DO, "open the vault"))
    assert streamed == "The vault door swings open."
    last = game.campaign.turns[-1]
    assert last.action == "> You open the vault." and last.response == streamed
    saved = load_save(save_path(game.campaign))
    assert saved.turns[-1].response == streamed


def test_model_playing_the_player_is_cut() -> None:
    game, backend = new_game(["Gold glitters.\n> You take the gold.\nMore"])
    play(game, backend, game.request_action(Mode.DO, "look"))
    assert game.campaign.turns[-1].response == "Gold glitters."


def test_retry_keeps_alternatives_and_prompt_excludes_old_response() -> None:
    game, backend = new_game(["First try.", "Second try."])
    play(game, backend, game.request_action(Mode.DO, "wait"))
    play(game, backend, game.request_retry())
    turn = game.campaign.turns[-1]
    assert turn.responses == ["First try.", "Second try."] and turn.response == "Second try."
    retry_prompt = backend.prompts[-1].text
    assert "First try." not in retry_prompt and "> You wait." in retry_prompt


def test_undo_redo_whole_turns_and_saves_deliberate_shrink() -> None:
    game, backend = new_game(["One.", "Two."])
    play(game, backend, game.request_action(Mode.DO, "a"))
    play(game, backend, game.request_action(Mode.DO, "b"))
    assert game.undo() is not None
    assert len(load_save(save_path(game.campaign)).turns) == 2
    assert game.redo() is not None
    assert game.campaign.turns[-1].response == "Two."
    assert game.undo() and game.undo()
    assert game.undo() is None  # the opening stays
    assert game.campaign.turns[0].mode == OPENING


def test_new_action_clears_redo() -> None:
    game, backend = new_game(["One.", "Two.", "Three."])
    play(game, backend, game.request_action(Mode.DO, "a"))
    game.undo()
    play(game, backend, game.request_action(Mode.DO, "c"))
    assert game.redo() is None


def test_edit_last_response() -> None:
    game, backend = new_game(["Bad reply."])
    play(game, backend, game.request_action(Mode.SAY, "hi"))
    assert game.edit_last("A better\x1b[31m reply.")
    assert game.campaign.turns[-1].response == "A better[31m reply."


def test_continue_adds_a_turn_without_action() -> None:
    game, backend = new_game([" And then the guard wakes."])
    play(game, backend, game.request_continue())
    assert game.campaign.turns[-1].mode == "continue"
    assert game.campaign.turns[-1].action == ""
    assert game.campaign.turns[-1].response.strip() == "And then the guard wakes."
    # the next prompt carries the continuation on as part of the same narration
    spec_text = make_builder(backend, game.campaign).build(
        game.request_action(Mode.DO, "run").spec).text
    assert "snores by the vault. And then the guard wakes." in spec_text


def test_control_characters_never_reach_the_stream() -> None:
    game, backend = new_game(["Evil \x1b]0;pwned\x07 text\x9b."])
    streamed = play(game, backend, game.request_action(Mode.DO, "x"))
    assert "\x1b" not in streamed and "\x07" not in streamed and "\x9b" not in streamed


def test_cancel_stops_the_stream() -> None:
    game, backend = new_game(["word " * 200])
    builder = make_builder(backend, game.campaign)
    cancel = threading.Event()
    got: list[str] = []

    def on_text(t: str) -> None:
        got.append(t)
        if len(got) == 5:
            cancel.set()

    request = game.request_action(Mode.DO, "x")
    result = generate(backend, builder, request, game.campaign.settings.sampler, cancel, on_text)
    assert result.cancelled and len(got) <= 6


def test_response_cut_mid_sentence_ends_at_the_last_full_sentence() -> None:
    from tui.engine.game import tidy_response

    assert tidy_response('You wait. She says "go." And then the', continuing=False) == \
        'You wait. She says "go."'
    assert tidy_response("A whole sentence!", continuing=False) == "A whole sentence!"
    # never throw away most of the text to find a sentence end
    assert tidy_response("Short. " + "a very long unfinished clause " * 5, continuing=False) \
        .startswith("Short. a very long")


def test_long_term_memory_folds_trimmed_turns_into_the_summary() -> None:
    from tui.engine.game import update_summary_if_due

    game, backend = new_game(["The guard shifts in his sleep and mutters about the old days "
                              "when the vault was new and the locks were strong. " * 2])
    backend._info = type(backend._info)(name="fake", n_ctx=512, chat_template="<|im_start|>")
    game.campaign.settings.max_new_tokens = 64
    builder = make_builder(backend, game.campaign)
    for i in range(30):
        request = game.request_action(Mode.DO, f"step {i}")
        result = generate(backend, builder, request, game.campaign.settings.sampler,
                          threading.Event(), lambda t: None)
        game.commit(request, result)
    backend.replies = ["You crept past a sleeping guard many times."]
    assert update_summary_if_due(backend, builder, game.campaign, threading.Event())
    assert game.campaign.summary == "You crept past a sleeping guard many times."
    assert game.campaign.summary_upto > 0
    report = builder.build(game.request_action(Mode.DO, "go on").spec)
    assert "You crept past a sleeping guard many times." in report.text
    assert report.total_tokens <= report.budget
    game.campaign.summary_enabled = False
    assert not update_summary_if_due(backend, builder, game.campaign, threading.Event())
