"""Sampler settings and named presets (built-in and the player's own)."""

from __future__ import annotations

import os
import re
import tomllib
from dataclasses import fields
from pathlib import Path
from typing import Any

from tui.core.sampler import NEUTRAL, Sampler

# The default for play when no preset is chosen: KoboldCpp Lite's "Simple Balanced".
DEFAULT_SAMPLER = Sampler(
    temperature=0.75, top_k=100, top_p=0.92, repetition_penalty=1.05, repetition_range=360
)


# Values as shipped by text-generation-webui's presets and SillyTavern's copies; every
# sampler not named stays neutral.
BUILTIN_PRESETS: dict[str, Sampler] = {
    "LLaMA-Precise": Sampler(temperature=0.7, top_p=0.1, top_k=40, repetition_penalty=1.18),
    "Space Alien": Sampler(temperature=1.31, top_p=0.29, top_k=72, repetition_penalty=1.09),
    "Titanic": Sampler(
        temperature=1.01,
        top_p=0.21,
        top_k=91,
        repetition_penalty=1.21,
        encoder_repetition_penalty=1.07,
        top_a=0.75,
        eta_cutoff=10.78,
    ),
    "Shortwave": Sampler(
        temperature=1.53, top_p=0.64, top_k=33, repetition_penalty=1.07, top_a=0.04
    ),
    "Storywriter": Sampler(
        temperature=0.72,
        top_p=0.73,
        top_k=0,
        repetition_penalty=1.1,
        repetition_range=2048,
        repetition_slope=0.2,
    ),
    "Mirostat": Sampler(mirostat_mode=2, mirostat_tau=8.0, mirostat_eta=0.1),
    "AI Dungeon 2": Sampler(temperature=0.4, top_k=40, top_p=0.9),
    "Simple Balanced": DEFAULT_SAMPLER,
    "Deterministic": Sampler(temperature=0.0, top_k=1, repetition_penalty=1.18),
}

PRESET_DESCRIPTIONS: dict[str, str] = {
    "LLaMA-Precise": "focused and factual; the guide's pick for assistants",
    "Space Alien": "lively roleplay (MythoMax)",
    "Titanic": "roleplay (MythoMax)",
    "Shortwave": "eventful, surprising stories",
    "Storywriter": "NovelAI-style prose (Pygmalion 2)",
    "Mirostat": "adaptive sampling that holds a steady surprise level",
    "AI Dungeon 2": "the 2019 classic's settings",
    "Simple Balanced": "KoboldCpp Lite's default; Grue's default",
    "Deterministic": "always the most likely token",
}

class PresetError(ValueError):
    """An unknown preset name or an unreadable preset file (one line)."""


def presets_dir() -> Path:
    """`<home>/presets`: `$GRUE_HOME` or the platform's user data folder."""
    from tui.core.paths import grue_home

    return grue_home() / "presets"


def _key(name: str) -> str:
    return " ".join(name.split()).casefold()


def _slug(name: str) -> str:
    slug = re.sub(r"[^A-Za-z0-9._-]+", "-", name.strip()).strip("-.")
    return slug[:80] or "preset"


def load_user_presets(directory: Path | None = None) -> dict[str, Sampler]:
    """The player's presets, by the name stored in each file. Bad files are skipped."""
    folder = directory or presets_dir()
    found: dict[str, Sampler] = {}
    if not folder.is_dir():
        return found
    for path in sorted(folder.glob("*.toml")):
        try:
            found.update([_read_preset_file(path)])
        except PresetError:
            continue
    return found


def _read_preset_file(path: Path) -> tuple[str, Sampler]:
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError, RecursionError) as exc:  # TOMLDecodeError is a ValueError
        raise PresetError(f"{path}: unreadable preset ({exc})") from None
    name = data.get("name") or path.stem
    values = data.get("sampler", {})
    if not isinstance(values, dict):
        raise PresetError(f"{path}: [sampler] must be a table")
    return str(name), Sampler.from_dict(_checked_values(values, path))


def _checked_values(values: dict[str, Any], path: Path) -> dict[str, Any]:
    """Numbers of the right kind for every known field; unknown keys are ignored."""
    kinds = {f.name: type(getattr(NEUTRAL, f.name)) for f in fields(Sampler)}
    kinds["seed"] = int
    checked: dict[str, Any] = {}
    for key, value in values.items():
        kind = kinds.get(key)
        if kind is None:
            continue
        ok = isinstance(value, int | float) and not isinstance(value, bool)
        if not ok or (kind is int and not isinstance(value, int)):
            wanted = "an integer" if kind is int else "a number"
            raise PresetError(f"{path}: {key} must be {wanted}")
        checked[key] = kind(value)
    return checked


def save_user_preset(name: str, sampler: Sampler, directory: Path | None = None) -> Path:
    """Save (or replace) the player's preset `name` as TOML; returns the file written."""
    if not name.strip():
        raise PresetError("a preset needs a name")
    if _key(name) in {_key(n) for n in BUILTIN_PRESETS}:
        raise PresetError(f"{name!r} is a built-in preset; choose another name")
    folder = directory or presets_dir()
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{_slug(name)}.toml"
    import tomli_w  # only needed when saving

    text = tomli_w.dumps({"name": name.strip(), "sampler": sampler.to_dict()})
    tmp = path.with_suffix(".toml.tmp")
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, path)
    return path


def delete_user_preset(name: str, directory: Path | None = None) -> None:
    folder = directory or presets_dir()
    for path in folder.glob("*.toml") if folder.is_dir() else []:
        try:
            stored, _ = _read_preset_file(path)
        except PresetError:
            continue
        if _key(stored) == _key(name):
            path.unlink()
            return
    raise PresetError(f"no saved preset named {name!r}")


def list_presets(directory: Path | None = None) -> list[str]:
    """Built-in preset names, then the player's own."""
    names = list(BUILTIN_PRESETS)
    taken = {_key(n) for n in names}
    for name in load_user_presets(directory):
        if _key(name) not in taken:
            names.append(name)
            taken.add(_key(name))
    return names


def get_preset(name: str, directory: Path | None = None) -> Sampler:
    """A preset by name, case- and spacing-insensitive; built-ins first, then the player's."""
    wanted = _key(name)
    for preset_name, sampler in BUILTIN_PRESETS.items():
        if _key(preset_name) == wanted:
            return sampler
    for preset_name, sampler in load_user_presets(directory).items():
        if _key(preset_name) == wanted:
            return sampler
    choices = ", ".join(list_presets(directory))
    raise PresetError(f"unknown preset {name!r}; choose one of: {choices}")
