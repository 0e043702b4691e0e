"""Pieces shared by the remote backends: sampler mapping, the estimating tokenizer and the
client-side cap on a streamed reply."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import fields
from typing import Any

from tui.core.backend import BackendError
from tui.core.sampler import NEUTRAL, Sampler

ESTIMATE_NOTE = (
    "token counts are estimates: this server has no tokenizer endpoint, "
    "so counts are guessed from characters"
)

# Statuses that mean "not these fields" when a request asks for a JSON schema or grammar.
FIELDS_REFUSED = (400, 404, 405, 415, 422, 501)

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


# A streamed token costs 100-500 bytes of JSON on the wire; this leaves room for servers
# that send timings or keep-alive comments, and still ends a reply that never does.
BYTES_PER_TOKEN = 4096
BYTES_FLOOR = 1024 * 1024


class ReplyCap:
    """The client-side end of one streamed reply, for servers that never end one.

    At most `max_tokens` pieces of text (a server sends one token or fewer per piece): after
    them the stream is still read to its end, but a further piece of text means the server
    ignores `max_tokens`, and the reply stops there. A byte budget for everything on the
    wire (keep-alive comments included) ends a stream that never sends text.
    """

    def __init__(self, max_tokens: int) -> None:
        self.max_pieces = max(1, max_tokens)
        self.byte_budget = BYTES_FLOOR + self.max_pieces * BYTES_PER_TOKEN
        self.pieces = 0
        self.bytes_read = 0
        self.out_of_bytes = False
        self.runaway = False

    def read(self, chunks: Iterable[bytes]) -> Iterator[bytes]:
        """The body's chunks until the byte budget is spent (the chunk over it is dropped)."""
        for chunk in chunks:
            self.bytes_read += len(chunk)
            if self.bytes_read > self.byte_budget:
                self.out_of_bytes = True
                return
            yield chunk

    def take(self) -> bool:
        """Count one piece of text: True to pass it on; False (and `runaway`) past the cap."""
        if self.pieces >= self.max_pieces:
            self.runaway = True
            return False
        self.pieces += 1
        return True

    def check_some_text(self, label: str) -> None:
        """After the byte budget ran out: an error if it bought no text at all."""
        if self.pieces == 0:
            mb = self.byte_budget / (1024 * 1024)
            raise BackendError(f"{label}: {mb:.1f} MB from the server and no text: stopped reading")
