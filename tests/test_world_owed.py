"""An update Enter cancels is owed, not lost (docs/architecture.md, "World state"): the next
update reads the owed turns with the newest, and the changes it finds are recorded."""

from __future__ import annotations

import io
import json
import threading
import time
from pathlib import Path

import pytest
from fakes import FakeBackend
from test_tui_summary_update import app_for, wait_until

from tui.backends.local import LocalBackend
from tui.core.backend import Backend
from tui.engine.actions import Mode
from tui.engine.campaign import Campaign, Turn
from tui.engine.game import Game, GenerationResult, make_builder
from tui.engine.saves import load_save, release_save
from tui.engine.saves.codec import campaign_from_dict
from tui.engine.world import AddItem, WorldState
from tui.engine.world.owed import MAX_OWED
from tui.engine.world.propose import AFTER_STORY, WorldRequest, parse, propose
from tui.plain import PlainSession
from tui.screens.adventure import AdventureScreen

LANTERN = json.dumps({"changes": [{"op": "add_item", "item": "brass lantern"}]})


def game() -> Game:
    c = Campaign(title="t")
    c.world = WorldState(place="the inn")
    c.turns.append(Turn("story", "", ["The inn is warm."], 0))
    return Game(c)


def play(g: Game, action: str, narration: str) -> WorldRequest:
    """A narrated turn, then the update the pause would ask for."""
    g.campaign.turns.append(Turn("do", action, [narration], 0))
    request = g.world_update_due()
    assert request is not None
    return request


def read(request: WorldRequest) -> str:
    pending = request.spec.pending
    assert pending is not None
    return pending.text


def test_a_cancelled_update_is_read_again_with_the_next_turn() -> None:
    g = game()
    play(g, "take the brass lantern", "You lift the brass lantern off its hook.")  # cancelled
    request = play(g, "go north", "The road climbs into the hills.")
    text = read(request)
    assert "take the brass lantern" in text and "go north" in text
    assert text.index("take the brass lantern") < text.index("go north")
    assert "And the turn after it:" in text and "What changed in these 2 turns" in text
    outcome = g.settle_world(request, LANTERN)  # named by the earlier turn: plausible
    assert [c.item for c in outcome.applied if isinstance(c, AddItem)] == ["brass lantern"]
    assert "brass lantern" in g.campaign.world_state().items
    assert g.campaign.turns[-1].changes[0]  # recorded on the newest turn
    later = play(g, "look", "Stars.")
    assert "go north" not in read(later) and "lantern" not in read(later).split("Where:")[0]


def test_the_owed_update_starts_as_the_cancelled_one_did() -> None:
    """So the update's cache still holds what the cancelled one read: on a slow model, an
    update Enter keeps cutting short goes on where it stopped instead of starting over."""
    g = game()
    cancelled = read(play(g, "take the brass lantern", "You lift the lantern."))
    owed = read(play(g, "go north", "The road climbs."))
    assert owed.startswith(cancelled.removesuffix("What changed, as JSON:"))
    assert read(play(g, "go east", "A river.")).startswith(owed.rsplit("\n\n", 1)[0])


def test_an_answered_turn_is_not_read_again() -> None:
    g = game()
    first = play(g, "take the brass lantern", "You lift the lantern.")
    g.settle_world(first, '{"changes":[]}')
    second = play(g, "go north", "The road climbs.")
    assert second.earlier == () and "take the brass lantern" not in read(second)


def test_a_late_answer_leaves_its_turns_owed() -> None:
    """An answer for a turn retried meanwhile is dropped unseen: the turn is still owed."""
    g = game()
    first = play(g, "take the brass lantern", "You lift the lantern.")
    g.campaign.turns[-1].add_alternative("You leave the lantern be.")
    assert g.settle_world(first, LANTERN).stale
    second = play(g, "go north", "The road climbs.")
    assert [t.action for t in second.earlier] == ["take the brass lantern"]
    assert "You leave the lantern be." in read(second)  # the take in the story now


@pytest.mark.parametrize("gone", ["undone", "retried"])
def test_when_the_take_that_answered_for_earlier_turns_goes_they_are_owed_again(
        gone: str) -> None:
    g = game()
    play(g, "take the brass lantern", "You lift the lantern.")  # cancelled
    both = play(g, "go north", "The road climbs.")
    g.settle_world(both, LANTERN)
    assert "brass lantern" in g.campaign.world_state().items
    if gone == "undone":
        g.campaign.undo()
        assert "brass lantern" not in g.campaign.world_state().items  # went with the take
        again = play(g, "go south", "Back to the inn.")
    else:
        g.campaign.turns[-1].add_alternative("The road is washed out.")
        again = g.world_update_due()
        assert again is not None
    assert [t.action for t in again.earlier] == ["take the brass lantern"]
    g.settle_world(again, LANTERN)
    assert "brass lantern" in g.campaign.world_state().items


def test_at_most_max_owed_turns_are_read() -> None:
    g = game()
    for n in range(MAX_OWED + 3):
        request = play(g, f"action number {n}", f"Narration number {n}.")
    assert len(request.turns) == MAX_OWED
    assert f"action number {MAX_OWED + 2}" in read(request)
    assert "action number 0" not in read(request)


def test_asked_after_the_story_the_question_names_the_turns() -> None:
    backend = FakeBackend()
    backend.load()
    backend.keeps_side_prompts_apart = False
    g = game()
    play(g, "take the brass lantern", "You lift the lantern.")
    request = play(g, "go north", "The road climbs.")
    propose(backend, make_builder(backend, g.campaign), request, threading.Event())
    asked = backend.json_prompts[-1].text
    assert AFTER_STORY not in asked and "what changed in the last 2 turns?" in asked


@pytest.mark.model
def test_real_model_reads_owed_turns_and_answers_in_shape(smol_backend: Backend) -> None:
    """SmolLM2 given two turns in one update: the answer parses and settles."""
    assert isinstance(smol_backend, LocalBackend)
    g = game()
    play(g, "take the brass lantern", "You lift the brass lantern off its hook.")
    request = play(g, "go north", "You walk north to the Thornwood edge.")
    text = propose(smol_backend, make_builder(smol_backend, g.campaign), request,
                   threading.Event())
    changes, unreadable = parse(text)
    assert not unreadable, text
    outcome = g.settle_world(request, text)
    assert len(outcome.applied) + len(outcome.refused) == len(changes)
    assert not outcome.stale
    assert play(g, "look", "Trees.").earlier == ()  # answered: owed no more


# --- a player who types the next action while the update runs ---------------------------------

REPLIES = ["You take the brass lantern from its hook.", "You look around the cold room."]


async def test_tui_enter_during_an_update_leaves_its_turn_owed(tmp_path: Path) -> None:
    """The lantern is taken on turn 1; Enter cancels that turn's update. The update after
    turn 2 reads both turns, so the lantern (named on turn 1 only) is recorded. Before, the
    cancelled update was not asked again, and turn 2's alone refused the lantern as not in
    its text."""
    backend = FakeBackend(list(REPLIES))
    backend.json_replies = [LANTERN]
    backend.json_gate = threading.Event()
    g = Game(Campaign(title="t"), save_folder=tmp_path)
    async with app_for(g, backend).run_test(size=(80, 24), notifications=True) as pilot:
        screen = pilot.app.screen
        assert isinstance(screen, AdventureScreen)
        await wait_until(pilot, lambda: screen.model_ready)
        await pilot.press(*"take lantern", "enter")
        await wait_until(pilot, lambda: screen.world_updating and backend.json_prompts)
        await pilot.press(*"look", "enter")  # the player types on: the update is cancelled
        await wait_until(pilot, lambda: len(backend.json_prompts) == 2)
        backend.json_gate.set()
        await wait_until(pilot, lambda: "+ brass lantern" in
                         [str(n.message) for n in pilot.app._notifications])
        asked = backend.json_prompts[1].text
        assert "take lantern" in asked and "look" in asked
        assert g.campaign.world_state().items == ["brass lantern"]


class FastLines:
    """Line mode's input from a player who types the next line while the update runs: each
    line waits until that many updates have been asked; the last releases the gate and waits
    for the idle work to end."""

    def __init__(self, session: PlainSession, backend: FakeBackend, lines: list[str]) -> None:
        self.session, self.backend, self.lines = session, backend, list(lines)
        self.given = 0

    def readline(self) -> str:
        deadline = time.monotonic() + 30
        while len(self.backend.json_prompts) < self.given and time.monotonic() < deadline:
            time.sleep(0.01)
        self.given += 1
        if not self.lines:
            assert self.backend.json_gate is not None
            self.backend.json_gate.set()
            job = self.session.read_ahead_job
            if job is not None:
                job[0].join(30)
            return ""
        return self.lines.pop(0) + "\n"


def test_line_mode_a_line_typed_during_the_update_leaves_its_turn_owed(tmp_path: Path) -> None:
    backend = FakeBackend(list(REPLIES))
    backend.json_replies = [LANTERN]
    backend.json_gate = threading.Event()
    g = Game(Campaign(title="t"), save_folder=tmp_path)
    out, err = io.StringIO(), io.StringIO()
    session = PlainSession(g, backend, out, err)
    assert session.run(FastLines(session, backend, ["take lantern", "look"])) == 0  # type: ignore[arg-type]
    assert len(backend.json_prompts) == 2
    asked = backend.json_prompts[1].text
    assert "take lantern" in asked and "look" in asked
    assert g.campaign.world_state().items == ["brass lantern"]
    assert "+ brass lantern" in err.getvalue() + out.getvalue()


# --- an update the player quit before is asked at the next start ------------------------------


def saved_owing(tmp_path: Path) -> Path:
    """A save whose newest turn (the lantern taken) never had its update: the player quit
    in the pause. What Game.commit leaves before any update answered."""
    g = Game(Campaign(title="t"), save_folder=tmp_path)
    g.campaign.turns.append(Turn("story", "", ["The inn is warm."], 0))
    g.campaign.turns.append(Turn("do", "> You take the brass lantern.",
                                 ["You lift the brass lantern off its hook."], 0))
    g.world_owed.narrated(g.campaign)
    folder = g.save()
    assert folder is not None
    release_save(g.campaign)
    return folder


def test_the_count_of_owed_turns_is_saved_and_cleared_once_answered(tmp_path: Path) -> None:
    folder = saved_owing(tmp_path)
    resumed = load_save(folder, lock=True)
    assert resumed.world_owed == 1
    g = Game(resumed, save_folder=tmp_path)
    request = g.world_update_owed()
    assert request is not None and request.turn is resumed.turns[-1]
    assert "take the brass lantern" in read(request)
    g.settle_world(request, '{"changes":[]}')
    g.save()
    release_save(g.campaign)
    assert load_save(folder).world_owed == 0
    assert Game(load_save(folder)).world_update_owed() is None


def test_a_save_without_the_count_owes_nothing_and_a_bad_count_is_bounded() -> None:
    assert campaign_from_dict({"turns": []}).world_owed == 0
    data = {"turns": [{"mode": "do", "action": "a", "responses": ["b"]}], "world_owed": 99}
    assert campaign_from_dict(data).world_owed == MAX_OWED


def test_a_finished_turn_is_saved_as_owed_until_its_update_answers(tmp_path: Path) -> None:
    g = Game(Campaign(title="t"), save_folder=tmp_path)
    request = g.request_action(Mode.DO, "take the lantern")
    backend = FakeBackend()
    backend.load()
    report = make_builder(backend, g.campaign).build(request.spec)
    g.commit(request, GenerationResult("You lift the lantern.", report))
    assert g.last_saved is not None and load_save(g.last_saved).world_owed == 1
    g.campaign.settings.world_updates = False  # /state off: nothing is owed from now on
    g.commit(g.request_action(Mode.DO, "look"), GenerationResult("Dust.", report))
    assert load_save(g.last_saved).world_owed == 1  # the earlier turn, still owed


async def test_tui_resumed_game_asks_the_update_the_player_quit_before(tmp_path: Path) -> None:
    folder = saved_owing(tmp_path)
    backend = FakeBackend(["You look around."])
    backend.json_replies = [LANTERN]
    g = Game(load_save(folder, lock=True), save_folder=tmp_path)
    async with app_for(g, backend).run_test(size=(80, 24), notifications=True) as pilot:
        screen = pilot.app.screen
        assert isinstance(screen, AdventureScreen)
        await wait_until(pilot, lambda: screen.model_ready)
        await wait_until(pilot, lambda: "+ brass lantern" in
                         [str(n.message) for n in pilot.app._notifications])
        assert "take the brass lantern" in backend.json_prompts[0].text
        assert len(g.campaign.turns) == 2  # asked in the pause: no turn was played
        g.flush_saves(10)
        saved = load_save(folder)
        assert saved.world_owed == 0 and "brass lantern" in saved.world_state().items


def test_line_mode_resumed_game_asks_the_update_the_player_quit_before(tmp_path: Path) -> None:
    folder = saved_owing(tmp_path)
    backend = FakeBackend(["You look around."])
    backend.json_replies = [LANTERN]
    g = Game(load_save(folder, lock=True), save_folder=tmp_path)
    out, err = io.StringIO(), io.StringIO()
    session = PlainSession(g, backend, out, err)
    backend.json_gate = threading.Event()  # released by the end of input, as a line would
    assert session.run(FastLines(session, backend, [])) == 0  # type: ignore[arg-type]
    assert "take the brass lantern" in backend.json_prompts[0].text
    assert "brass lantern" in g.campaign.world_state().items
    assert load_save(folder).world_owed == 0
