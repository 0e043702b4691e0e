"""A modal that checks a local .gguf file before it is picked: type a path, see the model."""

from __future__ import annotations

from rich.text import Text
from textual.app import ComposeResult
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Input, Static

from tui.core.paths import OutsideHome, user_path
from tui.core.text import one_line
from tui.keys import bindings_for
from tui.models.gguf_info import GGUFError, GGUFInfo, read_gguf_info
from tui.widgets.progress_line import format_bytes


def info_text(info: GGUFInfo) -> Text:
    template = info.chat_template
    if template:
        first = template.strip().splitlines()[0] if template.strip() else ""
        template_line = f"yes ({len(template)} chars: {one_line(first, 30)})"
    else:
        template_line = "none (story-style prompts)"
    rows = [
        ("Name", one_line(info.name or "?", 60)),
        ("Architecture", one_line(info.architecture or "?", 40)),
        ("Context", f"{info.context_length or '?'} tokens"),
        ("Quantization", info.quantization or "?"),
        ("Size", format_bytes(info.file_size)),
        ("Chat template", template_line),
    ]
    text = Text()
    for label, value in rows:
        text.append(f"{label:<14}", style="bold")
        text.append(value + "\n")
    return text


class OpenModelDialog(ModalScreen[str | None]):
    """Enter checks the typed path; Enter again (or Ctrl+S) uses it; Esc cancels."""

    BINDINGS = bindings_for("open_model")
    CSS_PATH = "open_model.tcss"

    def __init__(self, start: str = "") -> None:
        super().__init__()
        self.start = start
        self.checked: GGUFInfo | None = None
        self.checked_path = ""

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Static(Text("Open a local .gguf model file"), id="title", markup=False)
            yield Static(Text("Enter checks the file · Enter again or Ctrl+S uses it · Esc"),
                         id="hint", markup=False)
            yield Input(self.start, placeholder="/path/to/model.gguf", id="path", compact=True)
            yield Static("", id="error", markup=False)
            yield Static("", id="info", markup=False)

    def on_mount(self) -> None:
        self.query_one(Input).focus()

    def check(self, raw: str) -> GGUFInfo | None:
        """Read the file's header; show what it says, or one line on what is wrong."""
        error = self.query_one("#error", Static)
        info_box = self.query_one("#info", Static)
        self.checked, self.checked_path = None, ""
        info_box.update("")
        if not raw.strip():
            error.update(Text("Type the path of a .gguf file."))
            return None
        try:
            info = read_gguf_info(user_path(raw.strip()))
        except (GGUFError, OutsideHome) as exc:
            error.update(Text(one_line(str(exc), 200)))
            return None
        error.update("")
        info_box.update(info_text(info))
        self.checked, self.checked_path = info, raw
        return info

    def on_input_changed(self, event: Input.Changed) -> None:
        if event.value != self.checked_path:
            self.checked, self.checked_path = None, ""
            self.query_one("#info", Static).update("")

    def on_input_submitted(self, event: Input.Submitted) -> None:
        if self.checked is not None and event.value == self.checked_path:
            self.action_use()
        else:
            self.check(event.value)

    def action_use(self) -> None:
        raw = self.query_one(Input).value
        stale = self.checked is None or raw != self.checked_path
        if stale and self.check(raw) is None:
            return
        assert self.checked is not None
        self.dismiss(str(self.checked.path))

    def action_cancel(self) -> None:
        self.dismiss(None)
