"""Keep a bug in one key's handler from crashing the game: log it, say it in one line."""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any, TypeVar

from tui.core.log import log_exception
from tui.core.text import one_line

F = TypeVar("F", bound=Callable[..., Any])


def guarded(handler: F) -> F:
    """Wrap a screen's action or message handler (whose first argument has `notify`)."""

    @functools.wraps(handler)
    def run(self: Any, *args: Any, **kwargs: Any) -> Any:
        try:
            return handler(self, *args, **kwargs)
        except Exception as exc:  # noqa: BLE001 - the game goes on; the log keeps the details
            log_exception(f"{handler.__qualname__} failed", exc)
            self.notify(f"Something went wrong: {one_line(str(exc) or type(exc).__name__, 150)}"
                        " (details in the log)", severity="error", timeout=10, markup=False)
            return None

    return run  # type: ignore[return-value]
