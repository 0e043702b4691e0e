"""The home screen: the first frame comes before the model loads; pick a scenario or a save."""

from __future__ import annotations

import asyncio
import threading
from pathlib import Path

from fakes import FakeBackend
from textual.pilot import Pilot
from textual.widgets import OptionList

from tui.app import GrueApp
from tui.core.backend import ModelInfo, ProgressCallback
from tui.engine.campaign import campaign_from_scenario
from tui.engine.saves import list_saves, load_save, write_save
from tui.engine.scenario import find_scenario
from tui.model_host import ModelHost
from tui.screens.adventure import AdventureScreen
from tui.screens.home import HomeScreen
from tui.screens.scenario_setup import QuestionDialog
from tui.widgets.confirm import ConfirmDialog


class SlowLoading(FakeBackend):
    """A model whose load blocks until the test lets it finish."""

    def __init__(self) -> None:
        super().__init__(["The mailbox creaks."])
        self.release = threading.Event()

    def load(self, progress: ProgressCallback | None = None) -> ModelInfo:
        self.release.wait(10)
        return super().load(progress)


async def test_menu_shows_before_the_model_loads_and_starts_a_scenario() -> None:
    backend = SlowLoading()
    app = GrueApp(host=ModelHost(lambda s: backend, close_backend=False))
    async with app.run_test(size=(80, 24), notifications=True) as pilot:
        await pilot.pause(0.2)
        assert isinstance(app.screen, HomeScreen)  # drawn while the model still loads
        assert not backend.loaded
        menu = app.screen.query_one("OptionList")
        labels = [str(menu.get_option_at_index(i).prompt) for i in range(menu.option_count)]
        assert any("The Lantern Road" in label for label in labels)
        backend.release.set()
        target = next(i for i, label in enumerate(labels) if "The Lantern Road" in label)
        menu.highlighted = target
        await pilot.press("enter")
        await pilot.pause(0.3)
        assert isinstance(app.screen, AdventureScreen)
        assert app.screen.game.campaign.title == "The Lantern Road"


async def test_the_model_loads_only_after_the_menu_is_drawn(monkeypatch) -> None:
    """The model's load (llama_cpp's import, the weights) holds the GIL for a good part of
    a second: it starts once the home screen's frame with the menu has been made, not while
    it is made (docs/architecture.md, "Launch")."""
    saved("Played", 1)
    drawn = threading.Event()
    load_saw: list[bool] = []
    real_refresh = HomeScreen._compositor_refresh

    def refresh(screen: HomeScreen) -> None:
        real_refresh(screen)
        if screen.is_current and screen.query_one(OptionList).option_count:
            drawn.set()

    def factory(settings: object) -> FakeBackend:
        load_saw.append(drawn.is_set())
        return FakeBackend()

    monkeypatch.setattr(HomeScreen, "_compositor_refresh", refresh)
    app = GrueApp(host=ModelHost(factory, close_backend=False))
    async with app.run_test(size=(80, 24), notifications=True) as pilot:
        for _ in range(40):
            if load_saw:
                break
            await pilot.pause(0.05)
        assert load_saw == [True]
        assert any("Played" in label for label in menu_labels(app))


async def test_continue_a_save_from_the_menu() -> None:
    campaign = campaign_from_scenario(find_scenario("rain-on-ninth"))
    campaign.begin_turn("do", "> You look around.").set_response("Rain.")  # a started game
    write_save(campaign)
    backend = FakeBackend()
    app = GrueApp(host=ModelHost(lambda s: backend, close_backend=False))
    async with app.run_test(size=(80, 24), notifications=True) as pilot:
        await pilot.pause(0.2)
        await pilot.press("enter")  # the newest save is highlighted first
        for _ in range(40):
            if isinstance(app.screen, AdventureScreen):
                break
            await asyncio.sleep(0.05)
        assert isinstance(app.screen, AdventureScreen)
        assert app.screen.game.campaign.id == campaign.id


def menu_labels(app: GrueApp) -> list[str]:
    menu = app.screen.query_one(OptionList)
    return [str(menu.get_option_at_index(i).prompt) for i in range(menu.option_count)]


def saved(title: str, player_turns: int) -> Path:
    campaign = campaign_from_scenario(find_scenario("rain-on-ninth"))
    campaign.title = title
    campaign.id = f"{title.lower()}-1"
    for i in range(player_turns):
        campaign.begin_turn("do", f"> You wait {i}.").set_response("Rain.")
    return write_save(campaign)


async def highlight(app: GrueApp, pilot: Pilot[None], text: str) -> None:
    menu = app.screen.query_one(OptionList)
    menu.highlighted = next(i for i, label in enumerate(menu_labels(app)) if text in label)
    await pilot.pause(0.05)


async def test_unstarted_games_wait_under_a_fold_and_one_turn_is_singular() -> None:
    saved("Played", 1)
    saved("Untouched", 0)
    app = GrueApp(host=ModelHost(lambda s: FakeBackend(), close_backend=False))
    async with app.run_test(size=(80, 24), notifications=True) as pilot:
        await pilot.pause(0.2)
        labels = menu_labels(app)
        played = next(label for label in labels if "Played" in label)
        assert "· 1 turn ·" in played
        assert not any("Untouched" in label for label in labels)
        fold = next(i for i, label in enumerate(labels) if "not started yet" in label)
        assert "1 game not started yet" in labels[fold]
        assert fold < next(i for i, label in enumerate(labels) if "New adventure" in label)
        await highlight(app, pilot, "not started yet")
        await pilot.press("enter")  # open the fold
        await pilot.pause(0.1)
        assert isinstance(app.screen, HomeScreen)
        untouched = next(label for label in menu_labels(app) if "Untouched" in label)
        assert "· 0 turns ·" in untouched


async def test_delete_asks_first_and_no_keeps_the_save() -> None:
    path = saved("Doomed", 2)
    app = GrueApp(host=ModelHost(lambda s: FakeBackend(), close_backend=False))
    async with app.run_test(size=(80, 24), notifications=True) as pilot:
        await pilot.pause(0.2)
        await highlight(app, pilot, "Doomed")
        await pilot.press("d")
        await pilot.pause(0.1)
        assert isinstance(app.screen, ConfirmDialog)
        await pilot.press("n")
        await pilot.pause(0.1)
        assert path.exists()
        await pilot.press("d")
        await pilot.pause(0.1)
        await pilot.press("y")
        await pilot.pause(0.1)
        assert not path.exists()
        assert isinstance(app.screen, HomeScreen)
        assert not any("Doomed" in label for label in menu_labels(app))
    assert list_saves() == []


async def test_rename_changes_the_title_shown_and_the_file_name() -> None:
    path = saved("Oldname", 1)
    app = GrueApp(host=ModelHost(lambda s: FakeBackend(), close_backend=False))
    async with app.run_test(size=(80, 24), notifications=True) as pilot:
        await pilot.pause(0.2)
        await highlight(app, pilot, "Oldname")
        await pilot.press("r")
        await pilot.pause(0.1)
        assert isinstance(app.screen, QuestionDialog)
        await pilot.press(*"The Long Night", "enter")
        await pilot.pause(0.1)
        labels = menu_labels(app)
        assert any("The Long Night" in label for label in labels)
        assert not any("Oldname" in label for label in labels)
    [summary] = list_saves()
    assert summary.title == "The Long Night"
    assert summary.path.name.startswith("the-long-night-") and not path.exists()
    assert load_save(summary.path).player_turn_count == 1


async def test_the_model_line_after_the_home_screen_lost_it_is_no_crash() -> None:
    """The default model loads on a thread; a load that finished while the app was closing
    (the home screen's widgets gone) raised NoMatches out of the app (a busy CI run)."""
    app = GrueApp(host=ModelHost(lambda s: FakeBackend(), close_backend=False))
    async with app.run_test(size=(80, 24), notifications=True) as pilot:
        await pilot.pause()
        home = next(s for s in app.screen_stack if isinstance(s, HomeScreen))
        await home.query_one("#model").remove()
        app._home_model_line("Model: fake ready (2048 tokens)")
        await pilot.pause()
    assert app.return_code in (None, 0)
