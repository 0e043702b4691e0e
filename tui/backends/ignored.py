"""Which sampler settings a backend cannot apply, known without loading anything."""

from __future__ import annotations

from tui.core.sampler import NEUTRAL, Sampler

# Settings llama-cpp-python's create_completion cannot apply, compared with their neutral
# values. It has no parameter for top_a, eta_cutoff, repetition slope or the encoder penalty;
# its repetition window is `Llama(last_n_tokens_size=...)`, fixed when the model loads; and
# (0.3.x) it accepts tfs_z but no longer applies it (llama.cpp dropped tail-free sampling).
LLAMA_CPP_MISSING = (
    "top_a",
    "eta_cutoff",
    "tfs_z",
    "repetition_range",
    "repetition_slope",
    "encoder_repetition_penalty",
)

def unsupported_by_llama_cpp(sampler: Sampler) -> list[str]:
    """Non-neutral settings llama-cpp-python's `create_completion` cannot apply."""
    missing = [n for n in LLAMA_CPP_MISSING if getattr(sampler, n) != getattr(NEUTRAL, n)]
    if sampler.repetition_penalty == NEUTRAL.repetition_penalty:
        # range and slope only shape a penalty that is actually applied
        missing = [n for n in missing if n not in ("repetition_range", "repetition_slope")]
    return missing


def ignored_samplers(backend: str, sampler: Sampler) -> list[str] | None:
    """What a backend kind will ignore of `sampler`, known before it loads; None when it
    depends on the server (OpenAI-compatible ones differ: shown after a reply)."""
    if backend in ("", "local"):
        # The local backend gives the range to llama.cpp when it (re)loads the model.
        return [n for n in unsupported_by_llama_cpp(sampler) if n != "repetition_range"]
    if backend == "kobold":
        from tui.backends.remote_common import unsupported
        from tui.backends.remote_kobold import SAMPLERS

        return unsupported(sampler, SAMPLERS)
    return None
