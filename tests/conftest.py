"""Shared fixtures: an isolated GRUE_HOME for every test, the real SmolLM2 model, a fake one."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from fakes import FakeBackend

from tui.core.backend import Backend

FIXTURES = Path(__file__).resolve().parents[2] / "shared" / "fixtures"


@pytest.fixture(autouse=True)
def grue_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Every test plays in its own home folder; nothing touches the real one."""
    home = tmp_path / "grue-home"
    monkeypatch.setenv("GRUE_HOME", str(home))
    return home


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
