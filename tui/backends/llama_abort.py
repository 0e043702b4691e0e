"""Stopping llama.cpp inside an evaluation (docs/architecture.md, "The local backend").

llama.cpp asks an abort callback between the steps of every evaluation
(`llama_set_abort_callback`), hundreds of times a token. A Python callback takes the GIL each
time: measured on SmolLM2 with another Python thread busy (as the UI is while it draws),
prompt reading ran 6x slower and generation 30x. So the callback is C's own `strlen`, given a
two-byte flag: it answers 0 (go on) for an empty string and 1 (stop) for one character, and
no Python runs. (llama.cpp calls a `bool (*)(void *)`; `size_t strlen(const char *)` takes its
pointer in the same register and answers in the same one, and 0 or 1 reads as a bool on
every platform llama-cpp-python builds for.)
"""

from __future__ import annotations

import contextlib
import ctypes
import ctypes.util
import sys
import threading
from collections.abc import Iterator
from typing import Any

from tui.core.interrupt import Interrupt

_GO_ON, _STOP = b"\x00", b"\x01"


def _strlen() -> Any:
    """C's strlen, or None where no C library can be found."""
    try:
        if sys.platform == "win32":
            return ctypes.cdll.msvcrt.strlen
        return ctypes.CDLL(ctypes.util.find_library("c") or None).strlen
    except (OSError, AttributeError):
        return None


class AbortSwitch:
    """One llama.cpp context's abort flag. Inside `armed(cancel)`, setting `cancel` (an
    `Interrupt`) stops the evaluation under way: `llama_decode` returns 2, and what that
    evaluation had read is dropped from the cache (llama.h), so the cache still matches the
    tokens llama-cpp-python counts. A plain Event still stops only between steps."""

    def __init__(self, llama_cpp: Any, ctx: Any) -> None:
        self._flag = (ctypes.c_char * 2)()
        self._lock = threading.Lock()
        self._armed: threading.Event | None = None
        self.enabled = True  # the benchmarks turn it off to compare
        strlen = _strlen()
        if not hasattr(llama_cpp, "llama_set_abort_callback"):  # an older llama-cpp-python
            strlen = None
        # Kept on self: llama.cpp holds the pointer, and the flag's memory must outlive it.
        self._callback = None if strlen is None else ctypes.cast(
            strlen, llama_cpp.ggml_abort_callback)
        if self._callback is not None:
            llama_cpp.llama_set_abort_callback(ctx, self._callback,
                                               ctypes.cast(self._flag, ctypes.c_void_p))

    @contextlib.contextmanager
    def armed(self, cancel: threading.Event) -> Iterator[None]:
        if self._callback is None or not self.enabled or not isinstance(cancel, Interrupt) \
                or self._armed is not None:  # already armed by the caller's caller
            yield
            return

        def stop() -> None:
            with self._lock:
                if self._armed is cancel:
                    self._flag[0] = _STOP

        with cancel.listening(stop):
            with self._lock:
                self._armed = cancel
                self._flag[0] = _STOP if cancel.is_set() else _GO_ON
            try:
                yield
            finally:
                with self._lock:
                    self._armed = None
                    self._flag[0] = _GO_ON
