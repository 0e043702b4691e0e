"""Saves: one folder per campaign, written so a save costs the same at turn 10 and 10,000.

The layout is in `folder.py` and saves/README.md. A save is never replaced by a state with
fewer turns unless the player did that on purpose (undo), a save that fails to load is
reported and left untouched, one process plays a save at a time (a lock naming its holder),
and older formats (a single TOML file per campaign) load and become a folder on their next
save.
"""

from __future__ import annotations

import shutil
import threading
import time
from dataclasses import dataclass
from pathlib import Path

from tui.core.paths import saves_dir
from tui.core.text import one_line
from tui.engine.campaign import OPENING, Campaign, slugify
from tui.engine.saves import lock as _lock
from tui.engine.saves.codec import campaign_from_dict, campaign_to_dict, dumps_table
from tui.engine.saves.errors import SaveError
from tui.engine.saves.folder import (
    BACKUPS,
    STATE_NAME,
    SaveLink,
    SavePlan,
    bind,
    claim_folder,
    commit_plan,
    is_campaign_folder,
    link_of,
    load_folder,
    plan_folder,
    summary_fields,
    unbind,
)
from tui.engine.saves.migrate import FORMAT_VERSION, upgrade
from tui.engine.tomlfile import read_toml_file

__all__ = [
    "BACKUPS",
    "FORMAT_VERSION",
    "SaveError",
    "SavePlan",
    "SaveSummary",
    "campaign_from_dict",
    "campaign_to_dict",
    "commit_save",
    "delete_save",
    "dumps",
    "find_save",
    "list_saves",
    "load_save",
    "prepare_save",
    "release_save",
    "rename_save",
    "save_path",
    "unbind",
    "write_save",
]

MAX_SAVE_BYTES = 64 * 1024 * 1024
_BAD_DATA = (TypeError, ValueError, KeyError, AttributeError, OverflowError, RecursionError)
_claim_guard = threading.RLock()  # one first save claims a folder at a time


@dataclass(frozen=True)
class SaveSummary:
    path: Path
    id: str
    title: str
    kind: str
    turns: int
    updated: float
    player_turns: int = -1  # turns the player took (the opening is not one); -1: unknown

    def __post_init__(self) -> None:
        # Read from a file that may come from anywhere: what the lists print is cleaned here,
        # once ("Untrusted text" in docs/architecture.md).
        for name in ("id", "title", "kind"):
            object.__setattr__(self, name, one_line(getattr(self, name), 200))


def dumps(c: Campaign) -> str:
    """The whole campaign as one TOML document (what `grue export --format toml` writes)."""
    return dumps_table(campaign_to_dict(c, FORMAT_VERSION))


def save_path(c: Campaign, folder: Path | None = None) -> Path:
    """The campaign's folder (where `write_save` puts it)."""
    link = link_of(c)
    if link is not None and folder is None and link.legacy is None:
        return link.folder
    return (folder or saves_dir()) / c.id


def write_save(c: Campaign, folder: Path | None = None, *, allow_fewer_turns: bool = False) -> Path:
    """Save what changed since the last save; returns the campaign's folder.

    Refuses (SaveError, nothing written) to replace a save holding more turns unless
    `allow_fewer_turns` (the player undid turns on purpose), to write a save another process
    holds, or one changed on disk since it was read. Takes the save's lock for this process.
    """
    return commit_save(prepare_save(c, folder, allow_fewer_turns=allow_fewer_turns))


def prepare_save(c: Campaign, folder: Path | None = None, *,
                 allow_fewer_turns: bool = False) -> SavePlan:
    """Serialise a save now, on the thread that changes `c` (a consistent snapshot); write it
    with `commit_save`, on any thread (docs/architecture.md, "Saves"). A campaign's first
    save claims its folder here (a new id when it is taken)."""
    base = folder or saves_dir()
    with _claim_guard:
        link = link_of(c)
        if link is not None and link.folder.parent.resolve() != base.resolve():
            link = None  # saving somewhere else: a new save there
        try:
            if link is None or (link.legacy is not None and not link.folder.is_dir()):
                legacy = link.legacy if link is not None else None
                link = claim_folder(c, base, legacy)
                bind(c, link)
            return plan_folder(c, link, allow_fewer_turns)
        except OSError as exc:
            raise _write_error(c, link, exc.strerror or str(exc)) from exc
        except _BAD_DATA as exc:
            raise _write_error(c, link, one_line(str(exc) or type(exc).__name__)) from exc


def commit_save(plan: SavePlan) -> Path:
    """Write a prepared save (skipped when a newer one was written already); its folder."""
    try:
        commit_plan(plan)
    except OSError as exc:
        raise SaveError(f"{plan.folder.name}: could not write: {exc.strerror or exc}") from exc
    except _BAD_DATA as exc:
        raise SaveError(f"{plan.folder.name}: could not write: "
                        f"{one_line(str(exc) or type(exc).__name__)}") from exc
    return plan.folder


def _write_error(c: Campaign, link: SaveLink | None, why: str) -> SaveError:
    name = link.folder.name if link is not None else c.id
    return SaveError(f"{name}: could not write: {why}")


def release_save(c: Campaign) -> None:
    """Let another process play this campaign (the lock is also dropped at exit)."""
    link = link_of(c)
    if link is not None:
        _lock.release(link.folder)


def load_save(path: Path, *, lock: bool = False) -> Campaign:
    """Read a save (a campaign folder, its campaign.toml, or an old single file).

    Any problem is a one-line SaveError and the files are left as they are. `lock` takes
    the save for this process first (to play it), refusing one another process holds.
    """
    if path.name == STATE_NAME and path.is_file():
        path = path.parent
    if path.is_dir():
        if not is_campaign_folder(path):
            raise SaveError(f"{path.name}: not a Grue save (no {STATE_NAME})")
        if lock:
            _lock.acquire(path)
        return load_folder(path)
    migrated = path.with_suffix("")
    if path.suffix == ".toml" and is_campaign_folder(migrated):
        return load_save(migrated, lock=lock)  # killed before the old file was moved aside
    return _load_single_file(path)


def _load_single_file(path: Path) -> Campaign:
    """A format-1 save (one TOML file); it becomes a folder on its next save."""
    name = path.name
    try:
        data = read_toml_file(path, MAX_SAVE_BYTES, SaveError, "save")
    except RecursionError as exc:
        raise SaveError(f"{name}: damaged save: nested too deep") from exc
    if not isinstance(data, dict) or "turns" not in data:
        raise SaveError(f"{name}: not a Grue save (no turns)")
    data = upgrade(data, name)
    try:
        c = campaign_from_dict(data)
    except _BAD_DATA as exc:
        raise SaveError(f"{name}: damaged save: {one_line(str(exc))}") from exc
    bind(c, SaveLink(folder=path.parent / c.id, legacy=path, turn_count=len(c.turns)))
    return c


def _single_file_summary(path: Path) -> SaveSummary:
    data = read_toml_file(path, MAX_SAVE_BYTES, SaveError, "save")
    turns = data.get("turns", [])
    return SaveSummary(
        path,
        str(data.get("id", path.stem)),
        one_line(str(data.get("title", path.stem)), 60),
        str(data.get("kind", "adventure")),
        len(turns) if isinstance(turns, list) else 0,
        float(data.get("updated", path.stat().st_mtime)),
        _player_turns(turns),
    )


def _player_turns(turns: object) -> int:
    if not isinstance(turns, list):
        return 0
    return sum(1 for t in turns if not (isinstance(t, dict) and t.get("mode") == OPENING))


def list_saves(folder: Path | None = None) -> list[SaveSummary]:
    """Saves, newest first, from each folder's small state file (old single files: parsed).

    Unreadable ones are skipped here (loading reports them).
    """
    base = folder or saves_dir()
    out: list[SaveSummary] = []
    seen: set[str] = set()
    try:
        entries = sorted(base.iterdir())
    except OSError:
        return []
    for path in entries:
        try:
            if path.is_dir() and is_campaign_folder(path):
                f = summary_fields(path)
                out.append(SaveSummary(path, f["id"], one_line(f["title"], 60), f["kind"],
                                       f["turns"], f["updated"], f["player_turns"]))
                seen.add(path.name)
        except (SaveError, OSError, *_BAD_DATA):
            continue
    for path in entries:
        if path.suffix != ".toml" or not path.is_file() or path.stem in seen:
            continue
        try:
            out.append(_single_file_summary(path))
        except (SaveError, OSError, *_BAD_DATA):
            continue
    out.sort(key=lambda s: s.updated, reverse=True)
    return out


def find_save(name: str | None, folder: Path | None = None) -> Path:
    """The save a player named (id, title, folder, file or path), or the newest one."""
    if name:
        direct = Path(name).expanduser()
        if direct.is_dir() and is_campaign_folder(direct):
            return direct
        if direct.suffix == ".toml" and direct.is_file():
            return direct
        base = folder or saves_dir()
        if is_campaign_folder(base / name):
            return base / name
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


def delete_save(path: Path) -> None:
    """Remove a save (a campaign folder, or an old single file and its `.bakN` files).

    Refused, in one line, while another process plays it. SaveError if it cannot be removed.
    """
    try:
        if path.is_dir():
            if not is_campaign_folder(path):
                raise SaveError(f"{path.name}: not a Grue save (no {STATE_NAME})")
            _lock.acquire(path)
            try:
                shutil.rmtree(path)
            finally:
                _lock.release(path)
            return
        path.unlink()
        for i in range(1, BACKUPS + 1):
            path.with_suffix(f".toml.bak{i}").unlink(missing_ok=True)
    except OSError as exc:
        raise SaveError(f"{path.name}: could not delete: {exc.strerror or exc}") from exc


def rename_save(path: Path, title: str, max_title: int = 120) -> Path:
    """Give a save a new title and the id (folder name) that title makes; the new path.

    The campaign is written complete under its new folder before the old one is removed.
    SaveError when the title is empty or the save cannot be read, written or is in use.
    """
    title = " ".join(title.split())[:max_title]
    if not title:
        raise SaveError(f"{path.name}: a save needs a name")
    campaign = load_save(path, lock=path.is_dir())
    campaign.title = title
    stamp = time.strftime("%Y%m%d-%H%M%S", time.localtime(campaign.created))
    wanted = f"{slugify(title)}-{stamp}"
    if wanted == campaign.id:
        return write_save(campaign, path.parent, allow_fewer_turns=True)
    campaign.id, n = wanted, 1
    while (path.parent / campaign.id).exists() or \
            (path.parent / f"{campaign.id}.toml").exists():  # never onto another save
        n += 1
        campaign.id = f"{wanted}-{n}"
    unbind(campaign)  # a new save under the new id
    new_path = write_save(campaign, path.parent, allow_fewer_turns=True)
    delete_save(path)
    return new_path
