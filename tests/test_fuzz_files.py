"""Fuzzing every file Grue reads from other programs or from disk (issue 10, "Harden the
classes"): cards (PNG, JSON, CHARX), lorebooks of every imported format, scenarios, saves
(the single-file format) and SillyTavern chats.

Each target starts from valid files, mutates them (bytes flipped, cut short or inserted;
values swapped for other types, huge strings, huge or infinite numbers, nesting hundreds
deep) and loads the result. Loading either succeeds or raises the project's own error with one
line naming the file; never another exception, never a hang (a deadline per example), memory
bounded (the process's peak RSS may grow by at most `RSS_BUDGET_MB` over a target). What loads
is taken one step further, where the old bugs were: a lorebook or a chat becomes part of a
save that must still write, a card starts a chat, a scenario is written as TOML and read back.

Budgets (hypothesis settings profiles):
- `ci` (the default): `CI_EXAMPLES` examples per target, a few seconds each (~20 s in all);
- `long`: `HYPOTHESIS_PROFILE=long pytest tests/test_fuzz_files.py` runs 3,000 examples per
  target (500 per target took ~1 minute on a 2-core machine; `GRUE_FUZZ_EXAMPLES=N` sets
  another count) and keeps failing examples in `.hypothesis/` so a rerun replays them first.
  `GRUE_FIXTURES=DIR` adds the real-world corpus to the seeds when it is not in
  `../shared/fixtures`.
"""

from __future__ import annotations

import functools
import io
import json
import os
import resource
import zipfile
from collections.abc import Callable, Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
import tomli_w
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tui.engine.campaign import Campaign, Turn, campaign_from_scenario
from tui.engine.cards import Card, CardError, card_json_bytes, card_png_bytes, parse_card_bytes
from tui.engine.cards.png_chunks import PNG_SIGNATURE, build_png, read_chunks, text_chunk
from tui.engine.chat import campaign_from_card
from tui.engine.formats.lorebooks import LoreFormatError, read_lorebook
from tui.engine.formats.scenarios import import_scenario_file, scenario_to_toml_dict
from tui.engine.formats.st_chat import StChatError, campaign_from_st_chat, read_st_chat
from tui.engine.lore import Lorebook, LoreEntry
from tui.engine.saves import SaveError, dumps, load_save
from tui.engine.scenario import ScenarioError, load_scenario

CI_EXAMPLES = 40
RSS_BUDGET_MB = 600
_COMMON = {
    "deadline": timedelta(seconds=20),  # a hang guard, not a speed test
    "suppress_health_check": [HealthCheck.too_slow, HealthCheck.data_too_large,
                              HealthCheck.function_scoped_fixture],
}
settings.register_profile("ci", max_examples=CI_EXAMPLES, database=None, derandomize=True,
                          **_COMMON)
settings.register_profile("long", max_examples=int(os.environ.get("GRUE_FUZZ_EXAMPLES", "3000")),
                          **_COMMON)
PROFILE = os.environ.get("HYPOTHESIS_PROFILE", "ci")
FUZZ = settings.get_profile(PROFILE if PROFILE in ("ci", "long") else "ci")

FIXTURES = Path(os.environ.get("GRUE_FIXTURES")
                or Path(__file__).resolve().parents[2] / "shared" / "fixtures")

# --- hostile values and mutations -----------------------------------------------------------

DEEP = "\x00deep:"  # a marker replaced, in the serialized text, by brackets nested N deep
HOSTILE_TEXT = "\x1b]52;c;aGk=\x07\x1b[2J\u202e\u2066[/]\x9b[@click=app.quit]x\r\n\t{{user}}${x}"

hostile_values: st.SearchStrategy[Any] = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.sampled_from([10**400, -(10**400), 2**63, -(2**64), 10**19]),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=40),
    st.just(HOSTILE_TEXT),
    st.integers(min_value=100_000, max_value=2_000_000).map(lambda n: "x" * n),
    st.integers(min_value=50, max_value=1500).map(lambda n: f"{DEEP}{n}"),
    st.lists(st.one_of(st.integers(), st.text(max_size=5), st.none()), max_size=4),
    st.dictionaries(st.text(max_size=6), st.one_of(st.integers(), st.text(max_size=5)),
                    max_size=3),
    st.builds(lambda: [{} for _ in range(20_000)]),  # fresh: mutate_tree edits in place
)


def _places(data: Any) -> list[tuple[Any, Any]]:
    """Every (container, key) pair in a JSON-like tree, found without recursion."""
    out: list[tuple[Any, Any]] = []
    stack = [data]
    while stack:
        node = stack.pop()
        keys = list(node) if isinstance(node, dict) else range(len(node)) \
            if isinstance(node, list) else []
        for key in keys:
            out.append((node, key))
            if isinstance(node[key], dict | list):
                stack.append(node[key])
    return out


def mutate_tree(data: Any, draw: Callable[..., Any], rounds: int = 3) -> Any:
    """`data` (a copy) with a few values replaced, deleted or given odd types."""
    data = json.loads(json.dumps(data))
    for _ in range(draw(st.integers(1, rounds))):
        places = _places(data)
        if not places:
            return draw(hostile_values)
        node, key = places[draw(st.integers(0, len(places) - 1))]
        if draw(st.integers(0, 4)) == 0 and isinstance(node, dict):
            del node[key]
        else:
            node[key] = draw(hostile_values)
    return data


def _undeep(text: str) -> str:
    """Replace each quoted DEEP marker by `[[[...]]]` nested the marker's N deep."""
    marker = json.dumps(DEEP)[:-1]
    while marker in text:
        start = text.index(marker)
        end = text.index('"', start + len(marker))
        depth = int(text[start + len(marker):end])
        text = text[:start] + "[" * depth + "]" * depth + text[end + 1:]
    return text


def json_text(data: Any) -> str:
    return _undeep(json.dumps(data, ensure_ascii=False))


def mutate_bytes(blob: bytes, draw: Callable[..., Any]) -> bytes:
    """Bytes flipped, deleted, inserted, or the file cut short."""
    out = bytearray(blob)
    for _ in range(draw(st.integers(1, 4))):
        if not out:
            break
        pos = draw(st.integers(0, len(out) - 1))
        op = draw(st.integers(0, 4))
        if op == 0:
            out[pos] = draw(st.integers(0, 255))
        elif op == 1:
            del out[pos:pos + draw(st.integers(1, 64))]
        elif op == 2:
            out[pos:pos] = draw(st.binary(min_size=1, max_size=16))
        elif op == 3:
            del out[pos:]
        else:
            out[pos:pos] = b"9" * draw(st.integers(300, 6000))
    return bytes(out)


@st.composite
def mutated_json(draw: Callable[..., Any], seeds: list[Any]) -> bytes:
    """One seed, mutated as a tree, as bytes, or both."""
    seed = seeds[draw(st.integers(0, len(seeds) - 1))]
    how = draw(st.integers(0, 2))
    data = mutate_tree(seed, draw) if how != 1 else seed
    blob = json_text(data).encode("utf-8", "surrogatepass")
    return mutate_bytes(blob, draw) if how != 0 else blob


@pytest.fixture
def rss_bound() -> Iterator[None]:
    """The target may not raise the process's peak memory by more than RSS_BUDGET_MB."""
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    yield
    grown_mb = (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before) / 1024
    assert grown_mb < RSS_BUDGET_MB, f"peak memory grew by {grown_mb:.0f} MB"


def one_line_error(exc: Exception, filename: str) -> None:
    message = str(exc)
    assert "\n" not in message and "\r" not in message, message[:300]
    assert message.startswith(filename), message[:300]
    assert len(message) < 2000, message[:300]


def saves_with(book: Lorebook | None = None, campaign: Campaign | None = None) -> None:
    """What loaded can be saved: the step that broke after a bad lorebook was imported."""
    campaign = campaign or Campaign(title="Fuzz")
    if book is not None:
        campaign.lorebooks.append(book)
    campaign.turns.append(Turn(mode="do", action="look", responses=["You look."]))
    dumps(campaign)


# --- seeds ----------------------------------------------------------------------------------

CARD = Card(
    name="Fuzz", description="A card. {{user}}", personality="odd", first_mes="Hello {{user}}",
    alternate_greetings=["a", "b"], tags=["t"], extensions={"depth_prompt": {"depth": 4}},
    character_book={"name": "B", "entries": [
        {"keys": ["k"], "content": "c", "extensions": {"position": 1, "depth": 4}}]},
)
ST_WORLD = {"entries": {"0": {"uid": 0, "key": ["harbour"], "keysecondary": ["ice"],
                              "comment": "Harbour", "content": "It freezes.", "order": 100,
                              "position": 0, "depth": 4, "probability": 100,
                              "extensions": {"x": 1}}}}
NOVELAI_BOOK = {"lorebookVersion": 4, "entries": [
    {"text": "The keep.", "keys": ["keep"], "displayName": "Keep", "enabled": True,
     "contextConfig": {"insertionPosition": -1, "budgetPriority": 400}}]}
KOBOLD_WI = [{"key": "cp, metro", "keysecondary": "", "content": "Civil protection.",
              "comment": "", "selective": False, "constant": False}]
AID_WI = [{"id": "1", "keys": "nord,nords", "entry": "Nords are tall.", "hidden": False}]
AID_SCENARIO = {"title": "Menu", "prompt": "Who are you, ${name}?", "memory": "m",
                "authorsNote": "n", "worldInfo": json.dumps(AID_WI), "quests": "[]",
                "options": json.dumps([{"title": "A", "prompt": "You are A.", "worldInfo": "[]"}])}
KOBOLD_STORY = {"gamestarted": True, "prompt": "You wake, ${name}.", "memory": "mem",
                "authorsnote": "note", "actions": ["one", "two"], "worldinfo": KOBOLD_WI}
NOVELAI_STORY = {"storyContainerVersion": 1, "metadata": {"title": "T", "tags": ["x"]},
                 "content": {"story": {"fragments": [{"data": "Once.", "origin": "prompt"}]},
                             "context": [{"text": "mem", "contextConfig": {}},
                                         {"text": "note", "contextConfig": {}}],
                             "lorebook": NOVELAI_BOOK,
                             "settings": {"parameters": {"temperature": 0.7}}}}
NOVELAI_SCENARIO = {"scenarioVersion": 3, "title": "S", "prompt": "Hi ${Name}.",
                    "context": [{"text": "mem"}], "lorebook": NOVELAI_BOOK,
                    "placeholders": [{"key": "Name", "description": "name?",
                                      "defaultValue": "Ann"}]}
CHAT_ROWS = [
    {"user_name": "unused", "character_name": "unused", "create_date": "2025-01-01@10h00m00s",
     "chat_metadata": {"note_prompt": "", "x": [1, 2]}},
    {"name": "Mira", "is_user": False, "send_date": "January 1, 2025 10:00am", "mes": "Hi.",
     "swipes": ["Hi.", "Hello."], "swipe_id": 0, "extra": {}},
    {"name": "Ann", "is_user": True, "send_date": "January 1, 2025 10:01am", "mes": "Hey."},
    {"name": "Mira", "is_user": False, "mes": "Well?", "is_system": False},
]


def _fixture_json(name: str) -> list[Any]:
    path = FIXTURES / name
    if not path.is_file():
        return []
    return [json.loads(path.read_text(encoding="utf-8"))]


def lorebook_seeds() -> list[Any]:
    card_v3 = json.loads(card_json_bytes(CARD))
    seeds = [ST_WORLD, CARD.character_book, {"spec": "lorebook_v3", "data": CARD.character_book},
             card_v3, NOVELAI_BOOK, NOVELAI_STORY, KOBOLD_WI, KOBOLD_STORY, AID_WI, AID_SCENARIO]
    for name in ("Eldoria.json", "aidungeon_world_info_races.json"):
        seeds += _fixture_json(name)
    return seeds


def scenario_seeds() -> list[Any]:
    seeds = [KOBOLD_STORY, NOVELAI_STORY, NOVELAI_SCENARIO, AID_SCENARIO, [AID_SCENARIO] * 2]
    for name in ("koboldai_story_half_life_2.json", "novelai_tamriel.story",
                 "aidungeon_scenarios.json"):
        seeds += _fixture_json(name)
    return seeds


def rich_campaign() -> Campaign:
    campaign = campaign_from_card(CARD)
    campaign.memory, campaign.authors_note, campaign.summary = "mem", "note", "so far"
    campaign.world_info.entries.append(LoreEntry(keys=["k"], content="c"))
    campaign.turns.append(Turn(mode="chat", action="hi", responses=["a", "b"], chosen=1))
    return campaign


# --- targets --------------------------------------------------------------------------------


def _charx(card_json: bytes) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, blob in (("card.json", card_json),
                           ("assets/icon/main.png", card_png_bytes(Card(name="icon")))):
            zf.writestr(zipfile.ZipInfo(name, (2024, 1, 1, 0, 0, 0)), blob)
    return buf.getvalue()


def _png_holding(card_json: bytes) -> bytes:
    import base64

    chunks = read_chunks(card_png_bytes(Card(name="x")), "seed")
    plain = [c for c in chunks if not c.data.startswith((b"chara\0", b"ccv3\0"))]
    text = base64.b64encode(card_json).decode("ascii")
    return build_png(plain[:-1] + [text_chunk("chara", text)] + plain[-1:])


@functools.cache
def card_seeds() -> dict[str, Any]:
    """The seed cards, made once: their bytes must not change between examples."""
    v3 = card_json_bytes(CARD)
    return {"json": [json.loads(v3), json.loads(card_json_bytes(CARD, version=2))],
            "png": card_png_bytes(CARD), "charx": _charx(v3)}


@st.composite
def card_files(draw: Callable[..., Any]) -> tuple[str, bytes]:
    seeds = card_seeds()
    card_json = draw(mutated_json(seeds["json"]))
    kind = draw(st.sampled_from(["json", "png", "charx", "png-bytes", "charx-bytes"]))
    if kind == "json":
        return "f.json", card_json
    if kind == "png":
        return "f.png", _png_holding(card_json)
    if kind == "charx":
        return "f.charx", _charx(card_json)
    if kind == "png-bytes":
        return "f.png", mutate_bytes(seeds["png"], draw)
    return "f.charx", mutate_bytes(seeds["charx"], draw)


@FUZZ
@given(card_files())
def test_fuzzed_cards_load_or_raise_a_card_error(rss_bound: None,
                                                 named: tuple[str, bytes]) -> None:
    name, blob = named
    try:
        card = parse_card_bytes(blob, name)
    except CardError as exc:
        one_line_error(exc, name)
        return
    saves_with(campaign=campaign_from_card(card))  # the card starts a chat that saves


@FUZZ
@given(mutated_json(lorebook_seeds()))
def test_fuzzed_lorebooks_load_or_raise_a_lore_format_error(
    rss_bound: None, tmp_path: Path, blob: bytes
) -> None:
    path = tmp_path / "book.json"
    path.write_bytes(blob)
    try:
        book, _fmt = read_lorebook(path)
    except LoreFormatError as exc:
        one_line_error(exc, "book.json")
        return
    saves_with(book)


@FUZZ
@given(mutated_json(scenario_seeds()))
def test_fuzzed_scenarios_import_or_raise_a_scenario_error(
    rss_bound: None, tmp_path: Path, blob: bytes
) -> None:
    path = tmp_path / "scenario.json"
    path.write_bytes(blob)
    try:
        found = import_scenario_file(path)
    except ScenarioError as exc:
        one_line_error(exc, "scenario.json")
        return
    for i, scenario in enumerate(found[:5]):  # written as Grue TOML and read back
        toml_path = tmp_path / f"s{i}.toml"
        toml_path.write_text(tomli_w.dumps(scenario_to_toml_dict(scenario)), encoding="utf-8")
        again = load_scenario(toml_path)
        assert again.opening == scenario.opening
        saves_with(campaign=campaign_from_scenario(again))


@st.composite
def save_files(draw: Callable[..., Any]) -> bytes:
    seed = save_seed()
    how = draw(st.integers(0, 2))
    if how != 1:
        mutated = mutate_tree(seed, draw)
        if not isinstance(mutated, dict):
            mutated = {"turns": [], "x": mutated}
        text = _undeep_toml(_toml_or_none(mutated))
        if text is None:
            text = _undeep_toml(tomli_w.dumps(seed))
    else:
        text = tomli_w.dumps(seed)
    blob = text.encode("utf-8", "surrogatepass")
    return mutate_bytes(blob, draw) if how != 0 else blob


@functools.cache
def save_seed() -> dict[str, Any]:
    """A rich save's table, made once (its id and dates must not change between examples)."""
    import tomllib

    return tomllib.loads(dumps(rich_campaign()))


def _toml_or_none(data: dict[str, Any]) -> str | None:
    """The mutated table as TOML; None values (TOML has none) become a deep marker."""
    def fix(value: Any) -> Any:
        if value is None:
            return f"{DEEP}80"
        if isinstance(value, dict):
            return {k: fix(v) for k, v in value.items()}
        if isinstance(value, list):
            return [fix(v) for v in value]
        return value

    try:
        return tomli_w.dumps(fix(data))
    except (TypeError, ValueError):
        return None


def _undeep_toml(text: Any) -> Any:
    """Replace each quoted DEEP marker by a TOML array nested N deep (valid TOML)."""
    if text is None:
        return None
    marker = '"' + DEEP.replace("\x00", "\\u0000")
    while marker in text:
        start = text.index(marker)
        end = text.index('"', start + len(marker))
        depth = int(text[start + len(marker):end])
        text = text[:start] + "[" * depth + "]" * depth + text[end + 1:]
    return text


@FUZZ
@given(save_files())
def test_fuzzed_saves_load_or_raise_a_save_error(
    rss_bound: None, tmp_path: Path, blob: bytes
) -> None:
    path = tmp_path / "fuzz.toml"
    path.write_bytes(blob)
    try:
        campaign = load_save(path)
    except SaveError as exc:
        one_line_error(exc, "fuzz")
        return
    dumps(campaign)  # what loaded can be written back


@st.composite
def chat_files(draw: Callable[..., Any]) -> bytes:
    rows = mutate_tree(CHAT_ROWS, draw)
    rows = rows if isinstance(rows, list) else [rows]
    text = "".join(json_text(r) + "\n" for r in rows)
    blob = text.encode("utf-8", "surrogatepass")
    return mutate_bytes(blob, draw) if draw(st.booleans()) else blob


@FUZZ
@given(chat_files())
def test_fuzzed_chats_import_or_raise_a_chat_error(
    rss_bound: None, tmp_path: Path, blob: bytes
) -> None:
    path = tmp_path / "chat.jsonl"
    path.write_bytes(blob)
    try:
        chat = read_st_chat(path)
    except StChatError as exc:
        one_line_error(exc, "chat.jsonl")
        return
    saves_with(campaign=campaign_from_st_chat(chat))


def test_the_mutators_make_what_they_promise() -> None:
    """The fuzzers' own tools: deep markers become real nesting, in JSON and in TOML."""
    text = json_text({"a": f"{DEEP}300"})
    assert text == '{"a": ' + "[" * 300 + "]" * 300 + "}"
    toml = _undeep_toml(_toml_or_none({"a": None, "b": [1, None]}))
    assert toml is not None and toml.count("[" * 80 + "]" * 80) == 2
    assert card_png_bytes(CARD)[:8] == PNG_SIGNATURE


@FUZZ
@given(st.data())
def test_the_tree_mutator_changes_the_tree(data: st.DataObject) -> None:
    mutated = mutate_tree(ST_WORLD, data.draw, rounds=1)
    json_text(mutated)  # always serializable
    assert mutated is not ST_WORLD
