"""Keep a bug in one key's handler from crashing the game: log it, say it in one line."""

from __future__ import annotations

import functools
import traceback
from collections.abc import Callable
from typing import Any, TypeVar

from tui.core.paths import log_path
from tui.core.text import one_line

F = TypeVar("F", bound=Callable[..., Any])


def guarded(handler: F) -> F:
    """Wrap a screen's action or message handler (whose first argument has `notify`)."""

    @functools.wraps(handler)
    def run(self: Any, *args: Any, **kwargs: Any) -> Any:
        try:
            return handler(self, *args, **kwargs)
        except Exception as exc:  # noqa: BLE001 - the game goes on; the log keeps the details
            try:
                with log_path().open("a", encoding="utf-8") as log:
                    traceback.print_exception(exc, file=log)
            except OSError:
                pass
            self.notify(f"Something went wrong: {one_line(str(exc) or type(exc).__name__, 150)}"
                        " (details in the log)", severity="error", timeout=10)
            return None

    return run  # type: ignore[return-value]
