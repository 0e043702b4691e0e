"""The local backend: a GGUF model run in-process by llama-cpp-python.

Facts that shape this file (docs/architecture.md, "The local backend"):
- the file is checked in Python first (header, metadata, memory): llama.cpp can abort
  the whole process on a malformed file;
- `verbose=False` would point file descriptors 1 and 2 at /dev/null while the model loads,
  and Textual draws on fd 2; so we load with `verbose=True` and send llama.cpp's log to our
  own file through `llama_log_set`;
- prompts go in as token lists, so nothing adds a BOS or parses special tokens behind our back;
- a stopping criterion checked after every token makes cancel take effect within one token,
  and an `Interrupt` (Enter during an update, Esc) stops the evaluation under way
  (`llama_abort.py`).
"""

from __future__ import annotations

import contextlib
import ctypes
import json
import os
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TextIO

from tui.backends.ignored import unsupported_by_llama_cpp
from tui.backends.json_grammar import schema_grammar
from tui.backends.llama_abort import AbortSwitch
from tui.core.backend import Backend, BackendError, ModelInfo, ProgressCallback, Prompt
from tui.core.log import QuietLog, record_log_problem
from tui.core.paths import log_path
from tui.core.sampler import Sampler
from tui.models.gguf_info import GGUFError, read_gguf_info
from tui.models.memory import check_fits
from tui.models.naming import model_display_name

DEFAULT_N_CTX = 4096
PREFILL_CHUNK = 64  # prompt tokens evaluated between checks of the cancel flag
# Largest story cache copied aside while the story-so-far update uses the model (a 7B model
# with grouped-query attention holds ~128 KB per token: 4,096 tokens are 512 MB).
MAX_KEPT_CACHE_BYTES = 1 << 30
MIN_SHIFT_RUN = 32  # shorter runs of cached story are cheaper to read again than to shift

# ggml log levels: debug lines (thousands per load) stay out of the log file.
LOG_INFO, LOG_CONT = 2, 5

_log_lock = threading.Lock()
_log_file: TextIO | None = None
_log_callback: Any = None  # the ctypes callback must outlive every call into llama.cpp


def _log_target() -> Path:
    try:
        return log_path()
    except OSError as exc:  # the home folder cannot be written: no log, but the game plays on
        record_log_problem("file", exc)
        return Path(os.devnull)


def open_log(path: Path) -> TextIO:
    """The log file for appending, never failing its writer (a full disk, a read-only home):
    losing llama.cpp's log lines is better than refusing the model; the player is told once
    (`take_log_problem`)."""
    return QuietLog(path)


def route_llama_log(path: Path | None = None) -> Path:
    """Send llama.cpp's log lines to our log file instead of the terminal (idempotent)."""
    global _log_file, _log_callback
    import llama_cpp

    target = path or _log_target()
    with _log_lock:
        if _log_callback is None:
            _log_file = open_log(target)

            last_level = [LOG_INFO]

            @llama_cpp.llama_log_callback
            def _write(level: int, text: bytes, user_data: ctypes.c_void_p) -> None:
                # Continuation lines carry the level of the line they continue.
                effective = last_level[0] if level == LOG_CONT else level
                last_level[0] = effective
                if _log_file is not None and text and effective >= LOG_INFO:
                    _log_file.write(text.decode("utf-8", errors="replace"))
                    _log_file.flush()

            _log_callback = _write
            llama_cpp.llama_log_set(_log_callback, ctypes.c_void_p(0))
    return target


@dataclass(frozen=True)
class PrefillStats:
    """What the last prompt cost: tokens found in the cache, tokens read, and whether the
    cache was shifted to keep story that moved up."""

    reused: int = 0
    read: int = 0
    shifted: bool = False


@dataclass(frozen=True)
class _KeptCache:
    """A copy of the KV cache of sequence 0 (`llama_state_seq_get_data`) and its tokens."""

    data: Any
    size: int
    tokens: list[int]


def common_prefix(a: list[int], b: list[int]) -> int:
    """How many leading tokens `a` and `b` share."""
    n = min(len(a), len(b))
    if a[:n] == b[:n]:
        return n
    low, high = 0, n  # binary search on slice equality: C-speed compares
    while low < high:
        mid = (low + high + 1) // 2
        if a[:mid] == b[:mid]:
            low = mid
        else:
            high = mid - 1
    return low


def find_shifted_run(cached: list[int], tokens: list[int], common: int,
                     probe: int = MIN_SHIFT_RUN) -> tuple[int, int]:
    """Where `tokens[common:]` goes on inside `cached` after a cut: (start in `cached`, length
    of the run that matches). (common, 0) when no run of `probe` tokens is found. The longest
    run wins, not the first: a repetitive story holds the kept story's first tokens in the
    cut span too, and shifting from there would keep a few dozen tokens instead of the story."""
    want = tokens[common : common + probe]
    if len(want) < probe:
        return common, 0
    first, rest = want[0], tokens[common:]
    best = (common, 0)
    position = common + 1
    while True:
        try:
            position = cached.index(first, position)
        except ValueError:
            return best
        if cached[position : position + probe] == want:
            run = common_prefix(cached[position:], rest)
            if run > best[1]:
                best = (position, run)
            if position + run >= len(cached):
                return best  # it matches to the end of the cache: nothing longer follows
        position += 1


MAX_OPENING = 16  # tokens of a short run kept before the long one (a kept note's opening)


@dataclass(frozen=True)
class Reuse:
    """How a prompt finds the cache: its first `common` tokens where they are, then `runs`
    of the cached tokens ((start in the cache, length), in order) shifted down to follow
    them, the spans between dropped. `held`: the prompt's leading tokens the cache then holds."""

    common: int
    runs: tuple[tuple[int, int], ...] = ()

    @property
    def held(self) -> int:
        return self.common + sum(length for _start, length in self.runs)


def plan_reuse(cached: list[int], tokens: list[int], common: int,
               probe: int = MIN_SHIFT_RUN) -> Reuse:
    """What of `cached` a prompt `tokens` can keep past their `common` prefix: one long run
    after a cut span (the window trimmed old story), or a short run and then a long one (the
    window's start reached a kept note: the note's opening stays, its first sentences and
    the story before it are cut, two spans). Nothing when no long run follows."""
    start, run = find_shifted_run(cached, tokens, common, probe)
    if run:
        return Reuse(common, ((start, run),))
    for opening in range(1, MAX_OPENING + 1):
        start, run = find_shifted_run(cached, tokens, common + opening, probe)
        if not run:
            continue
        head = tokens[common : common + opening]
        for at in range(start - opening, common, -1):  # the nearest before the long run
            if cached[at : at + opening] == head:
                return Reuse(common, ((at, opening), (start, run)))
    return Reuse(common)


def _token_buffer(count: int) -> Any:
    """A zeroed array for at least `count` tokens. Sizes are rounded up to a power of two:
    ctypes makes (and keeps) a new array type for every length."""
    import llama_cpp

    return (llama_cpp.llama_token * max(64, 1 << (count - 1).bit_length()))()


def _tokenize(vocab: Any, data: bytes, special: bool) -> list[int]:
    """llama.cpp's tokens for `data`, into a buffer sized from the text (a token covers at
    least one byte; a few more for a dummy prefix). llama-cpp-python sizes it from the
    model's training window, which a `vocab_only` load leaves at 0: every text was then
    tokenized twice, the first time only to learn the count."""
    import llama_cpp

    tokens = _token_buffer(len(data) + 8)
    n = llama_cpp.llama_tokenize(vocab, data, len(data), tokens, len(tokens), False, special)
    if n < 0:  # more tokens than the bound: -n is the count
        tokens = _token_buffer(-n)
        n = llama_cpp.llama_tokenize(vocab, data, len(data), tokens, len(tokens), False,
                                     special)
        if n < 0:
            raise BackendError(f"llama.cpp could not tokenize a text of {len(data)} bytes")
    return tokens[:n]


def available_cores() -> int:
    return max(1, len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity")
               else (os.cpu_count() or 1))


def default_threads() -> int:
    """Threads for generation and for reading the prompt: every core but one (at least one).

    Measured with `benchmarks/bench_throughput.py --threads` (benchmarks/README.md,
    "throughput"): on 2 cores under the machine's ordinary load, generation with 1 thread ran
    1.6x as fast as with 2, and prompt reading 1.2x; the TUI draws the stream on the spare core
    (with every core taken, streaming in the TUI ran 0.65x as fast as with one thread).
    llama.cpp's threads wait for each other at every layer, so when anything else wants a core
    (the UI, the save writer, another program) one preempted thread stalls them all: prompt
    reading with every core was 2.5-5x slower on a busy machine, against 1.7x faster on an idle
    one. One core left free costs little on big machines and avoids the stalls on small ones.
    (llama-cpp-python's own default, half the cores, halves speed on small machines.)
    """
    return max(1, available_cores() - 1)


class LocalBackend(Backend):
    reads_ahead = True
    keeps_side_prompts_apart = True

    def __init__(
        self,
        model_path: str | Path,
        n_ctx: int = DEFAULT_N_CTX,
        seed: int | None = None,
        n_threads: int | None = None,
        n_threads_batch: int | None = None,
        repeat_window: int = 64,
        vocab_only: bool = False,
    ) -> None:
        self.vocab_only = vocab_only  # the tokenizer alone: exact counts without the weights
        self.repeat_window = repeat_window  # llama-cpp-python fixes it when the model loads
        self.model_path = Path(model_path)
        self.requested_ctx = n_ctx
        self.seed = seed
        self.n_threads = n_threads
        self.n_threads_batch = n_threads_batch
        self._llm: Any = None
        self._abort: AbortSwitch | None = None
        self._stopped = False  # the last stoppable work was ended by its cancel flag
        self._info: ModelInfo | None = None
        self._can_shift: bool | None = None
        # Caches kept aside to go on from: a stopped update's prompt ("resume"), a prompt with
        # a new story so far not yet all read ("beside").
        self._aside: dict[str, _KeptCache] = {}
        self._grammars: dict[str, Any] = {}  # compiled llama.cpp grammars by JSON schema
        self.last_prefill = PrefillStats()
        # The largest cache copied aside (None: `MAX_KEPT_CACHE_BYTES`); `grue serve`'s model
        # process sets its memory budget (`memory.kept_cache_budget`).
        self.max_kept_bytes: int | None = None

    @property
    def info(self) -> ModelInfo:
        if self._info is None:
            raise BackendError("no model loaded")
        return self._info

    def load(self, progress: ProgressCallback | None = None) -> ModelInfo:
        def report(fraction: float) -> None:
            if progress is not None:
                progress(fraction)

        report(0.0)
        name = self.model_path.name
        try:
            if self.vocab_only:
                header = read_gguf_info(self.model_path)
            else:
                header = check_fits(self.model_path, self.requested_ctx)
        except GGUFError as exc:
            raise BackendError(str(exc).replace(str(self.model_path), name)) from exc
        train_ctx = header.context_length
        n_ctx = self.requested_ctx or train_ctx or DEFAULT_N_CTX
        if train_ctx:
            n_ctx = min(n_ctx, train_ctx)
        report(0.1)
        log = route_llama_log()
        try:
            import llama_cpp

            # llama-cpp-python prints the metadata with Python's print while loading.
            with open_log(log) as sink, contextlib.redirect_stderr(sink), \
                    contextlib.redirect_stdout(sink):
                self._llm = self._construct(llama_cpp, n_ctx)
        except (ValueError, RuntimeError, OSError) as exc:
            raise BackendError(f"{name}: llama.cpp could not load it ({exc})") from exc
        self._finish_load(header, train_ctx, report)
        return self.info

    def _construct(self, llama_cpp: Any, n_ctx: int) -> Any:
        if self.vocab_only:
            return llama_cpp.Llama(model_path=str(self.model_path), vocab_only=True,
                                   verbose=True)
        threads = self.n_threads or default_threads()
        return llama_cpp.Llama(
            model_path=str(self.model_path),
            n_ctx=n_ctx,
            n_threads=threads,
            n_threads_batch=self.n_threads_batch or threads,
            last_n_tokens_size=self.repeat_window,
            seed=self.seed if self.seed is not None else llama_cpp.LLAMA_DEFAULT_SEED,
            verbose=True,
        )

    def _finish_load(self, header: Any, train_ctx: int | None, report: ProgressCallback) -> None:
        # Keep llama.cpp's own chatter in the log; stop llama-cpp-python's Python prints.
        self._llm.verbose = False
        if not self.vocab_only:
            import llama_cpp

            self._abort = AbortSwitch(llama_cpp, self._llm._ctx.ctx)
        report(0.9)
        n_ctx = self._llm.n_ctx()
        if self.vocab_only:  # no context is made: report the window that would be
            n_ctx = min(self.requested_ctx or train_ctx or DEFAULT_N_CTX,
                        train_ctx or DEFAULT_N_CTX)
        meta: dict[str, str] = dict(getattr(self._llm, "metadata", {}) or {})
        bos_id, eos_id = self._llm.token_bos(), self._llm.token_eos()
        self._info = ModelInfo(
            name=model_display_name(self.model_path),  # not general.name: tui/models/naming.py
            n_ctx=n_ctx,
            train_ctx=train_ctx,
            chat_template=header.chat_template or meta.get("tokenizer.chat_template"),
            bos_token=self._piece(bos_id),
            eos_token=self._piece(eos_id),
            architecture=header.architecture or meta.get("general.architecture", ""),
            extra={"quantization": header.quantization or "", "path": str(self.model_path)},
        )
        report(1.0)

    def _piece(self, token: int) -> str:
        if token < 0:
            return ""
        try:
            return self._llm.detokenize([token], special=True).decode("utf-8", errors="replace")
        except TypeError:  # older bindings without `special`
            return self._llm.detokenize([token]).decode("utf-8", errors="replace")

    def prefix_tokens(self) -> list[int]:
        """The BOS token when the model wants one at the start of every prompt."""
        with_bos = self._llm.tokenize(b"", add_bos=True, special=True)
        return list(with_bos)

    def tokenize(self, text: str, special: bool = True) -> list[int]:
        if self._llm is None:
            raise BackendError("no model loaded")
        data = text.encode("utf-8")
        vocab = getattr(getattr(self._llm, "_model", None), "vocab", None)
        if vocab is None:  # bindings laid out otherwise
            return list(self._llm.tokenize(data, add_bos=False, special=special))
        return _tokenize(vocab, data, special)

    def detokenize(self, tokens: list[int]) -> str:
        return self._llm.detokenize(tokens).decode("utf-8", errors="replace")

    def unsupported_samplers(self, sampler: Sampler) -> list[str]:
        missing = unsupported_by_llama_cpp(sampler)
        if sampler.repetition_range == self.repeat_window:
            missing = [name for name in missing if name != "repetition_range"]
        return missing

    def stream(
        self,
        prompt: Prompt,
        sampler: Sampler,
        stop: list[str],
        cancel: threading.Event,
    ) -> Iterator[str]:
        return self._generate(prompt, sampler, stop, cancel, None)

    supports_json_schema = True

    def complete_json(self, prompt: Prompt, schema: dict[str, Any], sampler: Sampler,
                      cancel: threading.Event, opening: str = "") -> str:
        """llama.cpp's grammar made from `schema` (`json_grammar.schema_grammar`: compact,
        compiled once per schema) constrains every sampled token; `opening` is written into
        the prompt and the grammar admits what follows it."""
        key = json.dumps([schema, opening])  # the schema's property order is the output's
        grammar = self._grammars.get(key)
        if grammar is None:
            from llama_cpp import LlamaGrammar

            try:
                grammar = LlamaGrammar.from_string(schema_grammar(schema, opening),
                                                   verbose=False)
            except (ValueError, RuntimeError) as exc:
                raise BackendError(f"the JSON schema has no grammar: {exc}") from exc
            self._grammars[key] = grammar
        if opening:
            tokens = list(prompt.tokens) + self.tokenize(opening, special=False)
            prompt = Prompt(tokens, prompt.text + opening)
            room = self.info.n_ctx - len(tokens)
            sampler = sampler.with_changes(max_tokens=max(1, min(sampler.max_tokens, room)))
        text = "".join(self._generate(prompt, sampler, [], cancel, grammar))
        return "" if cancel.is_set() else opening + text  # never a cut answer's opening

    def _generate(self, prompt: Prompt, sampler: Sampler, stop: list[str],
                  cancel: threading.Event, grammar: Any) -> Iterator[str]:
        if self._llm is None:
            raise BackendError("no model loaded")
        if self.vocab_only:
            raise BackendError("a vocabulary-only model cannot generate")
        import llama_cpp

        def stop_when_cancelled(_ids: Any, _logits: Any) -> bool:
            return cancel.is_set()

        kwargs: dict[str, Any] = {
            "prompt": list(prompt.tokens),
            "max_tokens": sampler.max_tokens,
            "temperature": sampler.temperature,
            "top_p": sampler.top_p,
            "top_k": sampler.top_k,
            "min_p": sampler.min_p,
            "typical_p": sampler.typical_p,
            "tfs_z": sampler.tfs_z,
            "repeat_penalty": sampler.repetition_penalty,
            "presence_penalty": sampler.presence_penalty,
            "frequency_penalty": sampler.frequency_penalty,
            "mirostat_mode": sampler.mirostat_mode,
            "mirostat_tau": sampler.mirostat_tau,
            "mirostat_eta": sampler.mirostat_eta,
            "stop": [s for s in stop if s] or None,
            "stream": True,
            "stopping_criteria": llama_cpp.StoppingCriteriaList([stop_when_cancelled]),
        }
        if sampler.seed is not None:
            kwargs["seed"] = sampler.seed
        if grammar is not None:
            kwargs["grammar"] = grammar
        try:
            with self._stoppable(cancel):
                if not self._prefill(list(prompt.tokens), cancel):
                    return
                for chunk in self._llm.create_completion(**kwargs):
                    text = chunk["choices"][0].get("text", "")
                    if text:
                        yield text
                    if cancel.is_set():
                        break
        except ValueError as exc:  # e.g. prompt longer than the context
            raise BackendError(f"generation failed: {exc}") from exc
        except RuntimeError:  # llama_decode returned 2: stopped inside (`_stoppable`)
            if not cancel.is_set():
                raise

    @contextlib.contextmanager
    def _stoppable(self, cancel: threading.Event) -> Iterator[None]:
        """Where an `Interrupt` stops the evaluation under way, not only the next one: work
        nobody waits for (an update) and a turn, never reading ahead, whose chunk the turn
        after Enter reads on from. `_stopped` then says whether `cancel` ended the work."""
        self._stopped = False
        try:
            with self._abort.armed(cancel) if self._abort else contextlib.nullcontext():
                yield
        finally:
            self._stopped = cancel.is_set()

    def _prefill(self, tokens: list[int], cancel: threading.Event) -> bool:
        """Evaluate the prompt in chunks, checking `cancel`.

        llama.cpp cannot stop inside one evaluation, so a long prompt evaluated at once
        would make Esc wait seconds. `create_completion` then finds the whole prompt cached
        and, when the context's logits are the live ones of its last token, samples the
        first word at once (read ahead with the typed action, Enter reads nothing). False if
        cancelled.
        """
        return self._read(tokens, cancel)

    def read_ahead(self, tokens: list[int], cancel: threading.Event, whole: bool = True
                   ) -> int:
        """Read `tokens` into the cache ahead of time, cancellable between chunks;
        `last_prefill` says what it cost. `whole`: they are the whole next prompt (the typed
        action read too), else its start (up to where the action goes), which a prompt then
        reads on from. On the model's thread."""
        if self._llm is None or self.vocab_only:
            return 0
        self._read(list(tokens), cancel, whole)
        return self.last_prefill.read

    @contextlib.contextmanager
    def keeping_cache(self, resume: threading.Event | None = None, slot: str = "resume"
                      ) -> Iterator[object]:
        """Keep the story's cache across another prompt (the story-so-far update): the KV
        cache of the one sequence is copied out before and put back after, with the token
        list that describes it. With `resume`: when it is set at the end (the work was
        stopped by Enter), the other prompt's cache is kept aside too and put back at the
        next call, so the work goes on where it stopped instead of reading its prompt again
        (a slow model and short pauses would otherwise never finish an update). A copy
        larger than `kept_cap()` is not made: the story is then read again."""
        if self._llm is None or self.vocab_only:
            yield None
            return
        story = self._copy_out()
        if story is None and self._llm.n_tokens:
            yield None  # too large to keep
            return
        self._copy_in(self._aside.pop(slot, None))
        self._stopped = False
        try:
            yield None
        finally:
            if resume is not None and resume.is_set():
                aside = self._copy_out()
                if aside is not None:
                    self._aside[slot] = aside
            self._copy_in(story)
            self._read_last_again()

    def _read_last_again(self) -> None:
        """Make the context's logits the live ones of the last token held, reading that
        token again (a copy put back has none): done in the pause, so that Enter, sending
        the prompt read ahead, samples at once. Not when Enter stopped the work (`_stopped`):
        the turn reads that token itself if it needs its logits, and mostly it does not (it
        reads on with the action)."""
        llm = self._llm
        if llm.n_tokens and llm._requires_eval and not self._stopped:
            llm.n_tokens -= 1
            llm.eval([int(llm.input_ids[llm.n_tokens])])

    def can_keep_cache(self) -> bool:
        import llama_cpp

        if self._llm is None or self.vocab_only or not self._llm.n_tokens:
            return True
        size = int(llama_cpp.llama_state_seq_get_size(self._llm._ctx.ctx, 0))
        return 0 < size <= self.kept_cap()

    def kept_cap(self) -> int:
        """The largest cache copied aside, in bytes."""
        return self.max_kept_bytes if self.max_kept_bytes is not None else MAX_KEPT_CACHE_BYTES

    def read_beside(self, tokens: list[int], cancel: threading.Event) -> bool:
        if self._llm is None or self.vocab_only:
            return True
        story = self._copy_out()
        if story is None and self._llm.n_tokens:  # too large to keep: read it in place
            return self._read(list(tokens), cancel, whole=False)
        beside = self._aside.pop("beside", None)
        if beside is not None:
            self._copy_in(beside)
        with self._stoppable(cancel):
            if self._read(list(tokens), cancel, whole=False):
                return True
        partial = self._copy_out()
        if partial is not None:
            self._aside["beside"] = partial
        self._copy_in(story)
        self._read_last_again()
        return False

    def save_cache(self) -> _KeptCache | None:
        """A copy of the model's cache and the tokens it holds (None when empty or too large),
        for `restore_cache`: the shared model keeps one per recent player (docs/architecture.md,
        "grue serve")."""
        if self._llm is None or self.vocab_only:
            return None
        return self._copy_out()

    def restore_cache(self, kept: _KeptCache | None) -> None:
        """Put a `save_cache` copy back (None: an empty cache)."""
        if self._llm is not None and not self.vocab_only:
            self._copy_in(kept)

    def _copy_out(self) -> _KeptCache | None:
        """The cache of sequence 0 and its tokens, copied; None when empty or too large."""
        import llama_cpp

        llm = self._llm
        if llm.n_tokens == 0:
            return None
        ctx = llm._ctx.ctx
        size = int(llama_cpp.llama_state_seq_get_size(ctx, 0))
        if size <= 0 or size > self.kept_cap():
            return None
        data = (ctypes.c_uint8 * size)()
        written = int(llama_cpp.llama_state_seq_get_data(ctx, data, size, 0))
        if not written:
            return None
        return _KeptCache(data, written, llm.input_ids[: llm.n_tokens].tolist())

    def _copy_in(self, kept: _KeptCache | None) -> None:
        """Empty the cache, then put `kept` back (an empty cache if it cannot be)."""
        import llama_cpp

        llm = self._llm
        llm._ctx.kv_cache_seq_rm(-1, 0, -1)
        llm.n_tokens = 0
        if kept is not None and llama_cpp.llama_state_seq_set_data(
                llm._ctx.ctx, kept.data, kept.size, 0):
            llm.input_ids[: len(kept.tokens)] = kept.tokens
            llm.n_tokens = len(kept.tokens)
        llm._requires_eval = True  # the context's logits are another prompt's

    def cached_prefix(self, tokens: list[int]) -> int | None:
        if self._llm is None or self.vocab_only:
            return None
        llm = self._llm
        cached = llm.input_ids[: llm.n_tokens].tolist()
        common = common_prefix(cached, tokens)
        if common < llm.n_tokens:
            return self._reuse(cached, tokens, common).held
        return common

    def _reuse(self, cached: list[int], tokens: list[int], common: int) -> Reuse:
        """What a shift would keep of the cache (`plan_reuse`); nothing past `common` when
        this cache cannot shift."""
        if not self.can_shift():
            return Reuse(common)
        return plan_reuse(cached, tokens, common)

    def _read(self, tokens: list[int], cancel: threading.Event, whole: bool = True) -> bool:
        """Make the cache hold `tokens`: keep the cached prefix of the previous prompt; when
        the prompt dropped a span of old story from the middle (the window trimmed), drop
        that span from the cache and shift what follows (`shift_cache`) instead of reading it
        again; read the rest in chunks. `whole`: `tokens` are a whole prompt, whose last
        token is read alone and last, so the sampler starts from its live logits; else the
        start of one, read on from later. False if cancelled."""
        llm = self._llm
        target = len(tokens)
        cached = llm.input_ids[: llm.n_tokens].tolist()
        common = min(common_prefix(cached, tokens), target)
        reused = common
        if common < llm.n_tokens:
            reused = min(self.shift_cache(cached, tokens, common), target)
            if llm.n_tokens > target:
                llm.n_tokens = target  # eval() drops the KV cache past n_tokens
            # The context's logits are no longer those of the last token held: the sampler
            # must read that token again (llama-cpp-python's `generate` does, when told).
            llm._requires_eval = True
        if whole and 0 < target == llm.n_tokens and llm._requires_eval:
            # The whole prompt is held but its last token's logits are gone (a cache put
            # back or cut short): read that token again now, in the pause when reading ahead.
            llm.n_tokens = target - 1
            reused = min(reused, target - 1)
        self.last_prefill = PrefillStats(reused=reused, read=max(0, target - reused),
                                         shifted=reused > common)
        while llm.n_tokens < target:
            if cancel.is_set():
                return False
            start = llm.n_tokens
            end = min(target, start + PREFILL_CHUNK)
            if whole and end == target and end - start > 1:
                end -= 1  # the prompt's last token alone, as the sampler would read it: the
                # same logits whether read ahead or after Enter, so replies do not change
            try:
                llm.eval(tokens[start:end])
            except RuntimeError:  # stopped inside (`_stoppable`): the chunk is not kept
                if cancel.is_set():
                    return False
                raise
        return not cancel.is_set()

    def shift_cache(self, cached: list[int], tokens: list[int], common: int) -> int:
        """Context shifting: make the cache hold `tokens[:n]` for the largest n it can.

        `cached` and `tokens` agree on their first `common` tokens. When `tokens` goes on
        with a run that `cached` holds further along (old story was cut out between them),
        the cut span is removed from the KV cache and the run is shifted down to follow the
        common prefix, so only what is new after it must be read. A short run may come
        first (`plan_reuse`): two cut spans, each run shifted down in turn. Returns n (at least
        `common`, which is what is kept when there is nothing to shift or the model's memory
        cannot shift).
        """
        llm = self._llm
        plan = self._reuse(cached, tokens, common)
        if not plan.runs:
            llm.n_tokens = common  # eval() drops the KV cache past n_tokens
            return common
        ctx = llm._ctx
        last_start, last_length = plan.runs[-1]
        dropped = ctx.kv_cache_seq_rm(-1, last_start + last_length, -1)
        edge = common
        for start, length in plan.runs:  # the spans between the kept runs
            dropped = dropped and ctx.kv_cache_seq_rm(-1, edge, start)
            edge = start + length
        if not dropped:
            ctx.kv_cache_seq_rm(-1, common, -1)
            llm.n_tokens = common
            return common
        to = common
        for start, length in plan.runs:  # each down to follow what is kept before it
            ctx.kv_cache_seq_shift(0, start, start + length, to - start)  # sequence 0 only
            llm.input_ids[to : to + length] = cached[start : start + length]
            to += length
        llm.n_tokens = to
        return to

    def can_shift(self) -> bool:
        """Whether to drop a span of the KV cache and shift what follows (context shifting).

        On by default where llama.cpp's memory can shift, as in KoboldCpp's ContextShift;
        `GRUE_CONTEXT_SHIFT=0` (`grue --no-context-shift`) turns it off. What it costs in
        fidelity (docs/architecture.md, "The local backend"): the shift itself is exact up to
        F16 rounding, but the kept story's cached keys and values above the first layer were
        computed with the dropped story in view, so the next reply can differ from a cold
        read of the same prompt (`tests/test_context_shift.py` measures both). Off, a trim
        re-reads the prompt exactly, in quarter-window steps.
        """
        if os.environ.get("GRUE_CONTEXT_SHIFT", "1") == "0":
            return False
        if self._can_shift is None:
            import llama_cpp

            try:
                memory = llama_cpp.llama_get_memory(self._llm._ctx.ctx)
                self._can_shift = bool(llama_cpp.llama_memory_can_shift(memory))
            except (AttributeError, TypeError, ValueError):
                self._can_shift = False
        return self._can_shift

    def close(self) -> None:
        if self._llm is not None:
            with contextlib.suppress(AttributeError):
                self._llm.close()
            self._llm = None
