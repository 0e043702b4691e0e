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
