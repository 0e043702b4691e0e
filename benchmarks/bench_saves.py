"""Save and load times at 100, 1,000 and 10,000 turns: the old single-file layout (format 1,
rebuilt here from its rules) against the campaign folder, side by side.

    python benchmarks/bench_saves.py [--turns 100,1000,10000] [--repeat 15]

A "save" is what the game does after a turn: append one turn, write the save. "load" is
`load_save` until the campaign is ready to play. Each figure is the median of --repeat runs;
"save, no fsync" is the same save with fsync made a no-op, to show what the disk costs.
Targets (issue 9): save <= 20 ms and independent of length; load of 10,000 turns <= 200 ms.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
import tomllib
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tui.engine.campaign import OPENING, Campaign, Turn  # noqa: E402
from tui.engine.lore import LoreEntry  # noqa: E402
from tui.engine.saves import (  # noqa: E402
    commit_save,
    dumps,
    list_saves,
    load_save,
    prepare_save,
    write_save,
)
from tui.engine.saves.codec import campaign_from_dict  # noqa: E402

WORDS = ["the", "lantern", "flickers", "as", "you", "step", "along", "the", "old", "road",
         "and", "something", "moves", "in", "the", "thornwood", "beyond", "the", "last", "lamp"]


def make_campaign(turns: int) -> Campaign:
    c = Campaign(title=f"Bench {turns}", memory="You are a lamplighter. " * 20,
                 authors_note="Keep it eerie.")
    for i in range(20):
        c.add_lore(LoreEntry(name=f"Entry {i}", keys=[f"key{i}"], content="Lore text. " * 20))
    c.turns.append(Turn(OPENING, responses=["It begins on the Lantern Road."]))
    for i in range(turns - 1):
        text = " ".join(WORDS[(i + j) % len(WORDS)] for j in range(100))
        c.turns.append(Turn("do", f"> You walk on ({i}).", [text.capitalize() + "."]))
    return c


# --- the old layout: one TOML file, as tui/engine/saves.py wrote it before the folders ------


def _fsync_dir(folder: Path) -> None:
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def old_write(c: Campaign, folder: Path) -> Path:
    """Serialise all, re-parse the old file to count its turns, write a temp file, fsync,
    parse it back, rotate backups by renaming, replace, fsync the folder."""
    path = folder / f"{c.id}.toml"
    text = dumps(c)
    if path.exists():
        with path.open("rb") as fh:
            on_disk = len(tomllib.load(fh).get("turns", []))
        assert len(c.turns) >= on_disk
    tmp = folder / f".{c.id}.tmp"
    with tmp.open("w", encoding="utf-8") as fh:
        fh.write(text)
        fh.flush()
        os.fsync(fh.fileno())
    old_load(tmp)
    for i in (2, 1):
        older = path.with_suffix(f".toml.bak{i}")
        if older.exists():
            os.replace(older, path.with_suffix(f".toml.bak{i + 1}"))
    if path.exists():
        os.replace(path, path.with_suffix(".toml.bak1"))
    os.replace(tmp, path)
    _fsync_dir(folder)
    return path


def old_load(path: Path) -> Campaign:
    with path.open("rb") as fh:
        return campaign_from_dict(tomllib.load(fh))


# --- measuring ------------------------------------------------------------------------------


@contextmanager
def no_fsync() -> Iterator[None]:
    real = os.fsync
    os.fsync = lambda fd: None  # type: ignore[assignment]
    try:
        yield
    finally:
        os.fsync = real


def median_ms(run: Callable[[], object], repeat: int) -> float:
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        run()
        times.append((time.perf_counter() - start) * 1000)
    return statistics.median(times)


def snapshot_ms(c: Campaign, folder: Path, repeat: int) -> float:
    """What the TUI's UI thread pays per save: `prepare_save` (serialising the state and the
    changed chunk); the write itself runs on the writer thread (not timed here)."""
    times = []
    for _ in range(repeat):
        c.turns.append(Turn("do", "> You go on.", ["The road goes on. " * 30]))
        start = time.perf_counter()
        plan = prepare_save(c, folder)
        times.append((time.perf_counter() - start) * 1000)
        commit_save(plan)
    return statistics.median(times)


def bench_layout(layout: str, turns: int, repeat: int, root: Path) -> dict[str, float]:
    out: dict[str, float] = {}
    folder = root / f"{layout}-{turns}"
    folder.mkdir()
    c = make_campaign(turns)

    def write() -> Path:
        return old_write(c, folder) if layout == "old" else write_save(c, folder)

    def load() -> Campaign:
        return old_load(path) if layout == "old" else load_save(path)

    def save_turn() -> None:
        c.turns.append(Turn("do", "> You go on.", ["The road goes on. " * 30]))
        write()

    path = write()
    out["save"] = median_ms(save_turn, repeat)
    with no_fsync():
        out["save, no fsync"] = median_ms(save_turn, repeat)
    if layout == "new":
        out["snapshot (UI thread)"] = snapshot_ms(c, folder, repeat)
    loads = max(3, repeat // 3)
    out["load"] = median_ms(load, loads)
    out["load+read all"] = median_ms(lambda: sum(len(t.response) for t in load().turns), loads)
    assert [t.to_dict() for t in load().turns] == [t.to_dict() for t in c.turns]
    if layout == "new":
        out["list"] = median_ms(lambda: list_saves(folder), loads)
        out["size MB"] = sum(p.stat().st_size for p in folder.rglob("*.toml")) / 1e6
    else:
        out["size MB"] = path.stat().st_size / 1e6
    return out


def bench(turns: int, repeat: int, root: Path) -> dict[str, float]:
    out: dict[str, float] = {}
    for layout in ("old", "new"):
        for key, value in bench_layout(layout, turns, repeat, root).items():
            out[f"{layout} {key}"] = value
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--turns", default="100,1000,10000")
    parser.add_argument("--repeat", type=int, default=15)
    args = parser.parse_args()
    sizes = [int(n) for n in args.turns.split(",")]
    rows = ["old save", "new save", "old save, no fsync", "new save, no fsync",
            "new snapshot (UI thread)", "old load",
            "new load", "old load+read all", "new load+read all", "new list"]
    with tempfile.TemporaryDirectory(prefix="grue-bench-saves-", dir=os.environ.get("TMPDIR")) \
            as tmp:
        results = {n: bench(n, args.repeat, Path(tmp)) for n in sizes}
    print(f"{'ms (median)':<22}" + "".join(f"{n:>12,} turns" for n in sizes))
    for row in rows:
        print(f"{row:<22}" + "".join(f"{results[n][row]:>18.1f}" for n in sizes))
    print(f"{'old file MB':<22}" + "".join(f"{results[n]['old size MB']:>18.2f}" for n in sizes))
    print(f"{'new folder MB':<22}" + "".join(f"{results[n]['new size MB']:>18.2f}" for n in sizes))
    small, big = sizes[0], sizes[-1]
    snap = [results[n]["new snapshot (UI thread)"] for n in (small, big)]
    print(f"snapshot on the UI thread at {big:,} / at {small:,} turns: {snap[1] / snap[0]:.2f}x; "
          f"share of a save at {big:,} turns: {snap[1] / results[big]['new save']:.0%}")
    for layout in ("old", "new"):
        ratio = results[big][f"{layout} save"] / results[small][f"{layout} save"]
        print(f"{layout} save at {big:,} / at {small:,} turns: {ratio:.2f}x")
    for n in sizes:
        r = results[n]
        print(f"{n:,} turns: save {r['old save'] / r['new save']:.1f}x faster, "
              f"load {r['old load'] / r['new load']:.1f}x faster than the old layout")
    print(f"targets: new save <= 20 ms at every length: "
          f"{'met' if all(results[n]['new save'] <= 20 for n in sizes) else 'NOT met'}; "
          f"load of {big:,} turns <= 200 ms: "
          f"{'met' if results[big]['new load'] <= 200 else 'NOT met'}")


if __name__ == "__main__":
    main()
