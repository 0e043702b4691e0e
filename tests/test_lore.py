"""The world-info scanner: keys, logic, matching rules, ordering and the budget."""

from __future__ import annotations

from tui.engine.lore import (
    Lorebook,
    LoreEntry,
    LoreScanner,
    LoreSettings,
    explain_matches,
    match_plain,
    scan_lore,
)


def words(text: str) -> int:
    """A stand-in tokenizer: one token per whitespace-separated word."""
    return len(text.split())


def book(*entries: LoreEntry, **kw: object) -> Lorebook:
    return Lorebook(name=str(kw.pop("name", "book")), entries=list(entries), **kw)  # type: ignore[arg-type]


def fired(books: list[Lorebook], *messages: str, **kw: object) -> list[str]:
    kw.setdefault("window", 10_000)
    result = scan_lore(books, list(messages), count_tokens=words, **kw)  # type: ignore[arg-type]
    return [a.entry.uid for a in result.activated]


def test_primary_keys_fire_and_others_do_not() -> None:
    b = book(
        LoreEntry(uid="forest", keys=["forest", "wood"], content="Trees."),
        LoreEntry(uid="sea", keys=["ocean"], content="Water."),
    )
    assert fired([b], "I walk into the forest") == ["forest"]
    assert fired([b], "By the OCEAN") == ["sea"]
    assert fired([b], "nothing here") == []


def test_reason_names_the_key() -> None:
    b = book(LoreEntry(uid="a", keys=["glade", "forest"], content="x"))
    result = scan_lore([b], ["a forest glade"], count_tokens=words, window=1000)
    (act,) = result.activated
    assert act.key == "glade"  # the first listed key that matched
    assert act.reason == 'key "glade"'
    assert act.tokens == 1


def test_whole_words_and_substrings() -> None:
    b = book(LoreEntry(uid="wood", keys=["wood"], content="x"))
    assert fired([b], "a dogwood tree") == []
    assert fired([b], "the wood, at last") == ["wood"]
    b.entries[0].whole_words = False
    assert fired([b], "a dogwood tree") == ["wood"]


def test_global_whole_words_off() -> None:
    b = book(LoreEntry(uid="wood", keys=["wood"], content="x"))
    assert fired([b], "dogwood", settings=LoreSettings(whole_words=False)) == ["wood"]


def test_case_sensitivity_per_entry_and_global() -> None:
    b = book(LoreEntry(uid="a", keys=["Ash"], content="x", case_sensitive=True))
    assert fired([b], "ash falls") == []
    assert fired([b], "Ash falls") == ["a"]
    b2 = book(LoreEntry(uid="b", keys=["Ash"], content="x"))
    assert fired([b2], "ASH falls") == ["b"]
    assert fired([b2], "ASH falls", settings=LoreSettings(case_sensitive=True)) == []


def test_overlapping_keys_at_the_same_position_all_match() -> None:
    b = book(
        LoreEntry(uid="forest", keys=["forest"], content="x"),
        LoreEntry(uid="glade", keys=["forest glade"], content="y"),
        LoreEntry(uid="for", keys=["for"], content="z"),
    )
    assert sorted(fired([b], "the forest glade")) == ["forest", "glade"]
    assert sorted(fired([b], "for the forest glade")) == ["for", "forest", "glade"]


def test_budget_drops_lowest_priority_and_reports_each() -> None:
    b = book(
        LoreEntry(uid="low", keys=["a"], content="one two three four", order=10),
        LoreEntry(uid="mid", keys=["a"], content="one two three four", order=50),
        LoreEntry(uid="high", keys=["a"], content="one two three four", order=90),
        LoreEntry(uid="const", constant=True, content="c c c c", order=1),
    )
    settings = LoreSettings(budget_tokens=10)
    result = scan_lore([b], ["a"], count_tokens=words, window=1000, settings=settings)
    assert sorted(a.entry.uid for a in result.activated) == ["const", "high"]
    assert result.used == 8 and result.budget == 10
    dropped = {d.entry.uid: d.reason for d in result.dropped}
    assert dropped == {
        "mid": "world-info budget full (10 tokens)",
        "low": "world-info budget full (10 tokens)",
    }


def test_budget_percent_of_window() -> None:
    b = book(
        LoreEntry(uid="x", keys=["a"], content="w " * 20, priority=5),
        LoreEntry(uid="y", keys=["a"], content="w " * 20, priority=1),
    )
    result = scan_lore([b], ["a"], count_tokens=words, window=100)  # 25 % -> 25 tokens
    assert [a.entry.uid for a in result.activated] == ["x"]
    assert result.budget == 25
    assert [d.entry.uid for d in result.dropped] == ["y"]
    assert "25 tokens" in result.dropped[0].reason


def test_priority_overrides_order_for_the_budget() -> None:
    b = book(
        LoreEntry(uid="late", keys=["a"], content="w w w", order=900, priority=1),
        LoreEntry(uid="early", keys=["a"], content="w w w", order=1, priority=9),
    )
    settings = LoreSettings(budget_tokens=4)
    assert fired([b], "a", settings=settings) == ["early"]


def test_book_token_budget_caps_its_own_entries() -> None:
    small = book(
        LoreEntry(uid="s1", keys=["a"], content="w w w", order=2),
        LoreEntry(uid="s2", keys=["a"], content="w w w", order=1),
        name="small",
        token_budget=4,
    )
    other = book(LoreEntry(uid="o", keys=["a"], content="w w w"), name="other")
    result = scan_lore([small, other], ["a"], count_tokens=words, window=1000)
    assert sorted(a.entry.uid for a in result.activated) == ["o", "s1"]
    assert [(d.entry.uid, d.reason) for d in result.dropped] == [
        ("s2", 'book "small" budget full (4 tokens)')
    ]


def test_explain_matches_lists_entries_and_keys() -> None:
    b = book(
        LoreEntry(uid="f", keys=["forest"], content="x"),
        LoreEntry(uid="g", keys=["glade"], content="y"),
        LoreEntry(uid="off", keys=["forest"], content="z", enabled=False),
    )
    out = explain_matches([b], "The Forest is dark")
    assert [(e.uid, why) for e, why in out] == [("f", 'key "forest"')]


def test_scanner_sees_edits() -> None:
    scanner = LoreScanner()
    b = book(LoreEntry(uid="a", keys=["forest"], content="x"))

    def uids(text: str) -> list[str]:
        result = scanner.scan([b], [text], count_tokens=words, window=1000)
        return [a.entry.uid for a in result.activated]

    assert uids("the sea") == []
    b.entries[0].keys = ["sea"]  # an assignment is seen at once
    assert uids("the sea") == ["a"]
    b.entries.append(LoreEntry(uid="b", keys=["sea"], content="y"))  # so is a new entry
    assert uids("the sea") == ["a", "b"]
    b.entries[1].constant = True
    assert uids("nothing") == ["b"]
    b.entries[0].keys.append("lake")  # in place: needs invalidate()
    scanner.invalidate()
    assert uids("a lake") == ["b", "a"]


def test_match_plain_reference() -> None:
    assert match_plain("Dr. Who", "meet dr. who today", case_sensitive=False, whole_words=True)
    assert not match_plain("cat", "concatenate", case_sensitive=False, whole_words=True)
