"""Pieces shared by the remote backends: sampler mapping and the estimating tokenizer."""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import fields
from typing import Any

from tui.core.sampler import NEUTRAL, Sampler

ESTIMATE_NOTE = (
    "token counts are estimates: this server has no tokenizer endpoint, "
    "so counts are guessed from characters"
)


# Settings that only matter when another one is switched on.
_DEPENDS_ON: dict[str, Callable[[Sampler], bool]] = {
    "repetition_range": lambda s: s.repetition_penalty != 1.0,
    "repetition_slope": lambda s: s.repetition_penalty != 1.0,
    "mirostat_tau": lambda s: s.mirostat_mode != 0,
    "mirostat_eta": lambda s: s.mirostat_mode != 0,
}
# Not sampler knobs: every backend handles them on its own.
_HANDLED_ELSEWHERE = {"max_tokens", "seed"}


def active_settings(sampler: Sampler) -> list[str]:
    """Names of the settings in `sampler` that change sampling (non-neutral and relevant)."""
    names = []
    for f in fields(Sampler):
        name = f.name
        if name in _HANDLED_ELSEWHERE:
            continue
        if getattr(sampler, name) == getattr(NEUTRAL, name):
            continue
        relevant = _DEPENDS_ON.get(name)
        if relevant is not None and not relevant(sampler):
            continue
        names.append(name)
    return names


def unsupported(sampler: Sampler, names: Mapping[str, str]) -> list[str]:
    """Active settings that have no request field in `names` (Sampler field -> field)."""
    return [name for name in active_settings(sampler) if name not in names]


def sampler_fields(sampler: Sampler, names: Mapping[str, str]) -> dict[str, Any]:
    """Every mapped setting, neutral ones included: servers' own defaults are not neutral
    (llama_cpp.server defaults to top_k=40, min_p=0.05, repeat_penalty=1.1)."""
    return {key: getattr(sampler, name) for name, key in names.items()}


class EstimateTokenizer:
    """Reversible stand-in token ids for a server that cannot tokenize.

    Text is cut into word-ish pieces of at most four letters, so counts run a little above a
    real BPE tokenizer's (a safe side for context budgets). Each piece gets an id from an
    intern table, so `detokenize(tokenize(t)) == t`.
    """

    _PIECE = re.compile(r" ?[^\W\d_]{1,4}| ?\d{1,3}| ?[^\w\s]|\s+|_", re.UNICODE)

    def __init__(self) -> None:
        self._ids: dict[str, int] = {}
        self._pieces: list[str] = []

    def tokenize(self, text: str) -> list[int]:
        out = []
        for piece in self._PIECE.findall(text):
            token = self._ids.get(piece)
            if token is None:
                token = self._ids[piece] = len(self._pieces)
                self._pieces.append(piece)
            out.append(token)
        return out

    def detokenize(self, tokens: list[int]) -> str:
        n = len(self._pieces)
        return "".join(self._pieces[t] for t in tokens if 0 <= t < n)
