"""Scenario importers (KoboldAI, NovelAI, AI Dungeon), placeholders, and saving as Grue TOML."""

from __future__ import annotations

import json
import random
import tomllib
from pathlib import Path
from typing import Any

import pytest
import tomli_w
from fakes import FakeBackend

from tui.engine.adventure import adventure_spec
from tui.engine.campaign import campaign_from_scenario
from tui.engine.context import ContextBuilder
from tui.engine.formats.scenarios import (
    detect_scenario,
    import_scenario_file,
    parse_scenarios,
    scenario_to_toml_dict,
)
from tui.engine.placeholders import (
    CHARACTER_NAME,
    Placeholder,
    fill_placeholders,
    find_placeholders,
    replace_placeholders,
    scenario_placeholders,
)
from tui.engine.scenario import Scenario, ScenarioError, load_scenario, scenario_from_dict

FIXTURES = Path(__file__).resolve().parents[2] / "shared" / "fixtures"


def fixture(name: str) -> Path:
    path = FIXTURES / name
    if not path.exists():
        pytest.skip(f"fixture {name} not available")
    return path


def write_json(tmp_path: Path, name: str, data: Any) -> Path:
    path = tmp_path / name
    path.write_text(json.dumps(data), encoding="utf-8")
    return path


def first_prompt(scenario: Scenario, action: str) -> Any:
    campaign = campaign_from_scenario(scenario)
    builder = ContextBuilder(FakeBackend().tokenize, 4096, 200, None)
    return builder.build(adventure_spec(campaign, action))


# --- the real files ------------------------------------------------------------------------


def test_koboldai_story_fixture() -> None:
    path = fixture("koboldai_story_half_life_2.json")
    assert detect_scenario(json.loads(path.read_text(encoding="utf-8"))) == "koboldai_story"
    [scenario] = import_scenario_file(path)
    assert scenario.title == "koboldai_story_half_life_2"
    assert scenario.opening.startswith("You are ${}. You survived the Black Mesa incident")
    assert scenario.authors_note == "[Writing style: elegant, dramatic, vivid] [Genre: Fantasy]"
    assert len(scenario.lore) == 25
    first = scenario.lore[0]
    assert first.keys == ["Civil Protection", "Metro cop", "CP", "Officer", "Cop"]
    assert scenario.placeholders == ["Your character's name?"]
    assert [p.key for p in scenario_placeholders(scenario)] == [CHARACTER_NAME]

    filled = fill_placeholders(scenario, {CHARACTER_NAME: "Gordon Freeman"})
    assert filled.opening.startswith("You are Gordon Freeman. You survived")
    assert filled.placeholders == []
    assert scenario.opening.startswith("You are ${}.")  # the original is untouched

    report = first_prompt(filled, "> You ask Barney about the Civil Protection.")
    assert "You are Gordon Freeman." in report.text
    fired = {a.entry.keys[0]: a.key for a in report.fired}
    assert fired.get("Civil Protection", "").lower() == "civil protection"
    assert scenario.authors_note in report.text


def test_novelai_story_fixture() -> None:
    path = fixture("novelai_tamriel.story")
    [scenario] = import_scenario_file(path)
    assert scenario.title == "Tamriel: The Reign of Katariah (create character)"
    assert scenario.description.startswith("This is a scenario that lets you create")
    assert scenario.opening.startswith("Your name is ghfdgh")
    assert len(scenario.lore) == 100
    assert scenario.lore[0].keys == ["Ungvid", "Jarl of Winterhold", "Ruler of Winterhold"]
    # Its one context entry sits 4 lines from the bottom: the author's note, not memory.
    assert scenario.authors_note == (
        "[Genre: fantasy] [Writing style: narrative, roleplaying, gothic]"
    )
    assert scenario.memory == ""
    sampler = scenario.extra["sampler"]
    assert sampler["tfs_z"] == pytest.approx(2.1)
    assert sampler["top_k"] == 69 and sampler["max_tokens"] == 40
    assert "repetition_penalty" not in sampler  # a different scale: not mapped
    assert scenario.extra["novelai"]["parameters"]["repetition_penalty"] == 2.5

    report = first_prompt(scenario, "> You ask Isekaid about Jarl Ungvid.")
    assert any(a.entry.name.startswith("Ungvid") and a.key == "Ungvid" for a in report.fired)


def test_aidungeon_scenarios_fixture() -> None:
    path = fixture("aidungeon_scenarios.json")
    scenarios = import_scenario_file(path)
    assert len(scenarios) == 8
    by_title = {s.title: s for s in scenarios}
    assert "Adventure Call with Falconhoof: plain English" in by_title
    generator = by_title["Elder Scrolls: Character Generator"]
    assert generator.description == ""  # null in the file
    assert generator.placeholders == [
        "Type the name of a province of Tamriel...",
        "Type the name of a race of Tamriel...",
        "Type a character's profession...",
    ]
    create = by_title["Tamriel: The Reign of Katariah (create character)"]
    assert len(create.lore) == 100
    assert len(create.placeholders) == 12
    assert create.placeholders[0] == "Your character's name?"
    assert create.placeholders[2].startswith("Choose a race: Altmer (High Elf)")
    assert all(not s.options for s in scenarios)  # every one in this file is itself an option
    assert create.extra["aidungeon"]["mode"] == "creative"

    answers = {p.key: f"answer{i}" for i, p in enumerate(scenario_placeholders(create))}
    answers[CHARACTER_NAME] = "Lydia"
    filled = fill_placeholders(create, answers)
    assert "${" not in filled.opening
    assert filled.opening.startswith("Your name is [Lydia], and you are a [answer1]")
    report = first_prompt(filled, "> You bow to the Jarl of Whiterun.")
    assert create.authors_note in report.text
    assert any(a.key.lower() == "jarl of whiterun" for a in report.fired)


def test_lorebook_files_are_not_scenarios() -> None:
    data = json.loads(fixture("Eldoria.json").read_text(encoding="utf-8"))
    assert detect_scenario(data) is None
    races = json.loads(fixture("aidungeon_world_info_races.json").read_text(encoding="utf-8"))
    assert detect_scenario(races) is None


# --- each format, made up ------------------------------------------------------------------

KOBOLD = {
    "gamestarted": True,
    "prompt": "You wake in a cell.",
    "memory": "You are a thief named Wren.",
    "authorsnote": "Keep it tense.",
    "anotetemplate": "[Author's note: <|>]",
    "actions": ["\n\n> You pick the lock.\n", " The lock clicks open."],
    "worldinfo": [{"key": "guard, warden", "keysecondary": "", "content": "The guard is asleep.",
                   "comment": "Guard", "selective": False, "constant": False}],
}
NOVELAI_SCENARIO = {
    "scenarioVersion": 3,
    "title": "The Spire",
    "description": "Climb it.",
    "prompt": "${Name[Bob]:Your hero's name} stands below the spire. ${Name} looks up.",
    "tags": ["fantasy"],
    "context": [
        {"text": "${Name} is a climber.", "contextConfig": {"insertionPosition": 0}},
        {"text": "[Style: terse]", "contextConfig": {"insertionPosition": -4}},
    ],
    "placeholders": [{"key": "Name", "description": "What is your name?",
                      "defaultValue": "Bob"}],
    "lorebook": {"lorebookVersion": 4, "entries": [
        {"text": "The spire is made of glass.", "displayName": "Spire", "keys": ["spire"],
         "contextConfig": {"insertionPosition": -1}}]},
    "settings": {"parameters": {"temperature": 0.7, "repetition_penalty": 1.1}},
}
NOVELAI_STORY = {
    "storyContainerVersion": 1,
    "metadata": {"title": "Fragments", "tags": ["x"]},
    "content": {
        "story": {"version": 2, "fragments": [{"data": "Once upon ", "origin": "prompt"},
                                              {"data": "a time.", "origin": "ai"}]},
        "context": [{"text": "Memory text."}, {"text": "Note text."}],
        "lorebook": {"entries": []},
    },
}
AID_MENU = {
    "title": "Pick a path",
    "prompt": "Choose your character:",
    "memory": "",
    "authorsNote": "",
    "mode": "creative",
    "quests": json.dumps([{"quest": "Find the crown"}]),
    "worldInfo": "[]",
    "options": json.dumps([
        {"title": "Knight", "prompt": "You are ${Your name?}, a knight.", "memory": "Knights "
         "serve the queen.", "authorsNote": "", "worldInfo": json.dumps(
             [{"keys": "queen,crown", "entry": "The queen is missing.", "hidden": False}]),
         "options": "[]", "quests": "[]"},
        "77",
    ]),
}
AID_REFERENCED = {"id": "77", "title": "Wizard", "prompt": "You are a wizard.",
                  "memory": "Wizards read.", "authorsNote": "Be odd.", "worldInfo": None,
                  "options": [], "quests": [], "isOption": True}


@pytest.mark.parametrize("name,data,memory,action,lore_key", [
    ("k.json", KOBOLD, "You are a thief named Wren.", "> You wave at the guard.", "guard"),
    ("s.scenario", NOVELAI_SCENARIO, "Bob is a climber.", "> You touch the spire.", "spire"),
])
def test_imported_scenario_starts_a_campaign(tmp_path: Path, name: str, data: dict[str, Any],
                                            memory: str, action: str, lore_key: str) -> None:
    [scenario] = import_scenario_file(write_json(tmp_path, name, data))
    scenario = fill_placeholders(scenario, {})
    report = first_prompt(scenario, action)
    assert memory in report.text
    assert [a.key for a in report.fired] == [lore_key]
    assert report.total_tokens <= report.budget


def test_koboldai_actions_join_the_opening(tmp_path: Path) -> None:
    [s] = import_scenario_file(write_json(tmp_path, "k.json", KOBOLD))
    assert s.opening == "You wake in a cell.\n\n> You pick the lock.\n The lock clicks open."
    assert s.extra["koboldai"] == {"actions": 2, "anotetemplate": "[Author's note: <|>]",
                                   "gamestarted": True}
    assert s.lore[0].name == "Guard" and s.lore[0].keys == ["guard", "warden"]
    united = dict(KOBOLD, actions={"1": " Second.", "0": " First."})
    [u] = parse_scenarios(united, "u.json")
    assert u.opening == "You wake in a cell. First. Second."


def test_novelai_scenario_placeholders_and_context(tmp_path: Path) -> None:
    [s] = import_scenario_file(write_json(tmp_path, "s.scenario", NOVELAI_SCENARIO))
    assert detect_scenario(NOVELAI_SCENARIO) == "novelai_scenario"
    assert s.memory == "${Name} is a climber." and s.authors_note == "[Style: terse]"
    assert s.placeholders == ["Your hero's name (default: Bob)"]
    assert s.extra["sampler"] == {"temperature": 0.7}
    named = fill_placeholders(s, {"Name": "Ayla"})
    assert named.opening == "Ayla stands below the spire. Ayla looks up."
    assert named.memory == "Ayla is a climber."
    defaulted = fill_placeholders(s, {})
    assert defaulted.opening == "Bob stands below the spire. Bob looks up."
    assert defaulted.placeholders == []


def test_novelai_story_fragments() -> None:
    [s] = parse_scenarios(NOVELAI_STORY, "f.story")
    assert s.opening == "Once upon a time."
    assert (s.memory, s.authors_note) == ("Memory text.", "Note text.")
    assert s.tags == ["x"] and s.lore == []


def test_aidungeon_menu_of_options(tmp_path: Path) -> None:
    path = write_json(tmp_path, "menu.json", [AID_MENU, AID_REFERENCED])
    menu, wizard = import_scenario_file(path)
    assert menu.title == "Pick a path" and menu.opening == "Choose your character:"
    assert [o.title for o in menu.options] == ["Knight", "Wizard"]
    knight = menu.options[0]
    assert knight.placeholders == ["Your name?"]
    assert knight.lore[0].keys == ["queen", "crown"]
    assert menu.options[1].memory == wizard.memory == "Wizards read."
    assert menu.extra["aidungeon"]["quests"] == [{"quest": "Find the crown"}]
    picked = fill_placeholders(menu, {"Your name?": "Sir Roland"}).options[0]
    assert picked.opening == "You are Sir Roland, a knight."
    report = first_prompt(picked, "> You ask where the queen went.")
    assert "Knights serve the queen." in report.text
    assert [a.key for a in report.fired] == ["queen"]


def test_single_aidungeon_scenario_and_wrapped_list() -> None:
    [one] = parse_scenarios(AID_REFERENCED, "one.json")
    assert one.title == "Wizard" and one.authors_note == "Be odd."
    assert detect_scenario({"scenarios": [AID_REFERENCED]}) == "aidungeon"


# --- errors --------------------------------------------------------------------------------


@pytest.mark.parametrize("content,problem", [
    (b"{not json", "not valid JSON"),
    (b"\xff\xfe\x00", "not UTF-8"),
    (b'{"entries": {}}', "not a scenario in any known format"),
    (b"[]", "not a scenario"),
    (b"\x89PNG\r\n\x1a\n", "PNG"),
    (json.dumps(dict(AID_REFERENCED, worldInfo="[{broken")).encode(), "'worldInfo'"),
    (json.dumps(dict(AID_REFERENCED, options=5)).encode(), "'options'"),
])
def test_malformed_files_are_one_line_errors(tmp_path: Path, content: bytes,
                                             problem: str) -> None:
    path = tmp_path / "bad.json"
    path.write_bytes(content)
    with pytest.raises(ScenarioError) as info:
        import_scenario_file(path)
    message = str(info.value)
    assert message.startswith("bad.json: ") and problem in message
    assert "\n" not in message


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(ScenarioError, match="nope.json: no such file"):
        import_scenario_file(tmp_path / "nope.json")


# --- saving as Grue TOML -------------------------------------------------------------------


def _no_none(value: Any) -> bool:
    if isinstance(value, dict):
        return all(_no_none(v) for v in value.values())
    if isinstance(value, list):
        return all(_no_none(v) for v in value)
    return value is not None


def test_toml_round_trip(tmp_path: Path) -> None:
    scenarios = parse_scenarios([AID_MENU, AID_REFERENCED], "menu.json")
    scenarios += parse_scenarios(NOVELAI_SCENARIO, "s.scenario")
    scenarios += parse_scenarios(KOBOLD, "k.json")
    aid = FIXTURES / "aidungeon_scenarios.json"
    if aid.exists():
        scenarios += import_scenario_file(aid)
    for s in scenarios:
        data = scenario_to_toml_dict(s)
        assert _no_none(data)
        path = tmp_path / "out.toml"
        path.write_text(tomli_w.dumps(data, multiline_strings=True), encoding="utf-8")
        back = load_scenario(path)
        assert (back.title, back.opening, back.memory, back.authors_note, back.description) == \
            (s.title, s.opening, s.memory, s.authors_note, s.description)
        assert [e.to_dict() for e in back.lore] == [e.to_dict() for e in s.lore]
        assert back.tags == s.tags
        raw = tomllib.loads(path.read_text(encoding="utf-8"))
        assert len(raw.get("options", [])) == len(s.options)
        if s.options:
            sub = scenario_from_dict(raw["options"][0], "x")
            assert sub.opening == s.options[0].opening
        assert raw.get("extra", {}).get("format") == s.extra["format"]
    assert import_scenario_file(path)[0].title == scenarios[-1].title  # .toml is read too


# --- placeholders --------------------------------------------------------------------------


def test_find_placeholders_styles() -> None:
    text = "${} ${character.name} ${Choose: a, b} ${Name[Bob]:Your name} ${Name} ${Town:Where?}"
    auto = find_placeholders([text])
    assert auto == [
        Placeholder(CHARACTER_NAME, "Your character's name?"),
        Placeholder("Choose: a, b", "Choose: a, b"),
        Placeholder("Name", "Your name", "Bob"),
        Placeholder("Town:Where?", "Town:Where?"),
    ]
    novelai = find_placeholders(["${Name} then ${Name[Bob]:Your name}", "${Town:Where?}"],
                                style="novelai")
    assert novelai == [Placeholder("Name", "Your name", "Bob"), Placeholder("Town", "Where?")]


def test_replace_placeholders_leaves_unanswered_ones() -> None:
    text = "${Name[Ann]} met ${Rival?} at ${Place?}."
    assert replace_placeholders(text, {"Rival?": "Tom"}) == "Ann met Tom at ${Place?}."
    assert replace_placeholders("no braces", {"x": "y"}) == "no braces"


def test_fill_placeholders_reaches_lore_and_keeps_listing_open_ones() -> None:
    [s] = parse_scenarios(dict(KOBOLD, memory="${Your town?} is home.", worldinfo=[
        {"key": "home", "content": "${Your town?} lies by the sea; ${} was born there."}]),
        "k.json")
    assert s.placeholders == ["Your town?", "Your character's name?"]
    half = fill_placeholders(s, {"Your town?": "Port Ash"})
    assert half.memory == "Port Ash is home."
    assert half.lore[0].content == "Port Ash lies by the sea; ${} was born there."
    assert half.placeholders == ["Your character's name?"]
    assert s.lore[0].content.startswith("${Your town?}")  # original untouched


# --- damaged files ---------------------------------------------------------------------------

_ODD_VALUES: list[Any] = [None, 0, -1, 3.5, True, "", "x", "[", "${", [], [None], {}, {"a": None}]


def _mutations(data: Any, rng: random.Random, count: int) -> list[Any]:
    """Copies of `data` with one value somewhere replaced by a value of another type."""
    out = []
    for _ in range(count):
        copy = json.loads(json.dumps(data))
        node, path = copy, []
        while isinstance(node, dict | list) and node and rng.random() < 0.8:
            key = rng.choice(list(node)) if isinstance(node, dict) else rng.randrange(len(node))
            path.append((node, key))
            node = node[key]
        if path:
            parent, key = path[-1]
            parent[key] = rng.choice(_ODD_VALUES)
        out.append(copy)
    return out


AID_PARSED = dict(AID_MENU, options=json.loads(AID_MENU["options"]))


@pytest.mark.parametrize("data", [KOBOLD, NOVELAI_SCENARIO, NOVELAI_STORY,
                                  [AID_MENU, AID_REFERENCED], [AID_PARSED, AID_REFERENCED]])
def test_damaged_scenarios_import_or_fail_cleanly(data: Any) -> None:
    rng = random.Random(7)
    for damaged in _mutations(data, rng, 150):
        try:
            found = parse_scenarios(damaged, "d.json")
        except ScenarioError as exc:
            assert "\n" not in str(exc)
            continue
        for s in found:
            assert isinstance(s.opening, str) and isinstance(s.memory, str)
            tomli_w.dumps(scenario_to_toml_dict(s))  # still saveable
