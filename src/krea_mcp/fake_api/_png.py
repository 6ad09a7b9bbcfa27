"""Placeholder images: a tiny PNG encoder and header reader (zlib + struct), and labelled placeholders (Pillow)."""

from __future__ import annotations

import hashlib
import io
import math
import random
import struct
import zlib
from collections.abc import Sequence
from functools import lru_cache
from typing import Any

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


#: Long side of an image Krea sizes by resolution (``1K`` when a body names none).
_LONG_SIDE = {"1K": 1024, "2K": 2048, "4K": 4096}


def requested_size(body: dict[str, Any]) -> tuple[int, int]:
    """The size a generate body asks for: its width/height, else its aspect_ratio at its resolution, else 1024².

    Real Krea rounds some sizes to what a model supports; the sandbox returns exactly what was asked, which is
    what an agent checking its own request wants to see.
    """
    width, height = body.get("width"), body.get("height")
    if isinstance(width, int) and isinstance(height, int) and width > 0 and height > 0:
        return width, height
    long_side = _LONG_SIDE.get(str(body.get("resolution") or "1K"), 1024)
    ratio = str(body.get("aspect_ratio") or "1:1").split(":")
    try:
        wide, tall = float(ratio[0]), float(ratio[1])
    except (IndexError, ValueError):
        wide = tall = 1.0
    if wide <= 0 or tall <= 0 or not math.isfinite(wide / tall):
        wide = tall = 1.0
    if wide >= tall:
        return long_side, max(1, round(long_side * tall / wide))
    return max(1, round(long_side * wide / tall)), long_side


@lru_cache(maxsize=16)
def labelled_image(prompt: str, model: str, width: int, height: int) -> bytes:
    """A PNG of the requested size: a gradient coloured by the prompt, with the prompt, model and size written on it,
    so a person looking at a sandbox result sees what was asked for."""
    from PIL import Image, ImageDraw, ImageFont, ImageOps  # deferred: only the sandbox draws images

    digest = hashlib.sha256(prompt.encode("utf-8")).digest()
    dark = tuple(int(c) // 3 for c in digest[:3])
    light = tuple(128 + int(c) // 2 for c in digest[3:6])
    gradient = Image.linear_gradient("L").resize((width, height))
    image = ImageOps.colorize(gradient, dark, light)
    size = max(8, min(width, height) // 16)
    font = ImageFont.load_default(size=size)
    words, lines, line = prompt.split(), [], ""
    columns = max(8, int(width / (size * 0.55)) - 2)
    for word in words:
        if line and len(line) + 1 + len(word) > columns:
            lines.append(line)
            line = word
        else:
            line = f"{line} {word}".strip()
        if len(lines) == 4:
            break
    lines.append(line[:columns])
    text = "\n".join([*lines[:5], "", model, f"{width}x{height} · krea-mcp sandbox"])
    ImageDraw.Draw(image).multiline_text((size, size), text, font=font, fill=(255, 255, 255), spacing=size // 4)
    out = io.BytesIO()
    image.save(out, format="PNG", compress_level=1)
    return out.getvalue()


#: Above this many pixels a result is drawn flat (no text), streamed row by row so memory stays small.
LABEL_MAX_PIXELS = 4096 * 4096


def flat_image(prompt: str, width: int, height: int) -> bytes:
    """A PNG of any size (an enhancer's 16K output, say): one gradient row coloured by ``prompt``, repeated.

    Rows after the first use PNG's "Up" filter (all zero bytes), which deflate squeezes to almost nothing: a
    16000x16000 image is about 3 MB and takes under a second.
    """
    if width <= 0 or height <= 0:
        raise ValueError(f"bad size {width}x{height}")
    digest = hashlib.sha256(prompt.encode("utf-8")).digest()
    first = b"\x00" + _gradient_row(digest[:3], digest[3:6], width)
    repeat = b"\x02" + bytes(width * 3)
    packer = zlib.compressobj(1)
    parts = [packer.compress(first)]
    batch = max(1, (1 << 22) // len(repeat))
    left = height - 1
    while left > 0:
        step = min(batch, left)
        parts.append(packer.compress(repeat * step))
        left -= step
    parts.append(packer.flush())
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return PNG_SIGNATURE + _chunk(b"IHDR", header) + _chunk(b"IDAT", b"".join(parts)) + _chunk(b"IEND", b"")


def exact_size(body: dict[str, Any]) -> tuple[int, int] | None:
    """The output size an enhance body asks for (its ``width`` and ``height``, numbers in the spec), or None."""
    width, height = body.get("width"), body.get("height")
    if isinstance(width, bool) or isinstance(height, bool):
        return None
    if not isinstance(width, int | float) or not isinstance(height, int | float):
        return None
    if not (math.isfinite(width) and math.isfinite(height)) or width < 1 or height < 1:
        return None
    return round(width), round(height)
