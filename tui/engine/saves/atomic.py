"""Writing one file so that a kill at any moment leaves the old or the new file, never half.

Temp file in the same folder, flush, fsync, `os.replace`, fsync the folder
(docs/architecture.md, saves).
"""

from __future__ import annotations

import os
import tempfile
import time
from pathlib import Path

TMP_SUFFIX = ".tmp"
STALE_TMP_SECONDS = 0.0  # temp files are only ours while a write runs; the lock says it is over


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


def write_atomic(path: Path, data: bytes, *, sync_folder: bool = True) -> None:
    """Replace `path` with `data` in one step. OSError on failure; the old file is untouched."""
    fd, tmp_name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=TMP_SUFFIX, dir=path.parent)
    try:
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


def clean_tmp(folder: Path, older_than: float = STALE_TMP_SECONDS) -> int:
    """Remove temp files left by a write that was killed. Call only while holding the lock."""
    removed = 0
    now = time.time()
    try:
        names = list(folder.glob(f".*{TMP_SUFFIX}"))
    except OSError:
        return 0
    for tmp in names:
        try:
            if now - tmp.stat().st_mtime >= older_than:
                tmp.unlink()
                removed += 1
        except OSError:
            continue
    return removed
