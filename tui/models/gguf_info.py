"""Read a GGUF file's header and metadata in pure Python, refusing bad files clearly.

llama.cpp can abort the whole process on a malformed file, so every model is checked here
first. Only the header and the metadata key-values are read (never the tensor data); large
arrays such as the tokenizer vocabulary are walked past without building Python objects.
"""

from __future__ import annotations

import os
import re
import stat
import struct
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, BinaryIO

from tui.core.text import one_line

MAGIC = b"GGUF"
SUPPORTED_VERSIONS = (2, 3)

MAX_KV_COUNT = 65_536
MAX_TENSOR_COUNT = 10_000_000
MAX_KEY_LENGTH = 65_536
MAX_STRING_LENGTH = 16 * 1024 * 1024  # a chat template is a few KB; a token a few bytes
MAX_ARRAY_LENGTH = 64 * 1024 * 1024
MAX_ARRAY_DEPTH = 4
SMALL_ARRAY = 64  # arrays up to this many items are kept in `metadata`
READ_CHUNK = 1024 * 1024

# GGUF value type ids -> (name, struct code or None for variable size)
_UINT8, _INT8, _UINT16, _INT16, _UINT32, _INT32, _FLOAT32, _BOOL = range(8)
_STRING, _ARRAY, _UINT64, _INT64, _FLOAT64 = range(8, 13)
_SCALAR_CODES = {
    _UINT8: "B",
    _INT8: "b",
    _UINT16: "H",
    _INT16: "h",
    _UINT32: "I",
    _INT32: "i",
    _FLOAT32: "f",
    _BOOL: "?",
    _UINT64: "Q",
    _INT64: "q",
    _FLOAT64: "d",
}
TYPE_NAMES = {
    _UINT8: "uint8",
    _INT8: "int8",
    _UINT16: "uint16",
    _INT16: "int16",
    _UINT32: "uint32",
    _INT32: "int32",
    _FLOAT32: "float32",
    _BOOL: "bool",
    _STRING: "string",
    _ARRAY: "array",
    _UINT64: "uint64",
    _INT64: "int64",
    _FLOAT64: "float64",
}

# llama.cpp's `general.file_type` values (enum llama_ftype).
FILE_TYPES = {
    0: "F32",
    1: "F16",
    2: "Q4_0",
    3: "Q4_1",
    4: "Q4_1_SOME_F16",
    7: "Q8_0",
    8: "Q5_0",
    9: "Q5_1",
    10: "Q2_K",
    11: "Q3_K_S",
    12: "Q3_K_M",
    13: "Q3_K_L",
    14: "Q4_K_S",
    15: "Q4_K_M",
    16: "Q5_K_S",
    17: "Q5_K_M",
    18: "Q6_K",
    19: "IQ2_XXS",
    20: "IQ2_XS",
    21: "Q2_K_S",
    22: "IQ3_XS",
    23: "IQ3_XXS",
    24: "IQ1_S",
    25: "IQ4_NL",
    26: "IQ3_S",
    27: "IQ3_M",
    28: "IQ2_S",
    29: "IQ2_M",
    30: "IQ4_XS",
    31: "IQ1_M",
    32: "BF16",
    36: "TQ1_0",
    37: "TQ2_0",
}


class GGUFError(Exception):
    """A model file that must not be handed to llama.cpp; the message is one line."""


@dataclass(frozen=True)
class ArraySummary:
    """A large metadata array that was walked past, not loaded."""

    item_type: str
    length: int

    def __repr__(self) -> str:
        return f"<{self.length} x {self.item_type}>"


@dataclass(frozen=True)
class GGUFInfo:
    path: Path
    file_size: int
    version: int
    tensor_count: int
    kv_count: int
    name: str | None = None
    architecture: str | None = None
    context_length: int | None = None
    chat_template: str | None = None
    bos_token_id: int | None = None
    eos_token_id: int | None = None
    bos_token: str | None = None
    eos_token: str | None = None
    file_type: int | None = None
    quantization: str | None = None
    vocab_size: int | None = None
    metadata_end: int = 0  # byte offset where the metadata ends (the tensor infos begin)
    metadata: dict[str, Any] = field(default_factory=dict, repr=False)

    def arch_value(self, key: str) -> Any:
        """`<architecture>.<key>` from the metadata, or None."""
        if not self.architecture:
            return None
        return self.metadata.get(f"{self.architecture}.{key}")

    @property
    def n_layer(self) -> int | None:
        return _as_int(self.arch_value("block_count"))

    @property
    def n_embd(self) -> int | None:
        return _as_int(self.arch_value("embedding_length"))

    @property
    def n_head(self) -> int | None:
        return _as_int(self.arch_value("attention.head_count"))

    @property
    def n_head_kv(self) -> int | None:
        value = _as_int(self.arch_value("attention.head_count_kv"))
        return value if value is not None else self.n_head

    def summary_lines(self) -> list[str]:
        """Human-readable lines for `grue models info`."""
        size_mb = self.file_size / 1024**2
        lines = [
            f"file:          {one_line(str(self.path), 300)}",
            f"size:          {size_mb:,.1f} MB",
            f"GGUF version:  {self.version}",
            f"name:          {one_line(self.name or '?')}",
            f"architecture:  {one_line(self.architecture or '?')}",
            f"quantization:  {self.quantization or '?'}",
            f"context:       {self.context_length or '?'}",
            f"layers:        {self.n_layer or '?'}",
            f"vocabulary:    {self.vocab_size or '?'}",
            f"tensors:       {self.tensor_count}",
            f"metadata keys: {self.kv_count}",
            f"BOS / EOS:     {_token_label(self.bos_token_id, self.bos_token)}"
            f" / {_token_label(self.eos_token_id, self.eos_token)}",
            f"chat template: {_template_label(self.chat_template)}",
        ]
        return lines


def _token_label(token_id: int | None, text: str | None) -> str:
    if token_id is None:
        return "?"
    return f"{token_id} {one_line(repr(text))}" if text is not None else str(token_id)


def _template_label(template: str | None) -> str:
    if not template:
        return "none"
    first = template.strip().splitlines()[0] if template.strip() else ""
    return f"{len(template)} chars, starts {one_line(repr(first[:40]))}"


def _as_int(value: Any) -> int | None:
    if isinstance(value, bool) or not isinstance(value, int):
        return None
    return value


class _Reader:
    """Reads a file forward into a growing buffer; bounds errors become GGUFError."""

    def __init__(self, fh: BinaryIO, size: int, label: str, endian: str = "<") -> None:
        self.fh = fh
        self.size = size
        self.label = label
        self.buf = bytearray()
        self.pos = 0
        self.set_endian(endian)

    def set_endian(self, endian: str) -> None:
        self.endian = endian
        self.u32 = struct.Struct(endian + "I").unpack_from
        self.u64 = struct.Struct(endian + "Q").unpack_from

    def fail(self, problem: str) -> GGUFError:
        return GGUFError(f"{self.label}: {problem}")

    def ensure(self, end: int, what: str) -> None:
        """Make bytes up to offset `end` available, or fail as truncated."""
        if end <= len(self.buf):
            return
        if end > self.size:
            raise self.fail(f"truncated {what} at byte {self.pos} (file is {self.size} bytes)")
        want = max(end - len(self.buf), READ_CHUNK)
        try:
            chunk = self.fh.read(want)
        except OSError as exc:
            raise self.fail(f"unreadable: {exc.strerror or exc}") from exc
        self.buf += chunk
        if end > len(self.buf):
            raise self.fail(f"truncated {what} at byte {self.pos} (file shrank while reading)")

    def take(self, n: int, what: str) -> bytes:
        self.ensure(self.pos + n, what)
        data = bytes(self.buf[self.pos : self.pos + n])
        self.pos += n
        return data

    def read_u32(self, what: str) -> int:
        self.ensure(self.pos + 4, what)
        (value,) = self.u32(self.buf, self.pos)
        self.pos += 4
        return value

    def read_u64(self, what: str) -> int:
        self.ensure(self.pos + 8, what)
        (value,) = self.u64(self.buf, self.pos)
        self.pos += 8
        return value

    def read_string(self, what: str, cap: int = MAX_STRING_LENGTH) -> str:
        length = self.read_u64(f"{what} length")
        if length > cap or length > self.size - self.pos:
            raise self.fail(f"absurd {what} length {length} at byte {self.pos - 8}")
        return self.take(length, what).decode("utf-8", errors="replace")

    def skip_strings(self, count: int, what: str) -> None:
        """Walk past `count` strings (the hot loop for tokenizer vocabularies).

        The inner loop only unpacks lengths; running off the buffer raises struct.error,
        and the buffer is then grown (or the file found truncated) and the walk resumed.
        """
        u64 = self.u64
        pos = self.pos
        remaining = count
        while remaining:
            buf = self.buf
            done = 0
            try:
                for done in range(remaining):  # noqa: B007 - `done` is read after a break-out
                    (length,) = u64(buf, pos)
                    if length > MAX_STRING_LENGTH:
                        raise self.fail(f"absurd string length {length} in {what} at byte {pos}")
                    pos += 8 + length
                remaining = 0
            except struct.error:
                remaining -= done
                self.pos = pos
                self.ensure(pos + 8, f"{what} item length")
        self.pos = pos
        self.ensure(pos, what)

    def nth_string(self, start: int, count: int, index: int) -> str | None:
        """The `index`-th string of a string array whose items begin at `start`."""
        if not 0 <= index < count:
            return None
        saved = self.pos
        self.pos = start
        try:
            self.skip_strings(index, "token list")
            return self.read_string("token", cap=MAX_KEY_LENGTH)
        finally:
            self.pos = saved


def _open_checked(path: Path) -> tuple[BinaryIO, int]:
    label = str(path)
    try:
        st = path.stat()
    except FileNotFoundError:
        raise GGUFError(f"{label}: no such file") from None
    except OSError as exc:
        raise GGUFError(f"{label}: unreadable: {exc.strerror or exc}") from None
    if stat.S_ISDIR(st.st_mode):
        raise GGUFError(f"{label}: is a directory, not a GGUF file")
    if not stat.S_ISREG(st.st_mode):
        raise GGUFError(f"{label}: not a regular file")
    try:
        fh = open(path, "rb")  # noqa: SIM115 - closed by the caller
    except OSError as exc:
        raise GGUFError(f"{label}: unreadable: {exc.strerror or exc}") from None
    return fh, st.st_size


def read_gguf_info(path: str | os.PathLike[str]) -> GGUFInfo:
    """Check `path` is a sane GGUF file and return what its metadata says about the model.

    Raises GGUFError (one line naming the file and the problem) for anything that is not a
    well-formed GGUF v2/v3 header and metadata block.
    """
    path = Path(path)
    fh, size = _open_checked(path)
    with fh:
        return _parse(fh, size, path)


def _parse(fh: BinaryIO, size: int, path: Path) -> GGUFInfo:
    label = str(path)
    if size == 0:
        raise GGUFError(f"{label}: empty file, not a GGUF model")
    reader = _Reader(fh, size, label)
    reader.ensure(min(size, 4), "magic")
    head = bytes(reader.buf[:4])
    if head != MAGIC:
        raise GGUFError(f"{label}: not a GGUF file (starts with {head!r})")
    reader.pos = 4
    version_bytes = reader.take(4, "header")
    version = struct.unpack("<I", version_bytes)[0]
    if version not in SUPPORTED_VERSIONS:
        swapped = struct.unpack(">I", version_bytes)[0]
        if swapped in SUPPORTED_VERSIONS:  # a big-endian GGUF
            reader.set_endian(">")
            version = swapped
        else:
            raise GGUFError(f"{label}: unsupported GGUF version {version} (need 2 or 3)")
    tensor_count = reader.read_u64("header")
    kv_count = reader.read_u64("header")
    if tensor_count > MAX_TENSOR_COUNT:
        raise GGUFError(f"{label}: absurd tensor count {tensor_count}")
    if kv_count > MAX_KV_COUNT:
        raise GGUFError(f"{label}: absurd metadata key count {kv_count}")

    metadata: dict[str, Any] = {}
    token_list: tuple[int, int] | None = None  # (offset of first item, count)
    for index in range(kv_count):
        key = reader.read_string(f"metadata key #{index}", cap=MAX_KEY_LENGTH)
        type_id = reader.read_u32(f"type of {key!r}")
        if key == "tokenizer.ggml.tokens" and type_id == _ARRAY:
            item_type = reader.read_u32(f"array type of {key!r}")
            count = reader.read_u64(f"array length of {key!r}")
            _check_array(reader, key, item_type, count)
            if item_type == _STRING:
                token_list = (reader.pos, count)
            metadata[key] = _read_array_items(reader, key, item_type, count, depth=1)
        else:
            metadata[key] = _read_value(reader, key, type_id, depth=0)

    return _build_info(path, size, version, tensor_count, kv_count, metadata, reader, token_list)


def _check_array(reader: _Reader, key: str, item_type: int, count: int) -> None:
    if item_type not in TYPE_NAMES:
        raise reader.fail(f"bad array item type {item_type} for {key!r}")
    min_item = 8 if item_type in (_STRING, _ARRAY) else struct.calcsize(_SCALAR_CODES[item_type])
    if count > MAX_ARRAY_LENGTH or count * min_item > reader.size - reader.pos:
        raise reader.fail(f"absurd array length {count} for {key!r}")


def _read_value(reader: _Reader, key: str, type_id: int, depth: int) -> Any:
    code = _SCALAR_CODES.get(type_id)
    if code is not None:
        width = struct.calcsize(code)
        reader.ensure(reader.pos + width, f"value of {key!r}")
        (value,) = struct.unpack_from(reader.endian + code, reader.buf, reader.pos)
        reader.pos += width
        return value
    if type_id == _STRING:
        return reader.read_string(f"value of {key!r}")
    if type_id == _ARRAY:
        if depth >= MAX_ARRAY_DEPTH:
            raise reader.fail(f"arrays nested too deep in {key!r}")
        item_type = reader.read_u32(f"array type of {key!r}")
        count = reader.read_u64(f"array length of {key!r}")
        _check_array(reader, key, item_type, count)
        return _read_array_items(reader, key, item_type, count, depth + 1)
    raise reader.fail(f"bad value type {type_id} for {key!r} at byte {reader.pos - 4}")


def _read_array_items(
    reader: _Reader, key: str, item_type: int, count: int, depth: int
) -> list[Any] | ArraySummary:
    if count <= SMALL_ARRAY:
        return [_read_value(reader, key, item_type, depth) for _ in range(count)]
    summary = ArraySummary(TYPE_NAMES[item_type], count)
    code = _SCALAR_CODES.get(item_type)
    if code is not None:
        end = reader.pos + count * struct.calcsize(code)
        reader.ensure(end, f"array {key!r}")
        reader.pos = end
    elif item_type == _STRING:
        reader.skip_strings(count, f"array {key!r}")
    else:
        for _ in range(count):
            _read_value(reader, key, _ARRAY, depth)
    return summary


def _build_info(
    path: Path,
    size: int,
    version: int,
    tensor_count: int,
    kv_count: int,
    metadata: dict[str, Any],
    reader: _Reader,
    token_list: tuple[int, int] | None,
) -> GGUFInfo:
    def text(key: str) -> str | None:
        value = metadata.get(key)
        return value if isinstance(value, str) else None

    arch = text("general.architecture")
    context = _as_int(metadata.get(f"{arch}.context_length")) if arch else None
    bos_id = _as_int(metadata.get("tokenizer.ggml.bos_token_id"))
    eos_id = _as_int(metadata.get("tokenizer.ggml.eos_token_id"))
    vocab_size = token_list[1] if token_list else None
    bos = eos = None
    if token_list is not None:
        if bos_id is not None:
            bos = reader.nth_string(token_list[0], token_list[1], bos_id)
        if eos_id is not None:
            eos = reader.nth_string(token_list[0], token_list[1], eos_id)
    file_type = _as_int(metadata.get("general.file_type"))
    quant = FILE_TYPES.get(file_type) if file_type is not None else None
    return GGUFInfo(
        path=path,
        file_size=size,
        version=version,
        tensor_count=tensor_count,
        kv_count=kv_count,
        name=text("general.name"),
        architecture=arch,
        context_length=context,
        chat_template=text("tokenizer.chat_template"),
        bos_token_id=bos_id,
        eos_token_id=eos_id,
        bos_token=bos,
        eos_token=eos,
        file_type=file_type,
        quantization=quant or quant_from_filename(path.name),
        vocab_size=vocab_size,
        metadata_end=reader.pos,
        metadata=metadata,
    )


_EXTRA_QUANTS = ("Q3_K", "Q4_K", "Q5_K", "Q6_K", "Q8_K")
_QUANT_RE = re.compile(
    r"(?<![A-Z0-9])("
    + "|".join(sorted({*FILE_TYPES.values(), *_EXTRA_QUANTS}, key=len, reverse=True))
    + r")(?![A-Z0-9])"
)


def quant_from_filename(name: str) -> str | None:
    """The quantization named in a file name, upper-cased, or None.

    `mythomax-l2-13b.Q5_K_M.gguf` -> "Q5_K_M"; `model-q4_0.gguf` -> "Q4_0";
    `Holodeck-1_Q5_1_4K.gguf` -> "Q5_1". The longest known name wins (Q5_K_M over Q5_K).
    """
    stem = name[:-5] if name.lower().endswith(".gguf") else name
    matches = _QUANT_RE.findall(stem.upper())
    return matches[-1] if matches else None
