"""Before an imported scenario starts: pick one of its options, answer its questions."""

from __future__ import annotations

from rich.text import Text
from textual.app import ComposeResult
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Input, OptionList, Static
from textual.widgets.option_list import Option

from tui.core.text import clean, one_line
from tui.keys import bindings_for


class OptionPickDialog(ModalScreen[int | None]):
    """A menu of sub-scenarios. Enter picks; Esc cancels."""

    BINDINGS = bindings_for("option_pick")
    CSS_PATH = "scenario_setup.tcss"

    def __init__(self, title: str, options: list[str]) -> None:
        super().__init__()
        self.title_text = title
        self.options = options

    def compose(self) -> ComposeResult:
        with Vertical():
            heading, _, prompt = self.title_text.partition("\n\n")
            yield Static(Text(one_line(heading, 200)), id="question", markup=False)
            if prompt:  # the menu's own prompt (engine/scenario_start.py menu_heading)
                yield Static(Text(clean(prompt)), id="menu-prompt", markup=False)
            yield OptionList(*[Option(Text(one_line(o, 200))) for o in self.options])
            yield Static(Text("Enter picks · Esc cancels"), id="hint", markup=False)

    def on_mount(self) -> None:
        self.query_one(OptionList).focus()

    def on_option_list_option_selected(self, event: OptionList.OptionSelected) -> None:
        self.dismiss(event.option_index)

    def action_cancel(self) -> None:
        self.dismiss(None)


class QuestionDialog(ModalScreen[str | None]):
    """One question of a scenario (`${...}`): Enter answers (empty takes the default)."""

    BINDINGS = bindings_for("question")
    CSS_PATH = "scenario_setup.tcss"

    def __init__(self, question: str, default: str = "") -> None:
        super().__init__()
        self.question = question
        self.default = default

    def compose(self) -> ComposeResult:
        hint = "Enter answers · Esc cancels"
        if self.default:
            hint = f"Empty takes the default: {one_line(self.default, 60)} · " + hint
        with Vertical():
            yield Static(Text(one_line(self.question, 300)), id="question", markup=False)
            yield Input(placeholder=one_line(self.default, 60))
            yield Static(Text(hint), id="hint", markup=False)

    def on_mount(self) -> None:
        self.query_one(Input).focus()

    def on_input_submitted(self, event: Input.Submitted) -> None:
        self.dismiss(event.value.strip() or self.default)

    def action_cancel(self) -> None:
        self.dismiss(None)
