"""Shared fixtures: an isolated GRUE_HOME for every test, the real SmolLM2 model, a fake one,
and a guard that fails any test whose run wrote a traceback to Grue's log."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from fakes import FakeBackend

from tui.core.backend import Backend
from tui.core.paths import log_path

FIXTURES = Path(__file__).resolve().parents[2] / "shared" / "fixtures"
TRACEBACK_LINE = "Traceback (most recent call last)"
LOG_TAIL_LINES = 40


@pytest.fixture(autouse=True)
def grue_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Every test plays in its own home folder; nothing touches the real one."""
    home = tmp_path / "grue-home"
    monkeypatch.setenv("GRUE_HOME", str(home))
    return home


@pytest.fixture(autouse=True)
def no_traceback_in_log(request: pytest.FixtureRequest, grue_home: Path) -> Iterator[None]:
    """A traceback in Grue's log is a bug the screen turned into a one-line notice: fail the
    test that wrote it. A test that provokes one on purpose says `@pytest.mark.allow_traceback`.

    Every test starts with a fresh home, so the whole log is this test's. The log is looked up
    after the test, with GRUE_HOME as the test left it (a test may point it elsewhere)."""
    yield
    if request.node.get_closest_marker("allow_traceback"):
        return
    try:
        path = log_path()
        written = path.read_text(encoding="utf-8", errors="replace")
    except OSError:  # no log written, or a test made the home unusable on purpose
        return
    if TRACEBACK_LINE in written:
        tail = "\n".join(written.splitlines()[-LOG_TAIL_LINES:])
        pytest.fail(f"this test wrote a traceback to {path}:\n{tail}", pytrace=False)


@pytest.fixture(scope="session")
def smol_path() -> Path:
    from tui.models.embedded import embedded_model_path

    return embedded_model_path()




@pytest.fixture(scope="session")
def smol_backend(smol_path: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Backend]:
    """The real SmolLM2 model, loaded once for the session (n_ctx 2048 keeps it quick)."""
    from tui.backends.local import LocalBackend, route_llama_log

    route_llama_log(tmp_path_factory.mktemp("log") / "llama.log")
    backend = LocalBackend(smol_path, n_ctx=2048, seed=1)
    backend.load()
    yield backend
    backend.close()


@pytest.fixture
def fake_backend() -> FakeBackend:
    return FakeBackend()
