"""The world state's own note (docs/architecture.md, "World state"): the state's lines and the
lore they fire are placed in the story once, kept by the turn, and placed again only when they
change or lie too far back; so a turn no longer reads them again as it did in the late note."""

from __future__ import annotations

import threading
from itertools import pairwise
from pathlib import Path

import pytest
from fakes import FakeBackend

from tui.backends.local import LocalBackend, plan_reuse
from tui.core.sampler import Sampler
from tui.engine.actions import Mode
from tui.engine.adventure import adventure_spec
from tui.engine.campaign import OPENING, Campaign, Turn
from tui.engine.context import ContextBuilder, common_prefix
from tui.engine.context_types import ContextReport
from tui.engine.context_world import WORLD_REPEAT_TURNS
from tui.engine.game import Game, generate, make_builder
from tui.engine.lore import LoreEntry
from tui.engine.saves import load_save, write_save
from tui.engine.saves.folder import CHUNK_TURNS
from tui.engine.templates import get_template
from tui.engine.world import AddItem, DropItem, Meet, SetFact, UpdatePerson, WorldState, history
from tui.engine.world.prompt import WORLD_KIND

LANTERN = "The brass lantern burns without oil while its bearer tells the truth."
MARTA = "Marta the smith owes the Warden a favour and hates the dark."


def campaign() -> Campaign:
    c = Campaign(title="Road", memory="You walk the road.",
                 authors_note="Keep the tone eerie.")
    c.turns.append(Turn(OPENING, responses=["A cottage by the road. A hook by the door."]))
    for i in range(4):
        c.turns.append(Turn("do", f"> You wait {i}.", [f"Time passes {i}."]))
    c.world = WorldState(place="the cottage", exits=["the road"])
    c.add_lore(LoreEntry(name="Lantern", keys=["lantern"], content=LANTERN))
    c.add_lore(LoreEntry(name="Marta", keys=["Marta"], content=MARTA))
    return c


class Player:
    """Builds each turn's prompt as the game does and keeps what it placed, as `Game.commit`
    does: the fake tokenizer, so the layout is checked fast and exactly."""

    def __init__(self, c: Campaign) -> None:
        self.c = c
        self.builder = ContextBuilder(FakeBackend().tokenize, 4096, 64, get_template("ChatML"))
        self.last: ContextReport | None = None

    def build(self, action: str) -> ContextReport:
        self.last = self.builder.build(adventure_spec(self.c, action))
        return self.last

    def turn(self, action: str, reply: str, *changes: object) -> ContextReport:
        report = self.build(action)
        turn = self.c.begin_turn("do", action)
        turn.responses.append(reply)
        turn.world_note = report.world_note
        history.record(self.c, list(changes))  # type: ignore[arg-type]
        return report


def world_segments(report: ContextReport) -> list[str]:
    return [s.text for s in report.segments if s.kind == WORLD_KIND]


def test_the_note_is_placed_once_and_kept_while_the_state_holds() -> None:
    player = Player(campaign())
    first = player.turn("> You take it from the hook.", "It is warm.", AddItem("brass lantern"))
    assert "Where: the cottage" in first.world_note and LANTERN not in first.world_note
    placed = player.turn("> You look at it.", "It glows.")  # the state changed: placed anew
    assert placed.world_note.startswith(LANTERN) and "Carrying: brass lantern" in placed.world_note
    for i in range(WORLD_REPEAT_TURNS - 1):
        kept = player.turn(f"> You walk on {i}.", f"The road goes on {i}.")
        assert kept.world_note == ""  # the story holds it already
        assert world_segments(kept)[-1].strip() == placed.world_note
        assert "Carrying" not in "".join(s.text for s in kept.segments if s.kind == "note")
    again = player.build("> You walk on.")  # now too far back: the lines placed again
    assert again.world_note == "Where: the cottage; exits: the road\nCarrying: brass lantern"
    assert LANTERN in again.text  # the lore stays where it was read while in the window


def test_a_change_of_the_lines_alone_places_the_lines_alone() -> None:
    """The lore a kept note holds is not placed again: only what changed is read."""
    player = Player(campaign())
    player.turn("> You take it from the hook.", "It is warm.", AddItem("brass lantern"))
    player.turn("> You look at it.", "It glows.", AddItem("rope"))
    moved = player.turn("> You coil the rope.", "It coils.")
    assert "Carrying: brass lantern, rope" in moved.world_note
    assert LANTERN not in moved.world_note  # the note two actions up holds it
    assert LANTERN in "".join(world_segments(moved))


def test_lore_fired_anew_is_placed_without_the_unchanged_lines() -> None:
    player = Player(campaign())
    player.turn("> You wait.", "Nothing.")
    player.turn("> You wave.", "A smith comes.", Meet("Marta"))
    met = player.turn("> You greet her.", "She nods.")
    assert MARTA in met.world_note and "Present: Marta" in met.world_note
    history.record(player.c, [SetFact("hour", "dusk")])  # a change of the lines only
    later = player.build("> You talk.")
    assert later.world_note.startswith("Where:") and MARTA not in later.world_note


def test_lines_changed_back_are_placed_again() -> None:
    """The newest lines count, not any kept note's: A, then B, then A again is placed."""
    player = Player(campaign())
    first = player.turn("> You take the rope.", "Taken.", AddItem("rope"))
    assert "Carrying: nothing" in first.world_note
    player.turn("> You look.", "A rope.", DropItem("rope"))
    back = player.build("> You look.")
    assert "Carrying: nothing" in back.world_note


def test_what_a_trimmed_note_held_is_placed_anew() -> None:
    """A kept note the window no longer holds holds nothing: its lore and lines come back
    before the note is due again, so the narrator never goes without them."""
    player = Player(campaign())
    player.builder = ContextBuilder(FakeBackend().tokenize, 512, 64, get_template("ChatML"))
    player.turn("> You take it from the hook.", "It is warm.", AddItem("brass lantern"))
    assert LANTERN in player.turn("> You look at it.", "It glows.").world_note
    long_reply = " ".join(f"w{j}" for j in range(120))
    placed_again = 0
    for _ in range(WORLD_REPEAT_TURNS - 1):
        report = player.turn("> You walk.", long_reply)
        assert LANTERN in report.text and "Carrying: brass lantern" in report.text
        placed_again += bool(report.world_note)
    assert placed_again


def test_the_next_prompt_holds_the_note_where_it_was_read() -> None:
    """The prefix the model has cached runs through the note: only what follows is read."""
    player = Player(campaign())
    player.turn("> You take it from the hook.", "It is warm.", AddItem("brass lantern"))
    placed = player.turn("> You look at it.", "It glows.")
    note = next(s for s in reversed(placed.segments) if s.kind == WORLD_KIND)
    following = player.build("> You walk on.")
    assert common_prefix(placed.tokens, following.tokens) >= note.start + note.tokens
    assert following.world_note == ""


def test_undo_takes_the_note_with_its_turn() -> None:
    player = Player(campaign())
    player.turn("> You take it from the hook.", "It is warm.", AddItem("brass lantern"))
    placed = player.turn("> You look at it.", "It glows.")
    player.c.undo()
    assert player.build("> You look at it.").world_note == placed.world_note


def test_a_kept_note_is_not_read_as_story_by_the_lore_scan() -> None:
    """Marta left: her lore must stop, though the kept note two messages up names her."""
    player = Player(campaign())
    player.turn("> You wave.", "The smith waves back.", Meet("Marta"))
    shown = player.turn("> You talk.", "She nods.", UpdatePerson("Marta", where="the forge"))
    assert MARTA in shown.world_note and "Present: Marta" in shown.world_note
    report = player.build("> You look around.")
    assert "Marta" not in {a.entry.name for a in report.fired}
    assert report.world_note and MARTA not in report.world_note


def test_the_note_survives_a_save_and_old_saves_load_without_one(tmp_path: Path) -> None:
    c = campaign()
    for i in range(CHUNK_TURNS * 3):  # closed chunks too, which load lazily
        turn = c.begin_turn("do", f"> You walk {i}.")
        turn.responses.append(f"Road {i}.")
        if i % 97 == 0:
            turn.world_note = f"{LANTERN}\nWhere: mile {i}; exits: on, back\nCarrying: it's '''"
    path = write_save(c, tmp_path)
    loaded = load_save(path)
    assert [t.world_note for t in loaded.turns] == [t.world_note for t in c.turns]
    assert Turn.from_dict({"mode": "do", "action": "> x", "responses": ["y"]}).world_note == ""


@pytest.mark.model
def test_a_played_turn_keeps_the_note_its_prompt_placed(smol_backend: LocalBackend) -> None:
    """With the real model and its tokenizer, through `Game.commit`: the first turn places
    the note, the next keeps it, and the second turn's prompt reads from after the note."""
    game = Game(campaign(), autosave=False)
    builder = make_builder(smol_backend, game.campaign)
    sampler = Sampler(temperature=0.0, top_k=1, max_tokens=8, seed=3)
    turns = []
    for action in ("look at the hook", "wait"):
        request = game.request_action(Mode.DO, action)
        result = generate(smol_backend, builder, request, sampler, threading.Event(),
                          lambda _t: None)
        turns.append((game.commit(request, result), result.report))
    (first, first_report), (second, _) = turns
    assert first is not None and second is not None
    assert first.world_note == first_report.world_note and "Where: the cottage" in first.world_note
    assert second.world_note == ""
    note = next(s for s in first_report.segments if s.kind == WORLD_KIND)
    assert smol_backend.last_prefill.reused >= note.start + note.tokens


def test_enter_keeps_the_history_start_it_was_read_ahead_with() -> None:
    """Reading ahead keeps room for the action; Enter's prompt now keeps the same room. With
    more room, a big message the read-ahead had cut (a world note) fitted again at Enter and,
    the window being under `min_fill`, the start moved back: the whole prompt read again."""
    c = campaign()
    game = Game(c, autosave=False)
    builder = ContextBuilder(FakeBackend().tokenize, 1024, 64, get_template("ChatML"))
    moved = []
    for i in range(80):
        ahead = builder.build(game.read_ahead_spec(""))
        enter = builder.build(game.request_action(Mode.DO, "look").spec)
        if enter.history_start != ahead.history_start:
            moved.append((i, ahead.history_start, enter.history_start))
        turn = c.begin_turn("do", "> You look.")
        turn.responses.append(" ".join(f"w{i}x{j}" for j in range(20 + (i * 37) % 90)))
        turn.world_note = enter.world_note
        if i % 3 == 0:  # the state changes: a new note, big, now and then
            history.record(c, [AddItem(f"stone {i}")])
    assert moved == []


def test_lore_the_story_fires_is_read_once_not_every_turn() -> None:
    """Keyword lore goes in the world note kept in the story, not the late note, which moves
    every turn: the next turn fires it again, places nothing, and its prompt's common prefix
    with the last one runs through the entry."""
    player = Player(campaign())
    player.c.world = WorldState()  # no state: the story's words alone fire the lore
    first = player.turn("> You ask about Marta.", "The smith is away.")
    assert MARTA in first.world_note
    entry = next(s for s in first.segments if s.label == "lore: Marta")
    following = player.build("> You ask Marta's friend.")
    assert "Marta" in {a.entry.name for a in following.fired}
    assert following.world_note == "" and following.text.count(MARTA) == 1
    assert common_prefix(first.tokens, following.tokens) >= entry.start + entry.tokens


def test_lore_firing_every_turn_is_in_the_window_once() -> None:
    """Placed again only when the window lost it: a long run of turns that all fire the
    same entry never holds two copies (copies every few actions filled half the window)."""
    player = Player(campaign())
    player.builder = ContextBuilder(FakeBackend().tokenize, 512, 64, get_template("ChatML"))
    reply = " ".join(f"w{j}" for j in range(8))
    placed = 0
    for i in range(40):
        report = player.turn(f"> You ask Marta about the road {i}.", reply)
        assert report.text.count(MARTA) == 1, i
        placed += MARTA in report.world_note
    assert 1 < placed < 20  # placed again as the window moved on, not every turn


def test_a_continue_does_not_repeat_what_the_kept_notes_hold() -> None:
    """A Continue (and the inspector's view with nothing typed) places no note; what the
    story's notes hold stays out of its late note, what they miss goes in."""
    player = Player(campaign())
    player.turn("> You ask about Marta.", "The smith is away.", AddItem("rope"))
    player.turn("> You wait.", "Nothing happens.")
    for spec in (adventure_spec(player.c, None, continuing=True),
                 adventure_spec(player.c, None)):
        report = player.builder.build(spec)
        assert report.text.count(MARTA) == 1
        assert report.text.count("Carrying: rope") == 1
    history.record(player.c, [SetFact("hour", "dusk")])  # the late note holds the new lines
    report = player.builder.build(adventure_spec(player.c, None, continuing=True))
    late = "".join(s.text for s in report.segments[-8:])
    assert "Facts: hour: dusk" in late and report.text.count(MARTA) == 1


def test_a_chat_places_its_lore_once_too() -> None:
    """A character chat's keyword lore (a card's book) is placed before the message it fired
    for and kept by that turn, as in an adventure: the next message reads nothing for it."""
    from tui.engine.character_library import load_character
    from tui.engine.chat import campaign_from_card, game_for

    c = campaign_from_card(load_character("Cassia"), "Ada")
    c.add_lore(LoreEntry(name="Marta", keys=["Marta"], content=MARTA))
    game = game_for(c)
    builder = ContextBuilder(FakeBackend().tokenize, 4096, 64, get_template("ChatML"))
    first = builder.build(game.request_action(Mode.DO, "Have you met Marta?").spec)
    assert MARTA in first.world_note
    turn = c.begin_turn("chat", "Have you met Marta?")
    turn.responses.append("Once, at the forge.")
    turn.world_note = first.world_note
    following = builder.build(game.request_action(Mode.DO, "Where is Marta now?").spec)
    assert following.world_note == "" and following.text.count(MARTA) == 1
    entry = next(s for s in first.segments if s.label == "lore: Marta")
    assert common_prefix(first.tokens, following.tokens) >= entry.start + entry.tokens


# A lore entry of many sentences (an imported book's entries run to 200-300 tokens).
LEGEND = " ".join(f"The old tower's legend, part {i}, tells of a lamp that walks."
                  for i in range(6))


def test_a_note_the_start_reaches_loses_its_first_sentences_not_the_window() -> None:
    """A big kept note leaving the window with its turn left a hole the start cannot fill
    without moving back (a full re-read): the Eldoria book's prompts fell to 79 % of their
    budget. Now the note loses its first sentences, a few at a time, never getting them back;
    each cut is a span the model's cache drops and shifts past, so the turn reads only what
    is new."""
    c = campaign()
    c.authors_note = ""  # the note at depth 3 moves every turn: only the cut is looked at
    c.add_lore(LoreEntry(name="Legend", keys=["tower"], content=LEGEND))
    builder = ContextBuilder(FakeBackend().tokenize, 1024, 64, get_template("ChatML"),
                             chunk_fraction=0)  # a backend that shifts: trimmed per message
    player = Player(c)
    player.builder = builder
    reply = " ".join(f"w{j}" for j in range(60))
    fills, partial_cuts, last = [], [], None
    for i in range(60):
        action = "> You climb the tower." if i % 9 == 0 else f"> You walk on {i}."
        report = player.turn(action, reply)
        cut = [s for s in report.segments if s.label.endswith("(cut)")]
        if cut:
            partial_cuts.append((cut[0].label, cut[0].text))
        if i > 20:
            fills.append(report.total_tokens / report.budget)
        if last is not None and report.history_start >= last.history_start:
            common = common_prefix(last.tokens, report.tokens)
            plan = plan_reuse(last.tokens, report.tokens, common)
            kept_to = max([common] + [at + length for at, length in plan.runs])
            assert kept_to >= last.pending_start, i  # only the new turn is read
        last = report
    assert partial_cuts  # the start did reach a big note
    assert min(fills) >= 0.9
    for (label, text), (next_label, next_text) in pairwise(partial_cuts):
        if label == next_label:  # the same note: its end only ever shrinks
            assert text.endswith(next_text)
