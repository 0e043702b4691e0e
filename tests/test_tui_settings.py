"""The settings screen driven with Pilot at 80x24."""

from __future__ import annotations

from pathlib import Path

import pytest
from textual.app import App
from textual.widgets import Input, Select, Static
from textual.widgets._footer import FooterKey

from tui.backends.ignored import ignored_samplers
from tui.engine.campaign import Settings
from tui.engine.presets import BUILTIN_PRESETS, get_preset, list_presets
from tui.screens.settings import SettingsScreen
from tui.widgets.settings_form import FieldError, parse_seed, parse_settings, unsupported_line


class Host(App[None]):
    def __init__(self, settings: Settings) -> None:
        super().__init__()
        self.settings = settings
        self.saved: list[Settings] = []

    def on_mount(self) -> None:
        self.push_screen(SettingsScreen(self.settings, self.saved.append))


def text_of(app: App[None], selector: str) -> str:
    return str(app.screen.query_one(selector, Static).render())


def test_parse_settings_checks_fields() -> None:
    base = Settings(model="m.gguf")
    values = {"temperature": "0.5", "top_p": "1", "top_k": "0", "min_p": "0", "typical_p": "1",
              "tfs_z": "1", "top_a": "0", "eta_cutoff": "0", "repetition_penalty": "1.1",
              "repetition_range": "64", "repetition_slope": "0",
              "encoder_repetition_penalty": "1", "presence_penalty": "0",
              "frequency_penalty": "0", "mirostat_mode": "0", "mirostat_tau": "5",
              "mirostat_eta": "0.1", "n_ctx": "2048", "max_new_tokens": "200", "seed": "",
              "backend": "local", "url": "", "template": "auto", "prompt_style": "story"}
    new = parse_settings(values, base, "")
    assert (new.model, new.n_ctx, new.max_new_tokens, new.prompt_style) == (
        "m.gguf", 2048, 200, "story")
    assert new.sampler.temperature == 0.5 and new.sampler.max_tokens == 200
    for field, bad in (("top_p", "1.5"), ("temperature", "hot"), ("mirostat_mode", "3"),
                       ("max_new_tokens", "4096"), ("n_ctx", "100")):
        with pytest.raises(FieldError) as err:
            parse_settings({**values, field: bad}, base, "")
        assert err.value.field == field
    with pytest.raises(FieldError) as err:
        parse_settings({**values, "backend": "kobold"}, base, "")
    assert err.value.field == "url"
    assert parse_seed(" 42 ") == 42 and parse_seed("") is None


def test_unsupported_line_per_backend() -> None:
    titanic = BUILTIN_PRESETS["Titanic"]
    assert "top_a" in unsupported_line("local", ignored_samplers("local", titanic))
    dungeon = BUILTIN_PRESETS["AI Dungeon 2"]
    assert "every sampler" in unsupported_line("local", ignored_samplers("local", dungeon))
    assert "kobold" in unsupported_line("kobold", ignored_samplers("kobold", titanic))


async def test_change_preset_and_values_then_save() -> None:
    app = Host(Settings(model="x.gguf", preset=""))
    async with app.run_test(size=(80, 24), notifications=True) as pilot:
        await pilot.pause()
        screen = app.screen
        assert isinstance(screen, SettingsScreen)
        screen.query_one("#preset", Select).value = "Titanic"
        await pilot.pause()
        assert screen.query_one("#top_a", Input).value == "0.75"
        assert "top_a" in text_of(app, "#unsupported")  # llama.cpp cannot apply it
        screen.query_one("#backend", Select).value = "kobold"
        await pilot.pause()
        assert "kobold" in text_of(app, "#unsupported")
        screen.query_one("#backend", Select).value = "local"
        await pilot.pause()
        # an out-of-range value is refused with one line and the field focused
        screen.query_one("#top_p", Input).value = "2"
        await pilot.press("ctrl+s")
        await pilot.pause()
        assert app.saved == [] and "Top P: between 0 and 1" in text_of(app, "#error")
        assert screen.focused is screen.query_one("#top_p", Input)
        screen.query_one("#top_p", Input).value = str(get_preset("Titanic").top_p)
        screen.query_one("#n_ctx", Input).value = "2048"
        screen.query_one("#seed", Input).value = "7"
        screen.query_one("#prompt_style", Select).value = "instruct"
        await pilot.press("ctrl+s")
        await pilot.pause()
        assert len(app.saved) == 1
        new = app.saved[0]
        assert new.preset == "Titanic" and new.model == "x.gguf"
        assert new.sampler.top_a == 0.75 and new.sampler.temperature == 1.01
        assert (new.n_ctx, new.seed, new.prompt_style) == (2048, 7, "instruct")
        assert not isinstance(app.screen, SettingsScreen)


async def test_edited_preset_becomes_custom_and_esc_cancels() -> None:
    app = Host(Settings(preset="LLaMA-Precise", sampler=get_preset("LLaMA-Precise")))
    async with app.run_test(size=(80, 24), notifications=True) as pilot:
        await pilot.pause()
        screen = app.screen
        assert screen.query_one("#preset", Select).value == "LLaMA-Precise"
        screen.query_one("#temperature", Input).value = "0.9"
        await pilot.press("ctrl+s")
        await pilot.pause()
        assert app.saved[0].preset == "" and app.saved[0].sampler.temperature == 0.9
    app = Host(Settings())
    async with app.run_test(size=(80, 24), notifications=True) as pilot:
        await pilot.pause()
        shown = [k.description for k in app.screen.query(FooterKey)
                 if k.region.width and app.screen.region.contains_region(k.region)]
        assert {"Save", "Save preset", "Cancel"} <= set(shown)
        # no preset named, but the values are the default preset's: it is shown as such
        assert app.screen.query_one("#preset", Select).value == "Simple Balanced"
        await pilot.press("escape")
        await pilot.pause()
        assert app.saved == [] and not isinstance(app.screen, SettingsScreen)


async def test_save_player_preset(grue_home: Path) -> None:
    app = Host(Settings())
    async with app.run_test(size=(80, 24), notifications=True) as pilot:
        await pilot.pause()
        screen = app.screen
        screen.query_one("#temperature", Input).value = "0.33"
        await pilot.press("f2")  # focuses the name box
        await pilot.press(*"My calm", "enter")
        await pilot.pause()
        assert "My calm" in list_presets()
        assert get_preset("My calm").temperature == 0.33
        assert screen.query_one("#preset", Select).value == "My calm"
        await pilot.press("ctrl+s")
        await pilot.pause()
        assert app.saved[0].preset == "My calm"
        assert (grue_home / "presets").is_dir()
