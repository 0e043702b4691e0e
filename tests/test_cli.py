"""The command line's error contract: 0 ok, 1 reported error (one line), 2 bad usage."""

from __future__ import annotations

from pathlib import Path

import pytest

from tui import cli


@pytest.mark.allow_traceback  # the traceback in the log is what this test checks
def test_a_bug_is_one_line_on_screen_and_a_traceback_in_the_log(
    grue_home: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    def broken(args: object) -> int:
        raise RuntimeError("something inside broke")

    monkeypatch.setattr(cli, "cmd_scenarios", broken)
    assert cli.main(["scenarios"]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "unexpected error: something inside broke" in err
    assert "Traceback" not in err
    assert "Traceback" in (grue_home / "logs" / "grue.log").read_text()


def test_bad_usage_is_exit_2(capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["new", "lantern-road", "--template", "nonesuch"]) == 2
    assert "unknown template" in capsys.readouterr().err


def test_missing_character_is_exit_1(capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["chat", "nobody-at-all", "--plain"]) == 1
    assert capsys.readouterr().err.strip() == "grue: nobody-at-all: no such character or card file"


def test_saves_counts_the_players_turns_in_good_english(
        capsys: pytest.CaptureFixture[str]) -> None:
    from tui.engine.campaign import OPENING, Campaign, Turn
    from tui.engine.saves import write_save

    campaign = Campaign(title="Counted")
    campaign.turns += [Turn(OPENING, responses=["Dark."]), Turn("do", "> You wait.", ["Rain."])]
    write_save(campaign)
    assert cli.main(["saves"]) == 0
    line = next(x for x in capsys.readouterr().out.splitlines() if "Counted" in x)
    assert " 1 turn " in line and "turns" not in line
