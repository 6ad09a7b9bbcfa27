"""Inline image previews the model can see, kept within a byte budget so they never flood the context.

Safety properties:

* **Budgeted.** In ``thumbnail`` mode the base64 of all previews of one call together never exceeds the budget; an
  image that cannot be made small enough is left out and the note says so. ``full`` mode sends originals only while
  they stay under :data:`FULL_LIMIT_BYTES` (hosts reject tool results over 1 MiB), else it falls back to thumbnails.
* **Never raises for bad data.** Undecodable bytes, unsupported formats and decompression bombs (images over
  :data:`MAX_PIXELS`) are skipped with a one-line note; the other images are still previewed.
* **Bounded work.** At most :data:`MAX_DECODE_PIXELS` are decoded per image (JPEGs are decoded at a reduced scale
  first, so even very large ones stay cheap; other formats over the cap are not previewed), at most
  :data:`DECODE_SLOTS` images are decoded at once in the whole process, and no image is started after the
  caller's ``deadline``: threads cannot be cancelled, so the work stops itself.
* **Cheap to import.** Pillow is imported inside :func:`build_previews`, only when a preview is actually made.

:func:`build_previews` is synchronous and CPU-bound: call it from a worker thread.
"""

from __future__ import annotations

import base64
import io
import math
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Literal

from krea_mcp.files.image_types import HEAD_BYTES, sniff
from krea_mcp.job import Preview

if TYPE_CHECKING:
    from PIL.Image import Image as PILImage
    from PIL.Image import Resampling

#: Largest total base64 of ``full`` previews; Claude Desktop rejects tool results over 1 MiB.
FULL_LIMIT_BYTES = 900_000
#: Images with more pixels than this are treated as decompression bombs and not previewed.
MAX_PIXELS = 100_000_000
#: Most pixels decoded for one preview (after a JPEG's reduced-scale decoding): 40 Mpx of RGBA is 160 MB.
MAX_DECODE_PIXELS = 40_000_000
#: Images decoded at the same time in this process, all calls together (bounds peak memory under load).
DECODE_SLOTS = 2
_decoding = threading.BoundedSemaphore(DECODE_SLOTS)
THUMBNAIL_SIDE = 512
MIN_SIDE = 32
QUALITY = 70
_SHRINK_TRIES = 6
_FULL_TYPES = frozenset({"image/png", "image/jpeg", "image/webp", "image/gif"})


class _Undecodable(Exception):
    """Internal: the bytes are not an image Pillow can safely decode."""


class _TooLarge(Exception):
    """Internal: a real image with more pixels than a preview decodes."""

    def __init__(self, pixels: int) -> None:
        super().__init__(f"{pixels} pixels")
        self.pixels = pixels


class _Late(Exception):
    """Internal: the deadline passed before this image could be started."""


def build_previews(
    images: list[bytes],
    *,
    mode: Literal["off", "thumbnail", "full"],
    budget_bytes: int,
    deadline: float | None = None,
) -> tuple[list[Preview], str | None]:
    """Previews of ``images`` for ``mode``, and a one-line note about anything left out (None if nothing was).

    No image is started after ``deadline`` (a ``time.monotonic()`` value); those left are named in the note.
    """
    if mode == "off" or not images:
        return [], None
    if mode == "full":
        return _full(images, deadline)
    return _thumbnails(images, budget_bytes, deadline)


def b64_length(size: int) -> int:
    """Length of the base64 encoding of ``size`` bytes."""
    return 4 * math.ceil(size / 3)


# --- full -----------------------------------------------------------------------------------------------------------


def _full(images: list[bytes], deadline: float | None) -> tuple[list[Preview], str | None]:
    """Originals as they are while they fit under the host limit; thumbnails otherwise."""
    kinds = [_mime(data) for data in images]
    total = sum(b64_length(len(data)) for data, kind in zip(images, kinds, strict=True) if kind)
    if total > FULL_LIMIT_BYTES:
        batch = _thumbnail_batch(list(enumerate(images, 1)), FULL_LIMIT_BYTES, deadline)
        limit = FULL_LIMIT_BYTES // 1000
        reason = f"full-size images would be {total // 1000} KB of base64, over the {limit} KB a tool result may carry"
        note = _batch_note(len(images), FULL_LIMIT_BYTES, batch)
        return batch.ordered(), _join(f"Sent thumbnails instead of full images: {reason}.", note)
    others = [(number, data) for number, (data, kind) in enumerate(zip(images, kinds, strict=True), 1) if not kind]
    batch = _thumbnail_batch(others, FULL_LIMIT_BYTES - total, deadline)
    previews: list[Preview] = []
    for number, (data, kind) in enumerate(zip(images, kinds, strict=True), 1):
        preview = _as_is(data, kind) if kind else batch.previews.get(number)
        if preview is not None:
            previews.append(preview)
    converted = sorted(batch.previews)
    first = f"{_which(converted).capitalize()} sent as a thumbnail: not PNG, JPEG, WebP or GIF." if converted else None
    return previews, _join(first, _batch_note(len(others), FULL_LIMIT_BYTES - total, batch))


def _as_is(data: bytes, mime: str) -> Preview:
    return Preview(base64.b64encode(data).decode("ascii"), mime)


def _mime(data: bytes) -> str | None:
    """The MIME type of a PNG, JPEG, WebP or GIF file, from its first bytes."""
    kind = sniff(data[:HEAD_BYTES])
    return kind[0] if kind and kind[0] in _FULL_TYPES else None


# --- thumbnails -----------------------------------------------------------------------------------------------------


@dataclass(slots=True)
class _Batch:
    """Thumbnails of some images, keyed by 1-based image number, and the numbers left out."""

    previews: dict[int, Preview] = field(default_factory=dict)
    broken: list[int] = field(default_factory=list)
    too_big: list[int] = field(default_factory=list)
    #: (image number, pixels) of real images over MAX_DECODE_PIXELS.
    too_many_pixels: list[tuple[int, int]] = field(default_factory=list)
    late: list[int] = field(default_factory=list)

    def ordered(self) -> list[Preview]:
        return [self.previews[number] for number in sorted(self.previews)]


def _thumbnails(images: list[bytes], budget: int, deadline: float | None) -> tuple[list[Preview], str | None]:
    batch = _thumbnail_batch(list(enumerate(images, 1)), budget, deadline)
    return batch.ordered(), _batch_note(len(images), budget, batch)


def _thumbnail_batch(items: list[tuple[int, bytes]], budget: int, deadline: float | None = None) -> _Batch:
    """Thumbnails sharing ``budget``: each gets an equal share of what the previous ones left over."""
    batch = _Batch()
    if not items:
        return batch
    from PIL import Image  # deferred: importing this module must stay cheap

    _limit_pixels(Image)
    remaining = budget
    for position, (number, data) in enumerate(items):
        try:
            preview = _thumbnail(data, remaining // (len(items) - position), deadline)
        except _Undecodable:
            batch.broken.append(number)
            continue
        except _TooLarge as exc:
            batch.too_many_pixels.append((number, exc.pixels))
            continue
        except _Late:
            batch.late.extend(n for n, _ in items[position:])
            break
        if preview is None:
            batch.too_big.append(number)
            continue
        batch.previews[number] = preview
        remaining -= len(preview.data)
    return batch


def _limit_pixels(image_module: object) -> None:
    """Lower Pillow's decompression-bomb bound to :data:`MAX_PIXELS` unless it is already stricter."""
    current = getattr(image_module, "MAX_IMAGE_PIXELS", None)
    if current is None or current > MAX_PIXELS:
        image_module.MAX_IMAGE_PIXELS = MAX_PIXELS  # type: ignore[attr-defined]


def _thumbnail(data: bytes, budget: int, deadline: float | None = None) -> Preview | None:
    """A thumbnail of ``data`` whose base64 fits in ``budget``, or None if even the smallest one does not."""
    if b64_length(1) * 16 > budget:  # hopeless: no image encodes to a dozen bytes
        return None
    wait = None if deadline is None else deadline - time.monotonic()
    if wait is not None and wait <= 0:
        raise _Late
    if not _decoding.acquire(timeout=wait):  # other calls are decoding images: wait, within the deadline
        raise _Late
    try:
        base = _decode(data)
    finally:
        _decoding.release()
    encode = _encoder()
    image = base
    for _ in range(_SHRINK_TRIES):
        try:
            encoded, mime = encode(image)
        except Exception as exc:  # an odd image Pillow decodes but cannot re-encode
            raise _Undecodable(str(exc)) from exc
        size = b64_length(len(encoded))
        if size <= budget:
            return Preview(base64.b64encode(encoded).decode("ascii"), mime)
        side = max(image.size)
        if side <= MIN_SIDE:
            return None
        smaller = max(MIN_SIDE, min(side - 1, int(side * math.sqrt(budget / size) * 0.9)))
        image = base.copy()
        image.thumbnail((smaller, smaller), _lanczos())
    return None


def _decode(data: bytes) -> PILImage:
    """Decode ``data`` and shrink it to at most :data:`THUMBNAIL_SIDE` px, upright; raise _Undecodable if it fails."""
    from PIL import Image, ImageOps

    from krea_mcp.files.image_types import UnreadableHeader, header_size

    try:  # an image too big to decode is said to be so (upscales reach hundreds of Mpx), not called undecodable
        width, height, _ = header_size(data)
        if width * height > MAX_PIXELS:
            raise _TooLarge(width * height)
    except UnreadableHeader:
        pass  # another format, or a broken header: Pillow decides below
    try:
        with Image.open(io.BytesIO(data)) as opened:
            if opened.width * opened.height > MAX_PIXELS:
                raise _TooLarge(opened.width * opened.height)
            # JPEG: decode at 1/2, 1/4 or 1/8 scale straight away (as thumbnail() would), then count what is left.
            opened.draft(None, (THUMBNAIL_SIDE * 2, THUMBNAIL_SIDE * 2))
            if opened.width * opened.height > MAX_DECODE_PIXELS:
                raise _TooLarge(opened.width * opened.height)
            opened.thumbnail((THUMBNAIL_SIDE, THUMBNAIL_SIDE), _lanczos())
            upright = ImageOps.exif_transpose(opened)
            return _web_mode(upright)
    except (_Undecodable, _TooLarge):
        raise
    except Exception as exc:  # Pillow raises many types (OSError, SyntaxError, DecompressionBomb*, ...)
        raise _Undecodable(str(exc)) from exc


def _web_mode(image: PILImage) -> PILImage:
    """RGB, or RGBA when the image has transparency (palette, LA, CMYK, 16-bit... are converted)."""
    has_alpha = image.mode in ("RGBA", "LA", "PA", "RGBa", "La") or "transparency" in image.info
    wanted = "RGBA" if has_alpha else "RGB"
    return image if image.mode == wanted else image.convert(wanted)


def _lanczos() -> Resampling:
    from PIL import Image

    return Image.Resampling.LANCZOS


def _encoder() -> Callable[[PILImage], tuple[bytes, str]]:
    """WebP when this Pillow supports it, else JPEG."""
    from PIL import features

    return _encode_webp if features.check_module("webp") else _encode_jpeg


def _encode_webp(image: PILImage) -> tuple[bytes, str]:
    out = io.BytesIO()
    image.save(out, format="WEBP", quality=QUALITY, method=4)
    return out.getvalue(), "image/webp"


def _encode_jpeg(image: PILImage) -> tuple[bytes, str]:
    from PIL import Image

    if image.mode == "RGBA":  # JPEG has no alpha: flatten onto white
        background = Image.new("RGB", image.size, (255, 255, 255))
        background.paste(image, mask=image.getchannel("A"))
        image = background
    out = io.BytesIO()
    image.save(out, format="JPEG", quality=QUALITY, optimize=True)
    return out.getvalue(), "image/jpeg"


def _batch_note(count: int, budget: int, batch: _Batch) -> str | None:
    """One line about the images left out of a batch, or None."""
    parts = [f"preview unavailable for image {i}: not a decodable image" for i in batch.broken]
    parts += [
        f"no preview for image {i}: it has {pixels / 1e6:.0f} Mpx, more than the {MAX_DECODE_PIXELS // 10**6} Mpx a "
        "preview decodes (the image URL is complete)"
        for i, pixels in batch.too_many_pixels
    ]
    if batch.late:
        parts.append(f"no preview for {_which(batch.late)}: the time for previews ran out (the URLs are complete)")
    if batch.too_big and not batch.previews:
        parts.append(
            f"no previews: a budget of {budget} bytes is too small for {count} image(s); raise "
            "KREA_PREVIEW_BUDGET_BYTES (default 64000) to see thumbnails. The image URLs are complete"
        )
    elif batch.too_big:
        parts.append(
            f"no preview for {_which(batch.too_big)}: over the preview budget (raise KREA_PREVIEW_BUDGET_BYTES)"
        )
    if not parts:
        return None
    text = "; ".join(parts)
    return text[0].upper() + text[1:] + "."


def _which(numbers: list[int]) -> str:
    return ("images " if len(numbers) > 1 else "image ") + ", ".join(str(n) for n in numbers)


def _join(first: str | None, second: str | None) -> str | None:
    return " ".join(part for part in (first, second) if part) or None
