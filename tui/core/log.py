"""Grue's log file through `logging`: tracebacks of errors the player sees as one line.

The handler opens the log file (`paths.log_path()`) for each record, so it follows
`GRUE_HOME` and keeps no file open; records are rare (errors, not chatter).
"""

from __future__ import annotations

import logging

from tui.core.paths import log_path

LOGGER_NAME = "grue"
_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"


class LogFileHandler(logging.Handler):
    """Append each record to Grue's log file; a log that cannot be written is skipped."""

    def emit(self, record: logging.LogRecord) -> None:
        try:
            text = self.format(record)
            with log_path().open("a", encoding="utf-8") as log:
                log.write(text + "\n")
        except Exception:  # noqa: BLE001, S110 - no log beats a traceback on the game's screen
            pass


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
