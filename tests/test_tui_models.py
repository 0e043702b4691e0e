"""The models screen driven with Pilot at 80x24: catalog, offline download, pick, open, remove."""

from __future__ import annotations

import asyncio
import threading
from pathlib import Path

import pytest
from test_gguf_info import good_kvs, make_gguf
from textual.app import App
from textual.widgets import DataTable, Input, Static
from textual.widgets._footer import FooterKey

from tui.models.catalog import load_catalog
from tui.models.download import DownloadCancelled, DownloadProgress
from tui.screens.models import ModelsScreen
from tui.widgets.open_model import OpenModelDialog
from tui.widgets.progress_line import ProgressLine, format_eta, progress_text

HUB_MODEL = "marx-3b-v2"  # a loadable catalog model downloaded from the hub


class Host(App[None]):
    def __init__(self, **kwargs: object) -> None:
        super().__init__()
        self.kwargs = kwargs
        self.picked: list[str] = []

    def on_mount(self) -> None:
        kwargs = dict(self.kwargs)
        current = str(kwargs.pop("current", ""))
        self.push_screen(ModelsScreen(current, self.picked.append, **kwargs))  # type: ignore[arg-type]


def names(screen: ModelsScreen) -> list[str]:
    table = screen.query_one(DataTable)
    return [str(table.get_row_at(i)[1]) for i in range(table.row_count)]


async def wait_for(pilot, condition, timeout: float = 30.0) -> None:  # type: ignore[no-untyped-def]
    for _ in range(int(timeout / 0.05)):
        if condition():
            return
        await pilot.pause(0.05)
    raise AssertionError("timed out")


def fake_gguf(folder: Path, name: str = "model.Q5_K_M.gguf") -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    path.write_bytes(make_gguf(good_kvs()))
    return path


def test_progress_text() -> None:
    p = DownloadProgress("m.gguf", 1_500_000, 3_000_000, 250_000.0, 6.0)
    assert progress_text(p) == (
        "m.gguf: 1.5 MB / 3.0 MB (50%) · 250.0 kB/s · 0:06 left · Esc cancels")
    assert format_eta(3725) == "1:02:05 left" and format_eta(None) == "time left unknown"


async def test_lists_catalog_and_filters_by_use_case() -> None:
    app = Host()
    async with app.run_test(size=(80, 24), notifications=True) as pilot:
        await pilot.pause()
        screen = app.screen
        assert isinstance(screen, ModelsScreen)
        catalog = load_catalog()
        assert sorted(names(screen)) == sorted(e.name[:32] for e in catalog)
        table = screen.query_one(DataTable)
        lamini = names(screen).index("LaMini-LM")
        assert str(table.get_row_at(lamini)[5]) == "can't load"
        smol = names(screen).index(load_catalog().get("smollm2-135m").name[:32])
        assert str(table.get_row_at(smol)[0]) == "●"  # "" = the built-in model is current
        assert str(table.get_row_at(smol)[5]) == "built in"
        await pilot.press("u", "u")  # all -> assistant -> chat
        await pilot.pause()
        assert screen.use_case == "chat"
        assert sorted(names(screen)) == sorted(e.name[:32] for e in catalog.by_use_case("chat"))
        # Enter on a model that is not downloaded explains, and does not pick
        assert screen.select_model("mythomax-l2-13b")
        await pilot.press("enter")
        await pilot.pause()
        assert app.picked == [] and isinstance(app.screen, ModelsScreen)
        shown = [k.description for k in screen.query(FooterKey)
                 if k.region.width and screen.region.contains_region(k.region)]
        for key in ("Pick", "Download", "Remove", "Open file", "Use case", "Back/Cancel"):
            assert key in shown


async def test_offline_download_reports_one_line(monkeypatch: pytest.MonkeyPatch,
                                                 tmp_path: Path) -> None:
    monkeypatch.setenv("HF_ENDPOINT", "http://127.0.0.1:9")  # nothing listens there
    app = Host(root=tmp_path / "models")
    async with app.run_test(size=(80, 24), notifications=True) as pilot:
        await pilot.pause()
        screen = app.screen
        assert isinstance(screen, ModelsScreen)
        assert screen.select_model(HUB_MODEL)
        await pilot.press("f5")
        await wait_for(pilot, lambda: not screen.downloading)
        line = screen.query_one(ProgressLine).line
        assert "cannot" in line and "\n" not in line and len(line) <= 300
        assert screen.query_one(ProgressLine).has_class("error")
        assert isinstance(app.screen, ModelsScreen)  # still usable
        assert app.picked == []


async def test_download_progress_cancel_and_success(tmp_path: Path) -> None:
    root = tmp_path / "models"
    entry = load_catalog().get(HUB_MODEL)
    release = threading.Event()

    def downloader(model_id, quant, *, root, progress, cancel):  # type: ignore[no-untyped-def]
        progress(DownloadProgress("x.gguf", 100, 1000, 50.0, 18.0))
        if not release.wait(10) or cancel.is_set():
            raise DownloadCancelled("cancelled")
        return fake_gguf(root / entry.repo, f"x.{quant}.gguf")

    app = Host(root=root, downloader=downloader)
    async with app.run_test(size=(80, 24), notifications=True) as pilot:
        await pilot.pause()
        screen = app.screen
        assert isinstance(screen, ModelsScreen)
        screen.select_model(HUB_MODEL)
        await pilot.press("f5")
        await wait_for(pilot, lambda: "100 B / 1.0 kB" in screen.query_one(ProgressLine).line)
        await pilot.press("escape")  # cancels the download, keeps the screen
        release.set()
        await wait_for(pilot, lambda: not screen.downloading)
        assert "cancelled" in screen.query_one(ProgressLine).line
        assert isinstance(app.screen, ModelsScreen)
        await pilot.press("f5")  # again, to the end this time
        await wait_for(pilot, lambda: not screen.downloading)
        assert "downloaded" in screen.query_one(ProgressLine).line
        table = screen.query_one(DataTable)
        assert str(table.get_row_at(table.cursor_row)[5]).startswith("have ")
        await pilot.press("enter")
        await pilot.pause()
        assert app.picked and app.picked[0].endswith(".gguf") and Path(app.picked[0]).is_file()
        assert not isinstance(app.screen, ModelsScreen)


async def test_remove_downloaded_model(tmp_path: Path) -> None:
    root = tmp_path / "models"
    entry = load_catalog().get(HUB_MODEL)
    path = fake_gguf(root / entry.repo)
    app = Host(root=root)
    async with app.run_test(size=(80, 24), notifications=True) as pilot:
        await pilot.pause()
        screen = app.screen
        assert isinstance(screen, ModelsScreen)
        screen.select_model(HUB_MODEL)
        await pilot.press("x")
        await pilot.pause()
        await pilot.press("enter")  # confirm
        await pilot.pause()
        assert not path.exists()
        table = screen.query_one(DataTable)
        assert str(table.get_row_at(table.cursor_row)[5]) == "-"


async def test_open_local_file_checks_it_first(tmp_path: Path) -> None:
    bad = tmp_path / "bad.gguf"
    bad.write_bytes(b"not a model at all")
    good = fake_gguf(tmp_path / "mine")
    app = Host()
    async with app.run_test(size=(80, 24), notifications=True) as pilot:
        await pilot.pause()
        await pilot.press("o")
        await pilot.pause()
        dialog = app.screen
        assert isinstance(dialog, OpenModelDialog)
        dialog.query_one(Input).value = str(bad)
        await pilot.press("enter")
        await pilot.pause()
        error = str(dialog.query_one("#error", Static).render())
        assert "bad.gguf" in error and "\n" not in error
        await pilot.press("enter")  # an invalid file is never picked
        await pilot.pause()
        assert app.picked == [] and app.screen is dialog
        dialog.query_one(Input).value = str(good)
        await pilot.press("enter")
        await pilot.pause()
        info = str(dialog.query_one("#info", Static).render())
        assert "Tiny Test" in info and "llama" in info and "4096 tokens" in info
        assert "Chat template" in info and app.picked == []
        await pilot.press("enter")  # second Enter uses it
        await pilot.pause()
        assert app.picked == [str(good)]
        await asyncio.sleep(0)


async def test_opens_on_what_runs_well_here_with_the_built_in_model(
        monkeypatch: pytest.MonkeyPatch) -> None:
    import tui.screens.models as models_screen

    monkeypatch.setattr(models_screen, "total_memory_bytes", lambda: 64 * 1024**3)
    monkeypatch.setattr(models_screen, "available_memory_bytes", lambda: 60 * 1024**3)
    catalog = load_catalog()
    smol = catalog.get("smollm2-135m").name[:32]
    adult = catalog.get("mlewd-remm-l2-chat-20b").name[:32]
    app = Host(cores=2)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        screen = app.screen
        assert isinstance(screen, ModelsScreen)
        shown = names(screen)
        table = screen.query_one(DataTable)
        assert table.cursor_row == 0
        assert shown[0] == smol  # the one a 2-core machine runs well (and has already)
        assert shown.index(adult) > shown.index(smol)
        row = shown.index(adult)
        assert str(table.get_row_at(row)[4]) == "slow"  # fits in 64 GB, not on 2 cores
        title = str(screen.query_one("#title", Static).render())
        assert "SmolLM2 135M Instruct" in title  # the same name as everywhere else
    app = Host(cores=64)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        shown = names(app.screen)
        first = next(e for e in catalog if e.name[:32] == shown[0])
        assert first.loadable and not first.adult  # never opens on an adult-content model
        assert shown.index(adult) > 0
