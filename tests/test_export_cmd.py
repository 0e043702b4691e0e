"""grue export and export-card, run as a player would."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from tui.engine.campaign import Turn, campaign_from_scenario
from tui.engine.cards import load_card
from tui.engine.character_library import load_character
from tui.engine.chat import campaign_from_card
from tui.engine.saves import write_save
from tui.engine.scenario import find_scenario


def grue(args: list[str], home: Path, cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "GRUE_HOME": str(home)}
    return subprocess.run([sys.executable, "-m", "tui.cli", *args], text=True,
                          capture_output=True, env=env, cwd=cwd, timeout=120)


def test_export_adventure_markdown_and_refuse_jsonl(grue_home: Path, tmp_path: Path) -> None:
    campaign = campaign_from_scenario(find_scenario("lantern-road"))
    campaign.turns.append(Turn("do", "> You open the mailbox.", ["A letter waits."]))
    write_save(campaign)
    run = grue(["export", "--format", "md"], grue_home, tmp_path)
    assert run.returncode == 0, run.stderr
    assert run.stdout.startswith("# The Lantern Road")
    assert "> You open the mailbox." in run.stdout and "A letter waits." in run.stdout
    bad = grue(["export", "--format", "jsonl"], grue_home, tmp_path)
    assert bad.returncode == 1 and "adventure" in bad.stderr


def test_export_chat_as_sillytavern_jsonl_with_swipes(grue_home: Path, tmp_path: Path) -> None:
    campaign = campaign_from_card(load_character("Maren Holloway"), "Ada")
    campaign.turns.append(Turn("chat", "Hello.", ["One.", "Two."], chosen=1))
    write_save(campaign)
    out = tmp_path / "chat.jsonl"
    run = grue(["export", campaign.id, "--format", "jsonl", "-o", str(out)], grue_home, tmp_path)
    assert run.returncode == 0, run.stderr
    lines = [json.loads(line) for line in out.read_text().splitlines()]
    assert lines[0]["user_name"] == "Ada" and lines[0]["character_name"] == "Maren Holloway"
    assert lines[-1]["swipes"] == ["One.", "Two."] and lines[-1]["swipe_id"] == 1


def test_export_card_png_and_json_reimport(grue_home: Path, tmp_path: Path) -> None:
    for fmt in ("png", "json"):
        run = grue(["export-card", "Cassia", "--format", fmt], grue_home, tmp_path)
        assert run.returncode == 0, run.stderr
        [path] = list(tmp_path.glob(f"*.{fmt}"))
        assert load_card(path) == load_character("Cassia")
