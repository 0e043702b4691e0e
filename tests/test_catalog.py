"""The bundled model catalog: every guide model present and complete."""

from __future__ import annotations

import importlib.util
import re
from pathlib import Path

import pytest

from tui.models.catalog import (
    TEMPLATE_NAMES,
    USE_CASES,
    CatalogError,
    load_catalog,
    parse_catalog,
)

# Every row of the guide's table (shared/reference/models.md): repo -> (use case, template)
GUIDE = {
    "NikolayKozloff/Marx-3B-V2-GGUF": ("assistant", "Alpaca"),
    "TheBloke/Mistral-7B-OpenOrca-GGUF": ("assistant", "ChatML"),
    "TheBloke/Nous-Hermes-Llama2-GGUF": ("assistant", "Alpaca"),
    "TheBloke/vicuna-13B-v1.5-GGUF": ("assistant", "Vicuna 1.1"),
    "TheBloke/Zarablend-L2-7B-GGUF": ("chat", "Alpaca"),
    "TheBloke/MythoLogic-Mini-7B-GGUF": ("chat", "Alpaca"),
    "TheBloke/MythoMax-L2-13B-GGUF": ("chat", "Alpaca"),
    "TheBloke/Mythalion-13B-GGUF": ("chat", "Metharme"),
    "shadowsword/LLAMA2-13B-Holodeck-1-GGML_K": ("story", "none"),
    "TheBloke/MLewd-ReMM-L2-Chat-20B-GGUF": ("chat", "Alpaca"),
    "TheBloke/Xwin-LM-70B-V0.1-GGUF": ("chat", "Vicuna 1.1"),
    "Crataco/AI-Dungeon-2-Classic-GGML": ("adventure", "none"),
    "TheBloke/Dans-AdventurousWinds-7B-GGUF": ("adventure", "adventure"),
    "PocketDoc/Dans-CreepingSenseOfDoom-13b-gguf": ("adventure", "Metharme"),
    "PocketDoc/Dans-RetroRodeo-13b-gguf": ("adventure", "adventure"),
    "TheBloke/Spring-Dragon-GGUF": ("adventure", "none"),
}


def test_every_guide_model_is_in_the_catalog() -> None:
    catalog = load_catalog()
    by_repo = {e.repo: e for e in catalog}
    for repo, (use_case, template) in GUIDE.items():
        entry = by_repo[repo]
        assert entry.use_case == use_case, repo
        assert entry.template == template, repo
    assert catalog.get("lamini-lm").loadable is False


def test_entries_are_complete() -> None:
    catalog = load_catalog()
    assert catalog.default_quant == "Q5_K_M"
    for entry in catalog:
        assert re.fullmatch(r"[a-z0-9][a-z0-9.-]*", entry.id), entry.id
        assert entry.name and entry.size and entry.notes, entry.id
        assert set(entry.use_cases) <= set(USE_CASES), entry.id
        assert entry.template in TEMPLATE_NAMES, entry.id
        assert entry.params_b > 0 and entry.guide_ram_gb > 0, entry.id
        assert entry.n_layer > 0 and 0 < entry.n_embd_kv <= entry.n_embd, entry.id
        if entry.repo:
            assert re.fullmatch(r"[\w.-]+/[\w.-]+", entry.repo), entry.id


def test_presets_exist() -> None:
    pytest.importorskip("tomli_w")
    from tui.engine.presets import get_preset

    for entry in load_catalog():
        get_preset(entry.preset)
        for name in entry.alt_presets:
            get_preset(name)


@pytest.mark.skipif(
    importlib.util.find_spec("tui.engine.templates") is None, reason="templates module absent"
)
def test_templates_exist() -> None:
    from tui.engine.templates import get_template

    for entry in load_catalog():
        if entry.template not in ("none", "adventure"):
            assert get_template(entry.template).name == entry.template


def test_guide_presets_per_use_case() -> None:
    catalog = load_catalog()
    for entry in catalog.by_use_case("assistant"):
        if not entry.embedded:
            assert entry.preset == "LLaMA-Precise", entry.id
    mythomax = catalog.get("MythoMax-L2-13B")
    assert mythomax.preset == "Space Alien" and "Titanic" in mythomax.alt_presets
    assert catalog.get("mythalion-13b").preset == "Storywriter"


def test_ggml_entries_point_to_gguf_alternatives() -> None:
    catalog = load_catalog()
    unloadable = [e for e in catalog if not e.loadable]
    assert {e.id for e in unloadable} == {"lamini-lm", "holodeck-13b-ggml", "ai-dungeon-2-classic"}
    for entry in unloadable:
        alternative = catalog.get(entry.alternative)
        assert alternative.loadable, entry.id
        assert entry.reason
    assert "GGML" in catalog.get("holodeck-13b-ggml").reason
    assert "21 August 2023" in catalog.get("ai-dungeon-2-classic").reason


def test_embedded_entry() -> None:
    entry = load_catalog().get("smollm2-135m")
    assert entry.embedded and entry.quant == "Q4_1" and entry.template == "ChatML"
    assert set(entry.use_cases) == set(USE_CASES)


def test_size_estimates_match_the_guide() -> None:
    catalog = load_catalog()
    q5_7b = catalog.estimate_file_bytes(catalog.get("mythologic-mini-7b"))
    q5_13b = catalog.estimate_file_bytes(catalog.get("mythomax-l2-13b"), "Q5_K_M")
    assert abs(q5_7b / 1e9 - 4.8) < 0.1
    assert abs(q5_13b / 1e9 - 9.2) < 0.1
    q4 = catalog.estimate_file_bytes(catalog.get("mythomax-l2-13b"), "q4_k_m")
    q8 = catalog.estimate_file_bytes(catalog.get("mythomax-l2-13b"), "Q8_0")
    assert q4 < q5_13b < q8
    assert catalog.estimate_file_bytes(catalog.get("smollm2-135m")) == 98_000_000
    with pytest.raises(CatalogError, match="unknown quantization"):
        catalog.estimate_file_bytes(catalog.get("mythomax-l2-13b"), "Q9_Z")


def test_kv_cache_shape() -> None:
    catalog = load_catalog()
    # llama-2 13B: 40 layers x 5120, f16 K and V: 800 KiB per token
    assert catalog.get("mythomax-l2-13b").kv_cache_bytes(1) == 2 * 40 * 5120 * 2
    # grouped-query attention keeps Mistral's cache a quarter of that width
    assert catalog.get("mistral-7b-openorca").kv_cache_bytes(1) == 2 * 32 * 1024 * 2


def test_lookup_errors_and_validation() -> None:
    catalog = load_catalog()
    with pytest.raises(CatalogError, match="unknown model 'nope'.*mythomax-l2-13b"):
        catalog.get("nope")
    with pytest.raises(CatalogError, match="unknown use case"):
        catalog.by_use_case("poetry")
    base = 'id = "x"\nname = "X"\nuse_cases = ["chat"]\nsize = "7B"\nparams_b = 7\n'
    base += 'repo = "a/b"\npreset = "Titanic"\nguide_ram_gb = 8\nn_layer = 32\nn_embd = 4096\n'
    assert len(parse_catalog('[[model]]\n' + base + 'template = "Alpaca"\n')) == 1
    with pytest.raises(CatalogError, match="unknown template"):
        parse_catalog('[[model]]\n' + base + 'template = "Klingon"\n')
    with pytest.raises(CatalogError, match="missing or bad 'template'"):
        parse_catalog('[[model]]\n' + base)
    with pytest.raises(CatalogError, match="reason and alternative"):
        parse_catalog('[[model]]\n' + base + 'template = "none"\nloadable = false\n')
    with pytest.raises(CatalogError, match="duplicate"):
        one = '[[model]]\n' + base + 'template = "none"\n'
        parse_catalog(one + one)


def test_one_friendly_name_for_a_model_everywhere(tmp_path: Path) -> None:
    from tui.models.embedded import embedded_model_path
    from tui.models.naming import model_display_name

    embedded = load_catalog().get("smollm2-135m").name
    assert model_display_name("") == embedded
    assert model_display_name("smollm2-135m") == embedded
    path = embedded_model_path()
    if path is not None:
        assert model_display_name(path) == embedded
    hub = tmp_path / "TheBloke" / "MythoMax-L2-13B-GGUF" / "mythomax-l2-13b.Q5_K_M.gguf"
    assert model_display_name(hub) == "MythoMax 13B Q5_K_M"
    assert model_display_name(tmp_path / "my-own-model.Q4_0.gguf") == "my-own-model.Q4_0"
