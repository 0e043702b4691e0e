"""The one thread that owns a backend.

A `Llama` object is not thread-safe, so every call that touches the model (load,
tokenize, generate) runs here, in submission order. Callers get a Future back.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable
from concurrent.futures import Future
from typing import Any, TypeVar

T = TypeVar("T")

_STOP = object()


class ModelWorker:
    def __init__(self, name: str = "grue-model") -> None:
        self._jobs: queue.Queue[Any] = queue.Queue()
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)
        self._thread.start()

    def submit(self, fn: Callable[..., T], *args: Any, **kwargs: Any) -> Future[T]:
        future: Future[T] = Future()
        self._jobs.put((future, fn, args, kwargs))
        return future

    def call(self, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        """Run `fn` on the owner thread and wait for it (from any other thread)."""
        if threading.current_thread() is self._thread:
            return fn(*args, **kwargs)
        return self.submit(fn, *args, **kwargs).result()

    @property
    def busy(self) -> bool:
        return not self._jobs.empty()

    def _run(self) -> None:
        while True:
            job = self._jobs.get()
            if job is _STOP:
                return
            future, fn, args, kwargs = job
            if not future.set_running_or_notify_cancel():
                continue
            try:
                future.set_result(fn(*args, **kwargs))
            except BaseException as exc:  # handed to the caller, never lost
                future.set_exception(exc)

    def shutdown(self, wait: bool = True, timeout: float | None = 10.0) -> None:
        self._jobs.put(_STOP)
        if wait:
            self._thread.join(timeout)
