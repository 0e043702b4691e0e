"""Damaged card files of every kind raise a one-line CardError, never anything else."""

from __future__ import annotations

import io
import random
import zipfile

import pytest

from tui.engine.cards import Card, CardError, card_json_bytes, card_png_bytes, parse_card_bytes

CARD = Card(
    name="Fuzz",
    description="d" * 300,
    first_mes="Hello {{user}}",
    alternate_greetings=["a", "b"],
    character_book={"name": "B", "entries": [{"keys": ["k"], "content": "c"}]},
    assets=[{"type": "icon", "uri": "embeded://assets/icon.png", "name": "main", "ext": "png"}],
)


def _charx() -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("card.json", card_json_bytes(CARD))
        zf.writestr("assets/icon.png", card_png_bytes(Card(name="icon")))
    return buf.getvalue()


def _mutate(data: bytes, rng: random.Random) -> bytes:
    out = bytearray(data)
    for _ in range(rng.randint(1, 4)):
        pos = rng.randrange(len(out))
        roll = rng.random()
        if roll < 0.6:
            out[pos] = rng.randrange(256)
        elif roll < 0.8:
            del out[pos : pos + rng.randint(1, 40)]
        else:
            out[pos:pos] = rng.randbytes(rng.randint(1, 16))
    return bytes(out)


@pytest.mark.parametrize("kind", ["png", "json", "charx"])
def test_damaged_files_only_raise_card_error(kind: str) -> None:
    original = {
        "png": lambda: card_png_bytes(CARD),
        "json": lambda: card_json_bytes(CARD, version=3),
        "charx": _charx,
    }[kind]()
    assert parse_card_bytes(original, f"ok.{kind}") == CARD
    rng = random.Random(kind)
    failures = 0
    for _ in range(400):
        try:
            parse_card_bytes(_mutate(original, rng), f"f.{kind}")
        except CardError as exc:
            failures += 1
            assert "\n" not in str(exc) and str(exc).startswith(f"f.{kind}: ")
    assert failures > 0  # the damage was noticed at least sometimes
