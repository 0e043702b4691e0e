"""Sampler settings: every knob a backend may honour (neutral core)."""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields, replace
from typing import Any


@dataclass(frozen=True)
class Sampler:
    """Every sampler knob a backend may honour. Defaults are neutral (off).

    A backend applies what it can and reports the rest through
    `Backend.unsupported_samplers`, so nothing is dropped silently.
    """

    temperature: float = 1.0
    top_p: float = 1.0
    top_k: int = 0
    min_p: float = 0.0
    typical_p: float = 1.0
    tfs_z: float = 1.0
    top_a: float = 0.0
    eta_cutoff: float = 0.0
    repetition_penalty: float = 1.0
    repetition_range: int = 1024
    repetition_slope: float = 0.0
    encoder_repetition_penalty: float = 1.0
    presence_penalty: float = 0.0
    frequency_penalty: float = 0.0
    mirostat_mode: int = 0
    mirostat_tau: float = 5.0
    mirostat_eta: float = 0.1
    max_tokens: int = 160
    seed: int | None = None

    def with_changes(self, **changes: Any) -> Sampler:
        return replace(self, **changes)

    def to_dict(self) -> dict[str, Any]:
        return {k: v for k, v in asdict(self).items() if v is not None}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Sampler:
        known = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in data.items() if k in known})


NEUTRAL = Sampler()
