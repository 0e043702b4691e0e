"""Walking and writing PNG chunks. Pixels are never decoded; every CRC is checked."""

from __future__ import annotations

import struct
import zlib
from collections.abc import Iterator
from dataclasses import dataclass

from . import errors
from .errors import CardError, human_size

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
TEXT_CHUNK_TYPES = (b"tEXt", b"zTXt", b"iTXt")


@dataclass(frozen=True)
class Chunk:
    type: bytes
    data: bytes

    @property
    def name(self) -> str:
        return _chunk_name(self.type)


def _chunk_name(ctype: bytes) -> str:
    return ctype.decode("latin-1") if ctype.isalpha() else ctype.hex()


def iter_chunks(data: bytes, filename: str) -> Iterator[Chunk]:
    """Yield each chunk up to and including IEND, checking lengths and CRCs."""
    if not data.startswith(PNG_SIGNATURE):
        raise CardError(filename, "not a PNG file (bad signature)")
    pos = len(PNG_SIGNATURE)
    while True:
        if pos + 8 > len(data):
            raise CardError(filename, "truncated PNG (ends before IEND)")
        length, ctype = struct.unpack(">I4s", data[pos : pos + 8])
        name = _chunk_name(ctype)
        if length > errors.MAX_CHUNK_BYTES:
            raise CardError(
                filename, f"PNG chunk '{name}' is larger than {human_size(errors.MAX_CHUNK_BYTES)}"
            )
        end = pos + 8 + length + 4
        if end > len(data):
            raise CardError(filename, f"truncated PNG (chunk '{name}' is cut short)")
        payload = data[pos + 8 : pos + 8 + length]
        (crc,) = struct.unpack(">I", data[end - 4 : end])
        if zlib.crc32(ctype + payload) != crc:
            raise CardError(filename, f"PNG chunk '{name}' has a bad CRC (the file is corrupt)")
        yield Chunk(ctype, payload)
        if ctype == b"IEND":
            return
        pos = end


def is_valid_png(data: bytes) -> bool:
    """Whether `data` is a whole, uncorrupted PNG (chunks and CRCs; pixels are not decoded)."""
    try:
        chunks = read_chunks(data, "image")
    except CardError:
        return False
    return bool(chunks) and chunks[0].type == b"IHDR"


def read_chunks(data: bytes, filename: str) -> list[Chunk]:
    return list(iter_chunks(data, filename))


def text_keyword(chunk: Chunk) -> str | None:
    """The keyword of a tEXt/zTXt/iTXt chunk, or None for other chunks."""
    if chunk.type not in TEXT_CHUNK_TYPES:
        return None
    keyword, sep, _ = chunk.data.partition(b"\0")
    return keyword.decode("latin-1") if sep else None


def inflate(blob: bytes, filename: str, what: str) -> bytes:
    """Inflate zlib data, refusing output past `MAX_TEXT_BYTES` without producing it all."""
    cap = errors.MAX_TEXT_BYTES
    inflater = zlib.decompressobj()
    try:
        out = inflater.decompress(blob, cap + 1)
    except zlib.error as exc:
        raise CardError(filename, f"{what} holds corrupt compressed data ({exc})") from None
    if len(out) > cap:
        raise CardError(filename, f"{what} inflates past {human_size(cap)}")
    if not inflater.eof:
        raise CardError(filename, f"{what} holds compressed data that is cut short")
    return out


def text_payload(chunk: Chunk, filename: str) -> str:
    """The text of a tEXt/zTXt/iTXt chunk, inflated when compressed."""
    what = f"PNG chunk '{chunk.name}'"
    _, _, rest = chunk.data.partition(b"\0")
    if chunk.type == b"tEXt":
        return rest.decode("latin-1")
    if chunk.type == b"zTXt":
        if not rest or rest[0] != 0:
            raise CardError(filename, f"{what} uses an unknown compression method")
        return inflate(rest[1:], filename, what).decode("latin-1")
    # iTXt: compression flag, method, language tag \0, translated keyword \0, UTF-8 text.
    if len(rest) < 2:
        raise CardError(filename, f"{what} is cut short")
    flag, method = rest[0], rest[1]
    parts = rest[2:].split(b"\0", 2)
    if len(parts) != 3:
        raise CardError(filename, f"{what} is missing its language tag or translated keyword")
    body = parts[2]
    if flag:
        if method != 0:
            raise CardError(filename, f"{what} uses an unknown compression method")
        body = inflate(body, filename, what)
    try:
        return body.decode("utf-8")
    except UnicodeDecodeError:
        raise CardError(filename, f"{what} text is not valid UTF-8") from None


def make_chunk(ctype: bytes, payload: bytes) -> bytes:
    """One chunk's bytes: length, type, data, CRC."""
    return (
        struct.pack(">I", len(payload))
        + ctype
        + payload
        + struct.pack(">I", zlib.crc32(ctype + payload))
    )


def text_chunk(keyword: str, text: str) -> Chunk:
    """A tEXt chunk (keyword and text are Latin-1; base64 card text always is)."""
    return Chunk(b"tEXt", keyword.encode("latin-1") + b"\0" + text.encode("latin-1"))


def build_png(chunks: list[Chunk]) -> bytes:
    return PNG_SIGNATURE + b"".join(make_chunk(c.type, c.data) for c in chunks)
