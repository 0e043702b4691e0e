"""The API key / KoboldCpp password on the settings screen: masked, applied, never saved."""

from __future__ import annotations

from pathlib import Path

from textual.app import App
from textual.widgets import Input, Select

from tui.engine.campaign import Campaign, Settings
from tui.engine.saves import load_save, write_save
from tui.screens.settings import SettingsScreen


class Host(App[None]):
    def __init__(self, settings: Settings) -> None:
        super().__init__()
        self.settings = settings
        self.saved: list[Settings] = []

    def on_mount(self) -> None:
        self.push_screen(SettingsScreen(self.settings, self.saved.append))


async def test_api_key_field_is_masked_and_applied(tmp_path: Path) -> None:
    app = Host(Settings(backend="openai", url="http://127.0.0.1:8080", api_key="old-key"))
    async with app.run_test(size=(80, 24), notifications=True) as pilot:
        await pilot.pause()
        screen = app.screen
        assert isinstance(screen, SettingsScreen)
        field = screen.query_one("#api_key", Input)
        assert field.password and field.value == "old-key"
        field.value = "  zq7x "
        screen.query_one("#backend", Select).value = "kobold"
        field.focus()
        await pilot.pause()
        field.scroll_visible()
        await pilot.pause()
        assert "zq7x" not in app.export_screenshot()
        await pilot.press("ctrl+s")
        await pilot.pause()
    new = app.saved[0]
    assert (new.backend, new.api_key) == ("kobold", "zq7x")
    assert new.backend_config().api_key == "zq7x"
    path = write_save(Campaign(title="Keyed", settings=new), tmp_path)
    saved = "".join(f.read_text(encoding="utf-8") for f in path.rglob("*.toml"))  # a folder
    assert "Keyed" in saved and "zq7x" not in saved
    assert load_save(path).settings.api_key == ""
