"""World-info features: secondary logic, regex keys, scripts, depth, groups, timers, recursion."""

from __future__ import annotations

import pytest

from tui.engine.lore import (
    Lorebook,
    LoreEntry,
    LoreSettings,
    LoreState,
    ScanResult,
    scan_lore,
)


def words(text: str) -> int:
    return len(text.split())


def scan(entries: list[LoreEntry], messages: list[str], **kw: object) -> ScanResult:
    kw.setdefault("window", 10_000)
    return scan_lore(
        [Lorebook(name="b", entries=entries)],
        messages,
        count_tokens=words,
        **kw,  # type: ignore[arg-type]
    )


def fired(entries: list[LoreEntry], *messages: str, **kw: object) -> list[str]:
    return [a.entry.uid for a in scan(entries, list(messages), **kw).activated]


def dropped(result: ScanResult) -> dict[str, str]:
    return {d.entry.uid: d.reason for d in result.dropped}


# -- secondary keys


@pytest.mark.parametrize(
    ("logic", "text", "fires"),
    [
        ("and_any", "king alone", False),
        ("and_any", "king and crown", True),
        ("and_all", "king and crown", False),
        ("and_all", "king, crown and throne", True),
        ("not_any", "king alone", True),
        ("not_any", "king and throne", False),
        ("not_all", "king and throne", True),
        ("not_all", "king, crown and throne", False),
    ],
)
def test_secondary_logic(logic: str, text: str, fires: bool) -> None:
    entry = LoreEntry(
        uid="k",
        keys=["king"],
        secondary_keys=["crown", "throne"],
        selective_logic=logic,
        content="x",
    )
    assert fired([entry], text) == (["k"] if fires else [])


def test_secondary_keys_ignored_when_not_selective() -> None:
    entry = LoreEntry(
        uid="k", keys=["king"], secondary_keys=["crown"], selective=False, content="x"
    )
    assert fired([entry], "the king") == ["k"]


def test_secondary_alone_does_not_fire() -> None:
    entry = LoreEntry(uid="k", keys=["king"], secondary_keys=["crown"], content="x")
    assert fired([entry], "a crown") == []


# -- regex keys


def test_regex_keys_with_flags() -> None:
    entries = [
        LoreEntry(uid="ci", keys=["/dragons?/i"], content="x"),
        LoreEntry(uid="cs", keys=["/^Wyrm/"], content="y"),
        LoreEntry(uid="ml", keys=["/^Wyrm/m"], content="z"),
    ]
    assert fired(entries, "A DRAGON appears") == ["ci"]
    assert fired(entries, "Wyrm king") == ["cs", "ml"]
    assert fired(entries, "a line\nWyrm king") == ["ml"]


def test_invalid_regex_is_reported_never_raised() -> None:
    entries = [
        LoreEntry(uid="bad", keys=["/([a-z/"], content="x"),
        LoreEntry(uid="flag", keys=["/a/q"], content="x"),
        LoreEntry(uid="ok", keys=["forest"], content="y"),
    ]
    result = scan(entries, ["forest"])
    assert [a.entry.uid for a in result.activated] == ["ok"]
    reasons = dropped(result)
    assert reasons["bad"].startswith('invalid regex key "/([a-z/"')
    assert "unknown regex flag" in reasons["flag"]


def test_invalid_regex_key_does_not_block_a_valid_key() -> None:
    entry = LoreEntry(uid="mix", keys=["/(/", "forest"], content="x")
    result = scan([entry], ["forest"])
    assert [a.entry.uid for a in result.activated] == ["mix"]
    assert result.dropped == []


# -- scripts and punctuation


@pytest.mark.parametrize(
    ("key", "text", "fires"),
    [
        ("魔法", "彼女は魔法使いだ", True),  # CJK: substring
        ("エルフ", "エルフの森", True),
        ("마법", "마법사가 왔다", True),  # Hangul particles attach to nouns
        ("C++", "I write C++ daily", True),
        ("C++", "I write C++, daily", True),
        ("C++", "I write ObjC++ daily", False),
        ("R2-D2", "Where is R2-D2?", True),
        ("R2-D2", "R2-D2s everywhere", False),
        ("Dr. Who", "Ask Dr. Who now", True),
        ("Dr. Who", "Ask Dr. Whom now", False),
        (".NET", "built on .NET today", True),
        ("magical forest", "the magical forest glows", True),
        ("magical forest", "the magical forestry", False),
        ("cat", "concatenate", False),
        ("café", "un café noir", True),
        ("café", "cafés", False),
    ],
)
def test_whole_word_edges(key: str, text: str, fires: bool) -> None:
    entry = LoreEntry(uid="e", keys=[key], content="x")
    assert fired([entry], text) == (["e"] if fires else [])


def test_mixed_script_key_bounds_only_its_latin_edge() -> None:
    entry = LoreEntry(uid="e", keys=["東京Tower"], content="x")
    assert fired([entry], "行く東京Tower!") == ["e"]
    assert fired([entry], "東京Towers") == []


# -- constant, enabled, probability


def test_constant_fires_without_keys_and_disabled_never() -> None:
    entries = [
        LoreEntry(uid="c", constant=True, content="always"),
        LoreEntry(uid="off", keys=["forest"], content="x", enabled=False),
        LoreEntry(uid="coff", constant=True, content="x", enabled=False),
    ]
    result = scan(entries, ["forest"])
    assert [(a.entry.uid, a.reason, a.position) for a in result.activated] == [
        ("c", "constant", "before")
    ]
    assert result.dropped == []


def test_probability_is_deterministic_and_reported() -> None:
    entry = LoreEntry(uid="p", keys=["a"], content="x", probability=50)
    outcomes = [bool(fired([entry], "a", turn=t, seed=7)) for t in range(40)]
    assert outcomes == [bool(fired([entry], "a", turn=t, seed=7)) for t in range(40)]
    assert 5 < sum(outcomes) < 35  # both outcomes happen
    t = outcomes.index(False)
    reason = dropped(scan([entry], ["a"], turn=t, seed=7))["p"]
    roll = int(reason.split()[2])
    assert reason == f"probability roll {roll} > 50" and roll > 50
    zero = LoreEntry(uid="z", keys=["a"], content="x", probability=0)
    assert all(not fired([zero], "a", turn=t) for t in range(20))


# -- order, positions


def test_insertion_order_by_position_then_order() -> None:
    entries = [
        LoreEntry(uid="d2", keys=["a"], content="x", order=5),
        LoreEntry(uid="top", keys=["a"], content="x", position="before", order=50),
        LoreEntry(uid="d1", keys=["a"], content="x", order=1),
        LoreEntry(uid="after", keys=["a"], content="x", position="after", order=1),
        LoreEntry(uid="deep", keys=["a"], content="x", position="depth", depth=9, order=99),
        LoreEntry(uid="an", keys=["a"], content="x", position="an_bottom"),
        LoreEntry(uid="const", constant=True, content="x", order=200),
    ]
    result = scan(entries, ["a"])
    assert [a.entry.uid for a in result.activated] == [
        "top",
        "const",
        "after",
        "an",
        "deep",
        "d1",
        "d2",
    ]
    assert {a.entry.uid: a.position for a in result.activated}["d1"] == "depth"


# -- scan depth


def test_scan_depth_global_book_and_entry() -> None:
    history = ["the forest", "a road", "a town"]
    entry = LoreEntry(uid="f", keys=["forest"], content="x")
    assert fired([entry], *history) == []  # default depth 2: "a road", "a town"
    assert fired([entry], *history, settings=LoreSettings(scan_depth=3)) == ["f"]
    deep = LoreEntry(uid="f", keys=["forest"], content="x", scan_depth=3)
    assert fired([deep], *history) == ["f"]
    result = scan_lore(
        [Lorebook(entries=[entry], scan_depth=5)], history, count_tokens=words, window=1000
    )
    assert [a.entry.uid for a in result.activated] == ["f"]


def test_extra_text_is_the_newest_message() -> None:
    entry = LoreEntry(uid="f", keys=["forest"], content="x")
    assert fired([entry], "a road", extra_text="I enter the forest") == ["f"]
    # It takes one slot of the scan depth: depth 2 = the action and the newest message.
    assert fired([entry], "the forest", "a road", extra_text="go on") == []


def test_zero_depth_scans_nothing() -> None:
    entry = LoreEntry(uid="f", keys=["forest"], content="x", scan_depth=0)
    assert fired([entry], "forest") == []


# -- groups


def test_group_one_winner_by_weight_is_deterministic() -> None:
    entries = [
        LoreEntry(uid="rain", name="Rain", keys=["sky"], content="x", group="weather"),
        LoreEntry(uid="sun", name="Sun", keys=["sky"], content="y", group="weather"),
        LoreEntry(uid="free", keys=["sky"], content="z"),
    ]
    winners = set()
    for seed in range(30):
        result = scan(entries, ["the sky"], seed=seed)
        ids = [a.entry.uid for a in result.activated]
        assert "free" in ids and len(ids) == 2
        winner = next(i for i in ids if i != "free")
        loser = "sun" if winner == "rain" else "rain"
        winners.add(winner)
        names = {"rain": "Rain", "sun": "Sun"}
        assert dropped(result) == {loser: f'lost group "weather" to "{names[winner]}"'}
        assert ids == [a.entry.uid for a in scan(entries, ["the sky"], seed=seed).activated]
    assert winners == {"rain", "sun"}


def test_group_weight_zero_never_wins() -> None:
    entries = [
        LoreEntry(uid="never", keys=["sky"], content="x", group="g", group_weight=0),
        LoreEntry(uid="always", keys=["sky"], content="y", group="g", group_weight=10),
    ]
    assert all(fired(entries, "sky", seed=s) == ["always"] for s in range(20))


def test_group_override_picks_highest_priority() -> None:
    entries = [
        LoreEntry(uid="a", keys=["sky"], content="x", group="g", group_override=True, order=10),
        LoreEntry(uid="b", keys=["sky"], content="y", group="g", group_override=True, order=90),
        LoreEntry(uid="c", keys=["sky"], content="z", group="g", order=500),
    ]
    assert all(fired(entries, "sky", seed=s) == ["b"] for s in range(10))


# -- timed effects


def test_sticky_keeps_an_entry_active_for_n_turns() -> None:
    entry = LoreEntry(uid="s", keys=["storm"], content="x", sticky=2)
    state = LoreState()
    r0 = scan([entry], ["a storm"], turn=0, state=state)
    assert [a.reason for a in r0.activated] == ['key "storm"']
    r1 = scan([entry], ["calm"], turn=1, state=r0.next_state)
    assert [a.reason for a in r1.activated] == ["sticky (2 turns left)"]
    r2 = scan([entry], ["calm"], turn=2, state=r1.next_state)
    assert [a.reason for a in r2.activated] == ["sticky (1 turn left)"]
    r3 = scan([entry], ["calm"], turn=3, state=r2.next_state)
    assert r3.activated == []
    assert r3.next_state.sticky == {}


def test_cooldown_blocks_after_activity_ends() -> None:
    entry = LoreEntry(uid="c", keys=["storm"], content="x", cooldown=2)
    r0 = scan([entry], ["storm"], turn=0)
    assert [a.entry.uid for a in r0.activated] == ["c"]
    r1 = scan([entry], ["storm"], turn=1, state=r0.next_state)
    assert r1.activated == [] and dropped(r1) == {"c": "cooldown (2 turns left)"}
    r2 = scan([entry], ["storm"], turn=2, state=r1.next_state)
    assert dropped(r2) == {"c": "cooldown (1 turn left)"}
    r3 = scan([entry], ["storm"], turn=3, state=r2.next_state)
    assert [a.entry.uid for a in r3.activated] == ["c"]


def test_cooldown_starts_after_sticky_ends() -> None:
    entry = LoreEntry(uid="c", keys=["storm"], content="x", sticky=1, cooldown=1)
    r0 = scan([entry], ["storm"], turn=0)
    r1 = scan([entry], ["calm"], turn=1, state=r0.next_state)
    assert [a.reason for a in r1.activated] == ["sticky (1 turn left)"]
    r2 = scan([entry], ["storm"], turn=2, state=r1.next_state)
    assert dropped(r2) == {"c": "cooldown (1 turn left)"}
    r3 = scan([entry], ["storm"], turn=3, state=r2.next_state)
    assert [a.reason for a in r3.activated] == ['key "storm"']


def test_delay_until_turn() -> None:
    entry = LoreEntry(uid="d", keys=["storm"], content="x", delay=5)
    r = scan([entry], ["storm"], turn=4)
    assert r.activated == [] and dropped(r) == {"d": "delay until turn 5"}
    assert fired([entry], "storm", turn=5) == ["d"]


def test_state_is_not_mutated_and_round_trips() -> None:
    entry = LoreEntry(uid="s", keys=["storm"], content="x", sticky=3, cooldown=2)
    state = LoreState()
    r0 = scan([entry], ["storm"], turn=10, state=state)
    assert state.sticky == {} and state.cooldown == {}
    assert r0.next_state.sticky == {"b/s": 13} and r0.next_state.cooldown == {"b/s": 15}
    assert LoreState.from_dict(r0.next_state.to_dict()) == r0.next_state


# -- recursion


def chain() -> list[LoreEntry]:
    return [
        LoreEntry(uid="a", name="A", keys=["alpha"], content="mentions beta"),
        LoreEntry(uid="b", name="B", keys=["beta"], content="mentions gamma"),
        LoreEntry(uid="c", name="C", keys=["gamma"], content="mentions delta"),
        LoreEntry(uid="d", name="D", keys=["delta"], content="the end"),
    ]


def test_recursion_follows_content_with_a_step_limit() -> None:
    result = scan(chain(), ["alpha"])
    assert [(a.entry.uid, a.reason) for a in result.activated] == [
        ("a", 'key "alpha"'),
        ("b", 'recursion from "A" (key "beta")'),
        ("c", 'recursion from "B" (key "gamma")'),
        ("d", 'recursion from "C" (key "delta")'),
    ]
    assert fired(chain(), "alpha", settings=LoreSettings(max_recursion_steps=1)) == ["a", "b"]
    assert fired(chain(), "alpha", settings=LoreSettings(recursive=False)) == ["a"]


def test_book_can_turn_recursion_off() -> None:
    result = scan_lore(
        [Lorebook(entries=chain(), recursive_scanning=False)],
        ["alpha"],
        count_tokens=words,
        window=1000,
    )
    assert [a.entry.uid for a in result.activated] == ["a"]


def test_prevent_and_exclude_recursion() -> None:
    entries = chain()
    entries[0].prevent_recursion = True
    assert fired(entries, "alpha") == ["a"]
    entries = chain()
    entries[2].exclude_recursion = True
    assert fired(entries, "alpha") == ["a", "b"]
    assert fired(entries, "gamma") == ["c", "d"]  # chat keys still fire it


def test_delay_until_recursion() -> None:
    entries = chain()
    entries[1].delay_until_recursion = True
    # "beta" in the chat alone: no recursion step happens, so it waits and is reported.
    result = scan(entries, ["beta"])
    assert result.activated == []
    assert dropped(result) == {"b": "delay until recursion (no recursion happened)"}
    # Triggered through recursion it fires.
    assert fired(entries, "alpha") == ["a", "b", "c", "d"]


def test_recursion_respects_budget() -> None:
    entries = chain()
    result = scan(entries, ["alpha"], settings=LoreSettings(budget_tokens=4))
    assert [a.entry.uid for a in result.activated] == ["a", "b"]
    assert dropped(result) == {"c": "world-info budget full (4 tokens)"}


# -- odds and ends


def test_regex_keys_that_could_hang_are_refused() -> None:
    entry = LoreEntry(uid="slow", keys=["/(a+)+$/"], content="x")
    result = scan([entry], ["a" * 40 + "b"])
    assert result.activated == []
    assert "nested repetition" in dropped(result)["slow"]


def test_recursion_reaches_entries_whose_key_is_only_deep_in_the_chat() -> None:
    entries = [
        LoreEntry(uid="a", name="A", keys=["alpha"], content="see beta"),
        LoreEntry(uid="b", name="B", keys=["beta"], content="x", scan_depth=1),
    ]
    # "beta" is in the chat but outside b's depth; A's content brings it in by recursion.
    result = scan(entries, ["beta", "alpha"])
    assert [(a.entry.uid, a.reason) for a in result.activated] == [
        ("a", 'key "alpha"'),
        ("b", 'recursion from "A" (key "beta")'),
    ]


def test_several_books_and_book_names_in_the_report() -> None:
    one = Lorebook(name="one", entries=[LoreEntry(uid="x", keys=["sea"], content="a b c")])
    two = Lorebook(name="two", entries=[LoreEntry(uid="x", keys=["sea"], content="a b c")])
    result = scan_lore(
        [one, two],
        ["the sea"],
        count_tokens=words,
        window=1000,
        settings=LoreSettings(budget_tokens=4),
    )
    assert [(a.book, a.entry.uid) for a in result.activated] == [("one", "x")]
    assert [(d.book, d.reason) for d in result.dropped] == [
        ("two", "world-info budget full (4 tokens)")
    ]


def test_entry_dict_round_trip_is_tolerant() -> None:
    entry = LoreEntry(
        uid="1",
        keys=["a"],
        priority=None,
        case_sensitive=None,
        extensions={"x": None, "y": {"z": None, "w": 1}},
    )
    data = entry.to_dict()
    assert "priority" not in data and "case_sensitive" not in data
    assert data["extensions"] == {"y": {"w": 1}}
    back = LoreEntry.from_dict(data)
    assert back.keys == ["a"] and back.priority is None and back.extensions == {"y": {"w": 1}}
    odd = LoreEntry.from_dict(
        {
            "keys": "solo",
            "order": "12",
            "probability": 500,
            "position": "nowhere",
            "selective_logic": "maybe",
            "mystery": 3,
        }
    )
    assert (odd.keys, odd.order, odd.probability, odd.position, odd.selective_logic) == (
        ["solo"],
        12,
        100,
        "auto",
        "and_any",
    )
    assert odd.extensions == {"mystery": 3}
