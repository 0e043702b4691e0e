"""`grue context SAVE [--json]`: the next prompt and its report, in the model's own tokens."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from tui.engine import context_json
from tui.engine.campaign import OPENING, Campaign, Turn
from tui.engine.lore import LoreEntry
from tui.engine.saves import write_save
from tui.engine.world import WorldState

SCHEMA_KEYS = {
    "schema", "prompt", "total_tokens", "window", "budget", "reply_tokens", "history",
    "segments", "tokens_by_kind", "fired", "dropped", "trimmed", "stop", "world",
}
MEMORY = "You are Wren, a lamplighter of the old guild, sworn to keep the road lit."


def run(home: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ, GRUE_HOME=str(home))
    return subprocess.run(
        [sys.executable, "-m", "tui.cli", "context", *args],
        capture_output=True, text=True, env=env, timeout=120,
        cwd=Path(__file__).resolve().parents[1],
    )


def long_campaign() -> Campaign:
    c = Campaign(title="Road", memory=MEMORY, authors_note="Keep it eerie.")
    c.settings.n_ctx = 1024
    c.settings.max_new_tokens = 100
    c.turns.append(Turn(OPENING, responses=["The road is dark and the lamps are out."]))
    for i in range(60):
        c.turns.append(Turn("do", f"> You walk to lamp post {i}.",
                            [f"Lamp post {i} is cold. You fill it with oil and it glows."]))
    c.world = WorldState(place="lamp post 59", exits=["the road back", "the tower"],
                         items=["brass lantern", "oil flask"], quests=["reach the tower"])
    c.add_lore(LoreEntry(name="Mailbox", keys=["mailbox"], order=500,
                         content="The mailbox holds a letter from the Warden."))
    c.add_lore(LoreEntry(name="Lantern", keys=["lantern"], order=600,  # the story never says it
                         content="The lantern was the Warden's."))
    for i in range(12):  # all fire on "oil"; the world-info budget cannot hold them all
        c.add_lore(LoreEntry(name=f"Oil {i}", keys=["oil"], order=100 + i,
                             content=f"Oil fact {i}: " + "lamp oil burns slowly " * 12))
    return c


@pytest.fixture(scope="module")
def json_report(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    home = tmp_path_factory.mktemp("home")
    write_save(long_campaign(), home / "saves")
    result = run(home, "road", "--json", "--action", "open the mailbox")
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def test_json_schema_is_stable_and_documented(json_report: dict[str, Any]) -> None:
    assert set(json_report) == SCHEMA_KEYS
    assert json_report["schema"] == context_json.SCHEMA_VERSION == 1
    doc = context_json.__doc__ or ""
    for key in SCHEMA_KEYS:
        assert f'"{key}"' in doc, key
    assert set(json_report["segments"][0]) == {"kind", "label", "tokens", "start"}
    assert set(json_report["fired"][0]) == {"entry", "book", "key", "reason", "tokens",
                                            "position", "depth"}
    assert set(json_report["dropped"][0]) == {"entry", "book", "reason"}
    assert set(json_report["trimmed"][0]) == {"what", "reason"}
    assert set(json_report["history"]) == {"start", "total"}


def test_json_report_content(json_report: dict[str, Any]) -> None:
    r = json_report
    assert r["window"] == 1024 and r["reply_tokens"] == 100 and r["budget"] == 924
    assert r["total_tokens"] <= r["budget"]
    segments = r["segments"]
    assert sum(s["tokens"] for s in segments) == r["total_tokens"]
    assert [s["start"] for s in segments] == sorted(s["start"] for s in segments)
    assert MEMORY in r["prompt"]
    assert r["prompt"].rstrip().endswith("<|im_start|>assistant")  # SmolLM2's ChatML
    assert "> You open the mailbox." in r["prompt"]
    fired = {f["entry"]: f for f in r["fired"]}
    assert fired["Mailbox"]["key"] == "mailbox"
    assert fired["Mailbox"]["position"] == "depth" and fired["Mailbox"]["depth"] == 4
    assert any(f["key"] == "oil" for f in r["fired"])
    assert fired["Lantern"]["reason"] == 'state: item "brass lantern" (key "lantern")'
    assert r["dropped"] and all(d["entry"].startswith("Oil") for d in r["dropped"])
    assert any(t["what"].startswith("story messages") for t in r["trimmed"])
    assert r["history"]["start"] > 0 and r["history"]["total"] == 121
    assert "Lamp post 0 is cold" not in r["prompt"]  # trimmed away
    kinds = {s["kind"] for s in segments}
    assert {"memory", "lore", "note", "story", "action", "template"} <= kinds


def test_counts_are_the_models_own_tokens(json_report: dict[str, Any], smol_path: Path) -> None:
    from tui.backends.local import LocalBackend, route_llama_log

    route_llama_log()
    started = time.monotonic()
    vocab = LocalBackend(smol_path, n_ctx=1024, vocab_only=True)
    vocab.load()
    assert time.monotonic() - started < 10  # no weights: a fraction of a second normally
    memory = next(s for s in json_report["segments"] if s["kind"] == "memory")
    assert memory["tokens"] == len(vocab.tokenize(MEMORY, special=False))
    assert memory["tokens"] != len(MEMORY.split())  # not a word count
    assert vocab.tokenize("<|im_start|>", special=True) == [1]
    assert vocab.info.n_ctx == 1024 and vocab.info.chat_template


def test_text_report(tmp_path: Path) -> None:
    home = tmp_path / "home"
    write_save(long_campaign(), home / "saves")
    result = run(home)  # the newest save
    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert out.startswith("Prompt: ") and "of a 1024-token window" in out
    assert MEMORY in out
    for heading in ("Segments:", "World info fired:", "Matched but dropped:", "Left out:"):
        assert heading in out
    assert "Oil 11 (World info)" in out and "Mailbox" not in out  # no action: no mailbox
    fired = [line for line in out.splitlines() if line.startswith("  Oil ") and "tokens," in line]
    assert fired and all(line.endswith(", depth 4") for line in fired)  # not a bare "depth"


def test_output_into_a_closed_pipe_ends_quietly(tmp_path: Path) -> None:
    home = tmp_path / "home"
    write_save(long_campaign(), home / "saves")
    env = dict(os.environ, GRUE_HOME=str(home))
    proc = subprocess.Popen([sys.executable, "-m", "tui.cli", "context"], env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            cwd=Path(__file__).resolve().parents[1])
    assert proc.stdout is not None and proc.stderr is not None
    proc.stdout.close()  # like `| head` that has read enough: nobody will read
    err = proc.stderr.read()
    assert proc.wait(timeout=120) == 141
    assert err == ""  # not "grue: [Errno 32] Broken pipe", not a traceback


def test_broken_or_missing_save_is_one_line(tmp_path: Path) -> None:
    home = tmp_path / "home"
    (home / "saves").mkdir(parents=True)
    bad = home / "saves" / "broken.toml"
    bad.write_text("title = [unclosed\n", encoding="utf-8")
    result = run(home, str(bad))
    assert result.returncode == 1
    assert result.stdout == ""
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("grue: broken.toml: ")
    assert bad.read_text(encoding="utf-8") == "title = [unclosed\n"  # left untouched


def test_the_world_state_sits_in_the_late_note_just_before_the_newest_action(
        json_report: dict[str, Any], smol_path: Path) -> None:
    """In SmolLM2's own tokens: the state's lines (after the lore its names fire) come
    after the whole story, in the world's own note, then the late note and the action."""
    from tui.backends.local import LocalBackend, route_llama_log

    world = ("Where: lamp post 59; exits: the road back, the tower\n"
             "Carrying: brass lantern, oil flask\nQuests: reach the tower")
    assert json_report["world"] == world
    text = json_report["prompt"]
    assert text.rindex("Oil fact") < text.rindex(world)  # fired by the carried oil flask
    kinds = [s["kind"] for s in json_report["segments"]]
    at = len(kinds) - 1 - kinds[::-1].index("world")
    assert "story" not in kinds[at:]
    after = kinds[at + 1:]  # the world note's end, then the late note, then the action
    assert after.index("note") < after.index("action") and "world" not in after
    assert after.count("template") <= 6  # two notes' ends, a start, the action, the reply
    route_llama_log()
    vocab = LocalBackend(smol_path, n_ctx=1024, vocab_only=True)
    vocab.load()
    segment = json_report["segments"][at]
    assert segment["tokens"] == len(vocab.tokenize(json_report["world"], special=False))
    assert json_report["prompt"].index(world) > json_report["prompt"].index("Lamp post 59 is")
