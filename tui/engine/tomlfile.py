"""Reading a TOML file of ours (saves, scenarios): size cap and one-line errors naming it."""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Any

from tui.core.text import one_line
from tui.engine.formats.bounds import MAX_FILE_DEPTH, too_deep


def read_toml_file(path: Path, max_bytes: int, error: type[Exception], what: str) -> dict[str, Any]:
    """The parsed table of `path`; any problem raises `error` naming the file.

    `what` names the kind of file in messages ("save", "scenario file"). Valid TOML nested
    deeper than `MAX_FILE_DEPTH` is refused too: it would break every later step (see
    `formats/bounds.py`).
    """
    name = path.name
    try:
        size = path.stat().st_size
        if size > max_bytes:
            raise error(f"{name}: too large to be a {what} ({size} bytes)")
        with path.open("rb") as fh:
            data = tomllib.load(fh)
    except error:
        raise
    except FileNotFoundError as exc:
        raise error(f"{name}: no such {what}") from exc
    except IsADirectoryError as exc:
        raise error(f"{name}: is a folder, not a {what}") from exc
    except OSError as exc:
        raise error(f"{name}: cannot read: {exc.strerror or exc}") from exc
    except UnicodeDecodeError as exc:
        raise error(f"{name}: not a text file") from exc
    except tomllib.TOMLDecodeError as exc:
        raise error(f"{name}: not valid TOML: {one_line(str(exc))}") from exc
    except RecursionError as exc:
        raise error(f"{name}: nested too deep to be a {what}") from exc
    except (OverflowError, ValueError) as exc:
        raise error(f"{name}: holds a value out of range for a {what}: "
                    f"{one_line(str(exc), 100)}") from exc
    if too_deep(data):
        raise error(f"{name}: nested more than {MAX_FILE_DEPTH} levels deep; not a {what}")
    return data
