"""A campaign folder: a small state file, the turns in chunks, backups of the state, a lock.

    <id>/campaign.toml            the state: settings, memory, note, lore, summary, the chunk list
    <id>/turns/000000-r12.toml    turns 0-255 (closed: full, rewritten only when one is edited)
    <id>/turns/000256-r57.toml    the open chunk: the newest turns, rewritten by every save
    <id>/backups/campaign-r56.toml  the previous states (hard links: nothing is moved away)
    <id>/lock                     who plays it now

Chunk files are never changed in place: a changed chunk is written under a new name (its
revision) and `campaign.toml`, replaced last, is what makes the new files part of the save.
A kill at any moment leaves the old state naming the old chunks, or the new one naming the
new chunks; files no state names any more are removed by the next save (docs/architecture.md,
saves).
"""

from __future__ import annotations

import contextlib
import copy
import os
import re
import threading
import time
import tomllib
import zlib
from collections.abc import Sequence
from dataclasses import dataclass, field, fields
from operator import attrgetter
from pathlib import Path
from typing import Any

from tui.core.text import one_line
from tui.engine.campaign import OPENING, TURN_EDITS, Campaign, Turn
from tui.engine.saves import lock
from tui.engine.saves.atomic import clean_tmp, fsync_dir, write_atomic
from tui.engine.saves.codec import (
    campaign_from_dict,
    dumps_state,
    dumps_table,
    state_to_dict,
    turn_key,
    turn_text,
)
from tui.engine.saves.errors import SaveError
from tui.engine.saves.lazy import ChunkBytes
from tui.engine.saves.migrate import FORMAT_VERSION, format_of, upgrade
from tui.engine.tomlfile import read_toml_file

STATE_NAME = "campaign.toml"
TURNS_DIR = "turns"
BACKUPS_DIR = "backups"
CHUNK_TURNS = 256
EAGER_CHUNKS = 2  # the newest chunks, parsed at load: what the next prompts need
BACKUPS = 3
OLD_TMP_SECONDS = 60.0  # temp files of format-1 writers (no lock) are theirs for this long
BACKUP_SECONDS = 60.0  # a new backup of the state when the newest is this old
MAX_FILE_BYTES = 64 * 1024 * 1024
LINK_ATTR = "_save_link"
_writing = threading.Lock()  # one save is written at a time in this process, whichever thread

_stamp_of = attrgetter("edit_stamp")
TurnKey = tuple[Any, ...]


@dataclass
class Chunk:
    """A chunk as this process last wrote or read it."""

    file: str  # relative to the campaign folder
    first: int
    turns: list[Turn]  # the objects written (compared by identity)
    stamp: int  # TURN_EDITS.value when written: a turn stamped later was edited since
    keys: list[TurnKey] | None = None  # the open chunk: what each turn's text was made from
    texts: list[str] | None = None
    crc32: int = -1  # of the file's bytes: a chunk as we wrote it can be parsed lazily

    @property
    def count(self) -> int:
        return len(self.turns)


@dataclass
class SaveLink:
    """What ties a Campaign object to its folder: the revision it holds and what is on disk."""

    folder: Path
    revision: int = 0
    turn_count: int = 0
    chunks: list[Chunk] = field(default_factory=list)
    legacy: Path | None = None  # a single-file save to move into backups/ once the folder is done
    state_stat: tuple[int, int, int] | None = None  # campaign.toml as we left it
    kept: dict[int, set[str]] = field(default_factory=dict)  # revision -> chunk files it names
    backups: dict[int, float] = field(default_factory=dict)  # revision -> when it was backed up
    text_cache: dict[str, tuple[Any, str]] = field(default_factory=dict)  # see dumps_state
    openings: int = 0  # opening turns (not the player's) in the first chunk, as last planned
    swept: bool = False  # stale temp files and orphaned chunks removed this session
    # Planned and written may differ while a writer thread catches up (see SavePlan):
    # `chunks`, `openings`, `text_cache` and `planned` are the serialising thread's;
    # `revision`, `turn_count`, `state_stat`, `kept`, `backups`, `legacy`, `swept` describe
    # what is on disk and belong to whoever holds `guard` to write.
    planned: int = 0  # the newest revision serialised
    edits_seen: int = -1  # TURN_EDITS.value when it was serialised
    attempted: int = 0  # the newest revision a write was tried for
    unwritten: dict[str, tuple[int, bytes]] = field(default_factory=dict)  # chunk -> (rev, bytes)
    shrinks: set[int] = field(default_factory=set)  # plans that may replace more turns with fewer
    guard: threading.Lock = field(default_factory=threading.Lock, repr=False)  # the four above

    def __deepcopy__(self, memo: dict[int, Any]) -> SaveLink:
        """A copy (a deep-copied campaign keeps its link) with a lock of its own."""
        copied = copy.copy(self)
        memo[id(self)] = copied
        for f in fields(self):
            if f.name != "guard":
                setattr(copied, f.name, copy.deepcopy(getattr(self, f.name), memo))
        copied.guard = threading.Lock()
        return copied


def link_of(c: Campaign) -> SaveLink | None:
    link = vars(c).get(LINK_ATTR)
    return link if isinstance(link, SaveLink) else None


def unbind(c: Campaign) -> None:
    """Forget which save `c` was read from: its next write makes a new save."""
    vars(c).pop(LINK_ATTR, None)


def bind(c: Campaign, link: SaveLink) -> None:
    vars(c)[LINK_ATTR] = link


def _stat(path: Path) -> tuple[int, int, int] | None:
    try:
        st = path.stat()
    except OSError:
        return None
    return (st.st_ino, st.st_size, st.st_mtime_ns)


def is_campaign_folder(path: Path) -> bool:
    return (path / STATE_NAME).is_file()


# --- reading ---------------------------------------------------------------------------------


def read_state(folder: Path) -> dict[str, Any]:
    """The state table of a campaign folder, its format checked (SaveError naming the folder)."""
    try:
        data = read_toml_file(folder / STATE_NAME, MAX_FILE_BYTES, SaveError, "save")
    except SaveError as exc:
        raise SaveError(f"{folder.name}/{exc}") from exc
    if not isinstance(data, dict):
        raise SaveError(f"{folder.name}: not a Grue save")
    format_of(data, folder.name)
    if not isinstance(data.get("chunks", []), list):
        raise SaveError(f"{folder.name}: damaged save: 'chunks' is not a list")
    return data


def _chunk_bytes(folder: Path, entry: Any) -> tuple[str, bytes]:
    if not isinstance(entry, dict) or not isinstance(entry.get("file"), str):
        raise SaveError(f"{folder.name}: damaged save: a chunk entry names no file")
    rel = entry["file"]
    if not rel.startswith(f"{TURNS_DIR}/") or ".." in rel or "\\" in rel:
        raise SaveError(f"{folder.name}: damaged save: odd chunk file name {one_line(rel, 60)!r}")
    label = f"{folder.name}/{rel}"
    path = folder / rel
    try:
        size = path.stat().st_size
        if size > MAX_FILE_BYTES:
            raise SaveError(f"{label}: too large to be a chunk of turns ({size} bytes)")
        return rel, path.read_bytes()
    except FileNotFoundError as exc:
        raise SaveError(f"{label}: no such chunk of turns") from exc
    except OSError as exc:
        raise SaveError(f"{label}: cannot read: {exc.strerror or exc}") from exc


def _parse_chunk(folder: Path, entry: dict[str, Any], data: bytes, first: int
                 ) -> list[dict[str, Any]]:
    label = f"{folder.name}/{entry['file']}"
    try:
        table = tomllib.loads(data.decode("utf-8"))
    except UnicodeDecodeError as exc:
        raise SaveError(f"{label}: not a text file") from exc
    except tomllib.TOMLDecodeError as exc:
        raise SaveError(f"{label}: not valid TOML: {one_line(str(exc))}") from exc
    except RecursionError as exc:
        raise SaveError(f"{label}: damaged chunk: nested too deep") from exc
    turns = table.get("turns", [])
    if not isinstance(turns, list) or not all(isinstance(t, dict) for t in turns):
        raise SaveError(f"{label}: damaged chunk: 'turns' is not a list of tables")
    if table.get("first") != first or entry.get("first") != first:
        raise SaveError(f"{label}: damaged chunk: it does not start at turn {first}")
    if entry.get("count") != len(turns):
        raise SaveError(f"{label}: damaged chunk: {len(turns)} turns, the state says "
                        f"{entry.get('count')}")
    return turns


def _checksum(data: bytes) -> int:
    """Tells a chunk as this program wrote it from one edited since (not a security check)."""
    return zlib.crc32(data)


def load_folder(folder: Path) -> Campaign:
    """Read a campaign folder; any problem is a one-line SaveError and nothing is changed.

    Closed chunks that are as this program wrote them (their checksum) are parsed when first
    used (see lazy.py); the newest EAGER_CHUNKS chunks, and every chunk of an older format
    (it is migrated as a whole), are parsed now.
    """
    state = read_state(folder)
    current = format_of(state, folder.name) == FORMAT_VERSION
    entries = state.get("chunks", [])
    dicts: list[dict[str, Any]] = []
    turns: list[Turn] = []
    bounds: list[tuple[str, int, int, int]] = []
    for index, entry in enumerate(entries):
        rel, data = _chunk_bytes(folder, entry)
        first = len(dicts) + len(turns)
        checksum = _checksum(data)
        count = entry.get("count")
        if (current and index < len(entries) - EAGER_CHUNKS and entry.get("crc32") == checksum
                and isinstance(count, int) and 0 < count <= CHUNK_TURNS
                and entry.get("first") == first):
            turns.extend(ChunkBytes(data, count).turns)
            bounds.append((rel, first, count, checksum))
            continue
        part = _parse_chunk(folder, entry, data, first)
        bounds.append((rel, first, len(part), checksum))
        if current:
            try:
                turns.extend(Turn.from_dict(t) for t in part)
            except (TypeError, ValueError, OverflowError) as exc:
                raise SaveError(f"{folder.name}/{rel}: damaged chunk: {one_line(str(exc))}"
                                ) from exc
        else:
            dicts.extend(part)
    total = len(dicts) + len(turns)
    if state.get("turn_count", total) != total:
        raise SaveError(f"{folder.name}: damaged save: {total} turns in the chunks, the "
                        f"state says {state.get('turn_count')}")
    data = upgrade({**state, "turns": dicts}, folder.name)
    try:
        c = campaign_from_dict(data)
    except (TypeError, ValueError, KeyError, AttributeError, OverflowError) as exc:
        raise SaveError(f"{folder.name}: damaged save: {one_line(str(exc))}") from exc
    if current:
        c.turns = turns
    revision = state.get("revision", 0)
    link = SaveLink(
        folder=folder,
        revision=revision if isinstance(revision, int) else 0,
        turn_count=len(c.turns),
        chunks=[Chunk(f, first, c.turns[first:first + n], TURN_EDITS.value, crc32=crc)
                for f, first, n, crc in bounds],
        state_stat=_stat(folder / STATE_NAME),
    )
    link.kept[link.revision] = {f for f, _, _, _ in bounds}
    player_turns = state.get("player_turns")
    if isinstance(player_turns, int) and 0 <= player_turns <= len(c.turns):
        link.openings = len(c.turns) - player_turns
    bind(c, link)
    return c


# --- writing ---------------------------------------------------------------------------------


def _chunk_name(first: int, revision: int) -> str:
    return f"{TURNS_DIR}/{first:06d}-r{revision}.toml"


def _chunk_header(c: Campaign, first: int) -> str:
    return dumps_table({"campaign": c.id, "first": first}) + "\n"


def _chunk_changed(old: Chunk | None, first: int, objs: list[Turn], last: bool,
                   no_edits: bool = False) -> bool:
    """`no_edits`: no turn anywhere was edited since the last plan (closed chunks stand)."""
    if old is None or old.first != first or old.count != len(objs):
        return True
    if old.turns != objs:  # identity first; other objects compare by content
        return True
    if last:  # the newest turns may change in place (a response list appended to)
        return old.keys is None or old.keys != [turn_key(t) for t in objs]
    return not no_edits and max(map(_stamp_of, objs), default=0) > old.stamp


def _chunk_text(c: Campaign, first: int, objs: Sequence[Turn], old: Chunk | None
                ) -> tuple[str, list[TurnKey], list[str]]:
    keys = [turn_key(t) for t in objs]
    reuse = old is not None and old.first == first and old.keys is not None
    texts: list[str] = []
    for i, (turn, key) in enumerate(zip(objs, keys, strict=True)):
        if reuse and old is not None and old.keys is not None and old.texts is not None \
                and i < len(old.keys) and old.keys[i] == key:
            texts.append(old.texts[i])
        else:
            texts.append(turn_text(turn))
    return _chunk_header(c, first) + "\n".join(texts), keys, texts


def _disk_state(link: SaveLink) -> tuple[int, int] | None:
    """(revision, turns) of the folder's state on disk, or None when there is none."""
    path = link.folder / STATE_NAME
    stat = _stat(path)
    if stat is None:
        return None
    if stat == link.state_stat:
        return link.revision, link.turn_count
    data = read_state(link.folder)
    revision, turns = data.get("revision", 0), data.get("turn_count", 0)
    return (revision if isinstance(revision, int) else 0, turns if isinstance(turns, int) else 0)


def _sweep(link: SaveLink) -> None:
    """Once a session, with the lock held: temp files of killed writes, chunks no state names."""
    folder = link.folder
    for sub in (folder, folder / TURNS_DIR, folder / BACKUPS_DIR):
        clean_tmp(sub)
    for old_tmp in folder.parent.glob(f".{folder.name}.*.tmp"):  # the single-file writer's
        with contextlib.suppress(OSError):
            if time.time() - old_tmp.stat().st_mtime > OLD_TMP_SECONDS:
                old_tmp.unlink()
    leftover = folder.parent / f"{folder.name}.toml"
    if link.legacy is None and is_campaign_folder(folder) and leftover.is_file():
        _retire_legacy(leftover, folder)  # migrated, but killed before it was moved aside
    for backup in _backups(folder):
        rev = _backup_revision(backup)
        try:
            link.backups[rev] = backup.stat().st_mtime
        except OSError:
            continue
        if rev in link.kept:
            continue
        try:
            data = read_toml_file(backup, MAX_FILE_BYTES, SaveError, "save")
            link.kept[rev] = _named_chunks(data)
        except (SaveError, TypeError, KeyError, RecursionError):
            continue
    named = set().union(*link.kept.values()) if link.kept else set()
    if is_campaign_folder(folder):  # whatever the live state names stays, whoever wrote it
        named |= _named_chunks(read_state(folder))
    for path in (folder / TURNS_DIR).glob("*.toml"):
        if f"{TURNS_DIR}/{path.name}" not in named:
            path.unlink(missing_ok=True)
    link.swept = True


def _named_chunks(state: dict[str, Any]) -> set[str]:
    return {str(e["file"]) for e in state.get("chunks", []) if isinstance(e, dict) and "file" in e}


def _backups(folder: Path) -> list[Path]:
    return sorted((folder / BACKUPS_DIR).glob("campaign-r*.toml"), key=_backup_revision)


def _backup_revision(path: Path) -> int:
    try:
        return int(path.stem.rsplit("-r", 1)[1])
    except (IndexError, ValueError):
        return -1


def _back_up_state(link: SaveLink) -> None:
    """Keep the current state under backups/ as a second name (a hard link: the live file
    stays where it is), when the newest backup is BACKUP_SECONDS old."""
    live = link.folder / STATE_NAME
    if not live.exists() or link.revision in link.backups:
        return
    newest = max(link.backups.values(), default=0.0)
    if time.time() - newest < BACKUP_SECONDS:
        return
    backups = link.folder / BACKUPS_DIR
    backups.mkdir(exist_ok=True)
    target = backups / f"campaign-r{link.revision}.toml"
    try:
        os.link(live, target)
    except FileExistsError:
        pass
    except OSError:
        write_atomic(target, live.read_bytes(), sync_folder=False)
    link.backups[link.revision] = time.time()


def _forget_old(link: SaveLink) -> None:
    """Drop backups beyond BACKUPS and the chunk files that neither the live state nor a
    kept backup names."""
    for rev in sorted(link.backups)[:-BACKUPS]:
        del link.backups[rev]
        (link.folder / BACKUPS_DIR / f"campaign-r{rev}.toml").unlink(missing_ok=True)
    dropped = {rev: files for rev, files in link.kept.items()
               if rev != link.revision and rev not in link.backups}
    for rev in dropped:
        del link.kept[rev]
    named = set().union(*link.kept.values()) if link.kept else set()
    for files in dropped.values():
        for rel in files - named:
            (link.folder / rel).unlink(missing_ok=True)


@dataclass(frozen=True)
class SavePlan:
    """One save serialised on the thread that changes the campaign (docs/architecture.md,
    "Saves"): the bytes of the state and of the chunks it made, nothing shared with the
    campaign, so it can be written on another thread while play goes on."""

    link: SaveLink
    revision: int
    turn_count: int
    chunk_files: frozenset[str]  # every chunk file the state names
    state: bytes
    allow_fewer_turns: bool

    @property
    def folder(self) -> Path:
        return self.link.folder


def plan_folder(c: Campaign, link: SaveLink, allow_fewer_turns: bool) -> SavePlan:
    """Serialise what changed since the last plan (its chunks are handed over in
    `link.unwritten` until a state naming them is on disk). Touches no file.

    Costs the open chunk's changed turns and the state, at any length: closed chunks are
    compared by identity and edit stamp, their text is not made again.
    """
    n = len(c.turns)
    revision = link.planned = max(link.planned, link.revision) + 1
    stamp = TURN_EDITS.value  # read before the turns: an edit after this is seen next time
    no_edits = stamp == link.edits_seen  # then closed chunks need no look at their turns
    openings = link.openings if n else 0
    chunks: list[Chunk] = []
    made: dict[str, bytes] = {}
    count = (n + CHUNK_TURNS - 1) // CHUNK_TURNS
    for index in range(count):
        first = index * CHUNK_TURNS
        objs = c.turns[first:first + CHUNK_TURNS]
        old = link.chunks[index] if index < len(link.chunks) else None
        last = index == count - 1
        if not _chunk_changed(old, first, objs, last, no_edits):
            assert old is not None
            old.turns = objs
            chunks.append(old)
            continue
        if index == 0:
            openings = sum(1 for t in objs if t.mode == OPENING)
        text, keys, texts = _chunk_text(c, first, objs, old if last else None)
        name = _chunk_name(first, revision)
        made[name] = data = text.encode("utf-8")
        chunks.append(Chunk(name, first, objs, stamp, keys if last else None,
                            texts if last else None, _checksum(data)))
    state = {
        "format": FORMAT_VERSION,
        "revision": revision,
        "turn_count": n,
        "player_turns": n - openings,
        "chunk_turns": CHUNK_TURNS,
        **state_to_dict(c),
        "chunks": [{"file": ch.file, "first": ch.first, "count": ch.count, "crc32": ch.crc32}
                   for ch in chunks],
    }
    text = dumps_state(state, link.text_cache)
    link.chunks, link.openings, link.edits_seen = chunks, openings, stamp
    with link.guard:
        link.unwritten.update((name, (revision, data)) for name, data in made.items())
        if allow_fewer_turns:
            link.shrinks.add(revision)
    return SavePlan(link, revision, n, frozenset(ch.file for ch in chunks),
                    text.encode("utf-8"), allow_fewer_turns)


def commit_plan(plan: SavePlan) -> bool:
    """Write a plan: the chunks its state names that are not on disk yet, then the state.

    False (nothing written) when this plan is older than one already tried: an older state is
    never written after a newer one. SaveError (the files as they were) when it is refused or
    fails; its chunks stay in `unwritten` for the next plan that names them.
    """
    link = plan.link
    with _writing:
        with link.guard:
            if plan.revision <= max(link.attempted, link.revision):
                return False
            link.attempted = plan.revision
            pending = {name: data for name, (_rev, data) in link.unwritten.items()
                       if name in plan.chunk_files}
            shrink_ok = plan.allow_fewer_turns or any(
                link.revision < rev <= plan.revision for rev in link.shrinks)
        done = False
        try:
            lock.acquire(link.folder)
            _write_plan(plan, pending, shrink_ok)
            done = True
        finally:
            with link.guard:  # on disk now, or named by no plan that can still be written
                for name in [name for name, (rev, _data) in link.unwritten.items()
                             if rev <= plan.revision and (done or name not in plan.chunk_files)]:
                    del link.unwritten[name]
                if done:
                    link.shrinks = {rev for rev in link.shrinks if rev > plan.revision}
    return True


def _write_plan(plan: SavePlan, pending: dict[str, bytes], shrink_ok: bool) -> None:
    link = plan.link
    folder = link.folder
    on_disk = _disk_state(link)
    if on_disk is not None:
        disk_revision, disk_turns = on_disk
        if disk_revision != link.revision:
            raise SaveError(f"{folder.name}: not saved: another Grue changed this save since it "
                            "was opened (reopen it to go on)")
    elif link.legacy is None:
        disk_turns = 0
    else:
        disk_turns = link.turn_count
    n = plan.turn_count
    if n < disk_turns and not shrink_ok:
        turns = f"{disk_turns} turn" + ("" if disk_turns == 1 else "s")
        raise SaveError(f"{folder.name}: not saved: it would replace {turns} with {n}")
    if not link.swept:
        _sweep(link)
    (folder / TURNS_DIR).mkdir(exist_ok=True)
    for name, data in sorted(pending.items()):
        write_atomic(folder / name, data, sync_folder=False)
    if pending:
        fsync_dir(folder / TURNS_DIR)  # the chunks' names are on disk before a state names them
    _back_up_state(link)
    write_atomic(folder / STATE_NAME, plan.state)
    # committed: from here on the new revision is the save
    link.revision, link.turn_count = plan.revision, n
    link.state_stat = _stat(folder / STATE_NAME)
    link.kept[plan.revision] = set(plan.chunk_files)
    with contextlib.suppress(OSError):  # housekeeping: the save is done; the next sweep retries
        if link.legacy is not None:
            _retire_legacy(link.legacy, folder)
            link.legacy = None
        _forget_old(link)


def _retire_legacy(path: Path, folder: Path) -> None:
    """A migrated single-file save goes into the new folder's backups/, kept, not deleted."""
    if not path.exists():
        return
    backups = folder / BACKUPS_DIR
    backups.mkdir(exist_ok=True)
    os.replace(path, backups / f"format1-{path.name}")
    fsync_dir(path.parent)
    fsync_dir(backups)


def claim_folder(c: Campaign, base: Path, legacy: Path | None = None) -> SaveLink:
    """Bind `c` to a folder of its own under `base`, taking its lock.

    A new campaign whose id is taken by another one (the same title started in the same
    second) gets the next free id: `<id>-2`, `<id>-3`...
    """
    base.mkdir(parents=True, exist_ok=True)
    original = c.id
    for n in range(1, 1000):
        candidate = original if n == 1 else f"{original}-{n}"
        folder = base / candidate
        if legacy is None and (base / f"{candidate}.toml").exists():
            continue  # an unmigrated single-file save has that id
        try:
            folder.mkdir()
            fresh = True
        except FileExistsError:
            fresh = False
            if not _is_ours(c, folder, legacy):
                continue
        try:
            lock.acquire(folder)
        except SaveError:
            if fresh or not is_campaign_folder(folder):
                continue  # another new campaign got there first, this very moment
            raise
        if legacy is None and is_campaign_folder(folder) and not _is_ours(c, folder, legacy):
            lock.release(folder)
            continue
        c.id = candidate
        link = SaveLink(folder=folder, legacy=legacy,
                        turn_count=len(c.turns) if legacy is not None else 0)
        if is_campaign_folder(folder):
            data = read_state(folder)
            link.revision = int(data.get("revision", 0))
            link.turn_count = int(data.get("turn_count", 0))
            link.state_stat = _stat(folder / STATE_NAME)
            link.kept[link.revision] = _named_chunks(data)
        return link
    raise SaveError(f"{original}: not saved: no free save id")


def _is_ours(c: Campaign, folder: Path, legacy: Path | None) -> bool:
    """An existing folder is this campaign's when its state says so (same id and created)."""
    if not is_campaign_folder(folder):
        return not lock_taken(folder)  # an empty folder left by a killed first save
    try:
        data = read_state(folder)
    except SaveError:
        return False
    return data.get("id") == c.id and data.get("created") == c.created


def lock_taken(folder: Path) -> bool:
    if lock.holds(folder):
        return False
    try:
        lock.acquire(folder)
    except SaveError:
        return True
    lock.release(folder)
    return False


# The state file opens with one-line scalars, the save lists' fields among them (the state
# table's plain values come first); the rest (settings, lore, the chunk list, which grows
# with the campaign) is not read to list a save.
HEADER_BYTES = 4096
HEADER_KEYS = ("format", "id", "title", "kind", "turn_count", "player_turns", "updated")
_HEADER_LINE = re.compile(r"([A-Za-z0-9_-]+) = (?![\[{]|\"{3}|'{3})[^\n]*")


def read_header(folder: Path) -> dict[str, Any] | None:
    """The keys the save lists need, when the state file's leading one-line `key = value`s
    hold them all; else None (an older or hand-written file: read it all). Only one-line
    plain values are read, so a value is what a full parse of the file gives for it."""
    try:
        with (folder / STATE_NAME).open("rb") as fh:
            head = fh.read(HEADER_BYTES)
    except OSError:
        return None
    lines: dict[str, str] = {}
    for line in head.split(b"\n")[:-1]:  # the last piece may be cut short
        try:
            match = _HEADER_LINE.fullmatch(line.decode("utf-8"))
        except UnicodeDecodeError:
            return None
        if match is None:
            return None  # a key the lists need is further down
        if match[1] in HEADER_KEYS:
            if match[1] in lines:
                return None  # said twice: the whole file does not parse
            lines[match[1]] = match[0]
            if len(lines) == len(HEADER_KEYS):
                break
    else:
        return None
    try:
        return tomllib.loads("\n".join(lines.values()))  # only the lines it needs: ~2x faster
    except (tomllib.TOMLDecodeError, ValueError):
        return None


def summary_fields(folder: Path) -> dict[str, Any]:
    """The state's few fields the save lists need, from the state file's first lines
    (`read_header`; the whole file when they lack one). A save damaged further down is
    listed; opening it reports the damage."""
    data = read_header(folder)
    if data is None:
        data = read_state(folder)
    else:
        format_of(data, folder.name)
    turns = data.get("turn_count", 0)
    player_turns = data.get("player_turns", -1)
    return {
        "player_turns": player_turns if isinstance(player_turns, int) else -1,
        "id": str(data.get("id", folder.name)),
        "title": str(data.get("title", folder.name)),
        "kind": str(data.get("kind", "adventure")),
        "turns": turns if isinstance(turns, int) else 0,
        "updated": float(data.get("updated", time.time())),
    }
