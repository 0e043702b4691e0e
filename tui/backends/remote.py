"""Backends that talk to a model server over HTTP, and the factory behind `--backend --url`."""

from __future__ import annotations

import inspect
from typing import Any

from tui.backends.remote_kobold import KoboldBackend
from tui.backends.remote_openai import KINDS, OpenAIBackend, ServerKind
from tui.core.backend import Backend, BackendError

__all__ = ["KINDS", "KoboldBackend", "OpenAIBackend", "ServerKind", "make_backend"]

REMOTE_KINDS = ("openai", "kobold")


def make_backend(kind: str, url: str, **kw: Any) -> Backend:
    """A remote backend for `--backend openai|kobold --url URL`; `kw` go to its constructor.

    Keyword arguments the chosen backend does not take (say `model` for kobold) are dropped
    when their value is None, so a CLI can pass all its options through.
    """
    kw = {k: v for k, v in kw.items() if v is not None}
    if kind == "openai":
        cls: type[Backend] = OpenAIBackend
    elif kind == "kobold":
        cls = KoboldBackend
    else:
        raise BackendError(f"unknown remote backend {kind!r} (one of {', '.join(REMOTE_KINDS)})")
    unknown = sorted(set(kw) - set(inspect.signature(cls).parameters))
    if unknown:
        raise BackendError(f"--backend {kind} does not take: {', '.join(unknown)}")
    return cls(url, **kw)
