"""Recommendations against given memory figures."""

from __future__ import annotations

from tui.models.catalog import load_catalog
from tui.models.recommend import (
    FITS,
    RULE_OVERHEAD,
    TIGHT,
    TOO_BIG,
    recommend,
    required_bytes,
)

GB = 1024**3


def ids(recs):  # type: ignore[no-untyped-def]
    return [r.entry.id for r in recs]


def test_rule_is_file_plus_2_5_gb_plus_kv_cache() -> None:
    catalog = load_catalog()
    entry = catalog.get("mythomax-l2-13b")
    file_bytes = catalog.estimate_file_bytes(entry, "Q5_K_M")
    need = required_bytes(entry, file_bytes, 4096)
    assert need == file_bytes + 2_500_000_000 + 2 * 40 * 4096 * 5120 * 2
    assert RULE_OVERHEAD == 2_500_000_000
    # 9.2 GB file + 2.5 GB + 3.4 GB of cache at 4k context
    assert 14.0 < need / GB < 14.2


def test_16_gb_machine_chat() -> None:
    recs = recommend("chat", 4096, total=16 * GB, available=15 * GB)
    fits = [r for r in recs if r.status == FITS]
    # the largest that fits comes first: a 13B at Q5_K_M
    assert fits[0].entry.size == "13B" and fits[0].quant == "Q5_K_M"
    assert {r.entry.id for r in fits} >= {"mythomax-l2-13b", "mythalion-13b", "zarablend-l2-7b"}
    # sizes never increase along the fitting list
    params = [r.entry.params_b for r in fits]
    assert params == sorted(params, reverse=True)
    # 20B would fit only at Q2_K, which is never suggested: it is too big, and says so
    mlewd = next(r for r in recs if r.entry.id == "mlewd-remm-l2-chat-20b")
    assert mlewd.status == TOO_BIG and mlewd.quant == "Q5_K_M"
    assert [q.quant for q in mlewd.quants if q.fits] == ["Q2_K"]
    # with a shorter context it fits at a smaller quant, and comes first as the largest
    short = recommend("chat", 1024, total=16 * GB, available=15 * GB)
    assert short[0].entry.id == "mlewd-remm-l2-chat-20b" and short[0].quant == "Q4_K_M"
    xwin = recs[-1]
    assert xwin.entry.id == "xwin-lm-70b" and xwin.status == TOO_BIG
    assert xwin.shortfall_bytes == xwin.need_bytes - 16 * GB
    assert xwin.quant == "Q5_K_M"  # nothing fits: show the default quant's need
    assert all(not q.fits for q in xwin.quants)


def test_tight_when_only_total_memory_is_enough() -> None:
    recs = recommend("assistant", 2048, total=16 * GB, available=6 * GB)
    by_id = {r.entry.id: r for r in recs}
    nous = by_id["nous-hermes-llama2-13b"]
    assert nous.status == TIGHT and nous.quant == "Q5_K_M"
    assert nous.shortfall_bytes == nous.need_bytes - 6 * GB
    # the 7B fits now only at a smaller quant, which is suggested
    assert by_id["mistral-7b-openorca"].quant == "Q3_K_M"
    marx = by_id["marx-3b-v2"]
    assert marx.status == FITS and marx.quant == "Q5_K_M"
    order = [r.status for r in recs]
    assert order == sorted(order, key=[FITS, TIGHT, TOO_BIG].index)


def test_overhead_is_scaled_for_tiny_models() -> None:
    entry = load_catalog().get("smollm2-135m")
    assert required_bytes(entry, 98_000_000, 0) == 98_000_000 + 256 * 1024**2
    big = load_catalog().get("mythomax-l2-13b")
    assert required_bytes(big, 9 * 10**9, 0) == 9 * 10**9 + RULE_OVERHEAD


def test_small_machine_gets_the_embedded_model_first() -> None:
    recs = recommend("adventure", 2048, total=2 * GB, available=1 * GB)
    assert recs[0].entry.id == "smollm2-135m" and recs[0].status == FITS
    assert all(r.status == TOO_BIG for r in recs[1:])
    shortfalls = [r.shortfall_bytes for r in recs[1:]]
    assert shortfalls == sorted(shortfalls)
    # GGML-only models are left out unless asked for
    assert "ai-dungeon-2-classic" not in ids(recs)
    assert "ai-dungeon-2-classic" in ids(
        recommend("adventure", 2048, total=2 * GB, available=GB, include_unloadable=True)
    )


def test_context_length_changes_the_answer() -> None:
    short = recommend("chat", 2048, total=13 * GB, available=13 * GB)
    long = recommend("chat", 16384, total=13 * GB, available=13 * GB)
    mytho_short = next(r for r in short if r.entry.id == "mythomax-l2-13b")
    mytho_long = next(r for r in long if r.entry.id == "mythomax-l2-13b")
    assert mytho_short.status == FITS and mytho_short.quant == "Q5_K_M"
    assert mytho_long.need_bytes > mytho_short.need_bytes
    assert mytho_long.quant != "Q5_K_M" or mytho_long.status != FITS


def test_all_use_cases_without_filter() -> None:
    recs = recommend(None, 4096, total=64 * GB, available=64 * GB)
    loadable = [e for e in load_catalog() if e.loadable]
    assert len(recs) == len(loadable)
    assert recs[0].entry.id == "xwin-lm-70b" or recs[0].entry.params_b >= 19
