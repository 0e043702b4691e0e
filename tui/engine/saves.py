"""Saves: one TOML file per campaign, written atomically, with rotating backups.

A save is never replaced by a state with fewer turns unless the player did that on
purpose (undo), and a save that fails to load is reported and left untouched.
"""

from __future__ import annotations

import os
import tempfile
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import tomli_w

from tui.core.paths import saves_dir
from tui.core.text import count, one_line
from tui.engine.campaign import OPENING, Campaign, Settings, Turn
from tui.engine.lore import Lorebook, LoreState
from tui.engine.tomlfile import read_toml_file

FORMAT_VERSION = 1
BACKUPS = 3
MAX_SAVE_BYTES = 64 * 1024 * 1024


class SaveError(Exception):
    """A save could not be read or written; the message is one line naming the file."""


@dataclass(frozen=True)
class SaveSummary:
    path: Path
    id: str
    title: str
    kind: str
    turns: int
    updated: float
    player_turns: int = -1  # turns the player took (the opening is not one); -1: unknown


def campaign_to_dict(c: Campaign) -> dict[str, Any]:
    data: dict[str, Any] = {
        "format": FORMAT_VERSION,
        "id": c.id,
        "title": c.title,
        "kind": c.kind,
        "scenario": c.scenario,
        "created": c.created,
        "updated": c.updated,
        "memory": c.memory,
        "authors_note": c.authors_note,
        "note_depth": c.note_depth,
        "summary": c.summary,
        "summary_enabled": c.summary_enabled,
        "summary_upto": c.summary_upto,
        "settings": c.settings.to_dict(),
        "world_info": c.world_info.to_dict(),
        "lorebooks": [b.to_dict() for b in c.lorebooks],
        "lore_state": c.lore_state.to_dict(),
        "turns": [t.to_dict() for t in c.turns],
        "redo": [t.to_dict() for t in c.redo_stack],
    }
    if c.extra:
        data["extra"] = c.extra
    return data


def campaign_from_dict(data: dict[str, Any]) -> Campaign:
    if not isinstance(data.get("turns", []), list):
        raise ValueError("'turns' is not a list")
    c = Campaign(
        title=str(data.get("title", "Untitled")),
        kind=str(data.get("kind", "adventure")),
        id=str(data.get("id", "")),
        scenario=str(data.get("scenario", "")),
        memory=str(data.get("memory", "")),
        authors_note=str(data.get("authors_note", "")),
        note_depth=int(data.get("note_depth", 3)),
        summary=str(data.get("summary", "")),
        summary_enabled=bool(data.get("summary_enabled", True)),
        summary_upto=int(data.get("summary_upto", 0)),
        created=float(data.get("created", 0.0)),
        updated=float(data.get("updated", 0.0)),
        settings=Settings.from_dict(data.get("settings", {})),
        extra=dict(data.get("extra", {})),
    )
    if "world_info" in data:
        c.world_info = Lorebook.from_dict(data["world_info"])
    c.lorebooks = [Lorebook.from_dict(b) for b in data.get("lorebooks", [])]
    c.lore_state = LoreState.from_dict(data.get("lore_state", {}))
    c.turns = [Turn.from_dict(t) for t in data["turns"]] if "turns" in data else []
    c.redo_stack = [Turn.from_dict(t) for t in data.get("redo", [])]
    return c


def dumps(c: Campaign) -> str:
    return tomli_w.dumps(campaign_to_dict(c), multiline_strings=True)


def save_path(c: Campaign, folder: Path | None = None) -> Path:
    return (folder or saves_dir()) / f"{c.id}.toml"


def _turn_count_on_disk(path: Path) -> int | None:
    """Turns in the save at `path`, or None when there's no readable save there."""
    try:
        with path.open("rb") as fh:
            data = tomllib.load(fh)
    except (OSError, tomllib.TOMLDecodeError, UnicodeDecodeError):
        return None
    turns = data.get("turns", [])
    return len(turns) if isinstance(turns, list) else None


def _fsync_dir(folder: Path) -> None:
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


def _rotate_backups(path: Path) -> None:
    for i in range(BACKUPS - 1, 0, -1):
        older = path.with_suffix(f".toml.bak{i}")
        if older.exists():
            os.replace(older, path.with_suffix(f".toml.bak{i + 1}"))
    if path.exists():
        os.replace(path, path.with_suffix(".toml.bak1"))


def write_save(c: Campaign, folder: Path | None = None, *, allow_fewer_turns: bool = False) -> Path:
    """Write the campaign atomically: temp file, fsync, rename, fsync the folder.

    Refuses to replace a save holding more turns unless `allow_fewer_turns` (the player
    undid turns on purpose). The previous file is kept as the newest backup.
    """
    path = save_path(c, folder)
    path.parent.mkdir(parents=True, exist_ok=True)
    text = dumps(c)
    on_disk = _turn_count_on_disk(path) if path.exists() else None
    if on_disk is not None and len(c.turns) < on_disk and not allow_fewer_turns:
        raise SaveError(
            f"{path.name}: not saved: it would replace {count(on_disk, 'turn')} with {len(c.turns)}"
        )
    fd, tmp_name = tempfile.mkstemp(prefix=f".{path.stem}.", suffix=".tmp", dir=path.parent)
    tmp = Path(tmp_name)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(text)
            fh.flush()
            os.fsync(fh.fileno())
        # Check what we wrote reads back before it replaces anything.
        load_save(tmp)
        _rotate_backups(path)
        os.replace(tmp, path)
        _fsync_dir(path.parent)
    except SaveError:
        tmp.unlink(missing_ok=True)
        raise
    except OSError as exc:
        tmp.unlink(missing_ok=True)
        raise SaveError(f"{path.name}: could not write: {exc.strerror or exc}") from exc
    return path


def load_save(path: Path) -> Campaign:
    """Read a save; any problem is a one-line SaveError and the file is left as it is."""
    name = path.name
    data = read_toml_file(path, MAX_SAVE_BYTES, SaveError, "save")
    if not isinstance(data, dict) or "turns" not in data:
        raise SaveError(f"{name}: not a Grue save (no turns)")
    try:
        return campaign_from_dict(data)
    except (TypeError, ValueError, KeyError, AttributeError) as exc:
        raise SaveError(f"{name}: damaged save: {one_line(str(exc))}") from exc


def list_saves(folder: Path | None = None) -> list[SaveSummary]:
    """Saves, newest first. Unreadable files are skipped here (load reports them)."""
    out: list[SaveSummary] = []
    for path in (folder or saves_dir()).glob("*.toml"):
        try:
            with path.open("rb") as fh:
                data = tomllib.load(fh)
            turns = data.get("turns", [])
            out.append(
                SaveSummary(
                    path,
                    str(data.get("id", path.stem)),
                    one_line(str(data.get("title", path.stem)), 60),
                    str(data.get("kind", "adventure")),
                    len(turns) if isinstance(turns, list) else 0,
                    float(data.get("updated", path.stat().st_mtime)),
                    _player_turns(turns),
                )
            )
        except (OSError, tomllib.TOMLDecodeError, UnicodeDecodeError, TypeError, ValueError):
            continue
    out.sort(key=lambda s: s.updated, reverse=True)
    return out


def _player_turns(turns: object) -> int:
    if not isinstance(turns, list):
        return 0
    return sum(1 for t in turns if not (isinstance(t, dict) and t.get("mode") == OPENING))


def find_save(name: str | None, folder: Path | None = None) -> Path:
    """The save a player named (id, title, file or path), or the newest one."""
    if name:
        direct = Path(name).expanduser()
        if direct.suffix == ".toml" and direct.exists():
            return direct
        base = folder or saves_dir()
        for candidate in (base / name, base / f"{name}.toml"):
            if candidate.suffix == ".toml" and candidate.is_file():
                return candidate
    saves = list_saves(folder)
    if not saves:
        raise SaveError("no saves yet: start one with 'grue new SCENARIO'")
    if not name:
        return saves[0].path
    wanted = name.lower()
    for matches in (
        [s for s in saves if s.id.lower() == wanted or s.path.stem.lower() == wanted],
        [s for s in saves if s.title.lower() == wanted],
        [s for s in saves if s.id.lower().startswith(wanted) or wanted in s.title.lower()],
    ):
        if matches:
            return matches[0].path
    raise SaveError(f"{name}: no save by that name ('grue resume' lists none like it)")
