"""Character chat in the engine: the prompt, swipes, continue, impersonate, edits, saves."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest
from fakes import FakeBackend

from tui.engine.actions import Mode
from tui.engine.campaign import OPENING, Campaign
from tui.engine.cards import Card, load_card
from tui.engine.chat import (
    ChatGame,
    campaign_from_card,
    card_of,
    chat_spec,
    display_text,
    game_for,
)
from tui.engine.chat_prompt import DEFAULT_SYSTEM_PROMPT
from tui.engine.context import NARRATOR, PLAYER, ContextBuilder, ContextReport, PromptSpec
from tui.engine.game import Game, TurnRequest, generate
from tui.engine.saves import load_save, write_save
from tui.engine.templates import get_template

FIXTURES = Path(__file__).resolve().parents[2] / "shared" / "fixtures"

BOOK = {
    "name": "Harbour lore",
    "entries": [
        {"keys": ["lighthouse"], "content": "The lighthouse lamp has been dark for nine years.",
         "enabled": True, "insertion_order": 10, "id": 1},
    ],
}


def make_card(**changes: object) -> Card:
    fields: dict[str, object] = {
        "name": "Mira",
        "description": "{{char}} keeps the harbour inn. She distrusts <USER>.",
        "personality": "wry, watchful",
        "scenario": "A storm night at the inn.",
        "first_mes": "*{{char}} looks up.* Evening, {{user}}.",
        "alternate_greetings": ["Shut the door, {{USER}}!", "*<BOT> sighs.* You again."],
        "mes_example": "<START>\n{{user}}: Hi\n{{char}}: What do you want?\n"
                       "<START>\n{{user}}: Ale?\n{{char}}: Coin first.",
        "character_book": BOOK,
    }
    fields.update(changes)
    return Card(**fields)  # type: ignore[arg-type]


def build(spec: PromptSpec, *, n_ctx: int = 2048, max_new: int = 64,
          template: str | None = "ChatML") -> ContextReport:
    fake = FakeBackend()
    tmpl = get_template(template) if template else None
    return ContextBuilder(fake.tokenize, n_ctx, max_new, tmpl).build(spec)


def run(game: Game, request: TurnRequest, backend: FakeBackend, *, n_ctx: int = 2048,
        template: str | None = "ChatML") -> str:
    """Generate with the fake model and commit; returns the committed text."""
    tmpl = get_template(template) if template else None
    builder = ContextBuilder(backend.tokenize, n_ctx, 64, tmpl)
    result = generate(backend, builder, request, game.campaign.settings.sampler,
                      threading.Event(), lambda _t: None)
    if request.kind == "impersonate":
        assert isinstance(game, ChatGame)
        return game.impersonation_text(request, result)
    turn = game.commit(request, result)
    return turn.response


def chat(tmp_path: Path, card: Card | None = None) -> ChatGame:
    campaign = campaign_from_card(card or make_card(), "Ann", "A soaked courier.")
    game = game_for(campaign, save_folder=tmp_path)
    assert isinstance(game, ChatGame)
    return game


# --- starting a chat ------------------------------------------------------------------------


def test_campaign_from_card_greetings_are_swipes_and_book_attached() -> None:
    card = make_card()
    campaign = campaign_from_card(card, "Ann")
    assert campaign.kind == "chat" and campaign.title == "Mira"
    [opening] = campaign.turns
    assert opening.mode == OPENING
    assert opening.responses == [card.first_mes, *card.alternate_greetings]
    assert opening.chosen == 0
    assert [b.name for b in campaign.lorebooks] == ["Harbour lore"]
    assert campaign.extra["persona"] == {"name": "Ann", "description": ""}
    assert card_of(campaign) == card


def test_nickname_is_char_and_title() -> None:
    campaign = campaign_from_card(make_card(nickname="Mimi"), "Ann")
    assert campaign.title == "Mimi"
    assert display_text(campaign, "{{CHAR}} and <bot> greet {{user}} / <User>") == \
        "Mimi and Mimi greet Ann / Ann"


def test_seraphina_fixture_starts_a_chat_with_eldoria(tmp_path: Path) -> None:
    path = FIXTURES / "default_Seraphina.png"
    if not path.exists():
        pytest.skip("shared fixtures not available")
    card = load_card(path)
    campaign = campaign_from_card(card, "Ann")
    assert campaign.title == "Seraphina"
    opening = campaign.turns[0]
    assert opening.mode == OPENING
    assert opening.responses == [g.replace("\r\n", "\n") for g in card.greetings]
    assert len(opening.responses) == 1 + len(card.alternate_greetings)
    assert "forest" in opening.response
    [book] = campaign.lorebooks
    assert book.name == "Eldoria" and len(book.entries) == 4
    spec = chat_spec(campaign, "What are the shadowfang beasts?")
    report = build(spec, n_ctx=8192)  # room in the lore budget for every entry that matches
    assert any("shadowfang" in a.entry.keys for a in report.fired)
    assert "{{char}}" not in report.text and "{{user}}" not in report.text
    # The save keeps the card: a resumed chat builds the very same prompt.
    resumed = load_save(write_save(campaign, tmp_path))
    assert card_of(resumed) == card_of(campaign)
    again = build(chat_spec(resumed, "What are the shadowfang beasts?"), n_ctx=8192)
    assert again.text == report.text


# --- the prompt -----------------------------------------------------------------------------


def test_system_prompt_original_and_macros() -> None:
    card = make_card(system_prompt="You are {{char}}. {{original}} Never break character.")
    text = build(chat_spec(campaign_from_card(card, "Ann"), "Hello")).text
    assert "You are Mira. Write Mira's next reply" in text
    assert "Never break character." in text
    assert "She distrusts Ann." in text
    assert "Mira's personality: wry, watchful" in text
    assert "Scenario: A storm night at the inn." in text
    for macro in ("{{char}}", "{{user}}", "<USER>", "<BOT>", "{{original}}"):
        assert macro.lower() not in text.lower()


def test_card_system_prompt_replaces_default_unless_empty() -> None:
    own = build(chat_spec(campaign_from_card(make_card(system_prompt="Only {{char}}."), "Ann"),
                          "Hi")).text
    assert "Only Mira." in own and "next reply in a fictional roleplay" not in own
    default = build(chat_spec(campaign_from_card(make_card(system_prompt="  "), "Ann"), "Hi")).text
    assert DEFAULT_SYSTEM_PROMPT.replace("{{char}}", "Mira").replace("{{user}}", "Ann") in default


def test_system_prompt_only_for_instruct_models() -> None:
    spec = chat_spec(campaign_from_card(make_card(), "Ann"), "Hi")
    story = build(spec, template=None).text
    assert "next reply in a fictional roleplay" not in story
    assert "keeps the harbour inn" in story
    assert story.endswith("\nMira:")  # the reply starts with the character's name


def test_persona_description_in_header() -> None:
    campaign = campaign_from_card(make_card(), "Ann", "{{user}} is a courier.")
    assert "Ann is a courier." in build(chat_spec(campaign, "Hi")).text


def test_post_history_instructions_after_the_chat() -> None:
    card = make_card(post_history_instructions="{{original}}Answer {{user}} in one line.")
    spec = chat_spec(campaign_from_card(card, "Ann"), "Where is the key?")
    text = build(spec).text
    assert "Answer Ann in one line." in text and "{{original}}" not in text
    assert text.index("Answer Ann in one line.") > text.index("Where is the key?")


def test_history_roles_speakers_and_stops(tmp_path: Path) -> None:
    game = chat(tmp_path)
    game.campaign.turns[0].responses[0] = "Evening."
    run(game, game.request_action(Mode.DO, "open the door"), FakeBackend(["Fine."]))
    turn = game.campaign.turns[-1]
    assert turn.action == "open the door"  # as typed: no Do formatting
    spec = chat_spec(game.campaign, "And now?")
    assert [(m.role, m.speaker) for m in spec.history] == [
        (NARRATOR, "Mira"), (PLAYER, "Ann"), (NARRATOR, "Mira")]
    assert spec.pending is not None and spec.pending.speaker == "Ann"
    assert spec.reply_speaker == "Mira" and "\nAnn:" in spec.extra_stops
    assert "\nAnn:" in build(spec).stop
    assert game.request_action(Mode.SAY, "x").cut_actions is False


def test_story_style_prompt_names_each_speaker(tmp_path: Path) -> None:
    game = chat(tmp_path)
    game.campaign.turns[0].responses[0] = "Evening."
    text = build(chat_spec(game.campaign, "Hello there"), template=None).text
    assert "Mira: Evening.\nAnn: Hello there\nMira:" in text


def test_card_lorebook_fires_on_keyword() -> None:
    campaign = campaign_from_card(make_card(), "Ann")
    quiet = build(chat_spec(campaign, "Pour me a drink."))
    assert not quiet.fired and "dark for nine years" not in quiet.text
    report = build(chat_spec(campaign, "Why is the lighthouse dark?"))
    assert [a.entry.content for a in report.fired] == [
        "The lighthouse lamp has been dark for nine years."]
    assert "dark for nine years" in report.text


def test_card_book_stacks_with_other_books() -> None:
    from tui.engine.lore import Lorebook, LoreEntry

    campaign = campaign_from_card(make_card(), "Ann")
    campaign.lorebooks.append(Lorebook("Town", entries=[LoreEntry(keys=["mayor"],
                                                                  content="The mayor is a fox.")]))
    report = build(chat_spec(campaign, "The mayor and the lighthouse?"))
    assert {a.entry.content for a in report.fired} == {
        "The mayor is a fox.", "The lighthouse lamp has been dark for nine years."}


def _long_chat(tmp_path: Path, turns: int) -> ChatGame:
    game = chat(tmp_path, make_card(mes_example="\n".join(
        f"<START>\n{{{{user}}}}: question {i}\n{{{{char}}}}: " + "word " * 40 for i in range(3)
    )))
    game.autosave = False
    for i in range(turns):
        turn = game.campaign.begin_turn("chat", f"message {i} " + "talk " * 20)
        turn.responses.append(f"reply {i} " + "answer " * 20)
    return game


def test_examples_are_pushed_out_first_as_the_chat_grows(tmp_path: Path) -> None:
    short = build(chat_spec(_long_chat(tmp_path, 1).campaign, "hi"), n_ctx=900)
    assert not short.trimmed
    assert short.text.count("Example dialogue:") == 3
    grown = build(chat_spec(_long_chat(tmp_path, 4).campaign, "hi"), n_ctx=900)
    assert [t.what for t in grown.trimmed] == ["example dialogue 3", "example dialogue 2"]
    assert "message 0" in grown.text  # the whole chat still fits: the examples made room
    assert grown.text.count("Example dialogue:") == 1
    longer = build(chat_spec(_long_chat(tmp_path, 6).campaign, "hi"), n_ctx=900)
    labels = [t.what for t in longer.trimmed]
    assert labels[:3] == [f"example dialogue {i}" for i in (3, 2, 1)]
    assert labels[3].startswith("story messages")  # the story goes only after every example


def test_examples_are_droppable_header_parts(tmp_path: Path) -> None:
    spec = chat_spec(_long_chat(tmp_path, 0).campaign, "hi")
    examples = [p for p in spec.header if p.kind == "examples"]
    assert [p.label for p in examples] == [f"example dialogue {i}" for i in (1, 2, 3)]
    assert all(p.droppable for p in examples)
    assert not any(p.droppable for p in spec.header if p.kind != "examples")


# --- swipes ---------------------------------------------------------------------------------


def test_greeting_swipes_move_and_persist(tmp_path: Path) -> None:
    game = chat(tmp_path)
    assert game.request_swipe() is None  # greetings are the card's, not generated
    assert game.swipe(1) and game.campaign.turns[0].chosen == 1
    assert game.swipe(1) and not game.swipe(1)
    assert not game.swipe(-3)
    resumed = load_save(game.last_saved)
    assert resumed.turns[0].chosen == 2
    assert display_text(resumed, resumed.turns[0].response) == "*Mira sighs.* You again."


def test_reply_swipes_regenerate_move_and_persist(tmp_path: Path) -> None:
    game = chat(tmp_path)
    fake = FakeBackend(["First reply.", "Second reply.", "Third reply."])
    run(game, game.request_action(Mode.SAY, "Hello"), fake)
    request = game.request_swipe()
    assert request is not None and request.kind == "retry"
    assert request.spec.pending is not None and request.spec.pending.text == "Hello"
    assert all(m.text != "First reply." for m in request.spec.history)
    run(game, request, fake)
    turn = game.campaign.turns[-1]
    assert turn.responses == ["First reply.", "Second reply."] and turn.chosen == 1
    assert game.swipe(-1) and turn.response == "First reply."
    assert not game.swipe(-1)
    resumed = load_save(game.last_saved)
    assert resumed.turns[-1].responses == ["First reply.", "Second reply."]
    assert resumed.turns[-1].chosen == 0
    again = game_for(resumed, save_folder=tmp_path)
    assert isinstance(again, ChatGame)
    assert again.swipe(1) and load_save(again.last_saved).turns[-1].chosen == 1


# --- continue, impersonate ------------------------------------------------------------------


def test_continue_appends_to_the_chosen_swipe(tmp_path: Path) -> None:
    game = chat(tmp_path)
    fake = FakeBackend(["She nods.", "She frowns.", " Then she laughs."])
    run(game, game.request_action(Mode.SAY, "Hello"), fake)
    run(game, game.request_swipe(), fake)  # type: ignore[arg-type]
    turns_before = len(game.campaign.turns)
    request = game.request_action(Mode.SAY, "   ")  # empty: continue the last reply
    assert request.kind == "continue" and request.spec.continue_last
    assert request.spec.pending is None
    run(game, request, fake)
    turn = game.campaign.turns[-1]
    assert len(game.campaign.turns) == turns_before
    assert turn.responses == ["She nods.", "She frowns. Then she laughs."]
    assert load_save(game.last_saved).turns[-1].response == "She frowns. Then she laughs."


def test_continue_the_greeting(tmp_path: Path) -> None:
    game = chat(tmp_path)
    request = game.request_continue_reply()
    assert request.kind == "continue"
    run(game, request, FakeBackend(["More."]))
    assert len(game.campaign.turns) == 1
    assert game.campaign.turns[0].response.endswith("Evening, {{user}}. More.")
    assert game.campaign.turns[0].responses[1] == "Shut the door, {{USER}}!"


def test_impersonate_goes_on_from_what_the_player_typed(tmp_path: Path) -> None:
    """F7 with a half-written line: the model writes on from it, and the input gets the
    whole line (before, the typed words were replaced and lost)."""
    game = chat(tmp_path)
    request = game.request_impersonate("I shake off ")
    assert build(request.spec, template=None).text.endswith("\nAnn: I shake off")
    chatml = build(request.spec, template="ChatML")
    assert chatml.text.endswith("<|im_start|>user\nI shake off")
    text = run(game, request, FakeBackend([" the rain."]), template=None)
    assert text == "I shake off the rain."
    assert len(game.campaign.turns) == 1


def test_impersonate_is_not_committed(tmp_path: Path) -> None:
    game = chat(tmp_path)
    request = game.request_impersonate()
    assert request.spec.reply_role == PLAYER and request.spec.reply_speaker == "Ann"
    assert "\nMira:" in request.spec.extra_stops
    report = build(request.spec, template=None)
    assert report.text.endswith("\nAnn:")
    text = run(game, request, FakeBackend(["I shake off the rain."]), template=None)
    assert text == "I shake off the rain."
    assert len(game.campaign.turns) == 1 and game.last_saved is None
    with pytest.raises(ValueError):
        game.commit(request, generate(FakeBackend(), ContextBuilder(
            FakeBackend().tokenize, 2048, 64, None), request, game.campaign.settings.sampler,
            threading.Event(), lambda _t: None))


# --- editing and deleting -------------------------------------------------------------------


def test_message_indexing_edit_and_delete(tmp_path: Path) -> None:
    game = chat(tmp_path)
    fake = FakeBackend(["Reply one.", "Reply two."])
    run(game, game.request_action(Mode.SAY, "First"), fake)
    run(game, game.request_action(Mode.SAY, "Second"), fake)
    messages = game.messages()
    assert [(m.index, m.part, m.speaker) for m in messages] == [
        (0, "greeting", "Mira"), (1, "user", "Ann"), (2, "reply", "Mira"),
        (3, "user", "Ann"), (4, "reply", "Mira")]
    assert messages[0].swipes == 3
    assert game.edit_message(1, "First, edited")
    assert game.edit_message(0, "Hello, {{user}}.")
    assert not game.edit_message(9, "nope") and not game.edit_message(2, "   ")
    assert game.campaign.turns[1].action == "First, edited"
    assert game.campaign.turns[0].responses[0] == "Hello, {{user}}."
    assert game.delete_message(2)  # the first reply, with its swipes
    assert game.campaign.turns[1].responses == [] and game.campaign.turns[1].action
    assert game.delete_message(1)  # now that turn is empty and goes
    assert len(game.campaign.turns) == 2
    assert [m.text for m in game.messages()] == ["Hello, {{user}}.", "Second", "Reply two."]
    assert not game.delete_message(7)
    saved = load_save(game.last_saved)
    assert [t.action for t in saved.turns] == ["", "Second"]
    assert game.edit_last("Reply two, edited.")
    assert game.campaign.turns[-1].response == "Reply two, edited."


def test_swipe_after_deleting_the_reply_writes_a_new_one(tmp_path: Path) -> None:
    game = chat(tmp_path)
    fake = FakeBackend(["Gone.", "Back."])
    run(game, game.request_action(Mode.SAY, "Hi"), fake)
    game.delete_message(2)
    request = game.request_continue_reply()  # the last message is the player's: reply to it
    assert request.kind == "retry"
    run(game, request, fake)
    assert game.campaign.turns[-1].responses == ["Back."]


def test_game_for_adventure_is_a_plain_game() -> None:
    game = game_for(Campaign(title="Cave"), autosave=False)
    assert type(game) is Game


def test_persona_command_changes_user_and_becomes_the_default() -> None:
    from tui.engine.chat_prompt import persona_of
    from tui.engine.persona import default_persona, set_persona

    assert default_persona().name == "Stranger"
    from tui.engine.character_library import load_character

    game = game_for(campaign_from_card(load_character("Cassia"), "Ada"))
    set_persona(game.campaign, "Captain Vell: the ship's captain, tired and kind")
    persona = persona_of(game.campaign)
    assert (persona.name, persona.description) == ("Captain Vell",
                                                   "the ship's captain, tired and kind")
    assert default_persona() == persona
    spec = chat_spec(game.campaign, "Status?")
    assert spec.macros["{{user}}"] == "Captain Vell"
    assert any("tired and kind" in part.text for part in spec.header)


def test_long_term_memory_in_a_chat_names_who_said_what() -> None:
    from tui.engine.character_library import load_character
    from tui.engine.game import make_builder, update_summary_if_due

    game = game_for(campaign_from_card(load_character("Cassia"), "Ada"))
    backend = FakeBackend(["All systems are nominal, Ada, and the beacon repeats. " * 3],
                          n_ctx=2048)
    backend.load()
    game.campaign.settings.max_new_tokens = 64
    builder = make_builder(backend, game.campaign)
    for i in range(80):
        request = game.request_action(Mode.SAY, f"Question number {i}?")
        result = generate(backend, builder, request, game.campaign.settings.sampler,
                          threading.Event(), lambda t: None)
        game.commit(request, result)
    backend.replies = ["Ada asked Cassia many questions about the beacon."]
    assert update_summary_if_due(backend, builder, game.campaign, threading.Event())
    asked = backend.prompts[-1].text
    assert "Ada: Question number 0?" in asked and "Cassia: All systems" in asked
    assert "third person" in asked and "second person" not in asked
    assert game.campaign.summary == "Ada asked Cassia many questions about the beacon."
    report = builder.build(chat_spec(game.campaign, "More?"))
    assert "Ada asked Cassia many questions" in report.text
    assert report.total_tokens <= report.budget


def test_without_a_persona_the_character_does_not_call_the_player_you() -> None:
    from tui.engine.persona import default_persona

    card = Card(name="Maren", first_mes="Are you coming up, {{user}}, or not?")
    persona = default_persona()
    chat = campaign_from_card(card, persona.name, persona.description)
    greeting = display_text(chat, chat.turns[0].response)
    assert greeting == "Are you coming up, Stranger, or not?"
    assert chat_spec(chat, "hi").macros["{{user}}"] == "Stranger"
    assert campaign_from_card(card).extra["persona"]["name"] == "Stranger"
