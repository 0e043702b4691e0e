"""The backend interface every model engine implements.

Backends turn token ids (or text) into streamed text. They know nothing of stories:
the engine builds the prompt, a backend only counts tokens and generates.
"""

from __future__ import annotations

import os
import threading
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass, field
from typing import Any

from tui.core.sampler import Sampler

STALL_TIMEOUT = 60.0  # seconds a model server may say nothing before we give up
API_KEY_ENV = "GRUE_API_KEY"  # the server's API key (or KoboldCpp password), never saved
TIMEOUT_ENV = "GRUE_TIMEOUT"  # the stall timeout in seconds


def stall_timeout() -> float:
    """The stall timeout from $GRUE_TIMEOUT, or the default (the CLI rejects bad values)."""
    try:
        seconds = float(os.environ.get(TIMEOUT_ENV, ""))
    except ValueError:
        return STALL_TIMEOUT
    return seconds if 0 < seconds < float("inf") else STALL_TIMEOUT


class BackendError(Exception):
    """A failure the player should read as one line (bad model file, server down, ...)."""


class NoJsonSchema(BackendError):
    """This backend (or the server behind it) cannot force its output into a JSON schema."""


class CacheTooLarge(NoJsonSchema):
    """The story's cache is too large to set aside for a side prompt on every turn: the
    world state's update would make the next turn read the whole story again."""


@dataclass(frozen=True)
class Prompt:
    """A prompt as token ids of the loaded model, with the text they came from.

    Local backends send `tokens` for exact control; a remote server that cannot take
    token ids sends `text`.
    """

    tokens: list[int]
    text: str


@dataclass(frozen=True)
class ModelInfo:
    name: str
    n_ctx: int
    train_ctx: int | None = None
    chat_template: str | None = None
    bos_token: str = ""
    eos_token: str = ""
    architecture: str = ""
    extra: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Capabilities:
    counts_tokens: bool = True  # False: tokenize() is an estimate
    can_cancel: bool = True
    takes_token_prompt: bool = True
    note: str = ""  # one line for the player, e.g. why token counts are estimates


ProgressCallback = Callable[[float], None]


class Backend(ABC):
    """One model engine. Not thread-safe: one owner thread calls everything (see worker.py)."""

    capabilities: Capabilities = Capabilities()
    # Told a generation's place in a shared model's queue while it waits (1 = next) and 0
    # once it runs (`grue serve`'s shared model); the front end sets it to show the place.
    on_queue: Callable[[int], None] | None = None

    @abstractmethod
    def load(self, progress: ProgressCallback | None = None) -> ModelInfo:
        """Load or connect; raise BackendError with a one-line reason on failure."""

    @property
    @abstractmethod
    def info(self) -> ModelInfo:
        """What `load` returned."""

    @property
    def n_ctx(self) -> int:
        return self.info.n_ctx

    @abstractmethod
    def tokenize(self, text: str, special: bool = True) -> list[int]:
        """Token ids of `text` without an added BOS; `special` parses template tokens."""

    @abstractmethod
    def detokenize(self, tokens: list[int]) -> str: ...

    @abstractmethod
    def stream(
        self,
        prompt: Prompt,
        sampler: Sampler,
        stop: list[str],
        cancel: threading.Event,
    ) -> Iterator[str]:
        """Yield text pieces as they are generated; stop promptly once `cancel` is set."""

    def unsupported_samplers(self, sampler: Sampler) -> list[str]:
        """Names of the sampler settings in `sampler` this backend cannot apply."""
        return []

    # Whether `read_ahead` fills a cache of our own: callers skip building the prompt (which
    # may mean tokenizing on a server) when it does not.
    reads_ahead = False

    def read_ahead(self, tokens: list[int], cancel: threading.Event, whole: bool = True
                   ) -> int:
        """Read the next prompt into the model's cache while the player types, the whole
        prompt (`whole`: the typed action too) or its start, so the prompt reads only what
        follows; stop once `cancel` is set. Tokens read; 0 where there is no cache of our
        own to fill (remote servers)."""
        return 0

    # Whether a side prompt (a world or story-so-far update) runs apart from the story's cache:
    # True where the cache is ours (`keeping_cache` puts it back; the shared model keeps a slot
    # per side prompt). False on a server, which keeps one cache of the last prompt
    # (KoboldCpp, llama_cpp.server): a side prompt sent there evicts the story, and the next
    # turn reads the whole window again. So the world update is asked there as the story's own
    # next prompt with a question in the action's place (`world.propose`); so it is too where
    # the cache is ours but too large to copy aside (`can_keep_cache`).
    keeps_side_prompts_apart = False

    def keeping_cache(self, resume: threading.Event | None = None, slot: str = "resume"
                      ) -> AbstractContextManager[object]:
        """Around a prompt that is not the story's (the story-so-far update, the world
        state's update): the model's cache of the story is put back afterwards, so the next
        turn does not read the whole story again; when `resume` is set at the end (stopped),
        the other prompt's cache is kept aside under `slot` to go on from next time (one
        slot per kind of prompt). Nothing to keep where the cache is not ours."""
        return nullcontext()

    def can_keep_cache(self) -> bool:
        """Whether `keeping_cache` can put the story's cache back now (True where the cache
        is not ours): a side prompt that must not cost the story a re-read asks first."""
        return True

    # Whether `complete_json` can force its output into a schema here (a remote server may
    # still refuse it: NoJsonSchema then).
    supports_json_schema = False

    def complete_json(self, prompt: Prompt, schema: dict[str, Any], sampler: Sampler,
                      cancel: threading.Event, opening: str = "") -> str:
        """Generate text that a grammar made from the JSON `schema` forces into shape (the
        world state's update, docs/architecture.md "World state"); "" when cancelled.
        NoJsonSchema where the backend or its server cannot constrain the output.
        `opening`: the answer's start, `{"<name>":[` (the schema's first property, a list),
        which a backend that can go on from it writes into the prompt instead of sampling
        it (the local model: under a grammar a token costs about two free ones, and the
        update's usual answer, an empty list, is 5 tokens of which 4 are this opening).
        The text returned is the whole answer either way."""
        raise NoJsonSchema("this backend cannot constrain output to a JSON schema")

    def read_beside(self, tokens: list[int], cancel: threading.Event) -> bool:
        """Read `tokens`, a prompt that will replace the story's (with a new story so far),
        without losing the story's cache until it is all read: True when done (the cache
        now holds it); False when stopped (the story's cache is back, what was read is kept
        to go on from at the next call). True at once where the cache is not ours."""
        return True

    def cached_prefix(self, tokens: list[int]) -> int | None:
        """How many leading tokens of `tokens` a prompt would find in the model's cache
        (shifting included); None where that is not known (a server keeps its own)."""
        return None

    def close(self) -> None:  # noqa: B027 - optional hook
        """Free the model or connection."""


@dataclass(frozen=True)
class BackendConfig:
    """Which engine to build and how: what `backends.factory.make_backend` needs, taken from
    a campaign's settings by the engine (`Settings.backend_config`)."""

    kind: str = "local"  # "local" | "openai" | "kobold"
    model: str = ""  # path or catalog name; "" = the embedded default
    url: str = ""
    n_ctx: int = 4096
    seed: int | None = None
    repeat_window: int = 64
    api_key: str = field(default="", repr=False)  # Bearer key or KoboldCpp password
    timeout: float = STALL_TIMEOUT  # remote servers: seconds of silence before giving up
