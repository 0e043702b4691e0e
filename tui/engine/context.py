"""The context builder: fit everything the model should see into its token window.

Order (docs/architecture.md, the context builder), keeping what changes least at the top so
the backend can reuse the evaluated prefix of the previous prompt:

1. system prompt, memory, card text, top lore, long-term summary  (the header)
2. story history, oldest first, trimmed from the top in large chunks
3. author's note and late lore, a few player actions from the end; @depth lore
4. the newest messages, the pending action, then the generation prompt

Every piece is tokenized on its own (template markers with special tokens parsed,
untrusted text without), and token ids are cached by content, so a turn never
re-tokenizes the whole history and the prompt only grows at its end between trims.
Each builder also keeps a ledger of the previous build's history (merged messages and
prefix sums of their costs): a build finds the unchanged prefix with C-speed list
comparisons, costs only the messages after it, and bisects the prefix sums to trim, so
a build does no per-message Python work for the story outside the window.

The builder's parts live beside it: `context_types` (what a prompt is built from and what a
build reports), `context_layout` (pieces for one prompt style, macros), `context_ledger`
(token ids by content, the history ledger) and `context_build` (one build, in named steps).
Their public names are importable from here.
"""

from __future__ import annotations

import copy
import gc
from bisect import bisect_left
from collections.abc import Iterator
from contextlib import contextmanager

from tui.engine.context_build import TOP_POSITIONS, FrontMemory, _Build
from tui.engine.context_layout import Layout, apply_macros
from tui.engine.context_ledger import (
    _NO_LEDGER,
    TokenCache,
    Tokenize,
    _Ledger,
    common_prefix,
    next_ledger,
)
from tui.engine.context_types import (
    NARRATOR,
    NOTE,
    PLAYER,
    ContextReport,
    HeaderPart,
    Message,
    PromptSpec,
    Segment,
    TrimDrop,
)
from tui.engine.templates import InstructTemplate

__all__ = [
    "NARRATOR",
    "NOTE",
    "PLAYER",
    "TOP_POSITIONS",
    "ContextBuilder",
    "ContextReport",
    "HeaderPart",
    "Layout",
    "Message",
    "PromptSpec",
    "Segment",
    "TokenCache",
    "Tokenize",
    "TrimDrop",
    "apply_macros",
    "common_prefix",
]


@contextmanager
def gc_paused() -> Iterator[None]:
    """No cyclic garbage collection inside a build. A build keeps lists as long as the story
    (the history, its merged messages, texts and costs: 20,000 items at 10,000 turns) young
    until the next build, and allocates enough for a young-generation collection every few
    builds, each walking those lists: 3-7 ms, the build's tail. Paused, the collection runs
    after the build, while the model reads the prompt (docs/architecture.md, "The context
    builder"). Reference counting still frees everything at once; only cycles wait."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


class ContextBuilder:
    """Builds prompts for one backend's tokenizer; keep one per loaded model."""

    def __init__(
        self,
        tokenize: Tokenize,
        n_ctx: int,
        max_new_tokens: int,
        template: InstructTemplate | None,
        prefix_tokens: list[int] | None = None,
        chunk_fraction: float = 0.25,
    ) -> None:
        if max_new_tokens >= n_ctx:
            raise ValueError(f"max_new_tokens ({max_new_tokens}) must be below n_ctx ({n_ctx})")
        self.cache = TokenCache(tokenize)
        self.n_ctx = n_ctx
        self.max_new_tokens = max_new_tokens
        self.layout = Layout(template)
        self.prefix_tokens = list(prefix_tokens or [])
        self.chunk_fraction = chunk_fraction  # 0: trim per message (the backend can shift)
        self.min_fill = 0.9  # a steady start keeps the window at least this full
        self._last_start: tuple[int, object] = (0, None)
        self._front = FrontMemory()
        self.incremental = True  # False: every build costs the whole history again
        self._ledger = _NO_LEDGER
        self._aside: ContextBuilder | None = None

    def aside(self) -> ContextBuilder:
        """A builder for the prompts made beside the story (the story-so-far and world state
        updates): the same tokenizer, token cache and layout, but its own memory of the last
        history (the ledger, the steady start). Built on this one, such a prompt would throw
        away the story's ledger (the next turn merging and costing the whole story again,
        10,000 turns at turn 10,000) and its steady start (the next turn's start moving: a
        full re-read)."""
        if self._aside is None:
            aside = copy.copy(self)  # shares the token cache and the layout
            aside._ledger, aside._last_start, aside._aside = _NO_LEDGER, (0, None), None
            aside._front = FrontMemory()
            self._aside = aside
        return self._aside

    @property
    def budget(self) -> int:
        return self.n_ctx - self.max_new_tokens

    def _history(self, spec: PromptSpec) -> _Ledger:
        """The merged, macro-applied history and its costs, reusing the last build's ledger
        for the unchanged prefix of `spec.history`."""
        self._ledger = next_ledger(
            self._ledger, spec.history, spec.macros, self.cache, self.layout, self.incremental
        )
        return self._ledger

    def build(self, spec: PromptSpec) -> ContextReport:
        with gc_paused():
            return self._build(spec)

    def ask_after(self, spec: PromptSpec, question: Message) -> tuple[list[int], str]:
        """`spec`'s prompt up to where its pending message goes, then `question` in that
        place and the reply's opening: tokens and text. The window is `spec`'s own, so a
        server that cached the story for the next turn reads only the question (the world
        update on a server, docs/architecture.md "World state"). It may exceed the budget:
        the caller sees how much room is left for the answer."""
        report = self.build(spec)
        cut = report.pending_start
        tokens = report.tokens[:cut]
        text = "".join(s.text for s in report.segments if s.start < cut)
        for piece in [*self.layout.message(question, first=False),
                      *self.layout.generation(False, spec.reply_role, spec.reply_speaker)]:
            tokens += self.cache.ids(piece.text, piece.special)
            text += piece.text
        return tokens, text

    def _build(self, spec: PromptSpec) -> ContextReport:
        return _Build(
            spec,
            self._history(spec),
            cache=self.cache,
            layout=self.layout,
            n_ctx=self.n_ctx,
            budget=self.budget,
            prefix_tokens=self.prefix_tokens,
            history_start=self._history_start,
            front=self._front if self.chunk_fraction == 0 else None,
        ).run()

    def _history_start(
        self, prefix: list[int], n: int, total: int, avail: int, min_start: int
    ) -> int:
        """The first of `n` history messages to keep.

        `prefix[i]` is the cost of messages before i (i < n), `total` that of all n. The
        smallest start that fits is found by bisection of the prefix sums (costs are never
        negative, so they never decrease). Then:
        - when everything after the story so far (`min_start`) fits, that is the start: no
          rounding past story the summary does not cover (it made the window collapse);
        - with `chunk_fraction` > 0 (a backend that cannot shift its cache) the start is
          rounded up to a chunk boundary, where the running token total of the whole story
          crosses multiples of that fraction of the window, so the prompt's prefix only
          moves in big steps; with 0 (context shifting) trimming is per message;
        - the start never moves back to older story while the story before it is unchanged
          (fired lore shrinking would otherwise swing it back and forth, each swing a full
          re-read), unless the kept part would fall under `min_fill` of what is available.
        See docs/architecture.md, "The context builder".
        """
        if n == 0:
            return 0
        last = n - 1  # the newest message is always kept
        floor = min(max(0, min_start), last)
        # The first start from `floor` whose suffix fits: total - prefix[start] <= avail.
        smallest = bisect_left(prefix, total - avail, floor, last)
        start = smallest
        if smallest > floor and self.chunk_fraction > 0:
            chunk = max(1, int(self.budget * self.chunk_fraction))
            target = -(-prefix[smallest] // chunk) * chunk  # round up to a chunk boundary
            rounded = bisect_left(prefix, target, smallest, last)
            start = rounded if prefix[rounded] >= target else smallest
        return self._steady_start(start, prefix, n, total, avail, floor)

    def _steady_start(self, start: int, prefix: list[int], n: int, total: int, avail: int,
                      floor: int) -> int:
        """`start`, or the last build's start when that is later, still valid and keeps the
        window at least `min_fill` full."""
        merged = self._ledger.merged
        if len(merged) != n:  # not this builder's history (a direct call): no memory
            return start
        last_start, last_first = self._last_start
        if start < last_start < n and last_start >= floor and \
                merged[last_start] is last_first and \
                total - prefix[last_start] >= self.min_fill * avail:
            start = last_start
        self._last_start = (start, merged[start])
        return start
