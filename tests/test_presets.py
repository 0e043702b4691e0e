"""Sampler presets: exact values from the guide's sources, lookup, and the player's own."""

from __future__ import annotations

from pathlib import Path

import pytest

from tui.backends.ignored import unsupported_by_llama_cpp
from tui.core.sampler import Sampler
from tui.engine.presets import (
    BUILTIN_PRESETS,
    DEFAULT_SAMPLER,
    PRESET_DESCRIPTIONS,
    PresetError,
    delete_user_preset,
    get_preset,
    list_presets,
    presets_dir,
    save_user_preset,
)

NEUTRAL = Sampler()


def changed(sampler: Sampler) -> dict[str, object]:
    """Only the settings that differ from neutral."""
    return {
        k: v for k, v in sampler.to_dict().items() if getattr(NEUTRAL, k) != v
    }


EXPECTED = {
    "LLaMA-Precise": {"temperature": 0.7, "top_p": 0.1, "top_k": 40, "repetition_penalty": 1.18},
    "Space Alien": {"temperature": 1.31, "top_p": 0.29, "top_k": 72, "repetition_penalty": 1.09},
    "Titanic": {
        "temperature": 1.01,
        "top_p": 0.21,
        "top_k": 91,
        "repetition_penalty": 1.21,
        "encoder_repetition_penalty": 1.07,
        "top_a": 0.75,
        "eta_cutoff": 10.78,
    },
    "Shortwave": {
        "temperature": 1.53,
        "top_p": 0.64,
        "top_k": 33,
        "repetition_penalty": 1.07,
        "top_a": 0.04,
    },
    "Storywriter": {
        "temperature": 0.72,
        "top_p": 0.73,
        "repetition_penalty": 1.1,
        "repetition_range": 2048,
        "repetition_slope": 0.2,
    },
    "Mirostat": {"mirostat_mode": 2, "mirostat_tau": 8.0},
    "AI Dungeon 2": {"temperature": 0.4, "top_k": 40, "top_p": 0.9},
    "Simple Balanced": {
        "temperature": 0.75,
        "top_k": 100,
        "top_p": 0.92,
        "repetition_penalty": 1.05,
        "repetition_range": 360,
    },
    "Deterministic": {"temperature": 0.0, "top_k": 1, "repetition_penalty": 1.18},
}


@pytest.mark.parametrize("name", list(EXPECTED))
def test_exact_values_and_everything_else_neutral(name: str) -> None:
    assert changed(get_preset(name)) == EXPECTED[name]


def test_mirostat_keeps_eta_and_storywriter_top_k_off() -> None:
    assert get_preset("Mirostat").mirostat_eta == 0.1
    assert get_preset("Storywriter").top_k == 0


def test_neutral_defaults() -> None:
    assert (NEUTRAL.temperature, NEUTRAL.top_p, NEUTRAL.top_k, NEUTRAL.typical_p) == (1, 1, 0, 1)
    assert (NEUTRAL.tfs_z, NEUTRAL.top_a, NEUTRAL.min_p, NEUTRAL.repetition_penalty) == (1, 0, 0, 1)
    assert (NEUTRAL.repetition_range, NEUTRAL.mirostat_mode, NEUTRAL.mirostat_tau) == (1024, 0, 5)
    assert get_preset("simple balanced") == DEFAULT_SAMPLER


def test_every_builtin_described_and_listed(tmp_path: Path) -> None:
    assert set(PRESET_DESCRIPTIONS) == set(BUILTIN_PRESETS)
    assert list_presets(tmp_path) == list(BUILTIN_PRESETS)


def test_lookup_is_case_insensitive_and_errors_list_names(tmp_path: Path) -> None:
    assert get_preset("llama-precise", tmp_path) is BUILTIN_PRESETS["LLaMA-Precise"]
    assert get_preset("  SPACE   alien ", tmp_path) is BUILTIN_PRESETS["Space Alien"]
    with pytest.raises(PresetError, match="unknown preset 'Nope'.*LLaMA-Precise.*Mirostat"):
        get_preset("Nope", tmp_path)


def test_user_presets_round_trip(tmp_path: Path) -> None:
    mine = Sampler(temperature=0.9, top_k=50, min_p=0.05, seed=42)
    path = save_user_preset("My Spooky / Preset", mine, tmp_path)
    assert path.parent == tmp_path and path.suffix == ".toml" and "/" not in path.name
    assert 'name = "My Spooky / Preset"' in path.read_text()
    assert get_preset("my spooky / preset", tmp_path) == mine
    assert list_presets(tmp_path)[-1] == "My Spooky / Preset"
    # saving again replaces it
    save_user_preset("My Spooky / Preset", mine.with_changes(top_k=7), tmp_path)
    assert get_preset("My Spooky / Preset", tmp_path).top_k == 7
    assert len(list(tmp_path.glob("*.toml"))) == 1
    delete_user_preset("MY SPOOKY / PRESET", tmp_path)
    with pytest.raises(PresetError):
        get_preset("My Spooky / Preset", tmp_path)


def test_builtin_names_are_protected(tmp_path: Path) -> None:
    with pytest.raises(PresetError, match="built-in"):
        save_user_preset("titanic", Sampler(), tmp_path)
    with pytest.raises(PresetError):
        save_user_preset("   ", Sampler(), tmp_path)


def test_bad_user_files_are_skipped(tmp_path: Path) -> None:
    (tmp_path / "broken.toml").write_text("this is = = not toml")
    (tmp_path / "wrongtype.toml").write_text('name = "Odd"\n[sampler]\ntemperature = "hot"\n')
    (tmp_path / "ok.toml").write_text('name = "Fine"\n[sampler]\ntemperature = 1\nfoo = 3\n')
    assert list_presets(tmp_path)[len(BUILTIN_PRESETS) :] == ["Fine"]
    fine = get_preset("fine", tmp_path)
    assert fine.temperature == 1.0 and isinstance(fine.temperature, float)


def test_presets_dir_follows_grue_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GRUE_HOME", str(tmp_path))
    assert presets_dir() == tmp_path / "presets"
    save_user_preset("Mine", Sampler(top_k=3))
    assert get_preset("mine").top_k == 3


def test_unsupported_by_llama_cpp() -> None:
    assert unsupported_by_llama_cpp(get_preset("LLaMA-Precise")) == []
    assert unsupported_by_llama_cpp(get_preset("Mirostat")) == []
    assert unsupported_by_llama_cpp(get_preset("Titanic")) == [
        "top_a",
        "eta_cutoff",
        "encoder_repetition_penalty",
    ]
    assert unsupported_by_llama_cpp(get_preset("Shortwave")) == ["top_a"]
    assert unsupported_by_llama_cpp(get_preset("Storywriter")) == [
        "repetition_range",
        "repetition_slope",
    ]
    # a range without a penalty shapes nothing
    assert unsupported_by_llama_cpp(Sampler(repetition_range=64)) == []
    assert unsupported_by_llama_cpp(Sampler(tfs_z=0.95, min_p=0.1, typical_p=0.9)) == ["tfs_z"]
