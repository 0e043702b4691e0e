"""The app's model: one owner thread, the loaded backend, and its context builder.

Screens call these from Textual thread workers; every call into the backend runs on the
owner thread (`ModelWorker`), so the event loop never blocks and the model is never
touched by two threads.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import TYPE_CHECKING

from tui.backends.factory import make_backend
from tui.backends.worker import ModelWorker
from tui.core.backend import Backend, BackendConfig, BackendError, ModelInfo

if TYPE_CHECKING:
    from tui.engine.campaign import Campaign, Settings
    from tui.engine.context import ContextBuilder, ContextReport, PromptSpec
    from tui.engine.game import GenerationResult, TurnRequest
    from tui.engine.summary import SummaryDraft
    from tui.engine.world.propose import WorldRequest

# The engine's turn code (tui.engine.game: the context builder, templates, jinja2) is
# imported on the owner thread when first used, after the home screen is drawn
# (docs/architecture.md, "Launch").


class ModelHost:
    def __init__(self, backend_factory: Callable[[BackendConfig], Backend] = make_backend,
                 close_backend: bool = True) -> None:
        self.close_backend = close_backend  # False when the backend is lent (tests)
        self.worker = ModelWorker()
        self.backend_factory = backend_factory
        self.backend: Backend | None = None
        self.info: ModelInfo | None = None
        self.key: BackendConfig | None = None  # what is loaded; reload when it changes
        self.error: str | None = None
        self._builder_key: tuple[object, ...] | None = None
        self.builder: ContextBuilder | None = None
        # Told a turn's place in a shared model's queue (Backend.on_queue); set by the screen.
        self.on_queue: Callable[[int], None] | None = None

    @property
    def ready(self) -> bool:
        return self.backend is not None and self.info is not None

    def needs_load(self, settings: Settings) -> bool:
        return self.key != settings.backend_config() or not self.ready

    def load(
        self, settings: Settings, progress: Callable[[float], None] | None = None
    ) -> ModelInfo:
        """Load (or keep) the model the settings ask for. Blocks; call from a thread."""
        return self.worker.call(self._load, settings, progress)

    def _load(self, settings: Settings, progress: Callable[[float], None] | None) -> ModelInfo:
        key = settings.backend_config()
        if self.key == key and self.info is not None:
            return self.info
        if self.backend is not None and self.close_backend:
            self.backend.close()
        self.backend, self.info, self.key, self.builder = None, None, None, None
        self.error = None
        try:
            backend = self.backend_factory(key)
            info = backend.load(progress)
        except BackendError as exc:
            self.error = str(exc)
            raise
        self.backend, self.info, self.key = backend, info, key
        backend.on_queue = self._queue_place
        return info

    def _queue_place(self, place: int) -> None:
        if self.on_queue is not None:
            self.on_queue(place)

    def _builder_for(self, campaign: Campaign) -> ContextBuilder:
        assert self.backend is not None
        s = campaign.settings
        key = (self.key, s.template, s.prompt_style, s.max_new_tokens)
        if self.builder is None or self._builder_key != key:
            from tui.engine.game import make_builder

            self.builder = make_builder(self.backend, campaign)
            self._builder_key = key
        return self.builder

    def template_name(self, campaign: Campaign) -> str:
        def name() -> str:
            template = self._builder_for(campaign).layout.template
            return template.name if template else "story"

        return self.worker.call(name)

    def build(self, campaign: Campaign, spec: PromptSpec) -> ContextReport:
        return self.worker.call(lambda: self._builder_for(campaign).build(spec))

    def generate(
        self,
        campaign: Campaign,
        request: TurnRequest,
        cancel: threading.Event,
        on_text: Callable[[str], None],
    ) -> GenerationResult:
        def job() -> GenerationResult:
            from tui.engine.game import generate

            if self.backend is None:
                raise BackendError(self.error or "the model is not loaded")
            sampler = campaign.settings.sampler
            if campaign.settings.seed is not None:
                sampler = sampler.with_changes(seed=campaign.settings.seed)
            return generate(self.backend, self._builder_for(campaign), request, sampler,
                            cancel, on_text)

        return self.worker.call(job)

    def build_with_cache(self, campaign: Campaign, spec: PromptSpec
                         ) -> tuple[ContextReport, int | None]:
        """A prompt and how many of its leading tokens are in the model's cache now (None
        when unknown): the context inspector says what the next turn must read."""

        def job() -> tuple[ContextReport, int | None]:
            report = self._builder_for(campaign).build(spec)
            cached = self.backend.cached_prefix(report.tokens) if self.backend else None
            return report, cached

        return self.worker.call(job)

    @property
    def reads_ahead(self) -> bool:
        """Whether the loaded backend keeps a cache to read into (not a remote server's)."""
        return self.backend is not None and self.backend.reads_ahead

    def read_ahead(self, campaign: Campaign, spec: PromptSpec, cancel: threading.Event) -> int:
        """Read the next prompt up to the action while the player types (see game.py);
        tokens read. Queued behind any generation; cancel when the player presses Enter."""

        def job() -> int:
            from tui.engine.game import read_ahead

            if self.backend is None or cancel.is_set():
                return 0
            return read_ahead(self.backend, self._builder_for(campaign), spec, cancel)

        return self.worker.call(job)

    def update_summary(self, campaign: Campaign, cancel: threading.Event,
                       next_spec: Callable[[Campaign], PromptSpec],
                       draft: SummaryDraft | None = None) -> tuple[SummaryDraft | None, bool]:
        """The story so far, when an update is due, and whether the prompt it makes is read
        (`summary_in_idle` in game.py): the caller stores it when ready, else passes it back
        at the next pause."""

        def job() -> tuple[SummaryDraft | None, bool]:
            from tui.engine.game import summary_in_idle

            if self.backend is None or cancel.is_set():
                return draft, False
            return summary_in_idle(self.backend, self._builder_for(campaign), campaign,
                                   next_spec, cancel, draft)

        return self.worker.call(job)

    def propose_world(self, campaign: Campaign, request: WorldRequest,
                      cancel: threading.Event) -> str:
        """The model's proposal of the world state's changes (constrained JSON text, "" when
        cancelled; NoJsonSchema where the backend cannot constrain it). The caller settles
        it on its own thread (`world.propose.settle`)."""

        def job() -> str:
            from tui.engine.world.propose import propose

            if self.backend is None or cancel.is_set():
                return ""
            return propose(self.backend, self._builder_for(campaign), request, cancel)

        return self.worker.call(job)

    def shutdown(self) -> None:
        def close() -> None:
            if self.backend is not None and self.close_backend:
                self.backend.close()
                self.backend = None

        try:
            self.worker.submit(close)
        finally:
            self.worker.shutdown(wait=True, timeout=5.0)
