"""The home screen: continue a save, start a new adventure from a scenario, or quit."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

from rich.text import Text
from textual.app import ComposeResult
from textual.containers import Vertical
from textual.message import Message
from textual.screen import Screen
from textual.widgets import OptionList, Static
from textual.widgets.option_list import Option

from tui.core.text import count, one_line
from tui.engine.character_library import list_characters
from tui.engine.saves import SaveError, SaveSummary, delete_save, list_saves, rename_save
from tui.engine.scenario import Scenario, list_scenarios
from tui.keys import bindings_for
from tui.screens.scenario_setup import QuestionDialog
from tui.widgets.confirm import ConfirmDialog
from tui.widgets.key_footer import KeyFooter

TITLE_ART = "G R U E  —  it is pitch dark. You are likely to be eaten by a language model."
SAVES_SHOWN = 8


def started(save: SaveSummary) -> bool:
    """A game the player has taken a turn in (an unknown count counts as started)."""
    return save.player_turns != 0


def save_label(save: SaveSummary) -> Text:
    when = time.strftime("%b %d %H:%M", time.localtime(save.updated))
    turns = save.player_turns if save.player_turns >= 0 else save.turns
    return Text(f"  {one_line(save.title, 40)} · {count(turns, 'turn')} · {when}")


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

    def __init__(self, on_drawn: Callable[[], object] | None = None) -> None:
        """`on_drawn` runs once the screen has been drawn with its menu (the app loads the
        model then, not while the first frame is being made)."""
        super().__init__()
        self.show_unstarted = False  # games with no player turn sit under a fold
        self.on_drawn = on_drawn

    def on_mount(self) -> None:
        self.refresh_menu()
        self.query_one(OptionList).focus()
        if self.on_drawn is not None:
            self.call_after_refresh(self.on_drawn)

    def refresh_menu(self) -> None:
        menu = self.query_one(OptionList)
        menu.clear_options()
        self.choices: dict[str, tuple[str, object]] = {}
        saves = list_saves()
        played = [s for s in saves if started(s)][:SAVES_SHOWN]
        unplayed = [s for s in saves if not started(s)]
        if played or unplayed:
            menu.add_option(Option(Text("Continue", style="bold"), disabled=True))
            for save in played:
                self._add(menu, save_label(save), ("save", save.path))
        if unplayed:
            arrow = "▾" if self.show_unstarted else "▸"
            fold = Text(f"  {arrow} {count(len(unplayed), 'game')} not started yet", style="dim")
            self._add(menu, fold, ("fold", None))
            if self.show_unstarted:
                for save in unplayed:
                    self._add(menu, save_label(save), ("save", save.path))
        menu.add_option(Option(Text("New adventure", style="bold"), disabled=True))
        for path, item in list_scenarios():
            if isinstance(item, Scenario):
                label = Text(f"  {one_line(item.title, 30)} — {one_line(item.description, 80)}")
                self._add(menu, label, ("scenario", item))
            else:
                unreadable = f"  {one_line(path.name, 40)}: {one_line(str(item), 70)}"
                menu.add_option(Option(Text(unreadable, style="dim"), disabled=True))
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
                      if not menu.get_option_at_index(i).disabled
                      and self._choice_at(i)[0] != "fold"), 0)
        menu.highlighted = first

    def _choice_at(self, index: int) -> tuple[str, object]:
        option_id = self.query_one(OptionList).get_option_at_index(index).id or ""
        return self.choices.get(option_id, ("", None))

    def highlighted_save(self) -> Path | None:
        menu = self.query_one(OptionList)
        if menu.highlighted is None:
            return None
        kind, value = self._choice_at(menu.highlighted)
        return value if kind == "save" and isinstance(value, Path) else None

    def _reselect(self, path: Path | None) -> None:
        """After the list changed: highlight `path`'s save if it is still listed."""
        menu = self.query_one(OptionList)
        for i in range(menu.option_count):
            if path is not None and self._choice_at(i) == ("save", path):
                menu.highlighted = i
                return

    def action_delete_save(self) -> None:
        path = self.highlighted_save()
        if path is None:
            self.notify("Highlight a saved game to delete it.")
            return
        title = self._title_of(path)

        def answer(yes: bool | None) -> None:
            if not yes:
                return
            try:
                delete_save(path)
            except SaveError as exc:
                self.notify(one_line(str(exc), 300), severity="error")
                return
            self.notify(f"Deleted {title}.")
            self.refresh_menu()

        self.app.push_screen(ConfirmDialog(f"Delete the saved game {title}? "
                                           "It cannot be brought back."), answer)

    def action_rename_save(self) -> None:
        path = self.highlighted_save()
        if path is None:
            self.notify("Highlight a saved game to rename it.")
            return
        title = self._title_of(path)

        def answer(new_title: str | None) -> None:
            if not new_title or new_title == title:
                return
            try:
                new_path = rename_save(path, new_title)
            except SaveError as exc:
                self.notify(one_line(str(exc), 300), severity="error")
                return
            self.refresh_menu()
            self._reselect(new_path)

        self.app.push_screen(QuestionDialog(f"New name for {title} (empty keeps it):", title),
                             answer)

    def _title_of(self, path: Path) -> str:
        summary = next((s for s in list_saves(path.parent) if s.path == path), None)
        return one_line(summary.title if summary else path.stem, 60)

    def _add(self, menu: OptionList, label: Text, choice: tuple[str, object]) -> None:
        option_id = f"o{len(self.choices)}"
        self.choices[option_id] = choice
        menu.add_option(Option(label, id=option_id))

    def on_option_list_option_selected(self, event: OptionList.OptionSelected) -> None:
        choice = self.choices.get(event.option.id or "")
        if choice is not None and choice[0] == "fold":
            self.show_unstarted = not self.show_unstarted
            self.refresh_menu()
            self._highlight_fold()
        elif choice is not None:
            self.post_message(self.Picked(*choice))

    def _highlight_fold(self) -> None:
        menu = self.query_one(OptionList)
        for i in range(menu.option_count):
            if self._choice_at(i)[0] == "fold":
                menu.highlighted = i
                return

    def set_model_line(self, text: str) -> None:
        """The model loads on its own thread and may finish while the app is closing, when
        the line is already gone: then there is nothing to update (never a traceback)."""
        for line in self.query("#model").results(Static):
            line.update(Text(one_line(text, 200)))


