"""A tiny PNG encoder and header reader (zlib + struct, no Pillow)."""

from __future__ import annotations

import hashlib
import random
import struct
import zlib
from collections.abc import Sequence
from functools import lru_cache

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
_BANDS = 8


def _chunk(kind: bytes, data: bytes) -> bytes:
    crc = zlib.crc32(kind + data) & 0xFFFFFFFF
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", crc)


def encode_png(width: int, height: int, rows: Sequence[bytes], *, level: int = 6) -> bytes:
    """Encode 8-bit RGB scanlines (``width * 3`` bytes each, top to bottom) as a PNG file."""
    if width <= 0 or height <= 0 or len(rows) != height:
        raise ValueError(f"need {height} rows for a {width}x{height} image, got {len(rows)}")
    if any(len(row) != width * 3 for row in rows):
        raise ValueError(f"every row must hold {width * 3} bytes")
    raw = b"".join(b"\x00" + row for row in rows)  # filter type 0 (None) on every scanline
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)  # 8-bit truecolour, no interlace
    return PNG_SIGNATURE + _chunk(b"IHDR", header) + _chunk(b"IDAT", zlib.compress(raw, level)) + _chunk(b"IEND", b"")


def png_dimensions(data: bytes) -> tuple[int, int] | None:
    """Width and height from a PNG's IHDR chunk, or None if ``data`` is not a PNG."""
    if len(data) < 24 or not data.startswith(PNG_SIGNATURE) or data[12:16] != b"IHDR":
        return None
    width, height = struct.unpack(">II", data[16:24])
    return int(width), int(height)


def _gradient_row(left: bytes, right: bytes, width: int) -> bytes:
    span = max(width - 1, 1)
    return bytes(left[c] + (right[c] - left[c]) * x // span for x in range(width) for c in range(3))


@lru_cache(maxsize=64)
def prompt_image(prompt: str, width: int, height: int) -> bytes:
    """A deterministic PNG of horizontal gradient bands whose colours come from a hash of ``prompt``."""
    digest = hashlib.sha256(prompt.encode("utf-8")).digest()
    palette = [digest[i * 3 : i * 3 + 3] for i in range(_BANDS + 1)]
    bands = [_gradient_row(palette[i], palette[i + 1], width) for i in range(_BANDS)]
    rows = [bands[y * _BANDS // height] for y in range(height)]
    return encode_png(width, height, rows)


@lru_cache(maxsize=2)
def noise_image(prompt: str, width: int, height: int) -> bytes:
    """A deterministic PNG of random pixels: it does not compress, so its size is about ``width * height * 3``."""
    rng = random.Random(hashlib.sha256(prompt.encode("utf-8")).digest())
    return encode_png(width, height, [rng.randbytes(width * 3) for _ in range(height)], level=1)
