"""Lore keyed to the world state: the place, items carried and people present fire their
entries as if named in the newest message (docs/architecture.md, "World state")."""

from __future__ import annotations

from fakes import FakeBackend

from tui.engine.adventure import adventure_spec
from tui.engine.campaign import OPENING, Campaign, Turn
from tui.engine.context import ContextBuilder
from tui.engine.context_types import ContextReport
from tui.engine.lore import LoreEntry, LoreScanner
from tui.engine.templates import get_template
from tui.engine.world import AddItem, DropItem, Meet, Move, UpdatePerson, WorldState, history

LANTERN = "The brass lantern burns without oil while its bearer tells the truth."
THORNWOOD = "In the Thornwood the paths move at night."
ILSE = "Warden Ilse has kept the road for forty winters."


def _campaign() -> Campaign:
    c = Campaign(title="Road", memory="You walk the road.")
    c.turns.append(Turn(OPENING, responses=["A cottage by the road. A hook by the door."]))
    for i in range(4):
        c.turns.append(Turn("do", f"> You wait {i}.", [f"Time passes {i}."]))
    c.world = WorldState(place="the cottage")
    c.add_lore(LoreEntry(name="Lantern", keys=["lantern"], content=LANTERN))
    c.add_lore(LoreEntry(name="Thornwood", keys=["thornwood"], content=THORNWOOD))
    c.add_lore(LoreEntry(name="Ilse", keys=["Ilse"], content=ILSE))
    return c


def _build(c: Campaign, action: str = "> You look around.") -> ContextReport:
    fake = FakeBackend()
    b = ContextBuilder(fake.tokenize, 4096, 64, get_template("ChatML"))
    return b.build(adventure_spec(c, action))


def _reasons(report: ContextReport) -> dict[str, str]:
    return {a.entry.name: a.reason for a in report.fired}


def _record(c: Campaign, action: str, reply: str, *changes: object) -> None:
    c.begin_turn("do", action).responses.append(reply)
    history.record(c, list(changes))  # type: ignore[arg-type]


def test_a_carried_items_lore_fires_from_the_state_and_stops_when_dropped() -> None:
    c = _campaign()
    assert "Lantern" not in _reasons(_build(c))
    _record(c, "> You take it from the hook.", "It is warm in your hand.",
            AddItem("brass lantern"))
    report = _build(c)
    assert "lantern" not in " ".join(m.text for m in adventure_spec(c, None).history).lower()
    assert _reasons(report)["Lantern"] == 'state: item "brass lantern" (key "lantern")'
    assert LANTERN in report.text
    for i in range(5):  # the story moves on and never names it again: it stays
        _record(c, f"> You walk on {i}.", f"The road goes on {i}.")
    assert LANTERN in _build(c).text
    _record(c, "> You set it down.", "You leave it by a stone.", DropItem("brass lantern"))
    assert "Lantern" not in _reasons(_build(c, "> You walk on."))
    c.undo()  # undo brings the item back, and its lore
    assert "Lantern" in _reasons(_build(c))


def test_the_places_lore_fires_while_the_player_is_there() -> None:
    c = _campaign()
    _record(c, "> You go north.", "Black thorns close in.", Move("Thornwood edge"))
    report = _build(c)
    assert _reasons(report)["Thornwood"] == 'state: place "Thornwood edge" (key "thornwood")'
    _record(c, "> You go back.", "The cottage again.", Move("the cottage"))
    assert "Thornwood" not in _reasons(_build(c))


def test_a_person_fires_while_present_and_alive_not_when_dead_or_elsewhere() -> None:
    c = _campaign()
    _record(c, "> You knock.", "A woman opens.", Meet("Warden Ilse", attitude="wary"))
    assert _reasons(_build(c))["Ilse"] == 'state: person "Warden Ilse" (key "Ilse")'
    _record(c, "> You wait.", "Silence.", UpdatePerson("Warden Ilse", alive=False))
    assert "Ilse" not in _reasons(_build(c))
    c.undo()
    _record(c, "> You wait.", "She leaves.", UpdatePerson("Warden Ilse", where="the tower"))
    assert "Ilse" not in _reasons(_build(c))


def test_a_key_also_in_the_story_keeps_the_state_reason() -> None:
    """What the state fires goes in the world's own note, which must not change each time
    the story mentions it (then it would be placed again): the state's reason wins."""
    c = _campaign()
    _record(c, "> You take it.", "Taken.", AddItem("brass lantern"))
    reason = 'state: item "brass lantern" (key "lantern")'
    assert _reasons(_build(c, "> You raise the lantern."))["Lantern"] == reason
    assert _reasons(_build(c, "> You walk on."))["Lantern"] == reason


def test_state_lore_is_stable_between_turns_so_the_prompt_prefix_holds() -> None:
    """Nothing in the state changed: the same entries, in the same place, turn after turn."""
    c = _campaign()
    _record(c, "> You take it.", "Warm.", AddItem("brass lantern"), Move("Thornwood edge"))
    first = _build(c)
    _record(c, "> You listen.", "Wind.")
    second = _build(c)
    assert [a.entry.name for a in first.fired] == [a.entry.name for a in second.fired]
    body = second.text
    assert body.index(LANTERN) > body.index("Wind.")  # in the late note, never the header


def test_state_lore_costs_no_scan_of_the_history() -> None:
    """A carried item's lore fires from the state's names, however long ago the story named
    it: the scan still reads only the newest messages."""
    scanner = LoreScanner()
    c = _campaign()
    books = c.all_lorebooks
    seen: list[str] = []
    original = scanner._find

    def spy(index, text):  # type: ignore[no-untyped-def]
        seen.append(text)
        return original(index, text)

    scanner._find = spy  # type: ignore[method-assign]
    story = [f"message {i}" for i in range(10_000)]
    names = [("item", "brass lantern"), ("place", "Thornwood edge")]
    result = scanner.scan(books, story, count_tokens=len, window=4096, state_texts=names)
    assert {a.entry.name for a in result.activated} == {"Lantern", "Thornwood"}
    # The scan depth's two messages and the names (then the fired entries' content, for
    # recursion): not the 10,000 messages the state's keys were named in long ago.
    assert [t for t in seen if t.startswith("message")] == ["message 9999", "message 9998"]
    assert {"brass lantern", "Thornwood edge"} <= set(seen)
