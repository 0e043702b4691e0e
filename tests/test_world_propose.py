"""The model's world-state update (docs/architecture.md, "World state"): a grammar-constrained
JSON proposal, parsed, validated against the state and recorded on its turn's take."""

from __future__ import annotations

import json
import threading
from pathlib import Path

import pytest
from fakes import FakeBackend

from tui.backends.local import LocalBackend
from tui.core.backend import Backend, CacheTooLarge, NoJsonSchema
from tui.engine.campaign import Campaign, Turn
from tui.engine.game import Game, make_builder
from tui.engine.world import AddItem, Meet, Move, Person, WorldState
from tui.engine.world import history as world_history
from tui.engine.world.propose import (
    AFTER_STORY_QUESTION,
    MAX_CHANGES,
    MODEL_OPS,
    OPENING,
    SCHEMA,
    WORLD_SAMPLER,
    parse,
    propose,
    settle,
    world_request,
)

NARRATION = ("You pick up the brass lantern from the bench and walk north to the edge of the "
             "Thornwood, where an old hermit named Abel waves at you.")


def campaign() -> Campaign:
    c = Campaign(title="t")
    c.world = WorldState(place="Village square", items=["rope"])
    c.turns.append(Turn("do", "take the lantern and go north", [NARRATION], 0))
    return c


def ask(backend: Backend, c: Campaign, seed: int | None = None) -> str:
    request = world_request(c)
    assert request is not None
    sampler = WORLD_SAMPLER if seed is None else WORLD_SAMPLER.with_changes(seed=seed)
    return propose(backend, make_builder(backend, c), request, threading.Event(), sampler)


# --- with a scripted model ---------------------------------------------------------------------


def test_the_prompt_holds_the_state_and_the_newest_turn_only() -> None:
    c = campaign()
    c.turns.insert(0, Turn("do", "an older action", ["An older narration about a goose."], 0))
    backend = FakeBackend()
    backend.load()
    ask(backend, c)
    text = backend.json_prompts[-1].text
    assert "Where: Village square" in text and "Carrying: rope" in text
    assert NARRATION in text and "take the lantern and go north" in text
    assert "goose" not in text and "older action" not in text


def test_a_proposal_is_parsed_validated_and_recorded_with_reasons_for_refusals() -> None:
    c = campaign()
    request = world_request(c)
    assert request is not None
    text = json.dumps({"changes": [
        {"op": "add_item", "item": "brass lantern"},
        {"op": "move", "place": "Thornwood edge"},
        {"op": "forget", "name": "Abel"},  # not a change the model may propose
    ]})
    outcome = settle(c, request, text)
    assert outcome.line == "+ brass lantern · → Thornwood edge"
    assert outcome.applied == [AddItem("brass lantern"), Move("Thornwood edge")]
    assert any("'forget' is not a change the model may propose" in r for r in outcome.refused)
    refused = settle(c, request, json.dumps({"changes": [{"op": "drop_item", "item": "sword"}]}))
    assert "sword is not in the turn's text" in refused.refused  # and not carried
    state = c.world_state()
    assert state.items == ["rope", "brass lantern"] and state.place == "Thornwood edge"
    assert c.turns[-1].changes[0] == outcome.applied  # recorded on the take


def test_someone_met_is_not_met_again_under_part_of_their_name() -> None:
    """Seen in play with SmolLM2: Adele Crane in the office, the model "met Adele (Adele)"."""
    c = campaign()
    c.world.people.append(Person("Adele Crane", "Village square", "guarded"))
    c.turns[-1].responses[0] += " Adele nods to Ruby, and Leo Santangelo watches."
    request = world_request(c)
    assert request is not None
    outcome = settle(c, request, json.dumps({"changes": [
        {"op": "meet", "name": "Adele", "attitude": "Adele"},
        {"op": "meet", "name": "Ruby", "attitude": "Ruby"},
        {"op": "meet", "name": "Leo Santangelo", "attitude": "wary"},
    ]}))
    assert "Adele is probably Adele Crane, already met" in outcome.refused
    assert outcome.line == "met Ruby · met Leo Santangelo (wary)"
    assert [p.name for p in c.world_state().people] == ["Adele Crane", "Ruby", "Leo Santangelo"]


def test_what_the_turn_does_not_name_is_not_recorded() -> None:
    """Seen in the world benchmark: SmolLM2 "met Awesome (moohoorr)", in no text at all."""
    c = campaign()
    request = world_request(c)
    assert request is not None
    outcome = settle(c, request, json.dumps({"changes": [
        {"op": "meet", "name": "Awesome", "attitude": "moohoorr"},
        {"op": "add_item", "item": "the old brass lanterns"},  # named, in other words
        {"op": "meet", "name": "Abel"},
    ]}))
    assert outcome.refused == ["Awesome is not in the turn's text"]
    assert [type(c).__name__ for c in outcome.applied] == ["AddItem", "Meet"]
    proposal = {"changes": [{"op": "add_item", "item": "golden crown"}]}
    crown = settle(c, request, json.dumps(proposal))
    assert crown.refused == ["golden crown is not in the turn's text"]
    request = world_request(c)
    assert request is not None
    outcome = settle(c, request, json.dumps({"changes": [
        {"op": "add_quest", "quest": "find the hermit's secret"},  # implied, not named
        {"op": "drop_item", "item": "rope"},  # carried, but the turn does not say so
    ]}))
    assert outcome.refused == ["rope is not in the turn's text"]
    assert outcome.line == "quest: find the hermit's secret"


@pytest.mark.parametrize("text, reason", [
    ('{"changes": [{"op": "add_item", "item": "lan', "not JSON"),
    ('[1, 2]', "no list of changes"),
    ('{"changes": [{"op": "meet"}]}', "meet"),
])
def test_bad_proposals_are_refused_with_a_reason_and_change_nothing(text: str,
                                                                    reason: str) -> None:
    c = campaign()
    request = world_request(c)
    assert request is not None
    before = c.world_state().copy()
    outcome = settle(c, request, text)
    assert not outcome.applied and any(reason in r for r in outcome.refused)
    assert c.world_state() == before


def test_more_changes_than_the_cap_are_cut_with_a_reason() -> None:
    items = [{"op": "add_item", "item": f"stone {i}"} for i in range(MAX_CHANGES + 2)]
    changes, refused = parse(json.dumps({"changes": items}))
    assert len(changes) == MAX_CHANGES and f"2 changes past the first {MAX_CHANGES}" in refused[0]


def test_a_proposal_for_a_turn_that_is_no_longer_the_newest_take_is_dropped(
        tmp_path: Path) -> None:
    c = campaign()
    game = Game(c, save_folder=tmp_path)
    request = world_request(c)
    assert request is not None
    c.turns[-1].add_alternative("A retry: you stay in the square.")  # a retry meanwhile
    outcome = settle(c, request, '{"changes": [{"op": "add_item", "item": "lantern"}]}')
    assert outcome.stale and not outcome.applied and c.world_state().items == ["rope"]
    # undone meanwhile: the turn is gone
    request = world_request(c)
    assert request is not None
    game.undo()
    outcome = settle(c, request, '{"changes": [{"op": "add_item", "item": "lantern"}]}')
    assert outcome.stale and c.world_state().items == ["rope"]


def test_undo_takes_back_the_models_changes_with_the_turn_and_redo_brings_them(
        tmp_path: Path) -> None:
    c = campaign()
    game = Game(c, save_folder=tmp_path)
    request = world_request(c)
    assert request is not None
    settle(c, request, json.dumps({"changes": [{"op": "add_item", "item": "lantern"},
                                               {"op": "meet", "name": "Abel"}]}))
    assert c.world_state().person("Abel") is not None
    game.undo()
    assert c.world_state() == WorldState(place="Village square", items=["rope"])
    game.redo()
    assert c.world_state().items == ["rope", "lantern"]
    assert world_history.take_changes(c.turns[-1])[1] == Meet("Abel")


def test_chats_and_empty_replies_ask_for_nothing() -> None:
    c = campaign()
    c.turns[-1].set_response("")
    assert world_request(c) is None
    chat = campaign()
    chat.kind = "chat"
    assert world_request(chat) is None


def test_a_backend_without_json_schema_says_so() -> None:
    c = campaign()

    class Plain(FakeBackend):
        complete_json = Backend.complete_json  # type: ignore[assignment]

    backend = Plain()
    backend.load()
    with pytest.raises(NoJsonSchema):
        ask(backend, c)


# --- with the real SmolLM2 ---------------------------------------------------------------------


def matches_schema(data: object) -> bool:
    """The shape SCHEMA asks for (checked by hand: no schema validator is a dependency)."""
    if not isinstance(data, dict) or set(data) != {"changes"}:
        return False
    changes = data["changes"]
    if not isinstance(changes, list) or len(changes) > MAX_CHANGES:
        return False
    by_op = {s["properties"]["op"]["const"]: s for s in SCHEMA["properties"]["changes"]
             ["items"]["anyOf"]}
    for change in changes:
        if not isinstance(change, dict) or change.get("op") not in MODEL_OPS:
            return False
        schema = by_op[change["op"]]
        if not set(schema["required"]) <= set(change) <= set(schema["properties"]):
            return False
        for key, value in change.items():
            want = schema["properties"][key]
            if want.get("type") == "string" and not (
                    isinstance(value, str) and 1 <= len(value) <= want["maxLength"]):
                return False
    return True


@pytest.mark.model
def test_real_model_output_always_parses_and_applies_or_is_refused_with_a_reason(
        smol_backend: Backend) -> None:
    """SmolLM2-135M mostly answers with the last example's empty list (without examples it
    filled every list to the limit with invented names): what it writes must still parse,
    fit the schema, and come out applied or refused with a reason."""
    for seed in range(6):
        c = campaign()
        text = ask(smol_backend, c, seed)
        assert matches_schema(json.loads(text)), text
        compact = json.dumps(json.loads(text), separators=(",", ":"), ensure_ascii=False)
        assert text == compact  # the grammar allows no spaces between the tokens
        request = world_request(c)
        assert request is not None
        changes, unreadable = parse(text)
        assert not unreadable
        outcome = settle(c, request, text)
        assert len(outcome.applied) + len(outcome.refused) == len(changes)
        assert all(r.strip() for r in outcome.refused)
        if outcome.applied:
            assert outcome.line and "\n" not in outcome.line


@pytest.mark.model
def test_real_model_reads_the_instructions_and_examples_once(smol_backend: Backend) -> None:
    """The instructions and worked examples come before the turn, and the update's own cache
    keeps them between updates: the next update reads only the new turn."""
    assert isinstance(smol_backend, LocalBackend)
    c = campaign()
    ask(smol_backend, c, seed=1)
    c.turns.append(Turn("do", "light the lantern", ["The wick catches; shadows jump back."], 0))
    request = world_request(c)
    assert request is not None
    report = make_builder(smol_backend, c).build(request.spec)
    examples = report.text.index("rusty key")
    ask(smol_backend, c, seed=2)
    read = smol_backend.last_prefill.read
    assert examples < report.text.index("light the lantern")
    assert read < len(report.tokens) - len(smol_backend.tokenize(report.text[:examples]))


@pytest.mark.model
def test_real_model_is_given_the_answers_opening(smol_backend: Backend) -> None:
    """Every answer starts `{"changes":[`: the local model finds that in its prompt instead
    of sampling it (4 of the 5 tokens of the usual answer, an empty list, each costing about
    two free tokens under a grammar), and the text returned is still the whole answer."""
    from tui.core.backend import Prompt

    assert isinstance(smol_backend, LocalBackend)
    c = campaign()
    request = world_request(c)
    assert request is not None
    report = make_builder(smol_backend, c).aside().build(request.spec)
    opening = smol_backend.tokenize(OPENING, special=False)
    for seed in range(3):
        text = smol_backend.complete_json(Prompt(report.tokens, report.text), SCHEMA,
                                          WORLD_SAMPLER.with_changes(seed=seed),
                                          threading.Event(), OPENING)
        assert text.startswith(OPENING) and matches_schema(json.loads(text)), text
        given = report.tokens + opening
        assert smol_backend.cached_prefix(given) == len(given)  # read, not sampled


def test_the_grammar_goes_on_only_from_the_first_lists_opening() -> None:
    from tui.backends.json_grammar import schema_grammar

    rest = schema_grammar(SCHEMA, OPENING)
    root = [line for line in rest.splitlines() if line.startswith("root ::=")]
    assert root == ['root ::= (changes-item ("," space changes-item ("," space '
                    'changes-item)?)?)? "]" space "}" space']
    for wrong in ('{"changes":', '{"other":[', "["):
        with pytest.raises(ValueError, match="no grammar continues"):
            schema_grammar(SCHEMA, wrong)


@pytest.mark.model
def test_real_model_update_keeps_the_storys_cache(smol_backend: Backend) -> None:
    """The update reads its prompt beside the story's cache: the next turn's prompt, read
    ahead before the update, costs almost nothing after it."""
    from tui.engine.adventure import adventure_spec

    assert isinstance(smol_backend, LocalBackend)
    c = campaign()
    builder = make_builder(smol_backend, c)
    story = builder.build(adventure_spec(c, None)).tokens
    smol_backend.read_ahead(story, threading.Event())
    ask(smol_backend, c, seed=3)
    assert smol_backend.cached_prefix(story) == len(story)
    smol_backend.read_ahead(story, threading.Event())
    assert smol_backend.last_prefill.read == 0 and len(story) > 50


@pytest.mark.model
def test_real_model_update_with_a_cache_too_large_to_set_aside_is_asked_after_the_story(
        smol_backend: Backend, monkeypatch: pytest.MonkeyPatch) -> None:
    """A cache too large to copy aside (over 1 GB: a 13B model without grouped-query
    attention passes it at ~1,300 tokens, a 7B one at ~2,000) used to pause the updates for
    the rest of the game. The update is asked after the story instead, in the next action's
    place: it reads only its question, and the next action finds the story cached."""
    from tui.backends import local
    from tui.engine.actions import Mode
    from tui.engine.game import read_ahead

    assert isinstance(smol_backend, local.LocalBackend)
    c = campaign()
    game = Game(c, autosave=False)
    builder = make_builder(smol_backend, c)
    ahead = builder.build(game.read_ahead_spec())
    read_ahead(smol_backend, builder, game.read_ahead_spec(), threading.Event())
    monkeypatch.setattr(local, "MAX_KEPT_CACHE_BYTES", 1024)
    assert not smol_backend.can_keep_cache()
    request = world_request(c, game.read_ahead_spec())
    assert request is not None
    text = propose(smol_backend, builder, request, threading.Event(),
                   WORLD_SAMPLER.with_changes(seed=3))
    json.loads(text)  # the grammar's shape
    question = builder.ask_after(game.read_ahead_spec(), AFTER_STORY_QUESTION)[0]
    opening = smol_backend.tokenize(OPENING, special=False)
    assert smol_backend.last_prefill.read == len(question) + len(opening) - ahead.pending_start
    assert not settle(c, request, text).stale  # recorded on its turn, or refused
    action = builder.build(game.request_action(Mode.DO, "open the door").spec)
    assert smol_backend.cached_prefix(action.tokens) >= ahead.pending_start
    assert smol_backend.cached_prefix(action.tokens) < len(action.tokens)


@pytest.mark.model
def test_real_model_update_after_a_full_window_of_short_replies_is_still_asked(
        smol_backend: Backend, monkeypatch: pytest.MonkeyPatch) -> None:
    """Replies of 60 tokens keep 124 tokens after the story for the action and the reply, of
    which the question takes ~90: once the window was full, the update after the story found
    too little room (under 48 tokens) and, the cache too large to set aside, was paused."""
    from test_read_ahead import story_campaign

    from tui.backends import local
    from tui.engine.game import read_ahead

    c = story_campaign(105)  # a window that ends 42 tokens short of full after the question
    c.settings.max_new_tokens = 60
    game = Game(c, autosave=False)
    builder = make_builder(smol_backend, c)
    read_ahead(smol_backend, builder, game.read_ahead_spec(), threading.Event())
    monkeypatch.setattr(local, "MAX_KEPT_CACHE_BYTES", 1024)
    request = world_request(c, game.read_ahead_spec())
    assert request is not None
    tokens = builder.ask_after(game.read_ahead_spec(), AFTER_STORY_QUESTION)[0]
    assert 24 <= smol_backend.info.n_ctx - len(tokens) < 48  # the window is full
    text = propose(smol_backend, builder, request, threading.Event(),
                   WORLD_SAMPLER.with_changes(seed=2))
    assert text.startswith(OPENING)
    assert not settle(c, request, text).stale  # recorded, or refused (cut short) with reasons


@pytest.mark.model
def test_real_model_update_without_the_story_is_paused_when_the_cache_is_too_large(
        smol_backend: Backend, monkeypatch: pytest.MonkeyPatch) -> None:
    """No story to ask after (no room after it) and a cache too large to copy aside: run in
    place, the update would make the next turn read the whole story again, so it is not
    run, and the story's cache is left as it was."""
    from tui.backends import local
    from tui.engine.adventure import adventure_spec
    from tui.engine.world.propose import TOO_LARGE

    assert isinstance(smol_backend, local.LocalBackend)
    c = campaign()
    story = make_builder(smol_backend, c).build(adventure_spec(c, None)).tokens
    smol_backend.read_ahead(story, threading.Event())
    monkeypatch.setattr(local, "MAX_KEPT_CACHE_BYTES", 1024)
    with pytest.raises(CacheTooLarge, match="too large to set aside"):
        ask(smol_backend, c, seed=3)
    assert TOO_LARGE.startswith("state updates paused")
    assert smol_backend.cached_prefix(story) == len(story)


def test_a_sentence_or_an_identifier_is_not_a_name() -> None:
    """Seen with SmolLM2 and no worked examples: an item "Awesome! I'm glad you're here, ..."
    (every word of it in the narration) and a place "the_lantern_road"."""
    c = campaign()
    c.turns[-1].responses[0] += " Awesome! I'm glad you're here, the hermit says."
    request = world_request(c)
    assert request is not None
    outcome = settle(c, request, json.dumps({"changes": [
        {"op": "add_item", "item": "Awesome! I'm glad you're here"},
        {"op": "move", "place": "the_thornwood"},
        {"op": "meet", "name": "Abel"},
    ]}))
    assert outcome.refused == ["\"Awesome! I'm glad you're here\" is not a name",
                               "'the_thornwood' is not a name"]
    assert outcome.line == "met Abel"
    number = settle(c, request, '{"changes":[{"op":"add_item","item":"1.0.1.2.1.1"}]}')
    assert number.refused == ["'1.0.1.2.1.1' is not a name"]  # seen asked after the story


def test_someone_met_is_not_taken_as_an_item_or_gone_to_as_a_place() -> None:
    """Seen in bench_world with SmolLM2: after "Warden, I found your letter." the item
    "warden," was recorded as carried (Warden Ilse met two turns before), its trailing comma
    and all."""
    c = campaign()
    c.world.people.append(Person("Warden Ilse"))
    c.turns[-1] = Turn("say", "Warden, I found your letter.",
                       ['"Warden, I found your letter," you say. Ilse reads the letter.'], 0)
    request = world_request(c)
    assert request is not None
    outcome = settle(c, request, json.dumps({"changes": [
        {"op": "add_item", "item": "warden,"},
        {"op": "add_item", "item": "Warden"},
        {"op": "move", "place": "Ilse"},
    ]}))
    assert outcome.refused == ["'warden,' is not a name", "Warden is someone met, not a thing",
                               "Ilse is someone met, not a place"]
    outcome = settle(c, request, json.dumps({"changes": [
        {"op": "add_item", "item": "Ilse's letter"}]}))
    assert outcome.line == "+ Ilse's letter"


def test_someone_spoken_to_is_not_taken_as_an_item_or_a_place() -> None:
    """Seen in bench_world with SmolLM2: its narration echoed the player's line as
    `I said "Sufface, I found your letter."` and its update recorded "Sufface" as carried."""
    c = campaign()
    c.turns[-1] = Turn("say", "Warden, I found your letter.",
                       ['I said "Sufface, I found your letter." The hall is quiet.'], 0)
    request = world_request(c)
    assert request is not None
    outcome = settle(c, request, json.dumps({"changes": [
        {"op": "add_item", "item": "Sufface"},
        {"op": "move", "place": "Sufface"},
        {"op": "move", "place": "the hall"},
    ]}))
    assert outcome.refused == ["Sufface is spoken to, not a thing",
                               "Sufface is spoken to, not a place"]
    assert outcome.line == "→ the hall"
    c.turns[-1].responses[0] += " You pick up the sufface, a flat stone."
    again = world_request(c)
    assert again is not None
    taken = settle(c, again, '{"changes":[{"op":"add_item","item":"sufface"}]}')
    assert taken.line == "+ sufface"  # named as a thing too: the model may be right


def test_a_quest_or_a_fact_must_read_as_text_and_come_from_the_turn() -> None:
    """Seen with SmolLM2 asked after the story, without worked examples (a server): quests
    "new_fact", "1", "Fantasy: 2019-01-22 20:30:52.167..." and "MikeMikeMike...", a fact
    "update_person = True". A quest or a fact needs no name of the turn's, but some word of
    it must be the turn's, and it must read as words."""
    c = campaign()
    request = world_request(c)
    assert request is not None
    outcome = settle(c, request, json.dumps({"changes": [
        {"op": "add_quest", "quest": "new_fact"},
        {"op": "add_quest", "quest": "Fantasy: 2019-01-22 20:30:52.167"},
        {"op": "add_quest", "quest": "1"},
    ]}))
    assert outcome.refused == ["'new_fact' is not text", "'Fantasy: 2019-01-22 20:30:52.167' "
                               "is not text", "'1' is not text"]
    outcome = settle(c, request, json.dumps({"changes": [
        {"op": "add_quest", "quest": "Mike" * 20},
        {"op": "set_fact", "key": "update_person", "value": "True"},
        {"op": "add_quest", "quest": "Fix the last change in the JSON"},
    ]}))
    assert outcome.refused == [f"{'Mike' * 10!r} is not text", "'update_person' is not text",
                               "Fix the last change in the JSON is not in the turn's text"]
    assert not outcome.applied
    outcome = settle(c, request, json.dumps({"changes": [
        {"op": "add_quest", "quest": "learn what Abel knows of the Thornwood"},
        {"op": "set_fact", "key": "brass lantern", "value": "from the bench"},
    ]}))
    assert not outcome.refused
    assert outcome.line == "quest: learn what Abel knows of the Thornwood · " \
        "brass lantern = from the bench"
    c.world.quests.append("sell the tower key")  # open, but this turn does not touch it
    outcome = settle(c, request, json.dumps({"changes": [
        {"op": "finish_quest", "quest": "sell the tower key"},
        {"op": "finish_quest", "quest": "learn what Abel knows of the Thornwood"}]}))
    assert outcome.refused == ["sell the tower key is not in the turn's text"]
    assert outcome.line == "✓ learn what Abel knows of the Thornwood"
