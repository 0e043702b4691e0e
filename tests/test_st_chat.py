"""SillyTavern chat .jsonl: export, import, swipes both ways, errors naming the line."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tui.engine.campaign import OPENING, Campaign
from tui.engine.cards import Card, write_card_json
from tui.engine.chat import campaign_from_card, card_of, persona_of
from tui.engine.formats.st_chat import (
    StChatError,
    campaign_from_st_chat,
    dumps_st_chat,
    import_st_chat,
    parse_st_chat,
    read_st_chat,
    write_st_chat,
)

HEADER = {"user_name": "Ann", "character_name": "Mira", "create_date": "2024-05-11@17h38m02s",
          "chat_metadata": {"note_prompt": "", "tainted": False}}


def sample_chat() -> Card:
    return Card(name="Mira", first_mes="Evening, {{user}}.",
                alternate_greetings=["Shut the door, {{user}}!"])


def played(tmp_path: Path) -> Campaign:
    campaign = campaign_from_card(sample_chat(), "Ann")
    campaign.turns[0].chosen = 1
    turn = campaign.begin_turn("chat", "Hello {{char}}")
    turn.responses = ["One.", "Two.", "Three."]
    turn.chosen = 1
    campaign.begin_turn("chat", "Bye").responses.append("Farewell.")
    return campaign


def test_export_layout(tmp_path: Path) -> None:
    lines = [json.loads(x) for x in dumps_st_chat(played(tmp_path)).splitlines()]
    head, greeting, hello, reply, bye, farewell = lines
    assert head["user_name"] == "Ann" and head["character_name"] == "Mira"
    assert isinstance(head["chat_metadata"], dict) and head["create_date"]
    assert greeting["is_user"] is False and greeting["name"] == "Mira"
    assert greeting["swipes"] == ["Evening, Ann.", "Shut the door, Ann!"]
    assert greeting["swipe_id"] == 1 and greeting["mes"] == "Shut the door, Ann!"
    assert hello == {"name": "Ann", "is_user": True, "is_system": False,
                     "send_date": hello["send_date"], "mes": "Hello Mira", "extra": {}}
    assert reply["swipes"] == ["One.", "Two.", "Three."] and reply["swipe_id"] == 1
    assert reply["mes"] == "Two." and len(reply["swipe_info"]) == 3
    assert bye["mes"] == "Bye" and farewell["mes"] == "Farewell."
    for line in lines[1:]:
        assert set(line) >= {"name", "is_user", "is_system", "send_date", "mes", "extra"}


def test_round_trip_keeps_messages_and_swipes(tmp_path: Path) -> None:
    original = played(tmp_path)
    path = write_st_chat(original, tmp_path / "chat.jsonl")
    back = import_st_chat(path)
    assert back.kind == "chat" and back.title == "Mira"
    assert persona_of(back).name == "Ann"
    assert [t.mode for t in back.turns] == [OPENING, "chat", "chat"]
    assert back.turns[0].responses == ["Evening, Ann.", "Shut the door, Ann!"]
    assert back.turns[0].chosen == 1
    assert back.turns[1].action == "Hello Mira"
    assert back.turns[1].responses == ["One.", "Two.", "Three."] and back.turns[1].chosen == 1
    assert back.turns[2].action == "Bye" and back.turns[2].responses == ["Farewell."]
    # Exported again, the messages are the same lines (dates aside).
    first = [json.loads(x) for x in dumps_st_chat(original).splitlines()[1:]]
    second = [json.loads(x) for x in dumps_st_chat(back).splitlines()[1:]]
    for a, b in zip(first, second, strict=True):
        a.pop("send_date"), b.pop("send_date")
        a.pop("swipe_info", None), b.pop("swipe_info", None)
    assert first == second


def test_import_uses_the_library_card(tmp_path: Path, grue_home: Path) -> None:
    card = Card(name="Mira", description="Keeps the harbour inn.", first_mes="Hi.")
    (grue_home / "characters").mkdir(parents=True)
    write_card_json(card, grue_home / "characters" / "Mira.json")
    path = tmp_path / "chat.jsonl"
    path.write_text(json.dumps(HEADER) + "\n" + json.dumps(
        {"name": "Mira", "is_user": False, "mes": "Hi."}) + "\n")
    assert card_of(import_st_chat(path)).description == "Keeps the harbour inn."
    stranger = tmp_path / "other.jsonl"
    stranger.write_text(json.dumps({**HEADER, "character_name": "Nobody Known"}) + "\n")
    campaign = import_st_chat(stranger)
    assert campaign.title == "Nobody Known" and card_of(campaign).description == ""
    assert campaign.turns == []


def test_import_odd_but_valid_shapes() -> None:
    rows = [
        HEADER,
        {"name": "Ann", "is_user": True, "mes": "Starting myself."},
        {"name": "Mira", "is_user": False, "mes": "Shown", "swipes": ["A", "B"], "swipe_id": 7},
        {"name": "System", "is_user": False, "is_system": True, "mes": "hidden note"},
        {"name": "Mira", "is_user": False, "mes": "Second in a row.\r\nWith CRLF."},
        {"name": "Ann", "is_user": True, "mes": "Unanswered"},
    ]
    text = "\n".join(json.dumps(r) for r in rows) + "\n\n"
    campaign = campaign_from_st_chat(parse_st_chat(text, "odd.jsonl"))
    turns = campaign.turns
    assert [t.mode for t in turns] == ["chat", "chat", "chat"]  # the user spoke first
    assert turns[0].action == "Starting myself."
    assert turns[0].responses == ["A", "Shown"] and turns[0].chosen == 1  # mes wins
    assert turns[1].action == "" and turns[1].response == "Second in a row.\nWith CRLF."
    assert turns[2].action == "Unanswered" and turns[2].responses == []
    assert "hidden note" not in json.dumps([t.to_dict() for t in turns])


@pytest.mark.parametrize(("body", "line", "why"), [
    ('{"user_name": "A", "character_name": "B"}\n{"mes": "ok"}\n{not json}\n', 3,
     "not valid JSON"),
    ('{"user_name": "A", "character_name": "B"}\n\n[1, 2]\n', 3, "JSON object"),
    ('{"user_name": "A", "character_name": "B"}\n{"name": "B", "mes": 5}\n', 2, "no text"),
    ('{"mes": "no header"}\n', 1, "header"),
])
def test_malformed_lines_name_file_and_line(tmp_path: Path, body: str, line: int,
                                             why: str) -> None:
    path = tmp_path / "broken.jsonl"
    path.write_text(body)
    with pytest.raises(StChatError) as err:
        read_st_chat(path)
    message = str(err.value)
    assert message.startswith(f"broken.jsonl: line {line}:") and why in message
    assert "\n" not in message


def test_unreadable_files(tmp_path: Path) -> None:
    empty = tmp_path / "empty.jsonl"
    empty.write_text("\n\n")
    with pytest.raises(StChatError, match="empty.jsonl: empty"):
        read_st_chat(empty)
    binary = tmp_path / "bin.jsonl"
    binary.write_bytes(b"\xff\xfe\x00garbage")
    with pytest.raises(StChatError, match="bin.jsonl: not UTF-8"):
        read_st_chat(binary)
    with pytest.raises(StChatError, match="missing.jsonl: cannot read"):
        read_st_chat(tmp_path / "missing.jsonl")
