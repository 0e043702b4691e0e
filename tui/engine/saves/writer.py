"""One thread that writes saves, so the thread that plays never waits for a disk.

A save is serialised by the thread that changes the campaign (`prepare_save`: a consistent
snapshot, as bytes) and handed here. Saves are written in the order they were made; when
several of the same campaign wait, only the newest is written (it holds everything the older
ones did) and every waiting caller hears how that write went (docs/architecture.md, "Saves").
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from tui.core.log import log_exception
from tui.core.text import one_line
from tui.engine.saves import SaveError, SavePlan, commit_save

WRITER_THREAD = "grue-save-writer"


@dataclass(frozen=True)
class SaveResult:
    """How a save went: its folder, and the one-line reason when it was not written."""

    folder: Path
    error: str = ""

    @property
    def ok(self) -> bool:
        return not self.error


Listener = Callable[[SaveResult], None]


@dataclass
class _Job:
    plan: SavePlan
    listeners: list[Listener] = field(default_factory=list)


class SaveWriter:
    """A queue of prepared saves and the one thread that writes them, newest wins."""

    def __init__(self, name: str = WRITER_THREAD) -> None:
        self._name = name
        self._lock = threading.Condition()
        self._queue: list[_Job] = []
        self._busy = False  # a job is being written
        self._closed = False
        self._thread: threading.Thread | None = None
        self.written = 0  # saves written (coalesced ones not counted): for tests and benchmarks

    def submit(self, plan: SavePlan, listener: Listener | None = None) -> None:
        """Queue a save; `listener` is called on the writer thread once it (or a newer save of
        the same campaign that replaced it) is written or has failed."""
        with self._lock:
            closed = self._closed
        if closed:  # on the way out (a hang-up's last save): written here and now
            result = self._write(plan)
            if listener is not None:
                listener(result)
            if not result.ok:
                raise SaveError(result.error)
            return
        with self._lock:
            listeners = [listener] if listener is not None else []
            for i, job in enumerate(self._queue):
                if job.plan.link is plan.link:  # the same campaign: the newer state replaces it
                    self._queue[i] = _Job(plan, job.listeners + listeners)
                    break
            else:
                self._queue.append(_Job(plan, listeners))
            self._start()
            self._lock.notify_all()

    @property
    def pending(self) -> bool:
        """A save is waiting or being written."""
        with self._lock:
            return self._busy or bool(self._queue)

    @property
    def waiting(self) -> bool:
        """A save waits to be written: while a listener hears how one went, a newer one (the
        save being written is not waiting; `pending` counts it until its listeners return)."""
        with self._lock:
            return bool(self._queue)

    def flush(self, timeout: float | None = None) -> bool:
        """Wait until every queued save is written (or failed). False on timeout."""
        with self._lock:
            return self._lock.wait_for(lambda: not self._busy and not self._queue, timeout)

    def close(self, timeout: float | None = None) -> bool:
        """Write what is queued, then stop the thread. False on timeout."""
        with self._lock:
            self._closed = True
            self._lock.notify_all()
        done = self.flush(timeout)
        thread = self._thread
        if thread is not None and thread is not threading.current_thread():
            thread.join(timeout)
        return done

    def _start(self) -> None:
        if self._thread is None or not self._thread.is_alive():
            self._thread = threading.Thread(target=self._run, name=self._name, daemon=True)
            self._thread.start()

    def _run(self) -> None:
        while True:
            with self._lock:
                self._lock.wait_for(lambda: self._queue or self._closed)
                if not self._queue:
                    return  # closed and nothing left
                job = self._queue.pop(0)
                self._busy = True
            try:
                result = self._write(job.plan)
                for listener in job.listeners:
                    try:
                        listener(result)
                    except Exception as exc:  # noqa: BLE001 - a listener never stops the writer
                        log_exception("a save listener failed", exc)
            finally:
                with self._lock:
                    self._busy = False
                    self._lock.notify_all()

    def _write(self, plan: SavePlan) -> SaveResult:
        try:
            folder = commit_save(plan)
        except SaveError as exc:
            return SaveResult(plan.folder, one_line(str(exc), 300))
        except Exception as exc:  # noqa: BLE001 - one line for the player, the traceback logged
            log_exception("writing a save failed", exc)
            return SaveResult(plan.folder, one_line(f"{plan.folder.name}: could not write: "
                                                    f"{exc}", 300))
        self.written += 1
        return SaveResult(folder)
