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


# Set by `grue serve` in a player's game (tui/backends/shared_protocol.py): the game runs with
# the server's permissions, so a path the player types stays in their own folder
# (docs/architecture.md, "grue serve").
SERVED_ENV = ("GRUE_SHARED_MODEL", "GRUE_PLAYER")


class OutsideHome(ValueError):
    """A path typed under `grue serve` that leads out of the player's folder."""


def served() -> bool:
    return any(os.environ.get(name) for name in SERVED_ENV)


def user_path(text: str | os.PathLike[str]) -> Path:
    """A path the player typed (a lorebook, a card, a model file, a save).

    Normally `~` is expanded and the path taken as given. Under `grue serve` it is read
    relative to the player's GRUE_HOME (`~` is that folder), symlinks and `..` are resolved,
    and a path that ends outside that folder raises OutsideHome naming it."""
    if not served():
        return Path(text).expanduser()
    home = grue_home().resolve()
    raw = str(text)
    if raw == "~" or raw.startswith("~/"):
        raw = raw[2:]
    path = (home / raw).resolve()
    if not path.is_relative_to(home):
        raise OutsideHome(f"{text}: outside your Grue folder; on this server only files in "
                          "it can be used")
    return path
