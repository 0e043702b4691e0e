"""The home screen: continue a save, start a new adventure from a scenario, or quit."""

from __future__ import annotations

import time

from rich.text import Text
from textual.app import ComposeResult
from textual.containers import Vertical
from textual.message import Message
from textual.screen import Screen
from textual.widgets import OptionList, Static
from textual.widgets.option_list import Option

from tui.core.text import one_line
from tui.engine.character_library import list_characters
from tui.engine.saves import list_saves
from tui.engine.scenario import Scenario, list_scenarios
from tui.keys import bindings_for
from tui.widgets.key_footer import KeyFooter

TITLE_ART = "G R U E  —  it is pitch dark. You are likely to be eaten by a language model."


class HomeScreen(Screen[None]):
    BINDINGS = bindings_for("home")
    CSS_PATH = "home.tcss"

    class Picked(Message):
        def __init__(self, kind: str, value: object) -> None:
            super().__init__()
            self.kind = kind
            self.value = value

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Static(Text(TITLE_ART), id="banner", markup=False)
            yield Static(Text("Model: loading…"), id="model", markup=False)
            yield OptionList(id="menu")
        yield KeyFooter(compact=False)

    def on_mount(self) -> None:
        self.refresh_menu()
        self.query_one(OptionList).focus()

    def refresh_menu(self) -> None:
        menu = self.query_one(OptionList)
        menu.clear_options()
        self.choices: dict[str, tuple[str, object]] = {}
        saves = list_saves()[:8]
        if saves:
            menu.add_option(Option(Text("Continue", style="bold"), disabled=True))
            for s in saves:
                when = time.strftime("%b %d %H:%M", time.localtime(s.updated))
                label = Text(f"  {one_line(s.title, 40)} · {s.turns} turns · {when}")
                self._add(menu, label, ("save", s.path))
        menu.add_option(Option(Text("New adventure", style="bold"), disabled=True))
        for path, item in list_scenarios():
            if isinstance(item, Scenario):
                label = Text(f"  {one_line(item.title, 30)} — {one_line(item.description, 80)}")
                self._add(menu, label, ("scenario", item))
            else:
                menu.add_option(Option(Text(f"  {path.name}: {one_line(str(item), 70)}",
                                            style="dim"), disabled=True))
        characters = [c for c in list_characters() if c.error is None]
        if characters:
            menu.add_option(Option(Text("Chat with", style="bold"), disabled=True))
            for entry in characters:
                tags = f" [{one_line(', '.join(entry.tags[:3]), 30)}]" if entry.tags else ""
                label = Text(f"  {one_line(entry.name, 24)}{tags} — "
                             f"{one_line(entry.description, 80)}")
                self._add(menu, label, ("character", entry.path))
        menu.add_option(Option(Text(""), disabled=True))
        self._add(menu, Text("Quit"), ("quit", None))
        first = next((i for i in range(menu.option_count)
                      if not menu.get_option_at_index(i).disabled), 0)
        menu.highlighted = first

    def _add(self, menu: OptionList, label: Text, choice: tuple[str, object]) -> None:
        option_id = f"o{len(self.choices)}"
        self.choices[option_id] = choice
        menu.add_option(Option(label, id=option_id))

    def on_option_list_option_selected(self, event: OptionList.OptionSelected) -> None:
        choice = self.choices.get(event.option.id or "")
        if choice is not None:
            self.post_message(self.Picked(*choice))

    def set_model_line(self, text: str) -> None:
        self.query_one("#model", Static).update(Text(one_line(text, 200)))


