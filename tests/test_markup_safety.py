"""Untrusted text is never parsed as markup (issue "the trust pass", item 2): each path that
used to end the TUI with a MarkupError while a notice rendered, with notifications on."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

from fakes import FakeBackend

from tui.app import GrueApp
from tui.core.backend import BackendError
from tui.engine.campaign import Settings, campaign_from_scenario
from tui.engine.game import Game
from tui.engine.scenario import find_scenario
from tui.model_host import ModelHost
from tui.screens.adventure import AdventureScreen

HOSTILE = "[@click=app.quit]x[/] [/] [b"


class BrokenBackend(FakeBackend):
    def load(self, progress=None):  # type: ignore[no-untyped-def]
        raise BackendError("model [/] crashed [@click=app.quit]here[/]")


async def wait_until(pilot, condition, timeout: float = 30.0) -> None:  # type: ignore[no-untyped-def]
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not condition():
        assert loop.time() < deadline, "timed out waiting for the app"
        await pilot.pause(0.05)


def new_app(backend: FakeBackend, tmp_path: Path) -> GrueApp:
    game = Game(campaign_from_scenario(find_scenario("lantern-road"), Settings()),
                save_folder=tmp_path)
    host = ModelHost(backend_factory=lambda config: backend, close_backend=False)
    return GrueApp(game=game, host=host)


def messages(app: GrueApp) -> list[str]:
    return [n.message for n in app._notifications]


async def test_markup_in_a_typed_command_is_a_notice_not_a_crash(tmp_path: Path) -> None:
    app = new_app(FakeBackend(), tmp_path)
    async with app.run_test(size=(80, 24), notifications=True) as pilot:
        screen = app.screen
        assert isinstance(screen, AdventureScreen)
        await wait_until(pilot, lambda: screen.model_ready)
        await pilot.press(*"/[/]", "enter")
        await wait_until(pilot, lambda: any("[/]" in m for m in messages(app)))
        await pilot.pause(0.3)  # the toast renders
        assert app.is_running and app.screen is screen


async def test_markup_in_a_lorebook_name_is_a_notice_not_a_crash(tmp_path: Path) -> None:
    book = tmp_path / "Bad [-] markup.json"
    book.write_text(json.dumps({"name": "Bad [/] markup " + HOSTILE, "entries": {
        "0": {"key": ["lantern"], "content": "The lantern hums.", "uid": 0}}}),
        encoding="utf-8")
    app = new_app(FakeBackend(), tmp_path)
    async with app.run_test(size=(80, 24), notifications=True) as pilot:
        screen = app.screen
        await wait_until(pilot, lambda: screen.model_ready)  # type: ignore[attr-defined]
        await pilot.press(*f"/lore {book}", "enter")
        await wait_until(pilot, lambda: any("Bad [/] markup" in m for m in messages(app)))
        await pilot.pause(0.3)
        assert app.is_running and app.screen is screen


async def test_markup_in_a_backend_error_is_a_notice_not_a_crash(tmp_path: Path) -> None:
    app = new_app(BrokenBackend(), tmp_path)
    async with app.run_test(size=(80, 24), notifications=True) as pilot:
        await wait_until(pilot, lambda: any("model [/] crashed" in m for m in messages(app)))
        await pilot.pause(0.3)
        assert app.is_running and isinstance(app.screen, AdventureScreen)


async def test_a_notice_never_makes_an_action_link(tmp_path: Path) -> None:
    app = new_app(FakeBackend(), tmp_path)
    async with app.run_test(size=(80, 24), notifications=True) as pilot:
        app.notify(HOSTILE, title="[b]t[/b]")
        await pilot.pause(0.3)
        assert messages(app)[-1] == HOSTILE
        await pilot.click("Toast")  # a live [@click=app.quit] link would quit the app
        await pilot.pause(0.3)
        assert app.is_running


async def test_a_preset_named_with_markup_in_the_settings_select(tmp_path: Path) -> None:
    from textual.widgets import Select

    from tui.core.sampler import Sampler
    from tui.engine.presets import save_user_preset
    from tui.screens.settings import SettingsScreen

    save_user_preset("Bad [/] preset", Sampler(temperature=0.5))
    settings = Settings(preset="Bad [/] preset")
    app = new_app(FakeBackend(), tmp_path)
    async with app.run_test(size=(80, 24), notifications=True) as pilot:
        app.push_screen(SettingsScreen(settings, lambda s: None))
        await wait_until(pilot, lambda: isinstance(app.screen, SettingsScreen)
                         and bool(app.screen.query("#preset")))
        select = app.screen.query_one("#preset", Select)
        select.focus()
        await pilot.press("enter")  # the list of presets opens and renders every label
        await pilot.pause(0.5)
        assert app.is_running and isinstance(app.screen, SettingsScreen)
        assert select.value == "Bad [/] preset"
