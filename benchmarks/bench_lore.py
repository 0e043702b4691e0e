"""World-info scan speed: a 5,000-entry lorebook over a 10,000-turn campaign.

Run: python benchmarks/bench_lore.py

Compares the scanner (trie regex per key class, per-message cache, token-count cache) with a
naive scan that compiles nothing ahead and runs one regex per key per scan, on the same data.
"""

from __future__ import annotations

import random
import re
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tui.engine.lore import Lorebook, LoreEntry, LoreScanner, LoreSettings  # noqa: E402

ENTRIES = 5_000
TURNS = 10_000
SCANS = 200
SYLLABLES = ["ka", "lo", "ri", "an", "mer", "dun", "el", "tha", "vor", "is", "gan", "ul", "sek"]


def make_word(rng: random.Random) -> str:
    return "".join(rng.choice(SYLLABLES) for _ in range(rng.randint(2, 4)))


def make_book(rng: random.Random) -> Lorebook:
    entries = []
    for i in range(ENTRIES):
        keys = [make_word(rng) for _ in range(rng.randint(1, 3))]
        if i % 10 == 0:
            keys.append(f"{make_word(rng)} {make_word(rng)}")
        if i % 500 == 0:
            keys.append(f"/{make_word(rng)}s?/i")
        prose = ["an", "old", "story", "told", "of", "its", "people", "in", "winter", "songs"]
        content = " ".join(rng.choice(prose) for _ in range(rng.randint(20, 60)))
        if i % 5 == 0:  # some entries mention other entries' keys: recursion has work to do
            content += " " + make_word(rng)
        entries.append(
            LoreEntry(uid=str(i), keys=keys, content=content, order=rng.randint(1, 1000))
        )
    return Lorebook(name="bench", entries=entries)


def make_campaign(rng: random.Random) -> list[str]:
    filler = ["the", "you", "walk", "into", "a", "dark", "hall", "and", "see", "nothing"]
    turns = []
    for _ in range(TURNS):
        words = [rng.choice(filler) for _ in range(rng.randint(40, 90))]
        for _ in range(rng.randint(0, 3)):
            words[rng.randrange(len(words))] = make_word(rng)
        turns.append(" ".join(words))
    return turns


def count_tokens(text: str) -> int:
    return len(text) // 4 + 1


def naive_scan(book: Lorebook, messages: list[str], settings: LoreSettings) -> list[LoreEntry]:
    """One compiled regex per key, built and run on every scan (the approach avoided)."""
    text = "\n".join(messages[-settings.scan_depth :])
    hits = []
    for entry in book.entries:
        for key in entry.keys:
            if key.startswith("/") and key.rfind("/") > 0:
                end = key.rfind("/")
                flags = re.IGNORECASE if "i" in key[end:] else 0
                pattern = re.compile(key[1:end], flags)
            else:
                pattern = re.compile(r"(?<!\w)" + re.escape(key) + r"(?!\w)", re.IGNORECASE)
            if pattern.search(text):
                hits.append(entry)
                break
    return hits


def main() -> None:
    rng = random.Random(1234)
    book = make_book(rng)
    campaign = make_campaign(rng)
    settings = LoreSettings(scan_depth=4)
    scanner = LoreScanner()

    start = time.perf_counter()
    first = scanner.scan(
        [book],
        campaign[:-SCANS],
        count_tokens=count_tokens,
        window=8192,
        settings=settings,
        turn=TURNS - SCANS,
    )
    first_ms = (time.perf_counter() - start) * 1000

    times = []
    fired = []
    for i in range(SCANS):
        history = campaign[: TURNS - SCANS + i + 1]  # one new turn per scan, like play
        start = time.perf_counter()
        result = scanner.scan(
            [book],
            history,
            count_tokens=count_tokens,
            window=8192,
            settings=settings,
            turn=TURNS - SCANS + i + 1,
        )
        times.append((time.perf_counter() - start) * 1000)
        fired.append(len(result.activated) + len(result.dropped))

    naive_times = []
    naive_fired = []
    for i in range(5):
        history = campaign[: TURNS - SCANS + i + 1]
        start = time.perf_counter()
        naive_fired.append(len(naive_scan(book, history, settings)))
        naive_times.append((time.perf_counter() - start) * 1000)

    median = statistics.median(times)
    p95 = sorted(times)[int(len(times) * 0.95) - 1]
    naive_median = statistics.median(naive_times)
    keys = sum(len(e.keys) for e in book.entries)
    print(
        f"lorebook: {ENTRIES} entries, {keys} keys; campaign: {TURNS} turns; "
        f"scan depth {settings.scan_depth} messages"
    )
    print(f"first scan (compiles the index): {first_ms:8.1f} ms, {len(first.activated)} activated")
    print(
        f"scanner, next {SCANS} scans:      median {median:6.2f} ms, p95 {p95:6.2f} ms, "
        f"mean entries matched {statistics.mean(fired):.1f}"
    )
    print(
        f"naive one-regex-per-key scan:     median {naive_median:6.2f} ms "
        f"(over {len(naive_times)} scans), mean matched {statistics.mean(naive_fired):.1f}"
    )
    print(f"ratio naive / scanner:            {naive_median / median:6.1f}x")


if __name__ == "__main__":
    main()
