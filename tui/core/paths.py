"""Where player data lives: one home folder (`GRUE_HOME`, else the platform's data folder)."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import platformdirs


def grue_home() -> Path:
    """The player's home folder, created on first use."""
    env = os.environ.get("GRUE_HOME")
    default = platformdirs.user_data_dir("grue", appauthor=False)
    home = Path(env).expanduser() if env else Path(default)
    home.mkdir(parents=True, exist_ok=True)
    return home


def home_subdir(name: str) -> Path:
    path = grue_home() / name
    path.mkdir(parents=True, exist_ok=True)
    return path


def saves_dir() -> Path:
    return home_subdir("saves")


def log_path() -> Path:
    return home_subdir("logs") / "grue.log"


def bundled_dir(name: str) -> Path | None:
    """A bundled content folder (`scenarios`, `characters`).

    From a checkout or editable install it is beside the `tui` package; a plain
    `pip install .` puts it under `<prefix>/share/grue/`.
    """
    here = Path(__file__).resolve().parents[2] / name
    if here.is_dir():
        return here
    for prefix in (sys.prefix, sys.base_prefix):
        installed = Path(prefix) / "share" / "grue" / name
        if installed.is_dir():
            return installed
    return None
