"""Renaming and deleting saves (the home screen asks first; nothing here asks).

A save's file is named by its campaign id, which is made from the title and the time the
campaign began (`Campaign.__post_init__`). Renaming gives the campaign a new title and the
id that title would have had, so files keep reading as their games; the backups move with it.
"""

from __future__ import annotations

import os
import time
from pathlib import Path

from tui.engine.campaign import slugify
from tui.engine.saves import BACKUPS, SaveError, load_save, save_path, write_save

MAX_TITLE = 120


def backups_of(path: Path) -> list[Path]:
    """The backup files kept beside a save (`NAME.toml.bak1`, ...), those that exist."""
    found = [path.with_suffix(f".toml.bak{i}") for i in range(1, BACKUPS + 1)]
    return [p for p in found if p.exists()]


def delete_save(path: Path) -> None:
    """Remove a save and its backups. SaveError (one line) if it cannot be removed."""
    try:
        path.unlink()
        for backup in backups_of(path):
            backup.unlink(missing_ok=True)
    except OSError as exc:
        raise SaveError(f"{path.name}: could not delete: {exc.strerror or exc}") from exc


def rename_save(path: Path, title: str) -> Path:
    """Give a save a new title (and the file name that title makes); the new path.

    SaveError when the title is empty or the save cannot be read or written.
    """
    title = " ".join(title.split())[:MAX_TITLE]
    if not title:
        raise SaveError(f"{path.name}: a save needs a name")
    campaign = load_save(path)
    campaign.title = title
    stamp = time.strftime("%Y%m%d-%H%M%S", time.localtime(campaign.created))
    wanted = f"{slugify(title)}-{stamp}"
    if wanted != campaign.id:
        campaign.id = wanted
        n = 1
        while save_path(campaign, path.parent).exists():
            n += 1
            campaign.id = f"{wanted}-{n}"
    new_path = write_save(campaign, path.parent, allow_fewer_turns=True)
    if new_path != path:
        try:
            for backup in backups_of(path):
                os.replace(backup, new_path.with_name(new_path.name + backup.suffix))
            path.unlink()
        except OSError as exc:
            raise SaveError(f"{path.name}: renamed, but the old file stays: "
                            f"{exc.strerror or exc}") from exc
    return new_path
