"""The character library: bundled cards, the player's folder, and batch import."""

from __future__ import annotations

import base64
import json
import struct
import zlib
from pathlib import Path

import pytest

from tui.engine import character_library as lib
from tui.engine.cards import Card, CardError, load_card, write_card_json, write_card_png
from tui.engine.cards import errors as limits

REPO = Path(__file__).resolve().parents[1]
FIXTURES = Path(__file__).resolve().parents[2] / "shared" / "fixtures"


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("GRUE_HOME", str(tmp_path / "home"))
    return tmp_path / "home"


def _chunk(ctype: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + ctype + data + struct.pack(">I", zlib.crc32(ctype + data))


def _png_with(text: bytes, ctype: bytes = b"tEXt") -> bytes:
    header = struct.pack(">IIBBBBB", 1, 1, 8, 0, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + _chunk(b"IHDR", header)
        + _chunk(b"IDAT", zlib.compress(b"\x00\x00"))
        + _chunk(ctype, text)
        + _chunk(b"IEND", b"")
    )


def _card_json(name: str) -> bytes:
    return json.dumps({"spec": "chara_card_v2", "data": {"name": name, "first_mes": "hi"}}).encode()


# --- bundled cards ---------------------------------------------------------------------------


def test_bundled_folder_holds_the_repo_characters() -> None:
    """From a checkout it is the repo's folder; from `pip install .` the installed copy."""
    bundled = sorted(p.name for p in lib.bundled_characters_dir().iterdir())
    assert bundled == sorted(p.name for p in (REPO / "characters").iterdir())


def test_bundled_cards_are_listed_and_good(home: Path) -> None:
    entries = [e for e in lib.list_characters() if e.bundled]
    assert len(entries) >= 3
    assert all(e.error is None for e in entries), [e.error for e in entries]
    suffixes = {e.path.suffix for e in entries}
    assert {".png", ".json"} <= suffixes
    cards = [load_card(e.path) for e in entries]
    assert any(c.character_book and len(c.character_book["entries"]) >= 3 for c in cards)
    for card in cards:
        assert card.first_mes and card.description and card.alternate_greetings
        assert "{{user}}" in card.first_mes or "{{user}}" in card.description
        assert "{{char}}" in card.description
        assert "\n" not in next(e.description for e in entries if e.name == card.name)
    for entry in entries:
        if entry.path.suffix == ".png":
            assert entry.path.stat().st_size < 64 * 1024
            data = entry.path.read_bytes()
            assert b"tEXtchara" in data and b"tEXtccv3" in data


def test_bundled_lorebook_entries_have_keys(home: Path) -> None:
    for entry in lib.list_characters():
        if not entry.bundled:
            continue
        book = load_card(entry.path).character_book
        for item in (book or {}).get("entries", []):
            assert item["keys"] and item["content"]


# --- listing the player's folder -------------------------------------------------------------


def test_list_player_cards_and_errors(home: Path) -> None:
    folder = lib.user_characters_dir(create=True)
    assert folder == home / "characters"
    write_card_json(Card(name="Zed", description="Line one.\nLine two.", tags=["x"]),
                    folder / "zed.json")  # fmt: skip
    (folder / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\nnope")
    (folder / "notes.txt").write_text("not a card")
    (folder / ".hidden.json").write_text("{}")
    mine = [e for e in lib.list_characters() if not e.bundled]
    assert [e.path.name for e in mine] == ["broken.png", "zed.json"]
    broken, zed = mine
    assert broken.error is not None and broken.error.startswith("broken.png: ")
    assert broken.name == "broken"
    assert (zed.name, zed.tags, zed.description, zed.error) == (
        "Zed",
        ("x",),
        "Line one. Line two.",
        None,
    )


def test_list_without_a_player_folder(home: Path) -> None:
    assert not (home / "characters").exists()
    assert all(e.bundled for e in lib.list_characters())


def test_find_character(home: Path) -> None:
    folder = lib.user_characters_dir(create=True)
    write_card_json(Card(name="Maren Holloway", description="mine"), folder / "maren.json")
    found = lib.find_character("maren holloway")
    assert found is not None and not found.bundled  # the player's card wins over the bundled one
    assert lib.find_character("maren") == found  # by file stem
    by_path = lib.find_character(str(folder / "maren.json"))
    assert by_path is not None and by_path.name == "Maren Holloway"
    assert lib.find_character("nobody at all") is None
    bundled_file = next(e.path for e in lib.list_characters() if e.bundled)
    by_bundled_path = lib.find_character(bundled_file)
    assert by_bundled_path is not None and by_bundled_path.bundled
    assert lib.load_character("Maren Holloway").description == "mine"
    with pytest.raises(CardError, match="no such character"):
        lib.load_character("nobody at all")


# --- importing -------------------------------------------------------------------------------


def test_import_batch_reports_failures_and_imports_the_rest(
    home: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    src = tmp_path / "in"
    src.mkdir()
    good_json = src / "good.json"
    good_json.write_bytes(_card_json("Good Json"))
    good_png = src / "good.png"
    good_png.write_bytes(_png_with(b"chara\0" + base64.b64encode(_card_json("Good Png"))))
    bad = {
        "truncated.png": _png_with(b"chara\0" + base64.b64encode(_card_json("T")))[:-20],
        "crc.png": _png_with(b"chara\0AAAA")[:-16] + b"\0\0\0\0" + _chunk(b"IEND", b""),
        "bomb.png": _png_with(b"chara\0\0" + zlib.compress(b"A" * 2000), b"zTXt"),
        "notb64.png": _png_with(b"chara\0@@@@ not base64 @@@@"),
        "notjson.json": b"{this is not json",
        "notpng.png": b"just some text",
    }
    monkeypatch.setattr(limits, "MAX_TEXT_BYTES", 1000)
    for name, data in bad.items():
        (src / name).write_bytes(data)
    paths = [good_json, *(src / n for n in bad), good_png, src / "missing.png"]
    outcomes = lib.import_cards(paths)
    assert [o.source for o in outcomes] == paths
    ok = [o for o in outcomes if o.ok]
    assert [o.card.name for o in ok if o.card] == ["Good Json", "Good Png"]
    for outcome in outcomes:
        if not outcome.ok:
            assert outcome.error and "\n" not in outcome.error
            assert outcome.error.startswith(outcome.source.name + ": ")
    errors = {o.source.name: o.error for o in outcomes if not o.ok}
    assert "truncated" in errors["truncated.png"]
    assert "CRC" in errors["crc.png"]
    assert "inflates past" in errors["bomb.png"]
    assert "base64" in errors["notb64.png"]
    assert "JSON" in errors["notjson.json"]
    assert "not" in errors["notpng.png"]
    assert "no such file" in errors["missing.png"]
    saved = sorted(p.name for p in (home / "characters").iterdir())
    assert saved == ["Good Json.json", "Good Png.png"]
    # Normalised: the PNG now carries both chunks, the JSON is V3.
    png_data = (home / "characters" / "Good Png.png").read_bytes()
    assert b"tEXtccv3" in png_data and b"tEXtchara" in png_data
    assert (
        json.loads((home / "characters" / "Good Json.json").read_text())["spec"] == "chara_card_v3"
    )
    listed = {e.name for e in lib.list_characters() if not e.bundled}
    assert listed == {"Good Json", "Good Png"}


def test_import_name_is_sanitised_and_collisions_numbered(home: Path, tmp_path: Path) -> None:
    evil = tmp_path / "evil.json"
    evil.write_bytes(_card_json("../../outside/evil"))
    other = tmp_path / "other.json"
    other.write_bytes(
        json.dumps(
            {"spec": "chara_card_v2", "data": {"name": "../../outside/evil", "x": 1}}
        ).encode()
    )
    first, second, again = lib.import_cards([evil, other, evil])
    folder = home / "characters"
    assert first.path == folder / "_.._outside_evil.json"
    assert second.path == folder / "_.._outside_evil (2).json"
    assert again.path == first.path  # the same card twice is not duplicated
    assert not (tmp_path / "outside").exists() and not (home / "outside").exists()
    assert len(list(folder.iterdir())) == 2


def test_import_png_keeps_its_image(home: Path, tmp_path: Path) -> None:
    card = Card(name="Pictured", first_mes="hello")
    source = write_card_png(card, tmp_path / "p.png")
    original = load_card(source).image_png
    (outcome,) = lib.import_cards([source])
    assert outcome.ok and outcome.path is not None and outcome.path.suffix == ".png"
    assert load_card(outcome.path) == card
    assert original is not None and original[:33] == outcome.path.read_bytes()[:33]


def test_import_seraphina(home: Path) -> None:
    path = FIXTURES / "default_Seraphina.png"
    if not path.is_file():
        pytest.skip("shared fixtures not present")
    (outcome,) = lib.import_cards([path])
    assert outcome.ok, outcome.error
    assert outcome.path == home / "characters" / "Seraphina.png"
    card = load_card(outcome.path)
    assert card.character_book is not None and card.character_book["name"] == "Eldoria"
    assert card.raw["data"]["extensions"]["world"] == "Eldoria"
    assert lib.find_character("seraphina") is not None
