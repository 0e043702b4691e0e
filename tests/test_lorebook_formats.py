"""Lorebook import and export: SillyTavern, cards, NovelAI, KoboldAI, AI Dungeon; bad files."""

from __future__ import annotations

import base64
import json
import struct
from pathlib import Path
from typing import Any

import pytest

from tui.engine.formats.lorebooks import (
    LoreFormatError,
    detect_lorebook,
    from_character_book,
    load_lorebook,
    parse_lorebook,
    read_lorebook,
    save_lorebook,
    to_character_book,
    to_lorebook_v3,
    to_sillytavern,
)
from tui.engine.lore import Lorebook, LoreEntry, explain_matches, scan_lore

FIXTURES = Path(__file__).parents[2] / "shared" / "fixtures"


def fixture(name: str) -> Path:
    path = FIXTURES / name
    if not path.is_file():
        pytest.skip(f"fixture {name} not available")
    return path


def words(text: str) -> int:
    return len(text.split())


# -- SillyTavern world files

ST_ENTRY: dict[str, Any] = {
    "uid": 7,
    "key": ["dragon", "/wyrms?/i"],
    "keysecondary": ["fire"],
    "comment": "Dragons",
    "content": "{{char}} fears dragons.",
    "constant": False,
    "vectorized": False,
    "selective": True,
    "selectiveLogic": 3,
    "addMemo": True,
    "order": 250,
    "position": 4,
    "disable": False,
    "excludeRecursion": True,
    "preventRecursion": False,
    "delayUntilRecursion": False,
    "probability": 40,
    "useProbability": True,
    "depth": 2,
    "group": "beasts",
    "groupOverride": True,
    "groupWeight": 30,
    "scanDepth": None,
    "caseSensitive": None,
    "matchWholeWords": False,
    "automationId": "",
    "role": 1,
    "sticky": 2,
    "cooldown": 3,
    "delay": 1,
    "displayIndex": 5,
}


def st_file() -> dict[str, Any]:
    return {"entries": {"7": dict(ST_ENTRY)}, "originalData": {"name": "x"}}


def test_st_entry_fields_map() -> None:
    book = parse_lorebook(st_file(), "beasts")
    assert book.name == "beasts"
    (e,) = book.entries
    assert (e.uid, e.name, e.keys, e.secondary_keys) == (
        "7",
        "Dragons",
        ["dragon", "/wyrms?/i"],
        ["fire"],
    )
    assert e.selective_logic == "and_all" and e.selective
    assert (e.order, e.position, e.depth, e.probability) == (250, "depth", 2, 40)
    assert (e.group, e.group_override, e.group_weight) == ("beasts", True, 30)
    assert (e.sticky, e.cooldown, e.delay) == (2, 3, 1)
    assert e.exclude_recursion and not e.prevent_recursion
    assert e.whole_words is False and e.case_sensitive is None and e.scan_depth is None
    assert e.content == "{{char}} fears dragons."  # macros left for the context builder
    assert e.extensions["role"] == 1 and e.extensions["displayIndex"] == 5


def test_st_logic_and_position_numbers() -> None:
    logic = {0: "and_any", 1: "not_all", 2: "not_any", 3: "and_all"}
    for number, name in logic.items():
        data = {"entries": {"0": {"key": ["a"], "selectiveLogic": number}}}
        assert parse_lorebook(data).entries[0].selective_logic == name
    positions = [
        "before",
        "after",
        "an_top",
        "an_bottom",
        "depth",
        "before_examples",
        "after_examples",
    ]
    for number, name in enumerate(positions):
        data = {"entries": {"0": {"key": ["a"], "position": number}}}
        assert parse_lorebook(data).entries[0].position == name


def test_st_defaults_for_missing_fields() -> None:
    (e,) = parse_lorebook({"entries": {"3": {"key": "solo", "content": "x"}}}).entries
    assert (e.uid, e.keys, e.order, e.depth, e.probability, e.enabled) == (
        "3",
        ["solo"],
        100,
        4,
        100,
        True,
    )


def test_st_disable_and_unused_probability() -> None:
    data = {
        "entries": {
            "0": {"key": ["a"], "disable": True, "probability": 10, "useProbability": False}
        }
    }
    (e,) = parse_lorebook(data).entries
    assert not e.enabled and e.probability == 100
    back = to_sillytavern(parse_lorebook(data))["entries"]["0"]
    assert back["probability"] == 10 and back["useProbability"] is False and back["disable"]


def test_st_round_trip_keeps_unknown_fields() -> None:
    first = to_sillytavern(parse_lorebook(st_file(), "b"))
    again = to_sillytavern(parse_lorebook(json.loads(json.dumps(first)), "b"))
    assert again == first
    out = first["entries"]["7"]
    for key, value in ST_ENTRY.items():
        assert out[key] == value, key
    assert first["originalData"] == {"name": "x"}


def test_eldoria_fixture_imports_and_fires_forest_and_glade() -> None:
    book = load_lorebook(fixture("Eldoria.json"))
    assert detect_lorebook(json.loads(fixture("Eldoria.json").read_text())) == "sillytavern"
    assert len(book.entries) == 4
    result = scan_lore([book], ["I walk into the forest glade"], count_tokens=words, window=100_000)
    keys = {a.key for a in result.activated if a.reason.startswith("key")}
    assert {"forest", "glade"} <= keys
    fired_by = {a.key: a.entry for a in result.activated}
    assert "forest" in fired_by["forest"].keys and "glade" in fired_by["glade"].keys
    assert any("{{char}}" in a.entry.content for a in result.activated)
    explained = {why for _, why in explain_matches([book], "a magical forest glade")}
    assert 'key "glade"' in explained


# -- cards


def card_book() -> dict[str, Any]:
    return {
        "name": "World",
        "description": "d",
        "scan_depth": 3,
        "token_budget": 500,
        "recursive_scanning": False,
        "extensions": {"tool": {"v": 1}},
        "entries": [
            {
                "keys": ["castle"],
                "content": "A castle.",
                "extensions": {
                    "position": 4,
                    "depth": 1,
                    "probability": 70,
                    "useProbability": True,
                    "selectiveLogic": 2,
                    "group": "g",
                    "sticky": 1,
                    "exclude_recursion": True,
                    "display_index": 0,
                    "future_field": [1, 2],
                },
                "enabled": True,
                "insertion_order": 20,
                "case_sensitive": True,
                "name": "Castle",
                "priority": 5,
                "id": 11,
                "comment": "note",
                "selective": True,
                "secondary_keys": ["siege"],
                "constant": False,
                "position": "after_char",
            },
            {
                "keys": ["moat"],
                "content": "Water.",
                "position": "after_char",
                "use_regex": True,
                "case_sensitive": False,
            },
        ],
    }


def test_character_book_maps_card_and_st_extension_fields() -> None:
    book = parse_lorebook(card_book())
    assert (book.name, book.scan_depth, book.token_budget, book.recursive_scanning) == (
        "World",
        3,
        500,
        False,
    )
    castle, moat = book.entries
    assert (castle.uid, castle.name, castle.order, castle.priority) == ("11", "Castle", 20, 5)
    assert castle.case_sensitive is True
    assert (castle.position, castle.depth, castle.probability) == ("depth", 1, 70)
    assert castle.selective_logic == "not_any" and castle.group == "g" and castle.sticky == 1
    assert castle.exclude_recursion
    assert moat.position == "after" and moat.keys == ["/moat/i"]


def test_character_book_round_trip() -> None:
    first = to_character_book(parse_lorebook(card_book()))
    again = to_character_book(parse_lorebook(json.loads(json.dumps(first))))
    assert again == first
    castle = first["entries"][0]
    assert castle["extensions"]["future_field"] == [1, 2]
    assert castle["comment"] == "note" and castle["position"] == "before_char"
    assert castle["extensions"]["position"] == 4
    assert first["extensions"] == {"tool": {"v": 1}}


def test_lorebook_v3_in_and_out() -> None:
    data = {"spec": "lorebook_v3", "data": card_book()}
    assert detect_lorebook(data) == "lorebook_v3"
    book = parse_lorebook(data)
    assert len(book.entries) == 2
    out = to_lorebook_v3(book)
    assert out["spec"] == "lorebook_v3" and len(out["data"]["entries"]) == 2


def read_png_card(path: Path) -> dict[str, Any]:
    """The `chara` tEXt chunk of a card PNG (enough for this test's fixture)."""
    data = path.read_bytes()
    pos = 8
    while pos < len(data):
        length, kind = struct.unpack(">I4s", data[pos : pos + 8])
        body = data[pos + 8 : pos + 8 + length]
        if kind == b"tEXt" and body.split(b"\0", 1)[0].lower() == b"chara":
            return json.loads(base64.b64decode(body.split(b"\0", 1)[1]))
        pos += 12 + length
    raise AssertionError("no chara chunk")


def test_seraphina_card_book_imports() -> None:
    card = read_png_card(fixture("default_Seraphina.png"))
    assert detect_lorebook(card) == "card"
    book = parse_lorebook(card)
    assert book.name and len(book.entries) == 4
    same = from_character_book(card["data"]["character_book"])
    assert [e.keys for e in same.entries] == [e.keys for e in book.entries]
    with pytest.raises(LoreFormatError):
        from_character_book({"entries": ["nope"]})
    fired = scan_lore([book], ["the forest glade"], count_tokens=words, window=100_000)
    assert fired.activated


# -- NovelAI


def test_novelai_lorebook_maps_fields() -> None:
    data = {
        "lorebookVersion": 4,
        "entries": [
            {
                "text": "Snow.",
                "displayName": "Winter",
                "keys": ["snow"],
                "searchRange": 1000,
                "enabled": True,
                "forceActivation": True,
                "nonStoryActivatable": False,
                "contextConfig": {
                    "budgetPriority": 400,
                    "insertionPosition": -1,
                    "prefix": "",
                    "suffix": "\n",
                },
            },
            {
                "text": "Ice.",
                "displayName": "Ice",
                "keys": ["ice"],
                "enabled": False,
                "nonStoryActivatable": True,
                "contextConfig": {"insertionPosition": 0},
            },
        ],
        "settings": {"orderByKeyLocations": False},
    }
    assert detect_lorebook(data) == "novelai"
    winter, ice = parse_lorebook(data).entries
    assert winter.constant and winter.priority == 400 and winter.name == "Winter"
    assert winter.position == "auto"
    assert winter.extensions["novelai"]["searchRange"] == 1000
    assert not ice.enabled and ice.delay_until_recursion and ice.position == "before"


def test_novelai_story_fixture() -> None:
    book = load_lorebook(fixture("novelai_tamriel.story"))
    assert len(book.entries) == 100
    hits = {e.name for e, _ in explain_matches([book], "Ungvid speaks")}
    assert any("Ungvid" in name for name in hits)


# -- KoboldAI


def test_koboldai_list_splits_comma_keys() -> None:
    data = [
        {
            "key": "Civil Protection, Metro cop, CP",
            "keysecondary": "baton",
            "content": "Police.",
            "comment": "CP",
            "selective": True,
            "constant": False,
            "folder": None,
        }
    ]
    assert detect_lorebook(data) == "koboldai"
    (e,) = parse_lorebook(data).entries
    assert e.keys == ["Civil Protection", "Metro cop", "CP"]
    assert e.secondary_keys == ["baton"] and e.selective and e.name == "CP"
    assert "folder" in e.extensions["koboldai"]


def test_koboldai_story_fixture_has_25_entries() -> None:
    book, fmt = read_lorebook(fixture("koboldai_story_half_life_2.json"))
    assert fmt == "koboldai_story"
    assert len(book.entries) == 25
    assert book.entries[0].keys[:2] == ["Civil Protection", "Metro cop"]
    result = scan_lore([book], ["A metro cop stops you."], count_tokens=words, window=100_000)
    assert "Civil Protection" in [a.entry.keys[0] for a in result.activated]


# -- AI Dungeon


def test_aidungeon_script_keys_become_regexes() -> None:
    data = [
        {"id": "8.1", "keys": "(nord(s|))#[t=4l=3f=2S=2]", "entry": "Nords.", "hidden": False},
        {
            "id": "8.5",
            "keys": "(dunmer|dark el(f|ves))#[t=5l=3f=2S=2]",
            "entry": "Dunmer.",
            "hidden": True,
        },
        {"id": "9", "keys": "gods, the gods, nine divines", "entry": "Gods."},
    ]
    assert detect_lorebook(data) == "aidungeon"
    book = parse_lorebook(data)
    nord, dunmer, gods = book.entries
    assert nord.extensions["aidungeon"]["keys"] == "(nord(s|))#[t=4l=3f=2S=2]"
    assert nord.extensions["aidungeon"]["settings_parsed"] == {"t": 4, "l": 3, "f": 2, "S": 2}
    assert dunmer.extensions["aidungeon"]["hidden"] is True
    assert gods.keys == ["gods", "the gods", "nine divines"]

    def fired(text: str) -> set[str]:
        result = scan_lore([book], [text], count_tokens=words, window=100_000)
        return {a.entry.uid for a in result.activated}

    assert fired("Two NORDS walk in") == {"8.1"}
    assert fired("a Nordic tune") == set()
    assert fired("the dark elves and the gods") == {"8.5", "9"}


def test_aidungeon_fixture_imports() -> None:
    book = load_lorebook(fixture("aidungeon_world_info_races.json"))
    assert len(book.entries) == 16
    assert all(e.keys for e in book.entries)
    result = scan_lore([book], ["A khajiit and a redguard"], count_tokens=words, window=100_000)
    contents = " ".join(a.entry.content for a in result.activated)
    assert "Khajiit" in contents and "Redguard" in contents.title()


def test_aidungeon_scenario_world_info_string() -> None:
    data = {
        "title": "T",
        "prompt": "p",
        "worldInfo": json.dumps([{"id": "1", "keys": "a, b", "entry": "E", "hidden": False}]),
    }
    book = parse_lorebook(data)
    assert book.name == "T" and book.entries[0].keys == ["a", "b"]


# -- export to files, bad files


def test_save_and_load_sillytavern(tmp_path: Path) -> None:
    book = Lorebook(
        name="mine", entries=[LoreEntry(uid="0", keys=["k"], content="c", position="auto")]
    )
    path = tmp_path / "mine.json"
    save_lorebook(book, path)
    loaded = load_lorebook(path)
    assert loaded.entries[0].keys == ["k"] and loaded.entries[0].position == "depth"
    save_lorebook(book, tmp_path / "card.json", "character_book")
    assert load_lorebook(tmp_path / "card.json").entries[0].content == "c"
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"{not json", "bad.json: not valid JSON (line 1"),
        (b"[1, 2, 3]", "bad.json: not a lorebook"),
        (b'{"entries": {"0": 5}}', "bad.json: entry 0 is a int"),
        (b'{"hello": "world"}', "bad.json: not a lorebook"),
        (b"\xff\xfe\x00garbage", "bad.json: not UTF-8"),
        (b"\x89PNG\r\n\x1a\n", "bad.json: a PNG image"),
        (b"[" * 100_000 + b"]" * 100_000, "bad.json: "),
    ],
)
def test_bad_files_raise_one_line_errors(tmp_path: Path, content: bytes, message: str) -> None:
    path = tmp_path / "bad.json"
    path.write_bytes(content)
    with pytest.raises(LoreFormatError) as info:
        load_lorebook(path)
    assert str(info.value).startswith(message)
    assert "\n" not in str(info.value)


def test_missing_and_huge_files(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(LoreFormatError, match="nothere.json: cannot read"):
        load_lorebook(tmp_path / "nothere.json")
    import tui.engine.formats.lorebooks as lorebooks

    monkeypatch.setattr(lorebooks, "MAX_FILE_BYTES", 10)
    path = tmp_path / "big.json"
    path.write_text('{"entries": {}}' + " " * 20)
    with pytest.raises(LoreFormatError, match="big.json: too large"):
        load_lorebook(path)


def test_to_dict_is_toml_safe_and_round_trips() -> None:
    book = parse_lorebook(st_file(), "b")
    data = book.to_dict()

    def has_none(value: Any) -> bool:
        if value is None:
            return True
        if isinstance(value, dict):
            return any(has_none(v) for v in value.values())
        if isinstance(value, list):
            return any(has_none(v) for v in value)
        return False

    assert not has_none(data)
    again = Lorebook.from_dict(data)
    e, f = book.entries[0], again.entries[0]
    assert (f.keys, f.order, f.position, f.group, f.whole_words, f.case_sensitive) == (
        e.keys,
        e.order,
        e.position,
        e.group,
        e.whole_words,
        e.case_sensitive,
    )
    tomli_w = pytest.importorskip("tomli_w")
    assert "Dragons" in tomli_w.dumps(data)


def test_eldoria_round_trip_keeps_every_field() -> None:
    original = json.loads(fixture("Eldoria.json").read_text(encoding="utf-8"))
    out = to_sillytavern(parse_lorebook(original, "Eldoria"))
    for uid, entry in original["entries"].items():
        for key, value in entry.items():
            assert out["entries"][uid][key] == value, (uid, key)
    assert to_sillytavern(parse_lorebook(json.loads(json.dumps(out)), "Eldoria")) == out
