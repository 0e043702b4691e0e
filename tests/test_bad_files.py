"""Issue 10, item 12: bad files that stopped more than themselves.

Each test is named after what was found; each fails on the code before the fix. A bad file is
skipped and named in one line, never fatal to the rest.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest
import tomli_w

from tui.cli import main
from tui.engine.campaign import Campaign, Settings, Turn
from tui.engine.cards import Card, CardError, parse_card_bytes, write_card_json, write_card_png
from tui.engine.chat import campaign_from_card, card_lorebook
from tui.engine.formats.jsonfile import read_json_file
from tui.engine.formats.lorebooks import LoreFormatError, read_lorebook
from tui.engine.saves import SaveError, load_save, write_save
from tui.engine.scenario import Scenario, ScenarioError, find_scenario, list_scenarios
from tui.engine.tomlfile import read_toml_file

DEEP_TOML = "deep = " + "[" * 500 + "]" * 500 + "\n"
HUGE_INT = "9" * 5000  # longer than Python converts from text by default


def _depth(value: object) -> int:
    if isinstance(value, dict):
        return 1 + max((_depth(v) for v in value.values()), default=0)
    if isinstance(value, list):
        return 1 + max((_depth(v) for v in value), default=0)
    return 0


def _nested(levels: int) -> object:
    value: object = "bottom"
    for _ in range(levels):
        value = {"x": value}
    return value


# --- one save or scenario nested ~500 deep --------------------------------------------------


def test_user_scenario_nested_500_deep_is_named_and_the_rest_still_list(
    grue_home: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    folder = grue_home / "scenarios"
    folder.mkdir(parents=True)
    (folder / "deep.toml").write_text('title = "Deep"\n' + DEEP_TOML)

    found = dict((p.name, item) for p, item in list_scenarios())
    assert isinstance(found["deep.toml"], ScenarioError)
    assert str(found["deep.toml"]).startswith("deep.toml: nested too deep")
    assert isinstance(find_scenario("lantern-road"), Scenario)

    assert main(["scenarios"]) == 0
    out = capsys.readouterr().out
    assert "lantern-road" in out and "deep" in out and "unreadable: deep.toml" in out


def test_save_nested_500_deep_is_a_one_line_save_error(tmp_path: Path) -> None:
    path = tmp_path / "deep.toml"
    path.write_text('title = "Deep"\nturns = []\n' + DEEP_TOML)
    with pytest.raises(SaveError) as caught:
        read_toml_file(path, 10**6, SaveError, "save")
    assert str(caught.value) == "deep.toml: nested too deep to be a save"
    with pytest.raises(SaveError, match="deep.toml: nested too deep"):
        load_save(path)


def test_toml_nested_past_the_file_depth_limit_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "deep.toml"
    path.write_text("a = " + "[" * 100 + "1" + "]" * 100 + "\n")  # parses, but 100 deep
    with pytest.raises(ScenarioError, match=r"deep.toml: nested more than 64 levels deep"):
        read_toml_file(path, 10**6, ScenarioError, "scenario file")


def test_json_holding_a_5000_digit_integer_is_a_one_line_error(tmp_path: Path) -> None:
    path = tmp_path / "big.json"
    path.write_text('{"entries": {"0": {"key": ["a"], "content": "b", "order": ' + HUGE_INT + "}}}")
    with pytest.raises(LoreFormatError) as caught:
        read_json_file(path, 10**7, LoreFormatError, "a lorebook")
    assert str(caught.value).startswith("big.json: not valid JSON (")
    assert "\n" not in str(caught.value)
    with pytest.raises(CardError, match="^big.json: file is not valid JSON"):
        parse_card_bytes(b'{"name": "Big", "description": %s}' % HUGE_INT.encode(), "big.json")


# --- a lorebook entry with an unknown field nested 900 deep ---------------------------------


def test_lorebook_entry_with_unknown_field_nested_900_deep_is_refused(tmp_path: Path) -> None:
    entry = {"key": ["a"], "content": "b", "mystery": _nested(900)}
    path = tmp_path / "deep.json"
    path.write_text(json.dumps({"entries": {"0": entry}}))
    with pytest.raises(LoreFormatError, match="deep.json: JSON nested more than 64 levels"):
        read_lorebook(path)


def test_lorebook_unknown_fields_are_kept_only_a_few_levels_deep_and_the_save_writes(
    tmp_path: Path,
) -> None:
    entry = {"key": ["a"], "content": "b", "extensions": {"deep": _nested(40)},
             "mystery": {"list": list(range(5000))}}
    path = tmp_path / "book.json"
    path.write_text(json.dumps({"entries": {"0": entry}}))
    from tui.engine.formats.bounds import MAX_KEPT_DEPTH, too_deep

    book, _fmt = read_lorebook(path)
    kept = book.entries[0].extensions
    assert _depth(kept) <= MAX_KEPT_DEPTH
    assert not too_deep(kept, MAX_KEPT_DEPTH)
    campaign = Campaign(title="Kept")
    campaign.lorebooks.append(book)
    campaign.turns.append(Turn(mode="opening", responses=["Hi."]))
    saved = write_save(campaign, tmp_path / "saves")
    assert load_save(saved).lorebooks[0].entries[0].content == "b"


# --- `grue import a.json bad.json c.png` stopped at the bad file ----------------------------


def test_import_goes_on_past_a_bad_file(
    tmp_path: Path, grue_home: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    first = write_card_json(Card(name="Alpha", first_mes="Hi."), tmp_path / "a.json")
    bad = tmp_path / "bad.json"
    bad.write_text('{"name": "Bad", "first_mes": ' + HUGE_INT + "}")
    last = write_card_png(Card(name="Gamma", first_mes="Yo."), tmp_path / "c.png")

    status = main(["import", str(first), str(bad), str(last)])
    err = capsys.readouterr().err
    assert status == 1
    assert sorted(p.name for p in (grue_home / "characters").iterdir()) == [
        "Alpha.json", "Gamma.png"]
    assert "bad.json: not valid JSON" in err and "1 of 3 files not imported" in err
    assert "unexpected" not in err and "Traceback" not in err


# --- a card with "character_book": {"entries": 5} -------------------------------------------


def _card_with_bad_book(folder: Path) -> Path:
    path = folder / "booky.json"
    path.write_text(json.dumps({
        "spec": "chara_card_v2", "spec_version": "2.0",
        "data": {"name": "Booky", "description": "d", "personality": "", "scenario": "",
                 "first_mes": "Hi", "mes_example": "", "character_book": {"entries": 5}},
    }))
    return path


def test_card_with_character_book_entries_5_is_refused_on_import(
    tmp_path: Path, grue_home: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["import", str(_card_with_bad_book(tmp_path))]) == 1
    err = capsys.readouterr().err
    assert "booky.json: its lorebook (character_book) cannot be read: entries is a int" in err
    assert not (grue_home / "characters").exists() or not any(
        (grue_home / "characters").iterdir())


def test_card_with_character_book_entries_5_already_in_the_library_still_chats(
    tmp_path: Path,
) -> None:
    from tui.engine.cards import load_card

    card = load_card(_card_with_bad_book(tmp_path))
    assert card_lorebook(card) is None  # the junk book is left out, not a TypeError
    campaign = campaign_from_card(card)
    assert campaign.lorebooks == []


# --- a save with settings.template = "NoSuchTemplate" or seed = inf -------------------------


def test_save_with_unknown_template_or_infinite_seed_resumes_with_defaults(
    tmp_path: Path,
) -> None:
    campaign = Campaign(title="Odd settings")
    campaign.turns.append(Turn(mode="opening", responses=["Hi."]))
    path = write_save(campaign, tmp_path)
    state = path / "campaign.toml" if path.is_dir() else path
    text = state.read_text()
    assert "[settings]\n" in text
    state.write_text(text.replace("[settings]\n", '[settings]\ntemplate = "NoSuchTemplate"\n'
                                  "seed = inf\n", 1).replace('template = "auto"\n', "", 1))

    loaded = load_save(path)
    assert loaded.settings.template == "auto" and loaded.settings.seed is None
    assert any("NoSuchTemplate" in p for p in loaded.problems)  # type: ignore[attr-defined]
    assert any(p.startswith("seed inf") for p in loaded.problems)


def test_settings_from_dict_falls_back_per_value_and_says_which() -> None:
    settings = Settings.from_dict({
        "template": "NoSuchTemplate", "seed": math.inf, "n_ctx": 10**400, "prompt_style": 3,
        "max_new_tokens": "many", "sampler": {"temperature": math.nan, "top_k": 40.0,
                                              "top_p": "x", "seed": 7},
    })
    default = Settings()
    assert (settings.template, settings.seed, settings.n_ctx, settings.prompt_style,
            settings.max_new_tokens) == ("auto", None, default.n_ctx, "auto",
                                         default.max_new_tokens)
    assert settings.sampler.temperature == default.sampler.temperature
    assert settings.sampler.top_k == 40 and settings.sampler.seed == 7
    assert len(settings.problems) == 7 and all("\n" not in p for p in settings.problems)
    good = Settings(template="chatml", seed=3)
    assert Settings.from_dict(good.to_dict()) == good
    assert Settings.from_dict(good.to_dict()).problems == []


# --- a save whose memory is 50 MB -----------------------------------------------------------


def test_save_with_huge_memory_and_turns_is_cut_on_load_and_says_so(tmp_path: Path) -> None:
    from tui.engine.campaign import MAX_FIELD_CHARS
    from tui.engine.saves import campaign_from_dict

    size = MAX_FIELD_CHARS * 3
    data = {"title": "Huge", "memory": "m" * size, "summary": "s" * size,
            "authors_note": "n" * 10,
            "turns": [{"mode": "do", "action": "a" * size, "responses": ["r" * size]}]}
    campaign = campaign_from_dict(data)
    assert len(campaign.memory) == MAX_FIELD_CHARS and len(campaign.summary) == MAX_FIELD_CHARS
    assert campaign.authors_note == "n" * 10
    assert [p.split(" was ")[0] for p in campaign.problems] == ["memory", "summary"]
    turn = campaign.turns[0]
    assert len(turn.action) < MAX_FIELD_CHARS + 100
    assert turn.response.endswith(f"[trimmed on loading: this text had {size:,} characters]")
    path = tmp_path / "huge.toml"
    path.write_text(tomli_w.dumps(data))
    assert len(load_save(path).memory) == MAX_FIELD_CHARS


# --- the TUI home screen with bad files beside good ones ------------------------------------


async def test_home_screen_lists_around_a_deep_scenario_and_a_broken_card(
    grue_home: Path,
) -> None:
    from fakes import FakeBackend

    from tui.app import GrueApp
    from tui.model_host import ModelHost
    from tui.screens.home import HomeScreen

    (grue_home / "scenarios").mkdir(parents=True)
    (grue_home / "scenarios" / "deep.toml").write_text('title = "Deep"\n' + DEEP_TOML)
    (grue_home / "characters").mkdir(parents=True)
    (grue_home / "characters" / "deep.json").write_text(
        '{"name": "Deep", "description": ' + "[" * 900 + "]" * 900 + "}")
    backend = FakeBackend(["Hi."])
    app = GrueApp(host=ModelHost(lambda s: backend, close_backend=False))
    async with app.run_test(size=(80, 24), notifications=True) as pilot:
        await pilot.pause(0.2)
        assert isinstance(app.screen, HomeScreen)
        menu = app.screen.query_one("OptionList")
        labels = [str(menu.get_option_at_index(i).prompt) for i in range(menu.option_count)]
        assert any("The Lantern Road" in label for label in labels)


def test_aidungeon_world_info_string_holding_a_5000_digit_number_is_a_one_line_error(
    tmp_path: Path,
) -> None:
    """Found by tests/test_fuzz_files.py: the JSON inside the JSON leaked a ValueError."""
    from tui.engine.formats.scenarios import import_scenario_file

    scenario = {"title": "Menu", "prompt": "Who are you?", "quests": "[]",
                "worldInfo": '[{"id": ' + HUGE_INT + ', "keys": "a", "entry": "b"}]'}
    path = tmp_path / "aid.json"
    path.write_text(json.dumps(scenario))
    with pytest.raises(ScenarioError, match=r"^aid.json: 'worldInfo' of \"Menu\" is not valid"):
        import_scenario_file(path)
    with pytest.raises(LoreFormatError, match="^aid.json: worldInfo is not valid JSON$"):
        read_lorebook(path)
