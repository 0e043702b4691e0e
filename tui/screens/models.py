"""The models screen: the catalog by use case, what fits this machine, downloads and picks.

Downloads run in a thread worker through `tui.models.download` and report back with
messages; Esc cancels a running download (and closes the screen otherwise).
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.message import Message
from textual.screen import Screen
from textual.widgets import DataTable, Static, Tab, Tabs

from tui.core.log import log_exception
from tui.core.text import count, one_line
from tui.keys import bindings_for
from tui.models.catalog import USE_CASES, CatalogEntry
from tui.models.download import (
    DownloadCancelled,
    DownloadError,
    DownloadProgress,
    download_catalog_model,
)
from tui.models.embedded import embedded_model_path
from tui.models.memory import available_memory_bytes, format_gb, total_memory_bytes
from tui.models.naming import model_display_name
from tui.models.recommend import (
    FITS,
    TIGHT,
    TOO_BIG,
    Recommendation,
    order_for_machine,
    quick_enough,
    recommend,
)
from tui.models.store import StoredModel, StoreError, list_downloaded, remove_model
from tui.widgets.confirm import ConfirmDialog
from tui.widgets.key_footer import KeyFooter
from tui.widgets.open_model import OpenModelDialog
from tui.widgets.progress_line import ProgressLine

Downloader = Callable[..., Path]  # download_catalog_model's signature
ALL = "all"


@dataclass
class DownloadTick(Message):
    progress: DownloadProgress


@dataclass
class DownloadEnded(Message):
    model_id: str
    path: Path | None
    error: str = ""
    cancelled: bool = False


@dataclass
class ModelRow:
    rec: Recommendation
    stored: list[StoredModel]

    @property
    def entry(self) -> CatalogEntry:
        return self.rec.entry

    @property
    def embedded_path(self) -> Path | None:
        return embedded_model_path() if self.entry.embedded else None

    @property
    def available(self) -> bool:
        return bool(self.stored) or self.embedded_path is not None

    def pick_value(self) -> str:
        """What the campaign stores: the file of the suggested quant, or the embedded id."""
        if self.entry.embedded:
            return self.entry.id
        best = next((m for m in self.stored if (m.quant or "").upper() == self.rec.quant),
                    self.stored[0])
        return str(best.path)

    def state(self) -> str:
        if not self.entry.loadable:
            return "can't load"
        if self.entry.embedded:
            return "built in" if self.embedded_path else "missing"
        if self.stored:
            return "have " + ",".join(sorted({m.quant or "?" for m in self.stored}))
        return "-"


class ModelTable(DataTable[Text]):
    """The model list; Enter picks (shown in the footer, which the stock table hides)."""

    BINDINGS = bindings_for("models.table")


class ModelsScreen(Screen[str | None]):
    BINDINGS = bindings_for("models")
    CSS_PATH = "models.tcss"

    def __init__(self, current_model: str, on_pick: Callable[[str], None], *,
                 n_ctx: int = 4096, root: Path | None = None,
                 downloader: Downloader = download_catalog_model,
                 cores: int | None = None) -> None:
        super().__init__()
        self.current_model = current_model
        self.on_pick = on_pick
        self.n_ctx = n_ctx
        self.root = root  # the models folder; None = the player's
        self.downloader = downloader
        self.use_case = ALL
        self.rows: list[ModelRow] = []
        self.cancel_event: threading.Event | None = None
        self.downloading = ""
        self.total = total_memory_bytes()
        self.free = available_memory_bytes()
        self.cores = cores if cores is not None else os.cpu_count()

    # --- layout -----------------------------------------------------------------------------

    def compose(self) -> ComposeResult:
        yield Static("", id="title", markup=False)
        yield Tabs(*[Tab(u.capitalize(), id=u) for u in (ALL, *USE_CASES)], id="use-case")
        yield ModelTable(id="models", cursor_type="row", zebra_stripes=True)
        yield Static("", id="detail", markup=False)
        yield ProgressLine(id="progress")
        yield KeyFooter()

    @property
    def table(self) -> ModelTable:
        return self.query_one(ModelTable)

    @property
    def progress(self) -> ProgressLine:
        return self.query_one(ProgressLine)

    def on_mount(self) -> None:
        for label, key in (("", "mark"), ("Model", "name"), ("Size", "size"),
                           ("Needs", "need"), ("Fit", "fit"), ("Have", "have")):
            self.table.add_column(label, key=key)
        total = format_gb(self.total) if self.total else "?"
        free = format_gb(self.free) if self.free else "?"
        current = one_line(model_display_name(self.current_model), 40)
        self.query_one("#title", Static).update(
            Text(f"Models · this machine: {total} RAM, {free} free · now: {current}"))
        self.refresh_rows()
        self.table.focus()

    # --- the list ---------------------------------------------------------------------------

    def refresh_rows(self) -> None:
        keep = self.current_row()
        recs = order_for_machine(
            recommend(None, self.n_ctx, self.total, self.free, include_unloadable=True),
            self.cores)
        try:
            stored = list_downloaded(self.root)
        except OSError:
            stored = []
        self.rows = [
            ModelRow(r, [m for m in stored if m.catalog_id == r.entry.id])
            for r in recs
            if self.use_case == ALL or self.use_case in r.entry.use_cases
        ]
        table = self.table
        old = table.cursor_row
        table.clear()
        for row in self.rows:
            table.add_row(*self._cells(row))
        index = next((i for i, r in enumerate(self.rows)
                      if keep and r.entry.id == keep.entry.id), min(old, len(self.rows) - 1))
        if self.rows:
            table.move_cursor(row=max(0, index))
        self.show_detail()

    def _cells(self, row: ModelRow) -> list[Text]:
        e, rec = row.entry, row.rec
        current = (e.embedded and not self.current_model) or (
            bool(self.current_model)
            and self.current_model in (e.id, row.pick_value() if row.available else ""))
        mark = "●" if current else ("✓" if row.available else "")
        fit = rec.status if e.loadable else "-"
        fit_style = {TIGHT: "yellow", TOO_BIG: "red"}.get(rec.status, "")
        if e.loadable and rec.status == FITS and not quick_enough(e, self.cores):
            fit, fit_style = "slow", "yellow"  # fits in memory, but this CPU is small for it
        return [
            Text(mark, style="bold"),
            Text(one_line(e.name, 32), style="" if e.loadable else "dim"),
            Text(one_line(e.size, 6)),
            Text(format_gb(rec.need_bytes)),
            Text(fit, style=fit_style),
            Text(row.state(), style="" if e.loadable else "dim"),
        ]

    def current_row(self) -> ModelRow | None:
        i = self.table.cursor_row
        return self.rows[i] if self.rows and 0 <= i < len(self.rows) else None

    def select_model(self, model_id: str) -> bool:
        """Move the cursor to a catalog id (for the caller and tests)."""
        for i, row in enumerate(self.rows):
            if row.entry.id == model_id:
                self.table.move_cursor(row=i)
                return True
        return False

    def show_detail(self) -> None:
        row = self.current_row()
        detail = self.query_one("#detail", Static)
        if row is None:
            detail.update(Text("No models for this use case."))
            return
        e, rec = row.entry, row.rec
        text = Text()
        text.append(one_line(e.name, 40), style="bold")
        text.append(f" · {', '.join(e.use_cases)} · template {e.template} · preset {e.preset}\n")
        if not e.loadable:
            text.append(f"Can't load: {one_line(e.reason, 120)}. Use {e.alternative}.\n",
                        style="bold")
        else:
            text.append(f"{rec.quant}: file {format_gb(rec.file_bytes)}, needs "
                        f"{format_gb(rec.need_bytes)} with {self.n_ctx} tokens · {rec.status}")
            if rec.shortfall_bytes:
                text.append(f" (short by {format_gb(rec.shortfall_bytes)})")
            if not quick_enough(e, self.cores):
                text.append(f" · slow on {self.cores} cores")
            text.append("\n")
        text.append(one_line(e.notes, 150), style="dim")
        detail.update(text)

    def on_data_table_row_highlighted(self, event: DataTable.RowHighlighted) -> None:
        self.show_detail()

    def on_data_table_row_selected(self, event: DataTable.RowSelected) -> None:
        self.pick_current()

    def on_tabs_tab_activated(self, event: Tabs.TabActivated) -> None:
        if event.tab.id and event.tab.id != self.use_case:
            self.use_case = event.tab.id
            self.refresh_rows()

    def action_next_use_case(self) -> None:
        self.query_one(Tabs).action_next_tab()

    # --- picking ----------------------------------------------------------------------------

    def pick_current(self) -> None:
        row = self.current_row()
        if row is None:
            return
        e = row.entry
        if not e.loadable:
            self.notify(one_line(f"{e.name} can't be loaded: {e.reason}; try {e.alternative}",
                                 300), severity="warning")
        elif not row.available:
            self.notify(f"{one_line(e.name, 40)} is not downloaded: F5 downloads it "
                        f"(~{format_gb(row.rec.file_bytes)}).")
        else:
            self.pick(row.pick_value())

    def pick(self, value: str) -> None:
        self.on_pick(value)
        self.dismiss(value)

    def action_open_file(self) -> None:
        self.app.push_screen(OpenModelDialog(),
                             lambda path: self.pick(path) if path else None)

    # --- downloads --------------------------------------------------------------------------

    def action_download(self) -> None:
        row = self.current_row()
        if row is None:
            return
        if self.downloading:
            self.notify(f"Already downloading {self.downloading} (Esc cancels).")
            return
        e = row.entry
        if not e.loadable:
            self.notify(one_line(f"{e.name} can't be loaded: {e.reason}", 300),
                        severity="warning")
            return
        if row.available:
            self.notify(f"{one_line(e.name, 40)} is already here; Enter picks it.")
            return
        self.downloading = e.id
        self.cancel_event = threading.Event()
        self.progress.say(f"{e.id}: asking for the file list…")
        self.download(e.id, row.rec.quant, self.cancel_event)

    @work(thread=True, group="download")
    def download(self, model_id: str, quant: str, cancel: threading.Event) -> None:
        try:
            path = self.downloader(model_id, quant, root=self.root, cancel=cancel,
                                   progress=lambda p: self.post_message(DownloadTick(p)))
        except DownloadCancelled:
            self.post_message(DownloadEnded(model_id, None, "download cancelled", True))
        except DownloadError as exc:
            self.post_message(DownloadEnded(model_id, None, str(exc)))
        except Exception as exc:  # noqa: BLE001 - one line on screen, never a traceback
            log_exception("download failed", exc)
            self.post_message(DownloadEnded(model_id, None, f"download failed: {exc}"))
        else:
            self.post_message(DownloadEnded(model_id, path))

    def on_download_tick(self, message: DownloadTick) -> None:
        if self.downloading and not (self.cancel_event and self.cancel_event.is_set()):
            self.progress.show_progress(message.progress)

    def on_download_ended(self, message: DownloadEnded) -> None:
        self.downloading = ""
        self.cancel_event = None
        if message.path is not None:
            self.progress.say(f"{message.model_id}: downloaded; Enter picks it.")
            self.refresh_rows()
        elif message.cancelled:
            self.progress.say(f"{message.model_id}: download cancelled.")
        else:
            self.progress.say(message.error, error=True)
            self.notify(one_line(message.error, 300), severity="error", timeout=10)

    def action_back(self) -> None:
        if self.downloading and self.cancel_event is not None:
            self.cancel_event.set()
            self.progress.say(f"{self.downloading}: cancelling…")
            return
        if self.focused is not self.table:
            self.table.focus()
            return
        self.dismiss(None)

    # --- removing ---------------------------------------------------------------------------

    def action_remove(self) -> None:
        row = self.current_row()
        if row is None or not row.stored:
            self.notify("Nothing downloaded to remove here.")
            return
        e = row.entry
        size = format_gb(sum(m.size for m in row.stored))
        question = f"Remove {one_line(e.name, 40)} ({count(len(row.stored), 'file')}, {size})?"

        def answer(yes: bool | None) -> None:
            if not yes:
                return
            try:
                removed = remove_model(e.id, self.root)
            except (StoreError, OSError) as exc:
                self.notify(one_line(str(exc), 300), severity="error")
                return
            self.notify(f"Removed {count(len(removed), 'file')}.")
            self.refresh_rows()

        self.app.push_screen(ConfirmDialog(question), answer)
