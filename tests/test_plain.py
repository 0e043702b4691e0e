"""Plain line mode end to end, as a script would use it, with the real model."""

from __future__ import annotations

import os
import subprocess
import sys
import tomllib
from pathlib import Path
from typing import Any

import pytest

from tui.engine.saves import dumps, load_save

pytestmark = pytest.mark.model


def grue(
    args: list[str], stdin: str, home: Path, timeout: float = 300
) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "GRUE_HOME": str(home)}
    return subprocess.run([sys.executable, "-m", "tui.cli", *args], input=stdin, text=True,
                          capture_output=True, env=env, timeout=timeout)


def saves(home: Path) -> list[Path]:
    return sorted(state.parent for state in (home / "saves").glob("*/campaign.toml"))


def whole(save: Path) -> dict[str, Any]:
    """The save as one table (state and turns), as `grue export --format toml` writes it."""
    return tomllib.loads(dumps(load_save(save)))


def test_new_plain_prints_narration_and_leaves_a_save(grue_home: Path) -> None:
    run = grue(["new", "lantern-road", "--plain", "--seed", "1", "--max-tokens", "48"],
               "open the mailbox\n/quit\n", grue_home)
    assert run.returncode == 0, run.stderr
    out = run.stdout
    assert "The Lantern Road" in out
    assert "> You open the mailbox." in out
    narration = out.split("> You open the mailbox.", 1)[1].strip()
    assert len(narration.split()) >= 5
    assert "\x1b" not in out
    [save] = saves(grue_home)
    data = whole(save)
    assert data["turns"][-1]["action"] == "> You open the mailbox."

    again = grue(["resume", "--plain", "--max-tokens", "32"], "look at the lantern\n", grue_home)
    assert again.returncode == 0, again.stderr
    assert "> You open the mailbox." in again.stdout  # the recap
    assert "> You look at the lantern." in again.stdout
    data = whole(save)
    assert len(data["turns"]) == 3


def test_seed_makes_a_run_repeatable(tmp_path: Path) -> None:
    runs = [
        grue(["new", "rain-on-ninth", "--plain", "--seed", "5", "--max-tokens", "32"],
             "say who sent you\n", tmp_path / f"home{i}")
        for i in range(2)
    ]
    assert runs[0].returncode == runs[1].returncode == 0
    assert runs[0].stdout == runs[1].stdout


def test_commands_in_plain_mode(grue_home: Path) -> None:
    script = "/memory\n/note Short and grim.\nwait\n/undo\n/redo\n/retry\n/bogus\n/help\n"
    run = grue(["new", "derelict-meridian", "--plain", "--seed", "2", "--max-tokens", "24"],
               script, grue_home)
    assert run.returncode == 0, run.stderr
    assert "salvage pilot" in run.stdout  # /memory printed it
    assert "unknown command /bogus" in run.stderr
    assert "/retry" in run.stdout  # help
    data = whole(saves(grue_home)[0])
    assert data["authors_note"] == "Short and grim."
    assert len(data["turns"]) == 2 and len(data["turns"][1]["responses"]) == 2


def test_errors_are_one_line_with_status(grue_home: Path, tmp_path: Path) -> None:
    missing = grue(["new", "no-such-scenario", "--plain"], "", grue_home, timeout=60)
    assert missing.returncode == 1
    assert missing.stderr.count("\n") == 1 and "no such scenario" in missing.stderr
    bad = tmp_path / "bad.gguf"
    bad.write_bytes(b"not a model at all")
    run = grue(["new", "lantern-road", "--plain", "--model", str(bad)], "look\n", grue_home,
               timeout=60)
    assert run.returncode == 1
    assert "Traceback" not in run.stderr and "bad.gguf" in run.stderr
    usage = grue(["new", "lantern-road", "--ctx", "12"], "", grue_home, timeout=60)
    assert usage.returncode == 2
    broken = grue_home / "saves"
    broken.mkdir(parents=True, exist_ok=True)
    (broken / "zz.toml").write_text("this is = = not toml")
    resume = grue(["resume", "zz.toml", "--plain"], "", grue_home, timeout=60)
    assert resume.returncode == 1 and "zz.toml" in resume.stderr
    assert (broken / "zz.toml").read_text() == "this is = = not toml"


def test_lorebook_option_and_lore_command(grue_home: Path) -> None:
    fixture = Path(__file__).resolve().parents[2] / "shared" / "fixtures" / "Eldoria.json"
    if not fixture.exists():
        pytest.skip("shared fixtures are not here")
    run = grue(["new", "lantern-road", "--plain", "--seed", "1", "--max-tokens", "16",
                "--lorebook", str(fixture)], f"/lore\n/lore {fixture}\n/lore nope.json\n",
               grue_home, timeout=120)
    assert run.returncode == 0, run.stderr
    assert "Eldoria: 4/4 entries enabled" in run.stdout
    assert "attached lorebook Eldoria (4 entries)" in run.stderr
    assert "nope.json: no such lorebook file" in run.stderr
    data = whole(saves(grue_home)[0])
    assert [b["name"] for b in data["lorebooks"]] == ["Eldoria", "Eldoria"]
