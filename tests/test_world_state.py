"""The world state model: validation, apply and its inverse, and how it moves with turns."""

from __future__ import annotations

import pytest

from tui.engine.actions import Mode
from tui.engine.campaign import Campaign, Turn, campaign_from_scenario
from tui.engine.game import Game
from tui.engine.scenario import find_scenario
from tui.engine.world import (
    AddItem,
    AddQuest,
    ChangeRefused,
    DropItem,
    FinishQuest,
    Forget,
    Meet,
    Move,
    SetFact,
    UpdatePerson,
    WorldState,
    apply,
    apply_unchecked,
    change_from_dict,
    change_to_dict,
    describe,
    history,
    validate,
)
from tui.engine.world.prompt import segment_lines

EVERY_KIND = [
    Move("Thornwood edge", "black thorns", ("the road", "a path north")),
    AddItem("brass lantern"),
    AddItem("oil flask"),
    Meet("Ilse", attitude="wary"),
    UpdatePerson("Ilse", attitude="friendly"),
    AddQuest("find Warden Ilse"),
    AddQuest("light the lamps"),
    FinishQuest("find Warden Ilse"),
    SetFact("gate", "locked"),
    SetFact("gate", "open"),
    DropItem("brass lantern"),
    UpdatePerson("Ilse", alive=False),
    Meet("guard", where="tower"),
    Forget("guard"),
    SetFact("gate", ""),
]


def test_each_change_applies_and_its_inverse_puts_the_state_back_exactly() -> None:
    state = WorldState(place="cottage", exits=["the road"], items=["map"], quests=["rest"])
    for change in EVERY_KIND:
        before = state.copy()
        assert validate(state, change) is None, change
        inverse = apply(state, change)
        assert state != before
        after = state.copy()
        apply_unchecked(state, inverse)
        assert state == before, change
        apply(state, change)
        assert state == after


def test_refusals_name_the_reason_and_change_nothing() -> None:
    state = WorldState(place="cottage", items=["map"])
    apply(state, Meet("guard"))
    apply(state, UpdatePerson("guard", alive=False))
    cases = {
        DropItem("brass lantern"): "not carrying brass lantern",
        AddItem("MAP"): "already carrying MAP",
        FinishQuest("find Ilse"): "no open quest find Ilse",
        UpdatePerson("guard", attitude="angry"): "guard is dead",
        UpdatePerson("nobody", attitude="angry"): "no one called nobody has been met",
        Meet("Guard"): "already met Guard",
        Move("Cottage"): "already at Cottage",
        SetFact("gate", ""): "no fact gate",
        AddItem(""): "add_item needs a item",
    }
    for change, reason in cases.items():
        before = state.copy()
        assert validate(state, change) == reason
        with pytest.raises(ChangeRefused, match=reason):
            apply(state, change)
        assert state == before


def test_changes_round_trip_as_data_and_bad_data_is_refused_with_a_reason() -> None:
    for change in EVERY_KIND:
        assert change_from_dict(change_to_dict(change)) == change
    with pytest.raises(ValueError, match="unknown change 'teleport'"):
        change_from_dict({"op": "teleport"})
    with pytest.raises(ValueError):
        change_from_dict({"op": "add_item"})  # no item
    hostile = change_from_dict({"op": "add_item", "item": "[bold]x\x1b[2J\nsword"})
    assert hostile == AddItem("[bold]x[2J sword")  # one cleaned line; markup is shown as text


def test_the_quiet_line() -> None:
    assert describe([AddItem("brass lantern"), Move("Thornwood edge")]) == \
        "+ brass lantern · → Thornwood edge"


def _story() -> Campaign:
    c = Campaign("t", turns=[Turn("opening", responses=["A cottage."])],
                 world=WorldState(place="cottage", exits=["the road"]))
    return c


def test_undo_redo_and_takes_move_the_state_with_the_turn() -> None:
    c = _story()
    c.begin_turn("do", "> Take the lantern.").responses.append("You take it.")
    history.record(c, [AddItem("brass lantern")])
    assert c.world_state().items == ["brass lantern"]
    turn = c.turns[-1]
    turn.add_alternative("The hook is empty.")  # a retry: the first take's change is discarded
    assert c.world_state().items == []
    history.record(c, [Move("Thornwood edge")])
    assert c.world_state().place == "Thornwood edge"
    turn.chosen = 0  # back to the first take (a swipe)
    assert (c.world_state().items, c.world_state().place) == (["brass lantern"], "cottage")
    c.undo()
    assert c.world_state() == WorldState(place="cottage", exits=["the road"])
    c.redo()
    assert c.world_state().items == ["brass lantern"]
    turn.chosen = 1
    assert (c.world_state().items, c.world_state().place) == ([], "Thornwood edge")


def test_a_change_that_no_longer_fits_after_redo_is_skipped() -> None:
    c = _story()
    c.begin_turn("do", "> Take it.").responses.append("Taken.")
    history.record(c, [AddItem("lantern")])
    c.undo()
    history.record(c, [AddItem("lantern")])  # corrected by hand on the opening meanwhile
    c.redo()
    assert c.world_state().items == ["lantern"]
    c.undo()
    assert c.world_state().items == ["lantern"]  # the opening's own change stays


def test_a_retry_prompt_sees_the_state_before_the_take_it_replaces() -> None:
    c = _story()
    c.begin_turn("do", "> Take the lantern.").responses.append("You take it.")
    history.record(c, [AddItem("brass lantern")])
    game = Game(c, autosave=False)
    request = game.request_retry()
    assert request is not None
    assert "brass lantern" not in request.spec.world
    assert "brass lantern" in game.request_action(Mode.DO, "look").spec.world


def test_lantern_road_starts_at_the_cottage_and_taking_the_lantern_leaves_no_contradiction(
        ) -> None:
    """The state said the lantern hung on its hook (in the place and in a fact) and kept
    saying so once it was carried: the narrator read "Carrying: brass lantern" beside it."""
    c = campaign_from_scenario(find_scenario("lantern-road"))
    state = c.world_state()
    assert state.place == "the cottage by the Lantern Road"
    assert state.exits == ["the Lantern Road", "the Thornwood", "the cottage door"]
    assert state.items == []
    assert state.facts["brass lantern"] == "unlit"
    lines = segment_lines(state)
    assert [line.split(":")[0] for line in lines] == ["Where", "Carrying", "Quests", "Facts"]
    assert lines[1] == "Carrying: nothing"
    assert "hook" in c.turns[0].response  # the opening says where it hangs
    history.record(c, [AddItem("brass lantern")])
    taken = "\n".join(segment_lines(c.world_state()))
    assert "Carrying: brass lantern" in taken
    assert "hook" not in taken and "by the door" not in taken


@pytest.mark.parametrize("name", ["lantern-road", "derelict-meridian", "rain-on-ninth"])
def test_every_bundled_scenario_starts_with_a_world_state(name: str) -> None:
    """The issue: "Scenarios may declare a starting state (bundled ones do)"."""
    c = campaign_from_scenario(find_scenario(name))
    assert c.world.place and c.world.exits and c.world.quests
    assert all(p.where == c.world.place for p in c.world.people)  # met here, so present
    assert any(line.startswith("Where: ") for line in segment_lines(c.world))


def test_the_state_and_each_takes_changes_survive_a_save_and_undo_after_loading(tmp_path
                                                                              ) -> None:
    from tui.engine.saves import load_save, release_save, write_save

    c = _story()
    c.begin_turn("do", "> Take the lantern.").responses.append("You take it.")
    history.record(c, [AddItem("brass lantern"), Meet("Ilse", attitude="wary")])
    c.turns[-1].add_alternative("Nothing there.")
    history.record(c, [SetFact("hook", "empty")])
    c.begin_turn("do", "> Go north.").responses.append("Thorns.")
    history.record(c, [Move("Thornwood edge", exits=("the road",))])
    c.undo()  # a turn on the redo stack, its changes not applied
    folder = write_save(c, tmp_path)
    release_save(c)
    back = load_save(folder)
    assert back.world_state() == c.world_state()
    assert back.turns[-1].changes == c.turns[-1].changes
    assert back.world_state().facts == {"hook": "empty"} and back.world_state().items == []
    back.turns[-1].chosen = 0
    assert back.world_state().items == ["brass lantern"] and not back.world_state().facts
    back.redo()
    assert back.world_state().place == "Thornwood edge"
    back.undo()
    back.undo()
    assert back.world_state() == WorldState(place="cottage", exits=["the road"])


def test_the_dead_are_named_to_the_narrator_only_when_the_story_turns_to_them() -> None:
    """`Dead: Bram` in every prompt had SmolLM2 bring Bram back to talk (bench_world: every
    contradiction with the state on was a dead person acting). The line is kept for when the
    new action or the turn before it names them; the update and /state still list them."""
    from tui.engine.adventure import adventure_spec
    from tui.engine.world.prompt import report_lines

    c = campaign_from_scenario(find_scenario("lantern-road"))
    history.record(c, [Meet("Bram"), Meet("Warden Ilse")])
    history.record(c, [UpdatePerson("Bram", alive=False), UpdatePerson("Warden Ilse", alive=False)])
    state = c.world_state()
    assert "Dead: Bram, Warden Ilse" in segment_lines(state)  # no story given: all of them
    assert "Dead: Bram, Warden Ilse" in report_lines(state)
    assert not any(line.startswith("Dead:") for line in segment_lines(state, "You walk on."))
    assert "Dead: Warden Ilse" in segment_lines(state, "The warden's tower looms.")
    assert "Dead: Bram" in segment_lines(state, "You kneel by Bram.")
    assert not any(line.startswith("Dead:") for line in segment_lines(state, "Brambles."))
    c.turns.append(Turn(mode="do", action="> You walk on.", responses=["The road bends."]))
    assert "Dead:" not in adventure_spec(c, "> You wait.").world
    assert "Dead: Bram" in adventure_spec(c, "> You look for Bram.").world
    c.turns.append(Turn(mode="do", action="> You wait.", responses=["Bram's stick lies here."]))
    assert "Dead: Bram" in adventure_spec(c, "> You wait.").world
