"""CHARX cards: a zip with card.json at its root; entry count and sizes capped."""

from __future__ import annotations

import io
import json
import struct
import zipfile
import zlib
from pathlib import Path

import pytest

from tui.engine.cards import CardError, card_png_bytes, load_card, parse_card_bytes
from tui.engine.cards import errors as limits

CARD = {
    "spec": "chara_card_v3",
    "spec_version": "3.0",
    "data": {
        "name": "Juniper",
        "description": "A botanist.",
        "first_mes": "Mind the nettles, {{user}}.",
        "assets": [
            {"type": "icon", "uri": "embeded://assets/icon/images/main.png", "name": "main",
             "ext": "png"},
            {"type": "emotion", "uri": "embeded://assets/emotion/happy.webp", "name": "happy",
             "ext": "webp"},
        ],
        "extensions": {"risuai": {"keep": "me"}},
    },
}  # fmt: skip


def tiny_png() -> bytes:
    def chunk(ctype: bytes, data: bytes) -> bytes:
        crc = struct.pack(">I", zlib.crc32(ctype + data))
        return struct.pack(">I", len(data)) + ctype + data + crc

    header = struct.pack(">IIBBBBB", 1, 1, 8, 0, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(b"\x00\x80"))
        + chunk(b"IEND", b"")
    )


def charx(entries: dict[str, bytes], method: int = zipfile.ZIP_DEFLATED) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", method) as zf:
        for name, data in entries.items():
            zf.writestr(name, data)
    return buf.getvalue()


def test_charx_reads_card_and_icon(tmp_path: Path) -> None:
    icon = tiny_png()
    data = charx(
        {
            "card.json": json.dumps(CARD).encode(),
            "assets/icon/images/main.png": icon,
            "assets/emotion/happy.webp": b"RIFF....WEBP",
        }
    )
    path = tmp_path / "juniper.charx"
    path.write_bytes(data)
    card = load_card(path)
    assert card.name == "Juniper"
    assert card.spec == "chara_card_v3"
    assert card.extensions == {"risuai": {"keep": "me"}}
    assert len(card.assets) == 2
    assert card.image_png == icon
    # Exported as a PNG, the icon becomes the portrait and the card survives.
    exported = card_png_bytes(card)
    assert exported.startswith(icon[:33])  # the icon's IHDR is reused
    assert parse_card_bytes(exported, "j.png") == card


def test_charx_without_icon_or_with_a_broken_icon() -> None:
    data = charx({"card.json": json.dumps(CARD).encode(), "assets/icon/images/main.png": b"junk"})
    card = parse_card_bytes(data, "j.charx")
    assert card.name == "Juniper" and card.image_png is None


def test_charx_name_falls_back_to_the_zip_name() -> None:
    obj = {"spec": "chara_card_v3", "data": {"name": "", "description": "x"}}
    card = parse_card_bytes(charx({"card.json": json.dumps(obj).encode()}), "Rowan.charx")
    assert card.name == "Rowan"


def _error(data: bytes, filename: str = "bad.charx") -> str:
    with pytest.raises(CardError) as excinfo:
        parse_card_bytes(data, filename)
    message = str(excinfo.value)
    assert "\n" not in message and message.startswith(f"{filename}: ")
    return message


def test_charx_without_card_json() -> None:
    assert "no card.json" in _error(charx({"sub/card.json": b"{}", "assets/a.png": b"x"}))


def test_charx_with_bad_card_json() -> None:
    assert "not valid JSON" in _error(charx({"card.json": b"{oops"}))


def test_corrupt_zip() -> None:
    data = charx({"card.json": json.dumps(CARD).encode()})
    assert "zip" in _error(data[:40])


def test_zip_bomb_is_refused_without_inflating(monkeypatch: pytest.MonkeyPatch) -> None:
    bomb = b"\0" * (limits.MAX_ZIP_ENTRY_BYTES + 1)
    data = charx({"card.json": json.dumps(CARD).encode(), "assets/bomb.bin": bomb})
    del bomb
    assert len(data) < 1_000_000
    inflated: list[int] = []
    real_open = zipfile.ZipFile.open

    def spy(self: zipfile.ZipFile, name: object, *args: object, **kwargs: object) -> object:
        inflated.append(1)
        return real_open(self, name, *args, **kwargs)

    monkeypatch.setattr(zipfile.ZipFile, "open", spy)
    message = _error(data, "bomb.charx")
    assert "inflates past 64 MB" in message and "assets/bomb.bin" in message
    assert inflated == []  # refused from the directory alone


def test_zip_total_cap(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(limits, "MAX_ZIP_TOTAL_BYTES", 1000)
    entries = {"card.json": json.dumps(CARD).encode()}
    entries.update({f"assets/other/{i}.bin": b"x" * 300 for i in range(5)})
    assert "contents inflate past 1000 bytes" in _error(charx(entries))


def test_zip_entry_count_cap(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(limits, "MAX_ZIP_ENTRIES", 10)
    entries = {"card.json": json.dumps(CARD).encode()}
    entries.update({f"assets/other/{i}.txt": b"" for i in range(20)})
    assert "more than 10 entries" in _error(charx(entries))


def test_lying_entry_size_is_still_capped(monkeypatch: pytest.MonkeyPatch) -> None:
    """A card.json whose directory entry understates its size cannot inflate past the cap."""
    monkeypatch.setattr(limits, "MAX_ZIP_ENTRY_BYTES", 5000)
    big = json.dumps({**CARD, "data": {**CARD["data"], "description": "d" * 20000}}).encode()
    data = bytearray(charx({"card.json": big}))
    # Patch the uncompressed size in the central directory and the local header to 100.
    for sig, offset in ((b"PK\x01\x02", 24), (b"PK\x03\x04", 22)):
        pos = data.index(sig)
        data[pos + offset : pos + offset + 4] = struct.pack("<I", 100)
    message = _error(bytes(data))
    assert "card.json" in message


def test_zip_needing_a_newer_version() -> None:
    data = bytearray(charx({"card.json": json.dumps(CARD).encode()}))
    pos = data.index(b"PK\x01\x02")
    data[pos + 6] = 192  # "version needed to extract": 19.2
    assert "not a readable zip" in _error(bytes(data))
