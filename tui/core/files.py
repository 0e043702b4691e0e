"""Writing one file so that a kill at any moment leaves the old or the new file, never half.

Temp file in the same folder, flush, fsync, `os.replace`, fsync the folder
(docs/architecture.md, "Saves"). Saves, cards and lorebooks all write through here.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

TMP_SUFFIX = ".tmp"


def fsync_dir(folder: Path) -> None:
    """Make renames in `folder` durable (a no-op where folders can't be opened)."""
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def write_atomic(path: Path, data: bytes, *, sync_folder: bool = True,
                 mode: int | None = None) -> None:
    """Replace `path` with `data` in one step. OSError on failure; the old file is untouched.

    The temp file is private (0600) unless `mode` says otherwise (a card is an ordinary
    document; a save is the player's own)."""
    fd, tmp_name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=TMP_SUFFIX, dir=path.parent)
    try:
        if mode is not None:
            os.chmod(tmp_name, mode)
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp_name, path)
    except BaseException:
        Path(tmp_name).unlink(missing_ok=True)
        raise
    if sync_folder:
        fsync_dir(path.parent)
