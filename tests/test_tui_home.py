"""The home screen: the first frame comes before the model loads; pick a scenario or a save."""

from __future__ import annotations

import asyncio
import threading

from fakes import FakeBackend

from tui.app import GrueApp
from tui.core.backend import ModelInfo, ProgressCallback
from tui.engine.campaign import campaign_from_scenario
from tui.engine.saves import write_save
from tui.engine.scenario import find_scenario
from tui.model_host import ModelHost
from tui.screens.adventure import AdventureScreen
from tui.screens.home import HomeScreen


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


async def test_continue_a_save_from_the_menu() -> None:
    campaign = campaign_from_scenario(find_scenario("rain-on-ninth"))
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
