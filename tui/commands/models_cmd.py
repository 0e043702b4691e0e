"""`grue models list|recommend|download|remove|info`.

Each handler returns an exit status: 0 ok, 1 a reported error (one line on stderr), 2 bad usage.
"""

from __future__ import annotations

import argparse
import contextlib
import signal
import sys
import threading
import time
from collections.abc import Callable
from typing import Any, TextIO

from tui.core.text import one_line
from tui.models.catalog import USE_CASES, CatalogEntry, CatalogError, load_catalog
from tui.models.download import (
    DownloadCancelled,
    DownloadError,
    DownloadProgress,
    download_catalog_model,
    download_model,
)
from tui.models.gguf_info import GGUFError, read_gguf_info
from tui.models.memory import GB, available_memory_bytes, total_memory_bytes
from tui.models.recommend import DEFAULT_CTX, FITS, TIGHT, TOO_BIG, recommend
from tui.models.store import StoreError, downloaded_for, list_downloaded, remove_model

Handler = Callable[[argparse.Namespace], int]
_ERRORS = (CatalogError, DownloadError, GGUFError, StoreError, OSError)


def register(subparsers: Any) -> argparse.ArgumentParser:
    """Add `models` and its subcommands to the main parser's subparsers."""
    parser = subparsers.add_parser("models", help="list, recommend, download and remove models")
    sub = parser.add_subparsers(dest="models_command", metavar="COMMAND")
    parser.set_defaults(func=_usage(parser))

    p_list = sub.add_parser("list", help="the catalog and the models downloaded")
    p_list.set_defaults(func=_reported(cmd_list))

    p_rec = sub.add_parser("recommend", help="which models fit this machine, best first")
    p_rec.add_argument("--use-case", choices=USE_CASES, help="assistant, chat, story or adventure")
    p_rec.add_argument("--ctx", type=int, default=DEFAULT_CTX, help="context length in tokens")
    p_rec.set_defaults(func=_reported(cmd_recommend))

    p_dl = sub.add_parser("download", help="download a model (catalog id or owner/repo)")
    p_dl.add_argument("name", metavar="NAME")
    p_dl.add_argument("--quant", help="quantization (default Q5_K_M)")
    p_dl.set_defaults(func=_reported(cmd_download))

    p_rm = sub.add_parser("remove", help="delete a downloaded model")
    p_rm.add_argument("name", metavar="NAME")
    p_rm.set_defaults(func=_reported(cmd_remove))

    p_info = sub.add_parser("info", help="check a GGUF file and show its metadata")
    p_info.add_argument("path", metavar="PATH")
    p_info.set_defaults(func=_reported(cmd_info))
    return parser


def _usage(parser: argparse.ArgumentParser) -> Handler:
    def handler(args: argparse.Namespace) -> int:
        parser.print_usage(sys.stderr)
        print("grue models: choose list, recommend, download, remove or info", file=sys.stderr)
        return 2

    return handler


def _reported(handler: Handler) -> Handler:
    """Turn the errors the player should read into one line on stderr and status 1."""

    def run(args: argparse.Namespace) -> int:
        try:
            return handler(args)
        except _ERRORS as exc:
            print(f"grue: {one_line(str(exc), 300)}", file=sys.stderr)
            return 1

    return run


def _gb(n_bytes: float) -> str:
    return f"{n_bytes / GB:.1f} GB"


def cmd_list(args: argparse.Namespace, out: TextIO | None = None) -> int:
    out = out or sys.stdout
    catalog = load_catalog()
    print(f"{'id':32} {'use':10} {'size':5} {'template':10} {'preset':15} status", file=out)
    for entry in catalog:
        status = _entry_status(entry)
        print(
            f"{entry.id:32} {entry.use_case:10} {entry.size:5} {entry.template:10} "
            f"{entry.preset:15} {status}",
            file=out,
        )
    others = [m for m in list_downloaded() if m.catalog_id is None]
    if others:
        print("\nother downloaded models:", file=out)
        for model in others:
            print(f"  {one_line(str(model.path))}  {_gb(model.size)}", file=out)
    return 0


def _entry_status(entry: CatalogEntry) -> str:
    if entry.embedded:
        return "embedded (always available)"
    if not entry.loadable:
        return f"not loadable: use {entry.alternative}"
    have = downloaded_for(entry)
    if have:
        return "downloaded: " + ", ".join(m.quant or m.filename for m in have)
    return ""


def cmd_recommend(args: argparse.Namespace, out: TextIO | None = None) -> int:
    out = out or sys.stdout
    if args.ctx <= 0:
        print("grue: --ctx must be a positive number of tokens", file=sys.stderr)
        return 2
    total, available = total_memory_bytes(), available_memory_bytes()
    mem = f"memory: {_gb(total) if total else '?'} total, "
    mem += f"{_gb(available) if available else '?'} available; context {args.ctx} tokens"
    print(mem, file=out)
    print("RAM needed = file + 2.5 GB + KV cache (TheBloke's rule)\n", file=out)
    recs = recommend(args.use_case, args.ctx, total=total, available=available)
    labels = {FITS: "fits", TIGHT: "fits if you close other programs", TOO_BIG: "too big"}
    for rec in recs:
        label = labels.get(rec.status, rec.status)
        if rec.status == TIGHT:
            label += f" (free {_gb(rec.shortfall_bytes)})"
        elif rec.status == TOO_BIG:
            label += f" (needs {_gb(rec.shortfall_bytes)} more)"
        print(
            f"{rec.entry.id:32} {rec.quant:7} needs {_gb(rec.need_bytes):>8}  {label}",
            file=out,
        )
        others = [f"{q.quant} {_gb(q.need_bytes)}" for q in rec.quants if q.quant != rec.quant]
        if others:
            print(f"{'':32} other quants: {', '.join(others)}", file=out)
    return 0


class TextProgress:
    """A one-line progress bar on stderr: percent, bytes, speed and time left."""

    WIDTH = 24

    def __init__(self, stream: TextIO | None = None) -> None:
        self.stream = stream or sys.stderr
        self.last = 0.0
        self.shown = False

    def __call__(self, p: DownloadProgress) -> None:
        now = time.monotonic()
        done = p.total is not None and p.done >= p.total
        if not done and now - self.last < 0.25:
            return
        self.last = now
        mb = 1024**2
        if p.total:
            fill = int(self.WIDTH * min(p.done / p.total, 1.0))
            bar = "#" * fill + "-" * (self.WIDTH - fill)
            size = f"{p.done / mb:,.1f}/{p.total / mb:,.1f} MB"
            head = f"[{bar}] {100 * p.done / p.total:5.1f}%"
        else:
            head, size = "", f"{p.done / mb:,.1f} MB"
        left = _duration(p.eta) if p.eta is not None else "--:--"
        line = f"{head} {size} {p.speed / mb:5.1f} MB/s {left} left"
        self.stream.write("\r" + line[:120].ljust(79))
        self.stream.flush()
        self.shown = True

    def finish(self) -> None:
        if self.shown:
            self.stream.write("\n")
            self.stream.flush()
            self.shown = False


def _duration(seconds: float) -> str:
    seconds = int(seconds)
    hours, rest = divmod(seconds, 3600)
    return f"{hours}:{rest // 60:02d}:{rest % 60:02d}" if hours else f"{rest // 60}:{rest % 60:02d}"


def _on_hang_up(stop: Callable[[int], object]) -> dict[int, Any]:
    """Call `stop(signum)` on SIGHUP and SIGTERM; the handlers replaced, to put back. Only
    the main thread can set handlers (in-process tests call from others): then none."""
    previous: dict[int, Any] = {}
    with contextlib.suppress(ValueError):
        for signum in (signal.SIGHUP, signal.SIGTERM):
            previous[signum] = signal.signal(signum, lambda n, _frame: stop(n))
    return previous


def cmd_download(args: argparse.Namespace, out: TextIO | None = None) -> int:
    out = out or sys.stdout
    name: str = args.name
    catalog = load_catalog()
    if catalog.find(name) is None and "/" not in name:
        print(f"grue: unknown model {name!r}: use a catalog id (grue models list) "
              "or a Hugging Face repo (owner/name)", file=sys.stderr)
        return 2
    bar = TextProgress()
    cancel = threading.Event()
    done = threading.Event()
    result: dict[str, Any] = {}

    def work() -> None:
        try:
            if catalog.find(name) is not None:
                result["path"] = download_catalog_model(
                    name, args.quant, progress=bar, cancel=cancel
                )
            else:
                result["path"] = download_model(
                    name, args.quant or catalog.default_quant, progress=bar, cancel=cancel
                )
        except BaseException as exc:  # handed to the main thread
            result["error"] = exc
        finally:
            done.set()

    # The transfer runs in a thread so Ctrl+C here only sets the cancel event; the worker
    # stops at the next chunk, keeping its `.part` file for the next run to resume. Wait on an
    # Event, not Thread.join: a join interrupted by Ctrl+C marks a running thread as
    # stopped on Python 3.11.
    # A hang-up or SIGTERM stops it the same way, so the `.part` keeps what arrived.
    hung_up: list[int] = []
    previous = _on_hang_up(lambda signum: (hung_up.append(signum), cancel.set()))
    threading.Thread(target=work, name="grue-download", daemon=True).start()
    try:
        while not done.wait(0.2):
            pass
    except KeyboardInterrupt:
        cancel.set()
        bar.finish()
        print("grue: cancelling download...", file=sys.stderr)
    finally:
        done.wait(30)  # the transfer stops at its next chunk
        for signum, handler in previous.items():
            signal.signal(signum, handler)
    if hung_up:
        with contextlib.suppress(OSError, ValueError):  # the terminal may be gone
            print("\ngrue: download stopped; run it again to resume", file=sys.stderr)
        return 128 + hung_up[0]
    bar.finish()
    error = result.get("error")
    if isinstance(error, DownloadCancelled) or cancel.is_set():
        print(f"grue: download cancelled; run 'grue models download {args.name}' again to "
              "resume", file=sys.stderr)
        return 1
    if error is not None:
        raise error
    print(f"downloaded: {one_line(str(result['path']))}", file=out)
    return 0


def cmd_remove(args: argparse.Namespace, out: TextIO | None = None) -> int:
    out = out or sys.stdout
    removed = remove_model(args.name)
    for path in removed:
        print(f"removed: {one_line(str(path))}", file=out)
    if not removed:
        print("nothing to remove", file=out)
    return 0


def cmd_info(args: argparse.Namespace, out: TextIO | None = None) -> int:
    out = out or sys.stdout
    info = read_gguf_info(args.path)
    for line in info.summary_lines():
        print(line, file=out)
    return 0
