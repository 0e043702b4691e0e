"""Issue 10, item 10: real files from other programs.

Each test is named after what was found and fails on the code before the fix. The last tests
read the real-world corpus in `../shared/fixtures/` (or `$GRUE_FIXTURES`) and skip without it.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from tui.cli import main
from tui.engine.campaign import campaign_from_scenario
from tui.engine.cards import Card, write_card_json, write_card_png
from tui.engine.chat import campaign_from_card, persona_of
from tui.engine.formats.scenarios import import_scenario_file, parse_scenarios
from tui.engine.formats.st_chat import import_st_chat, st_chat_records
from tui.engine.scenario_start import resolve_scenario

FIXTURES = Path(os.environ.get("GRUE_FIXTURES")
                or Path(__file__).resolve().parents[2] / "shared" / "fixtures")


def _jsonl(rows: list[dict[str, object]]) -> str:
    return "".join(json.dumps(r) + "\n" for r in rows)


# --- a SillyTavern chat whose header says "unused" ------------------------------------------


CURRENT_ST_CHAT = [
    {"user_name": "unused", "character_name": "unused", "create_date": "2025-03-02@11h04m12s",
     "chat_metadata": {}},
    {"name": "Seraphina", "is_user": False, "send_date": "March 2, 2025 11:04am",
     "mes": "Welcome to the glade."},
    {"name": "Rowan", "is_user": True, "send_date": "March 2, 2025 11:05am",
     "mes": "Where am I?"},
    {"name": "Seraphina", "is_user": False, "send_date": "March 2, 2025 11:06am",
     "mes": "Safe, for now."},
]


def test_st_chat_header_saying_unused_takes_the_names_from_the_messages(tmp_path: Path) -> None:
    path = tmp_path / "Seraphina - 2025-03-02.jsonl"
    path.write_text(_jsonl(CURRENT_ST_CHAT))
    campaign = import_st_chat(path)
    assert campaign.title == "Seraphina"
    assert persona_of(campaign).name == "Rowan"
    records = st_chat_records(campaign)
    assert [r["name"] for r in records[1:]] == ["Seraphina", "Rowan", "Seraphina"]
    assert "unused" not in json.dumps(records)


def test_imported_chat_keeps_its_messages_send_dates(tmp_path: Path) -> None:
    path = tmp_path / "chat.jsonl"
    path.write_text(_jsonl(CURRENT_ST_CHAT))
    records = st_chat_records(import_st_chat(path))
    assert [r["send_date"] for r in records[1:]] == [
        "March 2, 2025 11:04am", "March 2, 2025 11:05am", "March 2, 2025 11:06am"]


# --- a NovelAI scenario with a 437 KB opening -----------------------------------------------


def _novelai_story(opening: str) -> dict[str, object]:
    return {
        "storyContainerVersion": 1,
        "metadata": {"title": "Long Road"},
        "content": {
            "story": {"fragments": [{"data": opening, "origin": "prompt"}]},
            "context": [{"text": "You are Ysolda, a trader.", "contextConfig": {}},
                        {"text": "[Style: terse]", "contextConfig": {}}],
            "lorebook": {"lorebookVersion": 4, "entries": []},
        },
    }


def test_novelai_scenario_with_437kb_opening_is_trimmed_from_the_top_at_a_paragraph(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    paragraphs = [f"Paragraph {i}. " + "The wind howls over the pass. " * 20 for i in range(720)]
    opening = "\n\n".join(paragraphs)
    assert len(opening) > 437_000
    [scenario] = parse_scenarios(_novelai_story(opening), "long.story")
    assert 1000 < len(scenario.opening) <= 4000
    assert scenario.opening.startswith("Paragraph ")  # a whole paragraph, from the top
    assert opening.endswith(scenario.opening)  # the end of the story is what is kept
    assert scenario.memory == "You are Ysolda, a trader." and scenario.authors_note
    campaign = campaign_from_scenario(scenario)
    assert len(campaign.turns[0].response) <= 4000 and campaign.memory

    path = tmp_path / "long.story"
    path.write_text(json.dumps(_novelai_story(opening)))
    assert main(["import", str(path)]) == 0
    assert "opening cut from" in capsys.readouterr().out


# --- an AI Dungeon menu scenario ------------------------------------------------------------


MENU = {
    "title": "Choose your path",
    "prompt": "The realm is at war. Who are you?",
    "memory": "", "authorsNote": "", "worldInfo": "[]", "quests": "[]",
    "options": json.dumps([
        {"title": "Knight", "prompt": "You are a knight.", "worldInfo": "[]"},
        {"title": "Thief", "prompt": "You are a thief.", "worldInfo": "[]"},
    ]),
}


def test_aidungeon_menu_scenario_shows_its_own_prompt_before_its_options(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    import io

    from tui.plain import pick_line

    [menu] = parse_scenarios(MENU, "menu.json")
    seen: list[str] = []

    def pick(heading: str, options: list[str]) -> int:
        seen.append(heading)
        return 1

    chosen = resolve_scenario(menu, pick, lambda q, d: d)
    assert chosen is not None and chosen.opening == "You are a thief."
    assert "The realm is at war. Who are you?" in seen[0]

    monkeypatch.setattr("sys.stdin", io.StringIO("2\n"))
    assert pick_line(seen[0], ["Knight", "Thief"]) == 1
    out = capsys.readouterr().out
    assert out.index("The realm is at war.") < out.index("1. Knight")


# --- a character whose name is all CJK ------------------------------------------------------


def test_character_named_all_in_cjk_gets_a_save_id_from_its_name() -> None:
    campaign = campaign_from_card(Card(name="桜子", first_mes="こんにちは"))
    assert campaign.id.startswith("桜子-")
    assert not campaign.id.startswith("campaign-")
    assert "/" not in campaign_from_card(Card(name="a/b 桜")).id


# --- export-card NAME with two cards of that name -------------------------------------------


def test_export_card_name_shared_by_two_cards_lists_both_and_exports_neither(
    tmp_path: Path, grue_home: Path, capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    folder = grue_home / "characters"
    folder.mkdir(parents=True)
    write_card_png(Card(name="Twin", description="the first"), folder / "twin-a.png")
    write_card_json(Card(name="Twin", description="the second"), folder / "twin-b.json")
    monkeypatch.chdir(tmp_path)

    assert main(["export-card", "Twin"]) == 2
    err = capsys.readouterr().err
    assert "2 cards are named Twin" in err
    assert str(folder / "twin-a.png") in err and str(folder / "twin-b.json") in err
    assert not list(tmp_path.glob("Twin.*"))

    assert main(["export-card", str(folder / "twin-b.json"), "--format", "json"]) == 0
    assert json.loads((tmp_path / "Twin.json").read_text())["data"]["description"] == \
        "the second"


# --- the real-world corpus ------------------------------------------------------------------


needs_fixtures = pytest.mark.skipif(not FIXTURES.is_dir(), reason="no ../shared/fixtures")


@needs_fixtures
def test_real_scenarios_import_with_bounded_openings() -> None:
    for name in ("novelai_tamriel.story", "koboldai_story_half_life_2.json",
                 "aidungeon_scenarios.json"):
        found = import_scenario_file(FIXTURES / name)
        assert found, name
        assert all(len(s.opening) <= 4000 for s in found), name


@needs_fixtures
def test_real_files_import_in_one_batch(
    grue_home: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    names = sorted(p.name for p in FIXTURES.iterdir() if p.suffix != ".md")
    assert main(["import", *(str(FIXTURES / n) for n in names)]) == 0
    assert "grue:" not in capsys.readouterr().err
