"""Reading another program's JSON file: size cap, UTF-8 (with or without BOM), one-line errors."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from tui.core.text import one_line
from tui.engine.formats.bounds import MAX_FILE_DEPTH, too_deep

MB = 1024 * 1024


def read_json_file(path: Path, max_bytes: int, error: type[Exception], what: str) -> Any:
    """The parsed JSON of `path`; any problem raises `error` with one line naming the file.

    `what` names the kind of file in the size message ("a lorebook", "a scenario").
    """
    label = path.name
    try:
        size = path.stat().st_size
        if size > max_bytes:
            raise error(f"{label}: too large for {what} ({size // MB} MB; the limit is "
                        f"{max_bytes // MB} MB)")
        raw = path.read_bytes()
    except OSError as exc:
        raise error(f"{label}: cannot read ({exc.strerror or exc})") from exc
    if raw.startswith(b"\x89PNG"):
        raise error(f"{label}: a PNG image; import it as a character card")
    try:
        data = json.loads(raw.decode("utf-8-sig"))
    except UnicodeDecodeError as exc:
        raise error(f"{label}: not UTF-8 text (byte {exc.start})") from exc
    except json.JSONDecodeError as exc:
        raise error(
            f"{label}: not valid JSON (line {exc.lineno}, column {exc.colno}: {exc.msg})"
        ) from exc
    except RecursionError as exc:
        raise error(f"{label}: JSON nested too deeply") from exc
    except ValueError as exc:  # e.g. an integer longer than Python will convert
        raise error(f"{label}: not valid JSON ({one_line(str(exc), 120)})") from exc
    if too_deep(data):
        raise error(f"{label}: JSON nested more than {MAX_FILE_DEPTH} levels deep")
    return data
