"""Grue's log file through `logging`: tracebacks of errors the player sees as one line.

The handler opens the log file (`paths.log_path()`) for each record, so it follows
`GRUE_HOME` and keeps no file open; records are rare (errors, not chatter).
"""

from __future__ import annotations

import contextlib
import io
import logging
import threading
from pathlib import Path

from tui.core.paths import log_path

LOGGER_NAME = "grue"
_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"


_problem_lock = threading.Lock()
_problem = ""  # why the log could not be written, until a front end has said so
_problem_said = False


def record_log_problem(path: Path | str, exc: BaseException) -> None:
    """Keep the first reason the log could not be written, for `take_log_problem`."""
    global _problem
    why = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
    with _problem_lock:
        if not _problem and not _problem_said:
            _problem = f"the log {path} cannot be written ({why}); playing on without it"


def take_log_problem() -> str:
    """Why the log file could not be written ("" if it could), once per process: a full disk
    or a read-only home is said in one line and the game plays on without its log."""
    global _problem, _problem_said
    with _problem_lock:
        said, _problem = _problem, ""
        _problem_said = _problem_said or bool(said)
        return said


class QuietLog(io.TextIOBase):
    """A log file that never fails its writer: llama.cpp's lines and what llama-cpp-python
    prints while it loads go here, and a full disk must not look like a model that failed.
    The first failure is recorded for `take_log_problem`; later lines are dropped."""

    def __init__(self, path: Path) -> None:
        super().__init__()
        self.path = path
        self._file: io.TextIOBase | None = None
        try:
            self._file = path.open("a", encoding="utf-8", errors="replace")  # type: ignore[assignment]
        except OSError as exc:
            record_log_problem(path, exc)

    def writable(self) -> bool:
        return True

    def write(self, text: str) -> int:
        if self._file is not None:
            try:
                self._file.write(text)
            except OSError as exc:
                self._give_up(exc)
        return len(text)

    def flush(self) -> None:
        if self._file is not None:
            try:
                self._file.flush()
            except OSError as exc:
                self._give_up(exc)

    def close(self) -> None:
        self.flush()
        if self._file is not None:
            with contextlib.suppress(OSError):  # said once already by flush
                self._file.close()
            self._file = None
        super().close()

    def _give_up(self, exc: OSError) -> None:
        record_log_problem(self.path, exc)
        file, self._file = self._file, None
        with contextlib.suppress(OSError):  # its buffer cannot be written either
            file.close()  # type: ignore[union-attr]


class LogFileHandler(logging.Handler):
    """Append each record to Grue's log file; a log that cannot be written is skipped."""

    def emit(self, record: logging.LogRecord) -> None:
        try:
            text = self.format(record)
        except Exception:  # noqa: BLE001 - no log beats a traceback on the game's screen
            return
        where: Path | str = "file"
        try:
            where = log_path()
            with where.open("a", encoding="utf-8") as log:
                log.write(text + "\n")
        except OSError as exc:
            record_log_problem(where, exc)


def logger() -> logging.Logger:
    """Grue's logger, writing to the log file (set up on first use)."""
    log = logging.getLogger(LOGGER_NAME)
    if not any(isinstance(h, LogFileHandler) for h in log.handlers):
        handler = LogFileHandler()
        handler.setFormatter(logging.Formatter(_FORMAT))
        log.addHandler(handler)
        log.setLevel(logging.INFO)
    return log


def log_exception(what: str, exc: BaseException) -> None:
    """Log `what` went wrong with `exc`'s full traceback (the player saw one line)."""
    logger().error("%s: %s", what, exc, exc_info=(type(exc), exc, exc.__traceback__))
