"""Card JSON: V1/V2/V3 import, off-spec cards, round trips, export, and safe file names."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tui.engine.cards import (
    Card,
    CardError,
    card_to_v2_dict,
    card_to_v3_dict,
    load_card,
    parse_card_bytes,
    safe_filename,
    write_card_json,
)


def parse(obj: object, filename: str = "card.json") -> Card:
    return parse_card_bytes(json.dumps(obj).encode("utf-8"), filename)


V1 = {
    "name": "Old Tom",
    "description": "A ferryman.",
    "personality": "gruff",
    "scenario": "A river crossing.",
    "first_mes": "Fare's a penny.",
    "mes_example": "<START>\n{{char}}: Hm.",
    "avatar": "none",
    "chat": "Old Tom - 2023",
}


def test_v1_flat() -> None:
    card = parse(V1)
    assert card.spec == "chara_card_v1"
    assert (card.name, card.personality, card.first_mes) == ("Old Tom", "gruff", "Fare's a penny.")
    v2 = card_to_v2_dict(card)
    assert v2["spec"] == "chara_card_v2" and v2["data"]["scenario"] == "A river crossing."
    assert v2["avatar"] == "none"  # unknown V1 keys stay at the top level


def test_v2_all_fields() -> None:
    data = {
        "name": "Lyra",
        "description": "d",
        "personality": "p",
        "scenario": "s",
        "first_mes": "f",
        "mes_example": "m",
        "creator_notes": "notes",
        "system_prompt": "{{original}} Be Lyra.",
        "post_history_instructions": "Stay in character.",
        "alternate_greetings": ["a1", "a2"],
        "character_book": {"name": "B", "entries": [{"keys": ["x"], "content": "X!"}]},
        "tags": ["t1", "t2"],
        "creator": "me",
        "character_version": "2",
        "extensions": {"depth_prompt": {"depth": 4, "prompt": "hi"}},
    }
    card = parse({"spec": "chara_card_v2", "spec_version": "2.0", "data": data})
    assert card.spec == "chara_card_v2"
    assert card.system_prompt == "{{original}} Be Lyra."
    assert card.alternate_greetings == ["a1", "a2"]
    assert card.character_book == data["character_book"]
    assert card.extensions == data["extensions"]
    assert card.greetings == ["f", "a1", "a2"]
    assert card_to_v2_dict(card)["data"] == data


def test_v3_fields() -> None:
    obj = {
        "spec": "chara_card_v3",
        "spec_version": "3.0",
        "data": {
            "name": "Vex",
            "nickname": "V",
            "creator_notes_multilingual": {"fr": "bonjour"},
            "source": ["https://example.invalid/vex"],
            "group_only_greetings": ["Hello all."],
            "creation_date": 1700000000,
            "modification_date": "1700000100",
            "assets": [{"type": "icon", "uri": "ccdefault:", "name": "main", "ext": "png"}],
        },
    }
    card = parse(obj)
    assert card.spec == "chara_card_v3"
    assert card.display_name == "V"
    assert card.creator_notes_multilingual == {"fr": "bonjour"}
    assert card.group_only_greetings == ["Hello all."]
    assert (card.creation_date, card.modification_date) == (1700000000, 1700000100)
    assert card.assets[0]["uri"] == "ccdefault:"
    out = card_to_v3_dict(card)["data"]
    assert out["nickname"] == "V" and out["source"] == ["https://example.invalid/vex"]


# --- off-spec cards SillyTavern accepts ------------------------------------------------------


def test_alternate_greetings_as_a_string() -> None:
    card = parse({"spec": "chara_card_v2", "data": {"name": "A", "alternate_greetings": "Hi!"}})
    assert card.alternate_greetings == ["Hi!"]


def test_null_and_empty_values() -> None:
    data = {
        "name": "B",
        "character_book": None,
        "tags": None,
        "extensions": None,
        "description": None,
        "alternate_greetings": [None, "ok", 3],
    }
    card = parse({"spec": "chara_card_v3", "data": {**data, "creation_date": ""}})
    assert card.character_book is None
    assert card.tags == [] and card.extensions == {} and card.description == ""
    assert card.alternate_greetings == ["ok", "3"]
    assert card.creation_date is None
    assert "character_book" not in card_to_v2_dict(card)["data"]


def test_tags_as_a_comma_string() -> None:
    card = parse({"spec": "chara_card_v2", "data": {"name": "C", "tags": "fantasy, elf ,"}})
    assert card.tags == ["fantasy", "elf"]


def test_numbers_where_strings_belong() -> None:
    card = parse({"spec": "chara_card_v2", "data": {"name": 42, "character_version": 1.5}})
    assert (card.name, card.character_version) == ("42", "1.5")


@pytest.mark.parametrize("name", ["", "   ", None])
def test_empty_name_takes_the_file_stem(name: object) -> None:
    card = parse({"spec": "chara_card_v2", "data": {"name": name, "description": "x"}}, "Bob.json")
    assert card.name == "Bob"


def test_v1_fields_beside_data_fill_gaps() -> None:
    obj = {
        "name": "Top",
        "description": "top description",
        "creatorcomment": "legacy notes",
        "spec": "chara_card_v2",
        "data": {"name": "Inner", "first_mes": "hello"},
    }
    card = parse(obj)
    assert card.name == "Inner"  # data wins
    assert card.description == "top description"  # missing in data: the V1 field fills in
    assert card.creator_notes == "legacy notes"
    # The legacy top level is updated on export so it never contradicts data.
    assert card_to_v2_dict(card)["name"] == "Inner"


def test_data_without_spec_is_read_as_v2() -> None:
    card = parse({"data": {"name": "NoSpec", "first_mes": "yo"}})
    assert (card.spec, card.name) == ("chara_card_v2", "NoSpec")


def test_spec_without_data_but_flat_fields_is_read_flat() -> None:
    card = parse({"spec": "chara_card_v2", "name": "Flat", "first_mes": "hey"})
    assert (card.spec, card.name, card.first_mes) == ("chara_card_v1", "Flat", "hey")


def test_huge_card() -> None:
    big = "w" * 10_000_000
    card = parse({"spec": "chara_card_v2", "data": {"name": "Huge", "description": big}})
    assert len(card.description) == 10_000_000


@pytest.mark.parametrize(
    ("content", "needle"),
    [
        (b"{not json", "not valid JSON"),
        (b"[1, 2, 3]", "not an object"),
        (b'{"entries": {"0": {"key": ["x"]}}}', "not a character card"),
        (b'{"name": "\xff"}', "not UTF-8"),
        (b"", "empty"),
        (b"plain words", "not a character card"),
        (b'{"spec": "chara_card_v3", "data": 5}', "no 'data' object"),
    ],
)
def test_bad_json_files(content: bytes, needle: str) -> None:
    with pytest.raises(CardError) as excinfo:
        parse_card_bytes(content, "bad.json")
    message = str(excinfo.value)
    assert "\n" not in message and message.startswith("bad.json: ")
    assert needle in message


def test_deeply_nested_json_is_a_card_error() -> None:
    with pytest.raises(CardError):
        parse_card_bytes(b"[" * 100_000 + b"]" * 100_000, "deep.json")


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(CardError, match=r"^nope\.json: no such file$"):
        load_card(tmp_path / "nope.json")


# --- round trips -----------------------------------------------------------------------------

ODD_CARD = {
    "spec": "chara_card_v2",
    "spec_version": "2.0",
    "weird_top_level": {"keep": [1, 2, 3]},
    "data": {
        "name": "Quill",
        "description": "A scribe.",
        "first_mes": "Ink?",
        "unknown_field": "survives",
        "extensions": {"some_tool": {"nested": {"deep": True}}, "fav": False, "talk": "0.5"},
        "character_book": {
            "name": "Scrolls",
            "entries": [{"keys": ["scroll"], "content": "Old.", "extensions": {"x": 1}}],
            "unknown_book_key": 7,
        },
    },
}


@pytest.mark.parametrize("version", [2, 3])
def test_json_round_trip_keeps_unknown_fields(tmp_path: Path, version: int) -> None:
    card = parse(ODD_CARD)
    card.description = "An edited scribe."
    path = write_card_json(card, tmp_path / "q.json", version=version)
    out = json.loads(path.read_text("utf-8"))
    assert out["spec"] == f"chara_card_v{version}"
    assert out["weird_top_level"] == {"keep": [1, 2, 3]}
    assert out["data"]["unknown_field"] == "survives"
    assert out["data"]["extensions"] == ODD_CARD["data"]["extensions"]
    assert out["data"]["character_book"]["unknown_book_key"] == 7
    assert out["data"]["description"] == "An edited scribe."
    again = load_card(path)
    assert again == card
    assert again.extensions == ODD_CARD["data"]["extensions"]


def test_export_does_not_mutate_the_original() -> None:
    card = parse(ODD_CARD)
    out = card_to_v3_dict(card)
    out["data"]["extensions"]["some_tool"]["nested"]["deep"] = False
    out["weird_top_level"]["keep"].append(4)
    assert card.extensions["some_tool"]["nested"]["deep"] is True
    assert card.raw["weird_top_level"] == {"keep": [1, 2, 3]}


def test_v3_to_v2_keeps_v3_fields_it_had() -> None:
    card = parse({"spec": "chara_card_v3", "data": {"name": "N", "nickname": "Nick"}})
    card.nickname = "Nicky"
    assert card_to_v2_dict(card)["data"]["nickname"] == "Nicky"
    plain = parse({"spec": "chara_card_v2", "data": {"name": "P"}})
    assert "nickname" not in card_to_v2_dict(plain)["data"]


def test_write_json_rejects_unknown_version(tmp_path: Path) -> None:
    with pytest.raises(ValueError):
        write_card_json(Card(name="x"), tmp_path / "x.json", version=4)


def test_card_built_in_code_exports_and_reimports(tmp_path: Path) -> None:
    card = Card(name="Fresh", first_mes="Hi {{user}}", tags=["new"], extensions={"a": {"b": 1}})
    again = load_card(write_card_json(card, tmp_path / "f.json"))
    assert again == card


# --- file names from cards -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("Seraphina", "Seraphina"),
        ("../../etc/passwd", "_.._etc_passwd"),
        ("a/b\\c:d*e?f", "a_b_c_d_e_f"),
        ("CON", "_CON"),
        ("nul.txt", "_nul.txt"),
        ("...", "character"),
        ("", "character"),
        ("bad\x1b[31mname\x00", "bad_[31mname_"),
        ("rtl\u202eexe.png", "rtlexe.png"),
        ("  lots   of   space  ", "lots of space"),
    ],
)
def test_safe_filename(name: str, expected: str) -> None:
    assert safe_filename(name) == expected


def test_safe_filename_is_short() -> None:
    assert len(safe_filename("x" * 5000)) <= 80
    assert len(safe_filename("日" * 5000).encode("utf-8")) <= 200
