"""The command table in the engine: one definition per command, the idle check, the effects."""

from __future__ import annotations

import copy
from pathlib import Path

import pytest

from tui.engine.campaign import Campaign, Turn
from tui.engine.cards import Card
from tui.engine.chat import ChatGame, campaign_from_card
from tui.engine.commands import (
    ADVENTURE,
    CHAT,
    COMMANDS,
    TABLE,
    Command,
    CommandContext,
    Done,
    EditText,
    Generate,
    Notice,
    OpenScreen,
    StillWriting,
    StoryChanged,
    UnknownCommand,
    help_lines,
    help_rows,
    parse_command,
    run_command,
    save_edit,
)
from tui.engine.game import Game

CARD = Card(name="Mira", first_mes="Evening, {{user}}.", alternate_greetings=["Door, {{user}}!"])

# An argument that makes each command change something when the model is idle.
CHANGING_ARGS = {
    "edit": "Oops.", "memory": "A cat.", "note": "Be grim.", "summary": "They met.",
    "swipe": "2", "delete": "1", "persona": "Bob: a sailor", "send": "hi", "lore": "book.json",
}


def adventure(tmp_path: Path) -> Game:
    campaign = Campaign("Cave", turns=[Turn(mode="opening", responses=["A cave."]),
                                       Turn(mode="do", action="> You wait.",
                                            responses=["Rain.", "Snow."])])
    return Game(campaign, save_folder=tmp_path)


def chat(tmp_path: Path) -> ChatGame:
    game = ChatGame(campaign_from_card(CARD, "Ann"), save_folder=tmp_path)
    game.campaign.begin_turn("chat", "Hello").responses.extend(["Sit.", "Go."])
    return game


def run(game: Game, mode: str, line: str, busy: bool = False):  # type: ignore[no-untyped-def]
    command = parse_command(line)
    assert command is not None
    return run_command(CommandContext(game, mode, busy), command)


def test_every_command_is_defined_once_with_help_and_modes() -> None:
    names = [spec.name for spec in TABLE]
    assert len(names) == len(set(names))
    aliases = [a for spec in TABLE for a in spec.aliases]
    assert len(aliases) == len(set(aliases)) and not set(aliases) & set(names)
    for spec in TABLE:
        assert spec.help and spec.modes and spec.usage.startswith(f"/{spec.name}")
    for key_action in ("retry", "undo", "redo", "continue", "edit", "swipe", "delete",
                       "impersonate", "memory", "note", "summary", "lore", "persona", "save"):
        assert key_action in COMMANDS


def test_help_is_generated_per_mode() -> None:
    adventure_usages = [usage for usage, _ in help_rows(ADVENTURE)]
    chat_usages = [usage for usage, _ in help_rows(CHAT)]
    assert "/swipe [next|prev|N]" in chat_usages and "/swipe [next|prev|N]" not in adventure_usages
    assert "/summary [TEXT|on|off]" in adventure_usages and "/summary [TEXT|on|off]" in chat_usages
    assert len(help_lines(CHAT)) == len(chat_usages)
    assert all(line.startswith("/") for line in help_lines(ADVENTURE))
    assert len(help_rows(None)) == len(TABLE)


def test_parse_aliases_and_unknown() -> None:
    assert parse_command("/r") == Command("retry", "")
    assert parse_command("  /MEMORY   a cat  ") == Command("memory", "a cat")
    assert parse_command("//not a command") is None and parse_command("look") is None
    with pytest.raises(UnknownCommand, match="unknown command /bogus"):
        parse_command("/bogus")


def test_chat_commands_are_refused_in_an_adventure(tmp_path: Path) -> None:
    game = adventure(tmp_path)
    assert run(game, ADVENTURE, "/swipe 1") == [Notice("/swipe is for chats")]


@pytest.mark.parametrize("spec", [s for s in TABLE if s.needs_idle], ids=lambda s: s.name)
def test_a_command_that_needs_the_model_idle_is_refused_while_it_writes(
        spec, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    (tmp_path / "lorebooks").mkdir()
    for mode in sorted(spec.modes):
        game = chat(tmp_path) if mode == CHAT else adventure(tmp_path)
        before = copy.deepcopy(game.campaign)
        line = f"/{spec.name} {CHANGING_ARGS.get(spec.name, '')}"
        assert run(game, mode, line, busy=True) == [StillWriting()]
        assert game.campaign == before
        assert game.last_saved is None  # nothing written either


def test_editor_save_is_refused_while_writing(tmp_path: Path) -> None:
    game = adventure(tmp_path)
    effects = save_edit(CommandContext(game, ADVENTURE, busy=True), "memory", "x")
    assert effects == [StillWriting()] and game.campaign.memory == ""


def test_texts_are_set_with_an_argument_and_stripped_the_same_everywhere(
        tmp_path: Path) -> None:
    game = adventure(tmp_path)
    assert run(game, ADVENTURE, "/memory   A cat.  ") == [Done("memory saved")]
    ctx = CommandContext(game, ADVENTURE)
    save_edit(ctx, "note", "\n  Be grim.\n\n")
    save_edit(ctx, "summary", "  They met. \n")
    assert (game.campaign.memory, game.campaign.authors_note) == ("A cat.", "Be grim.")
    assert game.campaign.summary == "They met."
    run(game, ADVENTURE, "/summary Later they parted.")
    assert game.campaign.summary == "Later they parted."
    run(game, ADVENTURE, "/summary OFF")
    assert not game.campaign.summary_enabled and game.campaign.summary == "Later they parted."
    run(game, ADVENTURE, "/edit  Hail.  ")
    assert game.campaign.turns[-1].response == "Hail."


def test_without_an_argument_a_text_is_shown_for_editing(tmp_path: Path) -> None:
    game = adventure(tmp_path)
    game.campaign.memory = "A cat."
    [memory] = run(game, ADVENTURE, "/memory")
    assert isinstance(memory, EditText) and memory.target == "memory"
    assert memory.text == "A cat." and memory.lines == ("A cat.",)
    [edit] = run(game, ADVENTURE, "/edit")
    assert isinstance(edit, EditText) and edit.text == "Rain." and edit.lines[0] == "Rain."
    [lore] = run(game, ADVENTURE, "/lore")
    assert lore == OpenScreen("world_info", ("World info: 0/0 entries enabled",))


def test_swipe_next_prev_and_number(tmp_path: Path) -> None:
    game = chat(tmp_path)
    turn = game.campaign.turns[-1]
    effects = run(game, CHAT, "/swipe 2")
    assert turn.chosen == 1 and isinstance(effects[0], StoryChanged)
    assert effects[0].echo == ("Mira: Go.",) and effects[1] == Done("reply 2/2 (/swipe next|prev)")
    run(game, CHAT, "/swipe prev")
    assert turn.chosen == 0
    assert run(game, CHAT, "/swipe prev") == [Notice("this is the first one")]
    assert run(game, CHAT, "/swipe 3") == [Notice("usage: /swipe next|prev|N (N from 1 to 2)")]
    run(game, CHAT, "/swipe")
    [new] = run(game, CHAT, "/swipe next")  # past the last: a new one
    assert isinstance(new, Generate) and new.request.kind == "retry"


def test_a_bad_lorebook_is_an_error_notice(tmp_path: Path) -> None:
    game = adventure(tmp_path)
    [notice] = run(game, ADVENTURE, "/lore nope.json")
    assert notice.severity == "error" and "nope.json" in notice.text
