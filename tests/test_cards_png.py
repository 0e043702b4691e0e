"""Cards embedded in PNG files: chunk types, positions, keywords, caps and broken files."""

from __future__ import annotations

import base64
import json
import struct
import tracemalloc
import zlib
from pathlib import Path

import pytest

from tui.engine.cards import (
    CardError,
    card_png_bytes,
    load_card,
    parse_card_bytes,
    write_card_png,
)
from tui.engine.cards import errors as limits

FIXTURES = Path(__file__).resolve().parents[2] / "shared" / "fixtures"
SIG = b"\x89PNG\r\n\x1a\n"


# --- building PNGs independently of the code under test --------------------------------------


def chunk(ctype: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + ctype + data + struct.pack(">I", zlib.crc32(ctype + data))


IHDR = chunk(b"IHDR", struct.pack(">IIBBBBB", 1, 1, 8, 2, 0, 0, 0))
IDAT = chunk(b"IDAT", zlib.compress(b"\x00\xff\x00\x00"))
IEND = chunk(b"IEND", b"")


def b64(obj: dict) -> bytes:
    return base64.b64encode(json.dumps(obj).encode("utf-8"))


def text_chunk(kind: str, keyword: str, payload: bytes) -> bytes:
    key = keyword.encode("latin-1")
    if kind == "tEXt":
        return chunk(b"tEXt", key + b"\0" + payload)
    if kind == "zTXt":
        return chunk(b"zTXt", key + b"\0\0" + zlib.compress(payload))
    if kind == "iTXt":  # compressed, with a language tag and a translated keyword
        return chunk(b"iTXt", key + b"\0\x01\x00en\0Chara\0" + zlib.compress(payload))
    if kind == "iTXt-plain":
        return chunk(b"iTXt", key + b"\0\x00\x00\0\0" + payload)
    raise ValueError(kind)


def png(*text_chunks: bytes, after_idat: bool = True) -> bytes:
    if after_idat:
        return SIG + IHDR + IDAT + b"".join(text_chunks) + IEND
    return SIG + IHDR + b"".join(text_chunks) + IDAT + IEND


def v2(name: str = "Aria", **data: object) -> dict:
    fields = {"name": name, "description": "A bard.", "first_mes": "Hello, {{user}}."}
    return {"spec": "chara_card_v2", "spec_version": "2.0", "data": {**fields, **data}}


def v3(name: str = "Aria", **data: object) -> dict:
    fields = {"name": name, "description": "A bard.", "first_mes": "Hi.", "nickname": "Ari"}
    return {"spec": "chara_card_v3", "spec_version": "3.0", "data": {**fields, **data}}


def one_line_error(excinfo: pytest.ExceptionInfo[CardError], filename: str) -> str:
    message = str(excinfo.value)
    assert "\n" not in message
    assert message.startswith(f"{filename}: ")
    return message


# --- reading ---------------------------------------------------------------------------------


@pytest.mark.parametrize("kind", ["tEXt", "zTXt", "iTXt", "iTXt-plain"])
@pytest.mark.parametrize("after_idat", [True, False])
def test_card_in_every_chunk_type_and_position(kind: str, after_idat: bool) -> None:
    data = png(text_chunk(kind, "chara", b64(v2("Corvin"))), after_idat=after_idat)
    card = parse_card_bytes(data, "corvin.png")
    assert card.name == "Corvin"
    assert card.first_mes == "Hello, {{user}}."
    assert card.spec == "chara_card_v2"
    assert card.image_png == data


@pytest.mark.parametrize("keyword", ["chara", "Chara", "CHARA", "ccv3", "CCV3", "CcV3"])
def test_keyword_any_letter_case(keyword: str) -> None:
    card = parse_card_bytes(png(text_chunk("tEXt", keyword, b64(v3("Mira")))), "m.png")
    assert card.name == "Mira"
    assert card.nickname == "Ari"


@pytest.mark.parametrize("ccv3_first", [True, False])
def test_ccv3_wins_over_chara(ccv3_first: bool) -> None:
    chara = text_chunk("tEXt", "chara", b64(v2("Old Name")))
    ccv3 = text_chunk("zTXt", "ccv3", b64(v3("New Name")))
    chunks = (ccv3, chara) if ccv3_first else (chara, ccv3)
    card = parse_card_bytes(png(*chunks), "both.png")
    assert card.name == "New Name"
    assert card.spec == "chara_card_v3"


def test_unreadable_ccv3_falls_back_to_chara() -> None:
    data = png(
        text_chunk("tEXt", "ccv3", b"!!!not base64!!!"), text_chunk("tEXt", "chara", b64(v2()))
    )
    assert parse_card_bytes(data, "x.png").name == "Aria"


def test_other_text_chunks_are_ignored() -> None:
    data = png(
        text_chunk("tEXt", "Software", b"paint"),
        text_chunk("zTXt", "Comment", b"x" * 1000),
        text_chunk("tEXt", "chara", b64(v2("Kit"))),
    )
    assert parse_card_bytes(data, "k.png").name == "Kit"


def test_raw_json_in_chunk_is_tolerated() -> None:
    data = png(text_chunk("iTXt-plain", "chara", json.dumps(v2("Raw")).encode()))
    assert parse_card_bytes(data, "r.png").name == "Raw"


def test_utf8_text_survives() -> None:
    data = png(text_chunk("tEXt", "chara", b64(v2("Zoë", description="日本語 ✓"))))
    card = parse_card_bytes(data, "z.png")
    assert (card.name, card.description) == ("Zoë", "日本語 ✓")


def test_huge_card_in_a_compressed_chunk() -> None:
    big = v2("Big", description="lorem ipsum " * 900_000)  # about 10 M characters
    card = parse_card_bytes(png(text_chunk("zTXt", "chara", b64(big))), "big.png")
    assert len(card.description) == 10_800_000


def test_seraphina_fixture() -> None:
    path = FIXTURES / "default_Seraphina.png"
    if not path.is_file():
        pytest.skip("shared fixtures not present")
    card = load_card(path)
    assert card.name == "Seraphina"
    assert card.spec == "chara_card_v2"
    assert card.first_mes.startswith("*You wake with a start")
    assert card.alternate_greetings == []
    assert card.creator == "OtisAlejandro"
    assert card.extensions["world"] == "Eldoria"
    book = card.character_book
    assert book is not None and book["name"] == "Eldoria"
    assert len(book["entries"]) == 4
    assert "eldoria" in book["entries"][0]["keys"]
    # Legacy V1 fields at the top level are kept for the round trip.
    assert card.raw["talkativeness"] == "0.5"
    again = parse_card_bytes(card_png_bytes(card), "again.png")
    assert again == card
    assert again.image_png is not None and b"IDAT" in again.image_png


# --- broken files: one-line errors -----------------------------------------------------------


def test_not_a_png_at_all() -> None:
    with pytest.raises(CardError) as excinfo:
        parse_card_bytes(b"GIF89a\x01\x00\x01\x00", "pic.png")
    assert "not a PNG" in one_line_error(excinfo, "pic.png")


def test_truncated_png() -> None:
    data = png(text_chunk("tEXt", "chara", b64(v2())))
    for cut in (len(data) - 5, len(data) - 12, 40, 10):
        with pytest.raises(CardError) as excinfo:
            parse_card_bytes(data[:cut], "cut.png")
        assert "truncated" in one_line_error(excinfo, "cut.png")


def test_bad_crc() -> None:
    data = bytearray(png(text_chunk("tEXt", "chara", b64(v2()))))
    pos = data.index(b"tEXt") + 10
    data[pos] ^= 0x01
    with pytest.raises(CardError) as excinfo:
        parse_card_bytes(bytes(data), "crc.png")
    message = one_line_error(excinfo, "crc.png")
    assert "CRC" in message and "tEXt" in message


def test_no_card_chunk() -> None:
    with pytest.raises(CardError) as excinfo:
        parse_card_bytes(png(), "plain.png")
    assert "no character card" in one_line_error(excinfo, "plain.png")


@pytest.mark.parametrize("kind", ["zTXt", "iTXt"])
def test_chunk_that_inflates_past_the_cap(kind: str) -> None:
    bomb = b"A" * (limits.MAX_TEXT_BYTES + 10)
    data = png(text_chunk(kind, "chara", bomb))
    assert len(data) < 100_000  # small on disk, huge inflated
    with pytest.raises(CardError) as excinfo:
        parse_card_bytes(data, "seraphina.png")
    message = one_line_error(excinfo, "seraphina.png")
    assert f"PNG chunk '{kind}'" in message and "inflates past 32 MB" in message


def test_inflating_a_bomb_stays_within_memory(monkeypatch: pytest.MonkeyPatch) -> None:
    """A 64 MB bomb against a 1 MB cap: only about the cap is ever inflated."""
    monkeypatch.setattr(limits, "MAX_TEXT_BYTES", 1024 * 1024)
    packer = zlib.compressobj(9)
    block = b"\0" * (1024 * 1024)
    bomb = b"".join(packer.compress(block) for _ in range(64)) + packer.flush()
    data = png(chunk(b"zTXt", b"chara\0\0" + bomb))
    tracemalloc.start()
    try:
        with pytest.raises(CardError, match="inflates past 1 MB"):
            parse_card_bytes(data, "bomb.png")
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 16 * 1024 * 1024


def test_corrupt_compressed_chunk() -> None:
    bad = chunk(b"zTXt", b"chara\0\0" + b"not zlib at all")
    with pytest.raises(CardError) as excinfo:
        parse_card_bytes(png(bad), "z.png")
    assert "corrupt compressed" in one_line_error(excinfo, "z.png")


def test_chunk_over_the_size_cap(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(limits, "MAX_CHUNK_BYTES", 100)
    data = png(text_chunk("tEXt", "chara", b64(v2(description="x" * 500))))
    with pytest.raises(CardError) as excinfo:
        parse_card_bytes(data, "big.png")
    assert "larger than 100 bytes" in one_line_error(excinfo, "big.png")


def test_file_over_the_size_cap(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setattr(limits, "MAX_FILE_BYTES", 1000)
    path = tmp_path / "huge.png"
    path.write_bytes(png(text_chunk("tEXt", "chara", b64(v2(description="y" * 2000)))))
    with pytest.raises(CardError) as excinfo:
        load_card(path)
    assert "larger than" in one_line_error(excinfo, "huge.png")


def test_base64_over_the_cap(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(limits, "MAX_BASE64_BYTES", 50)
    with pytest.raises(CardError) as excinfo:
        parse_card_bytes(png(text_chunk("tEXt", "chara", b64(v2()))), "b.png")
    assert "larger than 50 bytes" in one_line_error(excinfo, "b.png")


def test_base64_that_isnt() -> None:
    with pytest.raises(CardError) as excinfo:
        parse_card_bytes(png(text_chunk("tEXt", "chara", b"%%% this is not base64 ###")), "b.png")
    assert "not valid base64" in one_line_error(excinfo, "b.png")


def test_base64_of_something_that_isnt_json() -> None:
    data = png(text_chunk("tEXt", "chara", base64.b64encode(b"hello, not json")))
    with pytest.raises(CardError) as excinfo:
        parse_card_bytes(data, "j.png")
    assert "not valid JSON" in one_line_error(excinfo, "j.png")


def test_base64_of_binary_junk() -> None:
    data = png(text_chunk("tEXt", "chara", base64.b64encode(b"\xff\xfe\x00\x81" * 10)))
    with pytest.raises(CardError) as excinfo:
        parse_card_bytes(data, "u.png")
    assert "not UTF-8" in one_line_error(excinfo, "u.png")


def test_missing_base64_padding_is_tolerated() -> None:
    text = b64(v2("Pad")).rstrip(b"=")
    assert parse_card_bytes(png(text_chunk("tEXt", "chara", text)), "p.png").name == "Pad"


# --- writing ---------------------------------------------------------------------------------


def _text_chunks(data: bytes) -> list[tuple[bytes, bytes]]:
    """(keyword, text) of each tEXt chunk, walking the file independently."""
    out, pos = [], 8
    while pos < len(data):
        length, ctype = struct.unpack(">I4s", data[pos : pos + 8])
        body = data[pos + 8 : pos + 8 + length]
        if ctype == b"tEXt":
            key, _, text = body.partition(b"\0")
            out.append((key, text))
        pos += 12 + length
    return out


def test_export_writes_both_chunks_before_iend(tmp_path: Path) -> None:
    card = parse_card_bytes(png(text_chunk("tEXt", "chara", b64(v2("Out")))), "o.png")
    path = write_card_png(card, tmp_path / "out.png")
    data = path.read_bytes()
    assert data.endswith(IEND)
    assert data.index(b"IDAT") < data.index(b"tEXtchara") < data.index(b"IEND")
    texts = dict(_text_chunks(data))
    assert set(texts) == {b"chara", b"ccv3"}  # the old chara chunk was replaced, not doubled
    chara = json.loads(base64.b64decode(texts[b"chara"]))
    ccv3 = json.loads(base64.b64decode(texts[b"ccv3"]))
    assert chara["spec"] == "chara_card_v2" and chara["data"]["name"] == "Out"
    assert ccv3["spec"] == "chara_card_v3" and ccv3["data"]["name"] == "Out"
    assert IHDR in data and IDAT in data  # the original image chunks are reused
    assert load_card(path) == card


def test_export_without_image_writes_a_valid_placeholder(tmp_path: Path) -> None:
    card = parse_card_bytes(json.dumps(v3("Nobody", alternate_greetings=["Yo"])).encode(), "n.json")
    assert card.image_png is None
    data = write_card_png(card, tmp_path / "n.png").read_bytes()
    assert data.startswith(SIG)
    width, height = struct.unpack(">II", data[16:24])
    assert 1 <= width <= 256 and 1 <= height <= 256
    again = load_card(tmp_path / "n.png")
    assert again == card
    assert again.alternate_greetings == ["Yo"]
