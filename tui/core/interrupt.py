"""A cancel flag that can also stop work already inside the model.

A `threading.Event` is looked at between steps: between the chunks of a prompt being read,
between sampled tokens. On a 7B-13B model on a CPU one 64-token chunk is seconds, so Enter
during a world update or a story-so-far update waited for the rest of it. An `Interrupt`
tells whoever listens the moment it is set (the local backend then has llama.cpp stop the
evaluation it is in: `backends/llama_abort.py`). It is still an Event for everyone else.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Callable, Iterator


class Interrupt(threading.Event):
    def __init__(self) -> None:
        super().__init__()
        self._listeners_lock = threading.Lock()
        self._listeners: list[Callable[[], None]] = []

    def set(self) -> None:
        super().set()
        with self._listeners_lock:
            listeners = list(self._listeners)
        for listener in listeners:
            listener()

    @contextlib.contextmanager
    def listening(self, listener: Callable[[], None]) -> Iterator[None]:
        """Call `listener` (on the setting thread) if the flag is set while inside; the
        caller looks at `is_set()` itself for a flag set before."""
        with self._listeners_lock:
            self._listeners.append(listener)
        try:
            yield
        finally:
            with self._listeners_lock:
                self._listeners.remove(listener)
