"""Writing one file so that a kill at any moment leaves the old or the new file, never half.

Temp file in the same folder, flush, fsync, `os.replace`, fsync the folder
(docs/architecture.md, saves).
"""

from __future__ import annotations

import time
from pathlib import Path

from tui.core.files import TMP_SUFFIX, fsync_dir, write_atomic

__all__ = ["TMP_SUFFIX", "clean_tmp", "fsync_dir", "write_atomic"]

STALE_TMP_SECONDS = 0.0  # temp files are only ours while a write runs; the lock says it is over


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
