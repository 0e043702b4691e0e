"""Tiny generated PNG images: a placeholder portrait for cards that have no image."""

from __future__ import annotations

import colorsys
import hashlib
import struct
import zlib

from .png_chunks import PNG_SIGNATURE, make_chunk

Pixel = tuple[int, int, int]


def encode_rgb_png(pixels: list[list[Pixel]]) -> bytes:
    """An 8-bit RGB PNG from rows of (r, g, b) pixels (all rows the same length)."""
    height, width = len(pixels), len(pixels[0])
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    raw = b"".join(b"\0" + bytes(v for px in row for v in px) for row in pixels)
    return (
        PNG_SIGNATURE
        + make_chunk(b"IHDR", header)
        + make_chunk(b"IDAT", zlib.compress(raw, 9))
        + make_chunk(b"IEND", b"")
    )


def scale(pixels: list[list[Pixel]], factor: int) -> list[list[Pixel]]:
    """Nearest-neighbour enlargement, for pixel art."""
    return [[px for px in row for _ in range(factor)] for row in pixels for _ in range(factor)]


def _colour(hue: float, light: float, sat: float) -> Pixel:
    r, g, b = colorsys.hls_to_rgb(hue, light, sat)
    return round(r * 255), round(g * 255), round(b * 255)


def placeholder_png(seed: str, cells: int = 5, cell_px: int = 8) -> bytes:
    """A mirrored block pattern coloured from `seed` (a card name), so cards look distinct."""
    digest = hashlib.sha256(seed.encode("utf-8", "replace")).digest()
    hue = digest[0] / 255
    fg = _colour(hue, 0.55, 0.6)
    bg = _colour(hue, 0.15, 0.3)
    half = (cells + 1) // 2
    grid = []
    for y in range(cells):
        left = [bool(digest[1 + (y * half + x) % 31] & 1) for x in range(half)]
        grid.append(left + left[: cells - half][::-1])
    margin = 1
    size = cells + 2 * margin
    pixels = [
        [
            fg
            if (
                margin <= y < size - margin
                and margin <= x < size - margin
                and grid[y - margin][x - margin]
            )
            else bg
            for x in range(size)
        ]
        for y in range(size)
    ]
    return encode_rgb_png(scale(pixels, cell_px))
