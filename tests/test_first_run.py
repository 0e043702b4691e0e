"""What a new player meets before playing: the README's install note and the test summary."""

from __future__ import annotations

import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_skipped_tests_say_why_in_the_summary() -> None:
    config = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    addopts = config["tool"]["pytest"]["ini_options"]["addopts"].split()
    assert "-rs" in addopts


def test_readme_says_what_the_first_install_needs_and_how_long_it_takes() -> None:
    intro = " ".join((ROOT / "README.md").read_text(encoding="utf-8").split("\n## ", 1)[0].split())
    assert "a few minutes" not in intro
    for needed in ("C/C++ compiler", "CMake", "10–25 minutes", "pip install -v"):
        assert needed in intro, needed
