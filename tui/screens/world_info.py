"""The world-info editor: every entry of the campaign's lorebooks, with search and a test box.

It arranges and forwards: entries are edited in `LoreEntryDialog`, matching is the lore
module's `explain_matches`, and saving is the caller's `on_change`, called after every change.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable

from rich.text import Text
from textual.app import ComposeResult
from textual.containers import Vertical
from textual.screen import Screen
from textual.widgets import DataTable, Input, Static

from tui.core.text import clean, count, one_line
from tui.engine.campaign import Campaign
from tui.engine.lore import LoreEntry, explain_matches, resolve_position
from tui.keys import bindings_for
from tui.widgets.confirm import ConfirmDialog
from tui.widgets.key_footer import KeyFooter
from tui.widgets.lore_form import LoreEdit, LoreEntryDialog, apply_edit, join_keys

Row = tuple[int, LoreEntry]  # (book index, entry)


def entry_matches(book: str, entry: LoreEntry, query: str) -> bool:
    """The search box: every word of `query` in the name, keys, content or book name."""
    words = query.casefold().split()
    if not words:
        return True
    hay = " ".join([book, entry.name, *entry.keys, *entry.secondary_keys, entry.content,
                    entry.group]).casefold()
    return all(w in hay for w in words)


class EntryTable(DataTable[Text]):
    """The entry list; Enter edits (shown in the footer, which the stock table hides)."""

    BINDINGS = bindings_for("world_info.table")


class WorldInfoScreen(Screen[None]):
    BINDINGS = bindings_for("world_info")
    CSS_PATH = "world_info.tcss"

    def __init__(self, campaign: Campaign, on_change: Callable[[], None]) -> None:
        super().__init__()
        self.campaign = campaign
        self.on_change = on_change
        self.rows: list[Row] = []

    # --- layout -----------------------------------------------------------------------------

    def compose(self) -> ComposeResult:
        yield Static("", id="title", markup=False)
        yield Input(placeholder="/ search names, keys and text", id="search", compact=True)
        yield EntryTable(id="entries", cursor_type="row", zebra_stripes=True)
        yield Static("", id="preview", markup=False)
        with Vertical(id="test"):
            yield Input(placeholder="F5: type text to see which entries it triggers",
                        id="test-input", compact=True)
            yield Static("", id="test-result", markup=False)
        yield KeyFooter()

    @property
    def table(self) -> EntryTable:
        return self.query_one("#entries", EntryTable)

    def on_mount(self) -> None:
        table = self.table
        table.add_column("On", key="on")
        table.add_column("C", key="const")
        table.add_column("Book", key="book")
        table.add_column("Entry", key="name")
        table.add_column("Keys", key="keys")
        self.refresh_rows()
        table.focus()

    # --- the list ---------------------------------------------------------------------------

    def refresh_rows(self, keep: LoreEntry | None = None) -> None:
        """Rebuild the table from the campaign, keeping the cursor on `keep` (or its row)."""
        table = self.table
        current = keep or self.current_entry()
        old_row = table.cursor_row
        query = self.query_one("#search", Input).value
        books = self.campaign.all_lorebooks
        self.rows = [
            (b, entry)
            for b, book in enumerate(books)
            for entry in book.entries
            if entry_matches(book.name, entry, query)
        ]
        table.clear()
        for b, entry in self.rows:
            table.add_row(
                Text("✓" if entry.enabled else "·", style="" if entry.enabled else "dim"),
                Text("C" if entry.constant else ""),
                Text(one_line(books[b].name, 14)),
                Text(one_line(entry.label, 24)),
                Text(one_line(join_keys(entry.keys), 60)),
            )
        index = next((i for i, (_, e) in enumerate(self.rows) if e is current), None)
        if index is None:
            index = min(old_row, len(self.rows) - 1)
        if self.rows:
            table.move_cursor(row=max(0, index))
        total = sum(len(book.entries) for book in books)
        shown = f"{len(self.rows)} of {total}" if query.strip() else str(total)
        self.query_one("#title", Static).update(
            Text(f"World info · {count(shown, 'entry', 'entries')} in {count(len(books), 'book')}")
        )
        self.show_preview()

    def current(self) -> Row | None:
        row = self.table.cursor_row
        return self.rows[row] if self.rows and 0 <= row < len(self.rows) else None

    def current_entry(self) -> LoreEntry | None:
        found = self.current()
        return found[1] if found else None

    def show_preview(self) -> None:
        found = self.current()
        preview = self.query_one("#preview", Static)
        if found is None:
            preview.update(Text("No entries. Press a to add one."))
            return
        b, e = found
        text = Text()
        text.append(one_line(self.campaign.all_lorebooks[b].name, 30), style="bold")
        text.append(f" › {one_line(e.label, 40)}", style="bold")
        where = resolve_position(e)
        if where == "depth":
            where += f" {e.depth}"
        text.append(f"  · {where} · order {e.order} · {e.probability}%")
        if e.group:
            text.append(f" · group {one_line(e.group, 20)}")
        text.append("\n" + one_line(e.content, 150))
        preview.update(text)

    def on_data_table_row_highlighted(self, event: DataTable.RowHighlighted) -> None:
        self.show_preview()

    def on_data_table_row_selected(self, event: DataTable.RowSelected) -> None:
        self.action_edit()

    # --- search and test box ----------------------------------------------------------------

    def on_input_changed(self, event: Input.Changed) -> None:
        if event.input.id == "search":
            self.refresh_rows()
        elif event.input.id == "test-input":
            self.show_test_result(event.value)

    def on_input_submitted(self, event: Input.Submitted) -> None:
        if event.input.id == "search":
            self.table.focus()

    def action_search(self) -> None:
        self.query_one("#search", Input).focus()

    def action_test_box(self) -> None:
        box = self.query_one("#test")
        if box.has_class("open") and self.focused is self.query_one("#test-input"):
            box.remove_class("open")
            self.table.focus()
            return
        box.add_class("open")
        self.query_one("#test-input", Input).focus()
        self.show_test_result(self.query_one("#test-input", Input).value)

    def show_test_result(self, text: str) -> None:
        """Which entries `text` would trigger, and the key that did it (no budget applied)."""
        books = self.campaign.all_lorebooks
        book_of = {id(e): book.name for book in books for e in book.entries}
        constant = sum(1 for book in books for e in book.entries if e.constant and e.enabled)
        out = Text()
        if text.strip():
            matches = [(e, why) for e, why in explain_matches(books, clean(text))
                       if not e.constant]
            if matches:
                for entry, why in matches:
                    out.append("✓ ", style="bold")
                    out.append(one_line(entry.label, 30), style="bold")
                    out.append(f" ({one_line(book_of.get(id(entry), '?'), 20)}): ")
                    out.append(one_line(why, 60) + "\n")
            else:
                out.append("No keyed entry matches this text.\n")
        else:
            out.append("Type some text above.\n")
        out.append(f"Constant entries always go in: {constant}. Budget and probability "
                   "are applied at play time.", style="dim")
        self.query_one("#test-result", Static).update(out)

    # --- changes ----------------------------------------------------------------------------

    def changed(self, keep: LoreEntry | None = None) -> None:
        self.refresh_rows(keep)
        self.on_change()
        box = self.query_one("#test")
        if box.has_class("open"):
            self.show_test_result(self.query_one("#test-input", Input).value)

    def action_add(self) -> None:
        found = self.current()
        book = found[0] if found else 0
        names = [b.name or "(unnamed book)" for b in self.campaign.all_lorebooks]
        self.app.push_screen(LoreEntryDialog(None, names, book), self._added)

    def _added(self, edit: LoreEdit | None) -> None:
        if edit is None:
            return
        books = self.campaign.all_lorebooks
        book = books[edit.book if 0 <= edit.book < len(books) else 0]
        entry = LoreEntry(uid=uuid.uuid4().hex[:12])
        apply_edit(entry, edit.values)
        book.entries = [*book.entries, entry]
        self.query_one("#search", Input).value = ""  # so the new entry is visible
        self.changed(entry)

    def action_edit(self) -> None:
        found = self.current()
        if found is None:
            self.notify("No entry here; press a to add one.")
            return
        names = [b.name for b in self.campaign.all_lorebooks]
        entry = found[1]
        self.app.push_screen(LoreEntryDialog(entry, names, found[0]),
                             lambda edit: self._edited(entry, edit))

    def _edited(self, entry: LoreEntry, edit: LoreEdit | None) -> None:
        if edit is not None and apply_edit(entry, edit.values):
            self.changed(entry)

    def action_delete(self) -> None:
        found = self.current()
        if found is None:
            return
        b, entry = found
        book = self.campaign.all_lorebooks[b]
        question = (f"Delete the entry {one_line(entry.label, 40)!r} "
                    f"from {one_line(book.name, 30)!r}?")

        def answer(yes: bool | None) -> None:
            if yes:
                book.entries = [e for e in book.entries if e is not entry]
                self.changed()

        self.app.push_screen(ConfirmDialog(question), answer)

    def action_toggle(self) -> None:
        entry = self.current_entry()
        if entry is not None:
            entry.enabled = not entry.enabled
            self.changed(entry)

    def action_back(self) -> None:
        if self.focused is not None and self.focused is not self.table:
            self.table.focus()
            return
        self.dismiss(None)
