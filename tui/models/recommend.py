"""Which catalog models fit this machine, best first.

Sizing follows TheBloke's charts: RAM needed = file size + 2.5 GB (no GPU offload), plus the
KV cache for the chosen context on top.
"""

from __future__ import annotations

from dataclasses import dataclass

from tui.models.catalog import Catalog, CatalogEntry, load_catalog
from tui.models.memory import available_memory_bytes, total_memory_bytes

RULE_OVERHEAD = 2_500_000_000  # TheBloke's "+ 2.5 GB" (decimal, like his file sizes)
# The 2.5 GB is for 7B-70B files; a tiny model's buffers are smaller, so the overhead is
# capped at the file's own size, with a floor.
MIN_OVERHEAD = 256 * 1024**2
DEFAULT_CTX = 4096
# Quants worth offering, best first; Q5_K_M is the guide's pick. Q2_K is shown but never
# suggested: below Q3_K_M a smaller model at a better quant is the better choice.
DEFAULT_QUANTS = ("Q8_0", "Q6_K", "Q5_K_M", "Q4_K_M", "Q3_K_M", "Q2_K")
LOWEST_SUGGESTED = "Q3_K_M"

FITS, TIGHT, TOO_BIG, UNKNOWN = "fits", "tight", "too big", "unknown"
# On a CPU, a model of about 1B parameters per core still answers at reading speed; larger
# ones fit in memory but make every reply a wait (measured here: 135M on 2 cores ~25 tok/s).
QUICK_PARAMS_B_PER_CORE = 1.0


@dataclass(frozen=True)
class QuantNeed:
    quant: str
    file_bytes: int
    need_bytes: int
    fits: bool


@dataclass(frozen=True)
class Recommendation:
    """One model at its suggested quant, and what every offered quant would need."""

    entry: CatalogEntry
    quant: str
    file_bytes: int
    need_bytes: int
    status: str  # fits (free memory now), tight (fits if other programs close), too big
    shortfall_bytes: int  # tight: memory to free; too big: memory the machine lacks
    quants: tuple[QuantNeed, ...]


def required_bytes(entry: CatalogEntry, file_bytes: int, n_ctx: int) -> int:
    overhead = min(RULE_OVERHEAD, max(file_bytes, MIN_OVERHEAD))
    return file_bytes + overhead + entry.kv_cache_bytes(n_ctx)


def _status(need: int, total: int | None, available: int | None) -> tuple[str, int]:
    if available is None and total is None:
        return UNKNOWN, 0
    if available is not None and need <= available:
        return FITS, 0
    if total is not None and need <= total:
        if available is None:
            return FITS, 0
        return TIGHT, need - available
    limit = total if total is not None else available
    assert limit is not None
    return TOO_BIG, need - limit


def recommend_entry(
    entry: CatalogEntry,
    catalog: Catalog,
    n_ctx: int,
    total: int | None,
    available: int | None,
    quants: tuple[str, ...] = DEFAULT_QUANTS,
) -> Recommendation:
    """Size `entry` at each quant and pick one: the default if it fits, else the best that does."""
    offered = (entry.quant,) if entry.quant else quants
    budget = available if available is not None else total
    needs = []
    for quant in offered:
        file_bytes = catalog.estimate_file_bytes(entry, quant)
        need = required_bytes(entry, file_bytes, n_ctx)
        needs.append(QuantNeed(quant, file_bytes, need, budget is None or need <= budget))
    default = entry.quant or catalog.default_quant
    chosen = next((q for q in needs if q.quant == default), needs[0])
    if not chosen.fits:
        suggestable = needs[: _suggest_limit(offered)]
        chosen = next((q for q in suggestable if q.fits), chosen)
    status, shortfall = _status(chosen.need_bytes, total, available)
    return Recommendation(
        entry, chosen.quant, chosen.file_bytes, chosen.need_bytes, status, shortfall, tuple(needs)
    )


def _suggest_limit(offered: tuple[str, ...]) -> int:
    return offered.index(LOWEST_SUGGESTED) + 1 if LOWEST_SUGGESTED in offered else len(offered)


def recommend(
    use_case: str | None = None,
    n_ctx: int = DEFAULT_CTX,
    total: int | None = None,
    available: int | None = None,
    catalog: Catalog | None = None,
    include_unloadable: bool = False,
) -> list[Recommendation]:
    """Catalog models for `use_case` (all when None), best fit first.

    Order: models that fit now, largest first; then those that fit once other programs are
    closed; then those too big for this machine, closest first. Memory figures default to
    this machine's.
    """
    catalog = catalog or load_catalog()
    if total is None:
        total = total_memory_bytes()
    if available is None:
        available = available_memory_bytes()
    entries = catalog.by_use_case(use_case) if use_case else list(catalog)
    recs = [
        recommend_entry(e, catalog, n_ctx, total, available)
        for e in entries
        if e.loadable or include_unloadable
    ]
    rank = {FITS: 0, UNKNOWN: 0, TIGHT: 1, TOO_BIG: 2}

    def key(rec: Recommendation) -> tuple[int, float, float]:
        if rec.status == TOO_BIG:
            return rank[rec.status], rec.shortfall_bytes, 0.0
        return rank[rec.status], -rec.entry.params_b, -rec.file_bytes

    return sorted(recs, key=key)


def quick_enough(entry: CatalogEntry, cores: int | None) -> bool:
    """Whether this machine's CPU runs `entry` at a comfortable speed (unknown cores: yes)."""
    return cores is None or entry.params_b <= max(1, cores) * QUICK_PARAMS_B_PER_CORE


def order_for_machine(recs: list[Recommendation], cores: int | None) -> list[Recommendation]:
    """The models screen's order: what this machine runs well first (largest first, adult
    models after the rest), then what fits but is slow (smallest first), then what needs
    memory freed or is too big, then what llama.cpp cannot load."""

    def key(rec: Recommendation) -> tuple[int, int, float]:
        e = rec.entry
        if not e.loadable:
            return 5, 0, e.params_b
        if rec.status == TIGHT:
            return 3, 0, rec.shortfall_bytes
        if rec.status == TOO_BIG:
            return 4, 0, rec.shortfall_bytes
        if quick_enough(e, cores):
            return 0, int(e.adult), -e.params_b
        return 1, int(e.adult), e.params_b

    return sorted(recs, key=key)
