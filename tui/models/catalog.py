"""The model catalog: the guide's recommended models, loaded from `catalog.toml`."""

from __future__ import annotations

import tomllib
from collections.abc import Iterator
from dataclasses import dataclass
from functools import cache
from importlib import resources
from typing import Any

USE_CASES = ("assistant", "chat", "story", "adventure")
TEMPLATE_NAMES = (
    "Alpaca",
    "ChatML",
    "Metharme",
    "Vicuna 1.1",
    "Llama 2 Chat",
    "Mistral",
    "Llama 3",
    "Gemma 2",
    "none",
    "adventure",
)
F16_BYTES = 2
GB = 1024**3
DECIMAL_GB = 1_000_000_000  # file sizes on the hub and in the guide are decimal GB


class CatalogError(ValueError):
    """A broken catalog entry or an unknown model id (one line)."""


@dataclass(frozen=True)
class CatalogEntry:
    id: str
    name: str
    use_cases: tuple[str, ...]
    size: str
    params_b: float
    repo: str
    template: str
    preset: str
    guide_ram_gb: float
    n_layer: int
    n_embd: int
    n_embd_kv: int
    notes: str = ""
    alt_presets: tuple[str, ...] = ()
    loadable: bool = True
    reason: str = ""
    alternative: str = ""
    in_guide: bool = True
    source: str = "hub"  # "hub" (download from repo) or "embedded" (shipped with Grue)
    quant: str = ""  # fixed quantization (embedded); hub models choose one at download
    file_size_gb: float | None = None
    adult: bool = False  # made for adult content: listed after the others

    @property
    def use_case(self) -> str:
        return self.use_cases[0]

    @property
    def embedded(self) -> bool:
        return self.source == "embedded"

    def kv_cache_bytes(self, n_ctx: int) -> int:
        """f16 K and V for `n_ctx` tokens: 2 * n_layer * n_ctx * n_embd_kv * 2 bytes."""
        return 2 * self.n_layer * n_ctx * self.n_embd_kv * F16_BYTES


@dataclass(frozen=True)
class Catalog:
    entries: tuple[CatalogEntry, ...]
    default_quant: str
    quant_bits: dict[str, float]

    def __iter__(self) -> Iterator[CatalogEntry]:
        return iter(self.entries)

    def __len__(self) -> int:
        return len(self.entries)

    def get(self, model_id: str) -> CatalogEntry:
        """An entry by id (case-insensitive); CatalogError listing the ids otherwise."""
        wanted = model_id.strip().casefold()
        for entry in self.entries:
            if entry.id.casefold() == wanted:
                return entry
        ids = ", ".join(e.id for e in self.entries)
        raise CatalogError(f"unknown model {model_id!r}; catalog models: {ids}")

    def find(self, model_id: str) -> CatalogEntry | None:
        try:
            return self.get(model_id)
        except CatalogError:
            return None

    def by_use_case(self, use_case: str) -> list[CatalogEntry]:
        if use_case not in USE_CASES:
            choices = ", ".join(USE_CASES)
            raise CatalogError(f"unknown use case {use_case!r}; choose one of: {choices}")
        return [e for e in self.entries if use_case in e.use_cases]

    def quants(self) -> list[str]:
        return list(self.quant_bits)

    def estimate_file_bytes(self, entry: CatalogEntry, quant: str | None = None) -> int:
        """A model file's size: known for the embedded file, else params x bits per weight."""
        quant = (quant or entry.quant or self.default_quant).upper()
        if entry.file_size_gb is not None and (not entry.quant or quant == entry.quant):
            return int(entry.file_size_gb * DECIMAL_GB)
        try:
            bits = self.quant_bits[quant]
        except KeyError:
            raise CatalogError(
                f"unknown quantization {quant!r}; known: {', '.join(self.quant_bits)}"
            ) from None
        return int(entry.params_b * 1e9 * bits / 8)


_REQUIRED: dict[str, type | tuple[type, ...]] = {
    "id": str,
    "name": str,
    "use_cases": list,
    "size": str,
    "params_b": (int, float),
    "repo": str,
    "template": str,
    "preset": str,
    "guide_ram_gb": (int, float),
    "n_layer": int,
    "n_embd": int,
}


def _entry(raw: dict[str, Any]) -> CatalogEntry:
    label = raw.get("id", "?")
    for key, kind in _REQUIRED.items():
        if not isinstance(raw.get(key), kind):
            raise CatalogError(f"catalog entry {label!r}: missing or bad {key!r}")
    bad = [u for u in raw["use_cases"] if u not in USE_CASES]
    if bad or not raw["use_cases"]:
        raise CatalogError(f"catalog entry {label!r}: bad use case(s) {bad}")
    if raw["template"] not in TEMPLATE_NAMES:
        raise CatalogError(f"catalog entry {label!r}: unknown template {raw['template']!r}")
    if raw.get("loadable", True) is False and not (raw.get("reason") and raw.get("alternative")):
        raise CatalogError(f"catalog entry {label!r}: not loadable needs a reason and alternative")
    values = dict(raw)
    values["use_cases"] = tuple(raw["use_cases"])
    values["alt_presets"] = tuple(raw.get("alt_presets", ()))
    values["params_b"] = float(raw["params_b"])
    values["guide_ram_gb"] = float(raw["guide_ram_gb"])
    values.setdefault("n_embd_kv", raw["n_embd"])
    try:
        return CatalogEntry(**values)
    except TypeError as exc:
        raise CatalogError(f"catalog entry {label!r}: {exc}") from None


def parse_catalog(text: str) -> Catalog:
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise CatalogError(f"catalog.toml: {exc}") from None
    entries = tuple(_entry(raw) for raw in data.get("model", []))
    ids = [e.id for e in entries]
    duplicates = {i for i in ids if ids.count(i) > 1}
    if duplicates:
        raise CatalogError(f"catalog.toml: duplicate ids {sorted(duplicates)}")
    bits = {k.upper(): float(v) for k, v in data.get("quant_bits", {}).items()}
    return Catalog(entries, str(data.get("default_quant", "Q5_K_M")).upper(), bits)


@cache
def load_catalog() -> Catalog:
    """The bundled catalog (installed with the package as `tui/models/catalog.toml`)."""
    text = resources.files("tui.models").joinpath("catalog.toml").read_text(encoding="utf-8")
    return parse_catalog(text)
