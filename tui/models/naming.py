"""One friendly name per model, the same on every screen and in line mode.

The GGUF's own `general.name` is often a training label ("Smollm2 135M 8k Lc100K Mix1 Ep2"),
so it is not used: a model Grue knows (the embedded one, a catalog model) goes by its catalog
name, any other file by its file name.
"""

from __future__ import annotations

from pathlib import Path

from tui.models.catalog import load_catalog
from tui.models.embedded import EMBEDDED_ID, embedded_model_path
from tui.models.gguf_info import quant_from_filename


def _same_file(a: Path, b: Path | None) -> bool:
    if b is None:
        return False
    try:
        return a.resolve() == b.resolve()
    except OSError:
        return False


def model_display_name(model: str | Path) -> str:
    """The name to show for a campaign's model setting ("" = embedded, a catalog id, a
    downloaded file's name or a path) or a model file."""
    catalog = load_catalog()
    text = str(model).strip()
    if not text:
        return catalog.get(EMBEDDED_ID).name
    entry = catalog.find(text)
    if entry is not None:
        return entry.name
    path = Path(text).expanduser()
    if _same_file(path, embedded_model_path()):
        return catalog.get(EMBEDDED_ID).name
    by_repo = {e.repo.casefold(): e for e in catalog if e.repo}
    parts = path.parts
    if len(parts) >= 3 and path.suffix.lower() == ".gguf":
        known = by_repo.get(f"{parts[-3]}/{parts[-2]}".casefold())  # <models>/owner/repo/file
        if known is not None:
            quant = quant_from_filename(path.name)
            return f"{known.name} {quant}" if quant else known.name
    name = path.name
    return name[: -len(".gguf")] if name.lower().endswith(".gguf") else name
