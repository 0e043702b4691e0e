"""Hang-ups during a download (issue "the trust pass", "Harden the classes: hang-ups"):
SIGHUP or SIGTERM while the models screen downloads a model through huggingface_hub, in a
real pty at 80x24. The download stops, the terminal is given back, the process ends, and no
file that is only part of the model is left looking like a model (a `.part` may stay, for the
next run to resume: it is never listed or loaded).

The hub is a stand-in on 127.0.0.1 (the test's `Hub`, which serves any repository here): no
test reaches the internet. It sends the file slowly, so the signal lands mid-transfer."""

from __future__ import annotations

import signal
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import unquote, urlsplit

import pytest
from pty_grue import PtyGrue, keys
from test_download import Hub
from test_hangup_pty import EXIT_WITHIN, RESTORED

from tui.models.catalog import load_catalog

FAKE_SIZE = 48 * 1024 * 1024  # bytes of each served "model"


class AnyRepoHub(Hub):
    """The test hub, answering for every repository: each holds one file of every quant."""

    def handle(self, req, head: bool) -> None:  # type: ignore[no-untyped-def]
        path = unquote(urlsplit(req.path).path)
        self.requests.append((req.command, path, req.headers.get("Range")))
        if path.startswith("/api/models/"):
            return self.send_info(req)
        _, _, name = path.partition("/resolve/main/")
        if name not in self.files:
            req.send_response(404)
            req.send_header("Content-Length", "0")
            req.end_headers()
            return None
        return self.send_file(req, name, head, req.headers.get("Range"))

    def bytes_sent(self) -> bool:
        return any(m == "GET" and "/resolve/" in p for m, p, _ in self.requests)


@pytest.fixture
def slow_hub(monkeypatch: pytest.MonkeyPatch) -> Iterator[AnyRepoHub]:
    data = b"GGUF" + bytes(FAKE_SIZE - 4)
    files: dict[str, Path | bytes] = {f"model.{quant}.gguf": data
                                      for quant in load_catalog().quant_bits}
    server = AnyRepoHub(files)
    server.throttle = 0.05  # per 256 KB: the whole file would take ~10 s
    server.thread.start()
    yield server
    server.server.shutdown()
    server.server.server_close()


def hub_env(hub: AnyRepoHub) -> dict[str, str]:
    return {"HF_ENDPOINT": hub.url, "HF_HUB_DISABLE_XET": "1", "HF_HUB_OFFLINE": "0",
            "NO_PROXY": "127.0.0.1,localhost", "HF_HOME": ""}


@pytest.mark.model
@pytest.mark.parametrize("signum", [signal.SIGHUP, signal.SIGTERM])
def test_tui_hang_up_during_a_download(slow_hub: AnyRepoHub, grue_home: Path,
                                       signum: int) -> None:
    env = hub_env(slow_hub)
    env["HF_HOME"] = str(grue_home / "hf")
    with PtyGrue(["-m", "tui.cli", "new", "lantern-road"], grue_home, env=env) as grue:
        grue.wait_for("ready", 120)
        grue.write(b"\x1b[23~")  # F11: the models screen
        grue.wait_for("Download", 30)
        mark = grue.mark()
        grue.write(b"\x1b[B")  # down: past the built-in model, to one that is not here
        grue.write(keys("<f5>"))
        grue.wait_for("Esc cancels", 60, start=mark)  # bytes are arriving
        assert slow_hub.bytes_sent()
        mark = grue.mark()
        grue.signal(signum)
        grue.wait_exit(EXIT_WITHIN)
        tail = grue.since(mark)
    assert all(code in tail for code in RESTORED), tail[-400:]
    models = grue_home / "models"
    assert [p for p in models.rglob("*.gguf")] == []  # no part posing as a model
    [part] = list(models.rglob("*.part"))  # kept for the next run to resume
    assert 0 < part.stat().st_size < FAKE_SIZE


@pytest.mark.parametrize("signum", [signal.SIGHUP, signal.SIGTERM])
def test_cli_hang_up_during_a_download(slow_hub: AnyRepoHub, grue_home: Path,
                                       signum: int) -> None:
    env = hub_env(slow_hub)
    env["HF_HOME"] = str(grue_home / "hf")
    with PtyGrue(["-m", "tui.cli", "models", "download", "someone/some-model-GGUF",
                  "--quant", "Q4_K_M"], grue_home, env=env) as grue:
        grue.wait_for("MB/s", 60)  # bytes are arriving
        grue.signal(signum)
        status = grue.wait_exit(EXIT_WITHIN)
    assert status == 128 + signum  # stopped in order: what arrived is in the `.part`
    models = grue_home / "models"
    assert [p for p in models.rglob("*.gguf")] == []
    [part] = list(models.rglob("*.part"))
    assert 0 < part.stat().st_size < FAKE_SIZE
