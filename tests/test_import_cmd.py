"""`grue import`, `grue characters` and `grue chat` errors, in process (no model)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tui.cli import main
from tui.engine.cards import Card, write_card_json, write_card_png
from tui.engine.formats.lorebooks import load_lorebook
from tui.engine.saves import list_saves, load_save

FIXTURES = Path(__file__).resolve().parents[2] / "shared" / "fixtures"

WORLD = {"entries": {"0": {"uid": 0, "key": ["harbour"], "keysecondary": [], "comment": "Harbour",
                           "content": "The harbour freezes in winter.", "constant": False,
                           "selective": False, "order": 100, "position": 0}}}


def chat_lines(character: str) -> str:
    rows = [
        {"user_name": "Ann", "character_name": character, "create_date": "2024-01-01@10h00m00s",
         "chat_metadata": {}},
        {"name": character, "is_user": False, "mes": "Hello.", "swipes": ["Hello.", "Hi."],
         "swipe_id": 0},
        {"name": "Ann", "is_user": True, "mes": "Hey."},
        {"name": character, "is_user": False, "mes": "Well?"},
    ]
    return "\n".join(json.dumps(r) for r in rows) + "\n"


def test_batch_imports_the_good_and_reports_the_bad(
    tmp_path: Path, grue_home: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    png = write_card_png(Card(name="Pip", first_mes="Hi!", tags=["tiny"]), tmp_path / "pip.png")
    card_json = write_card_json(Card(name="Quill", description="A scribe."), tmp_path / "q.json")
    world = tmp_path / "harbour.json"
    world.write_text(json.dumps(WORLD))
    chat = tmp_path / "chat.jsonl"
    chat.write_text(chat_lines("Pip"))
    bad = tmp_path / "notes.json"
    bad.write_text('{"shopping": ["eggs"]}')
    broken_chat = tmp_path / "broken.jsonl"
    broken_chat.write_text(chat_lines("Pip") + "{oops\n")

    files = [png, bad, card_json, world, chat, broken_chat, tmp_path / "missing.png"]
    status = main(["import", *map(str, files)])
    out, err = capsys.readouterr()
    assert status == 1
    assert "notes.json: not a character card" in err
    assert "broken.jsonl: line 5: not valid JSON" in err
    assert "missing.png: no such file" in err
    assert "3 of 7 files not imported" in err
    assert len(err.strip().splitlines()) == 4 and "Traceback" not in err

    characters = sorted(p.name for p in (grue_home / "characters").iterdir())
    assert characters == ["Pip.png", "Quill.json"]
    [book_path] = (grue_home / "lorebooks").iterdir()
    book = load_lorebook(book_path)
    assert [e.content for e in book.entries] == ["The harbour freezes in winter."]
    [summary] = list_saves()
    assert summary.kind == "chat" and summary.title == "Pip"
    campaign = load_save(summary.path)
    assert campaign.turns[0].responses == ["Hello.", "Hi."]
    assert campaign.turns[1].action == "Hey." and campaign.turns[1].response == "Well?"
    assert out.count("\n") == 4 and "character: Pip" in out and "chat: Pip" in out

    # The same chat again is a second save, not an overwrite.
    assert main(["import", str(chat)]) == 0
    assert len(list_saves()) == 2


def test_import_the_shared_fixtures(grue_home: Path, capsys: pytest.CaptureFixture[str]) -> None:
    if not FIXTURES.is_dir():
        pytest.skip("shared fixtures not available")
    names = ["default_Seraphina.png", "Eldoria.json", "aidungeon_world_info_races.json",
             "koboldai_story_half_life_2.json"]
    assert main(["import", *(str(FIXTURES / n) for n in names)]) == 0
    out = capsys.readouterr().out
    assert "character: Seraphina" in out
    assert "lorebook: Eldoria (4 entries)" in out
    assert "lorebook: aidungeon_world_info_races" in out
    try:
        import tui.engine.formats.scenarios  # noqa: F401
    except ImportError:
        return
    assert "scenario: " in out
    [scenario] = (grue_home / "scenarios").glob("*.toml")
    from tui.engine.scenario import load_scenario

    assert load_scenario(scenario).lore  # its world info came along


def test_characters_lists_cards_and_broken_ones(
    grue_home: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    folder = grue_home / "characters"
    folder.mkdir(parents=True)
    write_card_json(Card(name="Quill", description="A scribe of\nthe old court.",
                         tags=["court", "scribe"]), folder / "Quill.json")
    (folder / "junk.png").write_bytes(b"\x89PNG\r\n\x1a\n not really")
    assert main(["characters"]) == 0
    out = capsys.readouterr().out
    quill = next(line for line in out.splitlines() if line.startswith("Quill"))
    assert "court, scribe" in quill and "A scribe of the old court." in quill
    junk = next(line for line in out.splitlines() if line.startswith("junk.png"))
    assert "unreadable" in junk
    assert "CASSIA" in out  # bundled cards are listed too


def test_chat_with_an_unknown_character_is_one_line(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["chat", "No Such Person", "--plain"]) == 1
    err = capsys.readouterr().err
    assert err.startswith("grue: ") and err.count("\n") == 1 and "No Such Person" in err
    assert list_saves() == []


def test_chat_with_a_missing_lorebook_saves_nothing(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["chat", "cassia", "--plain", "--lorebook", "no-such-book"]) == 1
    err = capsys.readouterr().err
    assert "no-such-book" in err and err.count("\n") == 1
    assert list_saves() == []
