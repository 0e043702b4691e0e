"""Small modal screens: a text editor (memory, author's note, last response) and help."""

from __future__ import annotations

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Button, Static, TextArea

from tui.core.text import clean
from tui.engine.commands import help_lines

KEY_HELP = [
    ("Enter", "send the action (empty: continue the story)"),
    ("Tab", "switch Do / Say / Story (or type 'do ', 'say ', 'story ' first)"),
    ("Esc", "stop the model while it writes"),
    ("F1", "this help"),
    ("F2", "edit the memory"),
    ("F3", "edit the author's note"),
    ("F4 / Ctrl+R", "retry the last response"),
    ("F8", "edit the last response"),
    ("F9 / Ctrl+L", "world info: list, edit, test what triggers"),
    ("F10 / Ctrl+T", "context inspector: the exact prompt of the next turn"),
    ("F11 / Ctrl+O", "models: pick, download, open a .gguf file"),
    ("F12 / Ctrl+P", "settings: preset, samplers, window, template, backend"),
    ("Ctrl+S", "save now"),
    ("Ctrl+Q", "save and quit"),
]


class TextEditDialog(ModalScreen[str | None]):
    """Edit a block of text. Ctrl+S or the Save button keeps it; Esc cancels."""

    BINDINGS = [
        Binding("escape", "cancel", "Cancel"),
        Binding("ctrl+s", "save", "Save", priority=True),
    ]
    DEFAULT_CSS = """
    TextEditDialog { align: center middle; }
    TextEditDialog > Vertical { width: 90%; max-width: 100; height: 80%; border: round $accent;
                                background: $surface; padding: 0 1; }
    TextEditDialog #title { height: 1; text-style: bold; }
    TextEditDialog #hint { height: auto; color: $text-muted; }
    TextEditDialog TextArea { height: 1fr; }
    TextEditDialog Horizontal { height: 3; align-horizontal: right; }
    """

    def __init__(self, title: str, text: str, hint: str = "") -> None:
        super().__init__()
        self.title_text = title
        self.initial = clean(text)
        self.hint = hint or "Ctrl+S save · Esc cancel · Tab leaves the text box"

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Static(Text(self.title_text), id="title", markup=False)
            yield Static(Text(self.hint), id="hint", markup=False)
            yield TextArea(self.initial, id="editor", soft_wrap=True, tab_behavior="focus")
            with Horizontal():
                yield Button("Save", id="save", variant="primary")
                yield Button("Cancel", id="cancel")

    def on_mount(self) -> None:
        editor = self.query_one(TextArea)
        editor.focus()
        editor.move_cursor(editor.document.end)  # players add to the end most often

    def action_save(self) -> None:
        self.dismiss(self.query_one(TextArea).text)

    def action_cancel(self) -> None:
        self.dismiss(None)

    def on_button_pressed(self, event: Button.Pressed) -> None:
        if event.button.id == "save":
            self.action_save()
        else:
            self.action_cancel()


class HelpDialog(ModalScreen[None]):
    BINDINGS = [Binding("escape,f1,q,enter", "close", "Close")]
    DEFAULT_CSS = """
    HelpDialog { align: center middle; }
    HelpDialog > VerticalScroll { width: 90%; max-width: 90; height: 90%;
                                  border: round $accent; background: $surface; padding: 0 1; }
    """

    def __init__(self, extra_keys: list[tuple[str, str]] | None = None) -> None:
        super().__init__()
        self.extra_keys = extra_keys or []

    def compose(self) -> ComposeResult:
        text = Text()
        text.append("Keys\n", style="bold")
        for key, what in [*KEY_HELP[:4], *self.extra_keys, *KEY_HELP[4:]]:
            text.append(f"  {key:<13}", style="bold")
            text.append(f"{what}\n")
        text.append("\nCommands (type them in the input line)\n", style="bold")
        for line in help_lines():
            text.append(f"  {line}\n")
        text.append("\nEsc closes this help.", style="italic")
        with VerticalScroll():
            yield Static(text, markup=False)

    def action_close(self) -> None:
        self.dismiss(None)
