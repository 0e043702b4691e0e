"""How much memory the machine has, and how much a model will need."""

from __future__ import annotations

import os
from pathlib import Path

from tui.models.gguf_info import GGUFError, GGUFInfo, read_gguf_info

GB = 1024**3
MB = 1024**2
F16_BYTES = 2
# Compute buffers, logits and the runtime on top of weights and KV cache.
BASE_OVERHEAD = 96 * MB
OVERHEAD_FRACTION = 0.05
MEMINFO = Path("/proc/meminfo")
CGROUP = Path("/sys/fs/cgroup")


def _meminfo() -> dict[str, int]:
    """/proc/meminfo as bytes per field; empty where there is no such file."""
    try:
        text = MEMINFO.read_text()
    except OSError:
        return {}
    values: dict[str, int] = {}
    for line in text.splitlines():
        key, _, rest = line.partition(":")
        parts = rest.split()
        if parts and parts[0].isdigit():
            scale = 1024 if len(parts) > 1 and parts[1].lower() == "kb" else 1
            values[key.strip()] = int(parts[0]) * scale
    return values


def _sysconf(name: str) -> int | None:
    try:
        value = os.sysconf(name) * os.sysconf("SC_PAGE_SIZE")
    except (ValueError, OSError, AttributeError):
        return None
    return value if value > 0 else None


def _cgroup_room() -> int | None:
    """Bytes left under a cgroup v2 memory limit (containers), or None when unlimited."""
    try:
        limit = (CGROUP / "memory.max").read_text().strip()
        if limit == "max":
            return None
        used = int((CGROUP / "memory.current").read_text().strip())
        return max(int(limit) - used, 0)
    except (OSError, ValueError):
        return None


def total_memory_bytes() -> int | None:
    """Physical memory of the machine, or None when it cannot be told."""
    total = _meminfo().get("MemTotal") or _sysconf("SC_PHYS_PAGES")
    try:
        limit = (CGROUP / "memory.max").read_text().strip()
        if total and limit != "max":
            total = min(total, int(limit))
    except (OSError, ValueError):
        pass
    return total


def available_memory_bytes() -> int | None:
    """Memory a new model could use now (MemAvailable), or None when it cannot be told."""
    info = _meminfo()
    available = info.get("MemAvailable")
    if available is None and "MemFree" in info:
        available = info["MemFree"] + info.get("Buffers", 0) + info.get("Cached", 0)
    if available is None:
        available = _sysconf("SC_AVPHYS_PAGES")
    room = _cgroup_room()
    if available is not None and room is not None:
        available = min(available, room)
    return available


# What copies of prompt caches kept aside may hold at least: the fixed budget they had before
# it followed the machine's memory (a 7B model with grouped-query attention: 2 players).
KEPT_CACHE_FLOOR = GB


def kept_cache_budget(available: int | None, model_bytes: int) -> int:
    """Bytes of prompt caches a model process may keep aside (`grue serve`: a cache per recent
    player, so a player's next turn reads only what is new): half the memory available once
    the model is loaded, less the model's file (its weights are mapped from the file, and
    MemAvailable counts those pages as free to take back), and never under
    `KEPT_CACHE_FLOOR`. A 13B model without grouped-query attention holds ~3.2 GB of cache
    at 4,096 tokens: a fixed 1 GB kept none, and every switch between players read the whole
    window again."""
    if available is None:
        return KEPT_CACHE_FLOOR
    return max(KEPT_CACHE_FLOOR, (available - model_bytes) // 2)


def kv_cache_bytes(n_ctx: int, info: GGUFInfo | None, file_size: int) -> int:
    """The f16 KV cache for `n_ctx` tokens, from the model's shape when the metadata has it."""
    if info is not None and info.n_layer and info.n_embd and info.n_head:
        n_head_kv = info.n_head_kv or info.n_head
        key_len = info.arch_value("attention.key_length")
        value_len = info.arch_value("attention.value_length")
        head_dim = info.n_embd // info.n_head
        k = (key_len if isinstance(key_len, int) else head_dim) * n_head_kv
        v = (value_len if isinstance(value_len, int) else head_dim) * n_head_kv
        return info.n_layer * n_ctx * (k + v) * F16_BYTES
    # No shape known: a llama-2-style model needs about file_size / 10,000 bytes per token
    # (7B Q5_K_M: ~4.8 GB file, 512 KB per token).
    return n_ctx * file_size // 10_000


def estimate_required_bytes(file_size: int, n_ctx: int, info: GGUFInfo | None = None) -> int:
    """Weights + KV cache for `n_ctx` + a modest overhead, in bytes."""
    kv = kv_cache_bytes(n_ctx, info, file_size)
    return file_size + kv + BASE_OVERHEAD + int(file_size * OVERHEAD_FRACTION)


def format_gb(n_bytes: int | float) -> str:
    return f"{n_bytes / GB:.1f} GB"


def check_fits(
    path: str | os.PathLike[str], n_ctx: int, available: int | None = None
) -> GGUFInfo:
    """Check the file (read_gguf_info) and that it fits in memory with `n_ctx` tokens.

    `n_ctx` 0 means the model's training context. `available` defaults to what the machine
    has free now; when that cannot be told the memory check is skipped. Raises GGUFError.
    Returns the file's info so callers need not read it twice.
    """
    info = read_gguf_info(path)
    ctx = n_ctx or info.context_length or 2048
    needed = estimate_required_bytes(info.file_size, ctx, info)
    free = available if available is not None else available_memory_bytes()
    if free is not None and needed > free:
        raise GGUFError(
            f"{info.path}: needs ~{format_gb(needed)} with a {ctx}-token context, "
            f"{format_gb(free)} available"
        )
    return info
