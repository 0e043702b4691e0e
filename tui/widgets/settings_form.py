"""The settings form's fields and their checks, kept apart from the screen that shows them.

Every field is a string in the form; `parse_settings` turns the lot into a `Settings` or raises
`FieldError` naming the first bad field, so the screen can focus it and say why in one line.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from tui.core.sampler import Sampler
from tui.engine.campaign import Settings


@dataclass(frozen=True)
class NumberField:
    name: str  # Sampler / Settings attribute
    label: str
    integer: bool
    low: float
    high: float
    hint: str = ""


SAMPLER_FIELDS: tuple[NumberField, ...] = (
    NumberField("temperature", "Temperature", False, 0, 5, "0 = greedy"),
    NumberField("top_p", "Top P", False, 0, 1, "1 = off"),
    NumberField("top_k", "Top K", True, 0, 100_000, "0 = off"),
    NumberField("min_p", "Min P", False, 0, 1, "0 = off"),
    NumberField("typical_p", "Typical P", False, 0, 1, "1 = off"),
    NumberField("tfs_z", "Tail-free Z", False, 0, 1, "1 = off"),
    NumberField("top_a", "Top A", False, 0, 1, "0 = off"),
    NumberField("eta_cutoff", "Eta cutoff", False, 0, 100, "0 = off"),
    NumberField("repetition_penalty", "Repetition penalty", False, 0.01, 5, "1 = off"),
    NumberField("repetition_range", "Repetition range", True, 0, 1_000_000, "tokens"),
    NumberField("repetition_slope", "Repetition slope", False, 0, 20),
    NumberField("encoder_repetition_penalty", "Encoder rep. penalty", False, 0.01, 5, "1 = off"),
    NumberField("presence_penalty", "Presence penalty", False, -2, 2, "0 = off"),
    NumberField("frequency_penalty", "Frequency penalty", False, -2, 2, "0 = off"),
    NumberField("mirostat_mode", "Mirostat mode", True, 0, 2, "0 off, 1 or 2"),
    NumberField("mirostat_tau", "Mirostat tau", False, 0, 100),
    NumberField("mirostat_eta", "Mirostat eta", False, 0, 1),
)
WINDOW_FIELDS: tuple[NumberField, ...] = (
    NumberField("n_ctx", "Context (n_ctx)", True, 0, 1_048_576, "tokens; 0 = the model's own"),
    NumberField("max_new_tokens", "Max new tokens", True, 1, 16_384, "per reply"),
)
BACKENDS = ("local", "openai", "kobold")
PROMPT_STYLES = ("auto", "instruct", "story")


class FieldError(ValueError):
    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field


def format_number(value: float | int) -> str:
    return str(value) if isinstance(value, int) else f"{value:g}"


def parse_number(spec: NumberField, text: str) -> float | int:
    raw = text.strip()
    try:
        value: float | int = int(raw) if spec.integer else float(raw)
    except ValueError:
        kind = "a whole number" if spec.integer else "a number"
        shown = raw[:20] or "empty"
        raise FieldError(spec.name, f"{spec.label}: {kind} is needed, not {shown!r}") from None
    if value != value or not spec.low <= value <= spec.high:  # NaN, or out of range
        raise FieldError(spec.name, f"{spec.label}: between {format_number(spec.low)} and "
                                    f"{format_number(spec.high)}")
    return value


def parse_sampler(values: dict[str, str], base: Sampler) -> Sampler:
    changes = {f.name: parse_number(f, values.get(f.name, "")) for f in SAMPLER_FIELDS}
    return base.with_changes(**changes)


def lenient_sampler(values: dict[str, str], base: Sampler) -> Sampler:
    """The sampler as far as the fields parse (bad fields keep `base`): for live hints."""
    changes = {}
    for f in SAMPLER_FIELDS:
        try:
            changes[f.name] = parse_number(f, values.get(f.name, ""))
        except FieldError:
            continue
    return base.with_changes(**changes)


def parse_seed(text: str) -> int | None:
    raw = text.strip()
    if not raw:
        return None
    try:
        seed = int(raw)
    except ValueError:
        raise FieldError("seed", f"Seed: a whole number, or empty for random, not {raw[:20]!r}")\
            from None
    if not 0 <= seed < 2**32:
        raise FieldError("seed", "Seed: between 0 and 4294967295, or empty for random")
    return seed


def parse_settings(values: dict[str, str], base: Settings, preset: str) -> Settings:
    """The form's values over `base` (the model and anything not on the form are kept)."""
    sampler = parse_sampler(values, base.sampler)
    window = {f.name: int(parse_number(f, values.get(f.name, ""))) for f in WINDOW_FIELDS}
    if window["n_ctx"] and window["n_ctx"] < 256:
        raise FieldError("n_ctx", "Context (n_ctx): at least 256 tokens, or 0 for the model's")
    if window["n_ctx"] and window["max_new_tokens"] >= window["n_ctx"]:
        raise FieldError("max_new_tokens", "Max new tokens: must be less than the context")
    backend = values.get("backend", "local")
    url = values.get("url", "").strip()
    if backend != "local" and not url.startswith(("http://", "https://")):
        raise FieldError("url", f"URL: the {backend} backend needs http://host:port")
    return replace(
        base,
        sampler=sampler.with_changes(max_tokens=window["max_new_tokens"]),
        n_ctx=window["n_ctx"],
        max_new_tokens=window["max_new_tokens"],
        seed=parse_seed(values.get("seed", "")),
        preset=preset,
        template=values.get("template", "auto") or "auto",
        prompt_style=values.get("prompt_style", "auto") or "auto",
        backend=backend,
        url=url,
        api_key=values.get("api_key", base.api_key).strip(),  # kept for this run, never saved
    )


def same_sampling(a: Sampler, b: Sampler) -> bool:
    """Equal in every knob the form edits (reply length and seed live elsewhere)."""
    return all(getattr(a, f.name) == getattr(b, f.name) for f in SAMPLER_FIELDS)


def unsupported_line(backend: str, missing: list[str] | None) -> str:
    """Which samplers the chosen backend cannot apply (`missing`; None: unknown), one line."""
    if missing is None:
        return "OpenAI-compatible servers differ; what one ignores is shown after a reply."
    if not missing:
        return f"The {backend} backend applies every sampler set here."
    return f"The {backend} backend ignores: {', '.join(missing)}"
