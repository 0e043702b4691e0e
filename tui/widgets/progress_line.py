"""One line that tells how a download goes: bytes, speed and time left, or how it ended."""

from __future__ import annotations

from rich.text import Text
from textual.widgets import Static

from tui.core.text import one_line
from tui.models.download import DownloadProgress
from tui.widgets.css import css_beside


def format_bytes(n: float) -> str:
    for unit, size in (("GB", 1e9), ("MB", 1e6), ("kB", 1e3)):
        if n >= size:
            return f"{n / size:.1f} {unit}"
    return f"{int(n)} B"


def format_eta(seconds: float | None) -> str:
    if seconds is None:
        return "time left unknown"
    seconds = int(seconds)
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    clock = f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes}:{secs:02d}"
    return f"{clock} left"


def progress_text(p: DownloadProgress) -> str:
    done = format_bytes(p.done)
    if p.total:
        done += f" / {format_bytes(p.total)} ({100 * p.done / p.total:.0f}%)"
    speed = f"{format_bytes(p.speed)}/s" if p.speed > 0 else "starting"
    return f"{one_line(p.filename, 30)}: {done} · {speed} · {format_eta(p.eta)} · Esc cancels"


class ProgressLine(Static):
    """Hidden until a download starts; keeps the last line (the error) when one fails."""

    DEFAULT_CSS = css_beside(__file__)

    def __init__(self, **kwargs: object) -> None:
        super().__init__("", markup=False, **kwargs)  # type: ignore[arg-type]
        self.line = ""

    def say(self, text: str, error: bool = False) -> None:
        self.line = one_line(text, 300)
        self.set_class(error, "error")
        self.add_class("shown")
        self.update(Text(self.line))

    def show_progress(self, progress: DownloadProgress) -> None:
        self.say(progress_text(progress))
