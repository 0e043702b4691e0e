"""The checker of benchmarks/bench_world.py, fed hand-written narrations: what it counts as a
contradiction of the world state, and what it leaves alone."""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))

from world_checker import Truth, check, count, sentences  # noqa: E402

TRUTH = Truth(items={"brass lantern": ("lantern", "lamp"), "tower key": ("key",)},
              dead={"Bram": ("Bram",), "Warden Ilse": ("Ilse", "Warden")},
              exits=("the tower door", "the stair"))


def kinds(text: str, truth: Truth = TRUTH) -> dict[str, int]:
    return count(check(text, truth))


def test_a_carried_item_described_as_absent_counts_once_per_sentence() -> None:
    text = ("You have no lantern. You walk on without your brass lamp. "
            "You realise you lost the key. The lantern is gone! You left the lantern behind, "
            "and you no longer carry the lantern. You don't have the key.")
    found = check(text, TRUTH)
    assert count(found) == {"item": 6, "dead": 0, "exit": 0}
    assert [c.subject for c in found].count("tower key") == 2


def test_a_carried_item_mentioned_plainly_is_no_contradiction() -> None:
    text = ("You raise the lantern. Its light falls on the key in your hand. "
            "There is no lamp post here, only the dark.")
    assert kinds(text) == {"item": 0, "dead": 0, "exit": 0}


def test_an_item_not_carried_may_be_absent() -> None:
    truth = Truth(items={}, dead={}, exits=())
    assert kinds("You have no lantern. You lost the key.", truth)["item"] == 0


def test_a_dead_person_speaking_or_acting() -> None:
    text = ('Bram says nothing you want to hear. "Go," whispers Ilse. '
            "Ilse, pale, nods slowly. The Warden smiled.")
    found = check(text, TRUTH)
    assert count(found) == {"item": 0, "dead": 4, "exit": 0}
    assert [c.subject for c in found] == ["Bram", "Warden Ilse", "Warden Ilse", "Warden Ilse"]


def test_a_dead_person_mentioned_or_acted_upon_is_no_contradiction() -> None:
    text = ("You kneel beside Bram. Bram's body is cold and you nod. "
            "Ilse lies still while the wind whispers. You ask Ilse nothing. "
            "Ilse, pale and cold, nods no more.")
    assert kinds(text)["dead"] == 0


def test_the_dead_spoken_to_is_no_contradiction() -> None:
    """The narrator echoing the player's own line to the dead (`I said "Ilse, can you hear
    me?"`, after the script's "Ilse, can you hear me?") was counted as Ilse speaking: the
    word before her name was "said", the quote between them was not looked at."""
    text = ('I said "Ilse, can you hear me?" I said, "Bram, what did you see?" '
            'I whispered "Warden?" into the dark.')
    assert kinds(text)["dead"] == 0
    assert kinds('"Listen," said Bram. "Go," whispers Ilse.')["dead"] == 2


def test_a_living_person_may_speak() -> None:
    truth = Truth(items={}, dead={}, exits=())
    assert kinds("Bram says hello. Ilse nods.", truth)["dead"] == 0


def test_an_unknown_exit_taken() -> None:
    text = ("You step through the cellar door. You slip through a hidden trapdoor and fall. "
            "You walk through the tower door. You climb back through the stair, panting. "
            "You walk through the trees. I stepped through the iron gate, and waited.")
    found = check(text, TRUTH)
    assert count(found) == {"item": 0, "dead": 0, "exit": 3}
    assert [c.subject for c in found] == ["cellar door", "hidden trapdoor", "iron gate"]


def test_no_known_exits_makes_every_way_through_unknown() -> None:
    truth = Truth(items={}, dead={}, exits=())
    assert kinds("You go through the door.", truth)["exit"] == 1


def test_sentences_split_on_end_punctuation_and_lines() -> None:
    assert sentences('He waits. "Come!" she says.\nThe end') == \
        ["He waits.", '"Come!" she says.', "The end"]
