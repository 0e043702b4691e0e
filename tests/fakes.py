"""A scripted model for fast UI and engine tests (never the only test of a feature)."""

from __future__ import annotations

import re
import threading
import time
from collections.abc import Iterator
from typing import Any

from tui.core.backend import Backend, ModelInfo, NoJsonSchema, ProgressCallback, Prompt
from tui.core.sampler import Sampler

_WORD = re.compile(r"\s+|\w+|[^\w\s]")


class FakeBackend(Backend):
    """A scripted model for fast UI tests: word tokens, replies from a list, cancellable."""

    def __init__(self, replies: list[str] | None = None, n_ctx: int = 2048,
                 delay: float = 0.0, chat_template: str | None = "<|im_start|>",
                 gate: threading.Event | None = None) -> None:
        self.replies = list(replies or ["The door creaks open onto a dark hall."])
        self.delay = delay
        # Replies wait for this, when given: a turn that stays under way until the test says.
        self.gate = gate
        self.vocab: dict[str, int] = {}
        self.inverse: dict[int, str] = {}
        self.prompts: list[Prompt] = []
        self._info = ModelInfo(name="fake", n_ctx=n_ctx, chat_template=chat_template)
        self.loaded = False
        self.streams_ended = 0  # replies finished or cancelled
        # The world state's updates: constrained JSON replies ("" = nothing changed), and
        # whether this stand-in plays a server that cannot constrain output.
        self.json_replies: list[str] = ['{"changes": []}']
        self.json_prompts: list[Prompt] = []
        self.json_unsupported = False
        # Updates wait for this, when given: one stays under way until the test says (or it
        # is cancelled, and answers "").
        self.json_gate: threading.Event | None = None
        # A stand-in for the local model, whose cache is its own: an update is a prompt apart.
        # False plays a server's one cache: the update is asked after the story's prompt.
        self.keeps_side_prompts_apart = True

    @property
    def info(self) -> ModelInfo:
        return self._info

    def load(self, progress: ProgressCallback | None = None) -> ModelInfo:
        if progress:
            progress(1.0)
        self.loaded = True
        return self._info

    def tokenize(self, text: str, special: bool = True) -> list[int]:
        ids = []
        for piece in _WORD.findall(text):
            if piece not in self.vocab:
                self.vocab[piece] = len(self.vocab) + 1
                self.inverse[self.vocab[piece]] = piece
            ids.append(self.vocab[piece])
        return ids

    def detokenize(self, tokens: list[int]) -> str:
        return "".join(self.inverse.get(t, "") for t in tokens)

    def stream(self, prompt: Prompt, sampler: Sampler, stop: list[str],
               cancel: threading.Event) -> Iterator[str]:
        self.prompts.append(prompt)
        reply = self.replies.pop(0) if len(self.replies) > 1 else self.replies[0]
        try:
            while self.gate is not None and not self.gate.wait(0.01):
                if cancel.is_set():
                    return
            for piece in _WORD.findall(reply):
                if cancel.is_set():
                    return
                if self.delay:
                    time.sleep(self.delay)
                yield piece
        finally:
            self.streams_ended += 1



    supports_json_schema = True

    def complete_json(self, prompt: Prompt, schema: dict[str, Any], sampler: Sampler,
                      cancel: threading.Event, opening: str = "") -> str:
        if self.json_unsupported:
            raise NoJsonSchema("fake: no JSON schema here")
        self.json_prompts.append(prompt)
        while self.json_gate is not None and not self.json_gate.wait(0.01):
            if cancel.is_set():
                return ""
        return self.json_replies.pop(0) if len(self.json_replies) > 1 else self.json_replies[0]
