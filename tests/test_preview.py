"""Tests for inline previews: budgets, modes, broken and hostile images, and the lazy Pillow import."""

from __future__ import annotations

import base64
import io
import random
import struct
import subprocess
import sys
import zlib

import pytest
from PIL import Image

from krea_mcp.fake_api._png import prompt_image
from krea_mcp.files.previews import FULL_LIMIT_BYTES, b64_length, build_previews
from krea_mcp.job import Preview


def _decode(preview: Preview) -> Image.Image:
    data = base64.b64decode(preview.data, validate=True)
    with Image.open(io.BytesIO(data)) as image:
        image.load()
        assert Image.MIME[image.format or ""] == preview.mime_type
        return image.copy()


def _encoded(image: Image.Image, fmt: str, **options: object) -> bytes:
    out = io.BytesIO()
    image.save(out, format=fmt, **options)
    return out.getvalue()


def _noise_png(side: int, seed: int = 0) -> bytes:
    """An incompressible PNG: random pixels."""
    pixels = random.Random(seed).randbytes(side * side * 3)
    return _encoded(Image.frombytes("RGB", (side, side), pixels), "PNG")


def _png_header_only(width: int, height: int) -> bytes:
    """A PNG that claims ``width`` x ``height`` but carries no pixel data (a decompression-bomb shape)."""
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    chunk = struct.pack(">I", len(header)) + b"IHDR" + header + struct.pack(">I", zlib.crc32(b"IHDR" + header))
    return b"\x89PNG\r\n\x1a\n" + chunk


@pytest.mark.parametrize("count", [1, 4])
@pytest.mark.parametrize("budget", [3_000, 20_000, 64_000])
def test_thumbnails_fit_the_budget_together(count: int, budget: int) -> None:
    images = [prompt_image(f"prompt {i}", 1024, 768) for i in range(count - 1)] + [_noise_png(600)]
    previews, note = build_previews(images, mode="thumbnail", budget_bytes=budget)
    assert len(previews) == count, note
    assert note is None
    assert sum(len(p.data) for p in previews) <= budget
    for preview in previews:
        image = _decode(preview)
        assert max(image.size) <= 512
        assert preview.mime_type == "image/webp"


def test_thumbnails_keep_aspect_ratio_and_shrink_large_images() -> None:
    (preview,), _ = build_previews([prompt_image("wide", 2048, 1024)], mode="thumbnail", budget_bytes=64_000)
    assert _decode(preview).size == (512, 256)


@pytest.mark.parametrize("mode", ["RGBA", "LA", "P", "L", "1", "CMYK", "I;16", "I", "F"])
def test_every_pixel_mode_becomes_a_web_preview(mode: str) -> None:
    image = Image.new(mode, (300, 200))
    fmt = "TIFF" if mode in ("CMYK", "I;16", "I", "F") else "PNG"
    (preview,), note = build_previews([_encoded(image, fmt)], mode="thumbnail", budget_bytes=64_000)
    assert note is None
    assert _decode(preview).mode in ("RGB", "RGBA")


def test_transparency_is_kept() -> None:
    image = Image.new("RGBA", (64, 64), (255, 0, 0, 0))
    (preview,), _ = build_previews([_encoded(image, "PNG")], mode="thumbnail", budget_bytes=64_000)
    decoded = _decode(preview)
    assert decoded.mode == "RGBA" and decoded.getpixel((10, 10))[3] == 0  # type: ignore[index]


def test_jpeg_fallback_when_webp_is_unavailable(monkeypatch: pytest.MonkeyPatch) -> None:
    from PIL import features

    monkeypatch.setattr(features, "check_module", lambda name: False)
    images = [prompt_image("a", 800, 800), _encoded(Image.new("RGBA", (50, 50), (0, 0, 255, 128)), "PNG")]
    previews, note = build_previews(images, mode="thumbnail", budget_bytes=20_000)
    assert note is None
    assert [p.mime_type for p in previews] == ["image/jpeg", "image/jpeg"]
    assert all(_decode(p).mode == "RGB" for p in previews)
    assert sum(len(p.data) for p in previews) <= 20_000


def test_off_returns_nothing() -> None:
    assert build_previews([prompt_image("a", 64, 64)], mode="off", budget_bytes=64_000) == ([], None)
    assert build_previews([], mode="thumbnail", budget_bytes=64_000) == ([], None)


def test_full_sends_small_originals_byte_for_byte() -> None:
    png = prompt_image("small", 200, 100)
    jpeg = _encoded(Image.new("RGB", (100, 100), (10, 200, 30)), "JPEG")
    gif = _encoded(Image.new("P", (10, 10)), "GIF")
    previews, note = build_previews([png, jpeg, gif], mode="full", budget_bytes=10)  # the budget is for thumbnails
    assert note is None
    assert [p.mime_type for p in previews] == ["image/png", "image/jpeg", "image/gif"]
    assert [base64.b64decode(p.data) for p in previews] == [png, jpeg, gif]


def test_full_falls_back_to_thumbnails_over_the_host_limit() -> None:
    big = _noise_png(1024)
    assert b64_length(len(big)) > FULL_LIMIT_BYTES
    previews, note = build_previews([big], mode="full", budget_bytes=64_000)
    assert note is not None and "thumbnails" in note and "900 KB" in note
    (preview,) = previews
    assert preview.mime_type == "image/webp"
    assert len(preview.data) <= FULL_LIMIT_BYTES
    assert max(_decode(preview).size) <= 512


def test_full_with_a_broken_image_still_sends_the_other_originals() -> None:
    good = prompt_image("ok", 64, 64)
    previews, note = build_previews([b"\x00garbage", good], mode="full", budget_bytes=64_000)
    assert [(base64.b64decode(p.data), p.mime_type) for p in previews] == [(good, "image/png")]
    assert note == "Preview unavailable for image 1: not a decodable image."


def test_full_converts_other_formats_to_thumbnails() -> None:
    bmp = _encoded(Image.new("RGB", (40, 30), (1, 2, 3)), "BMP")
    png = prompt_image("ok", 64, 64)
    previews, note = build_previews([png, bmp], mode="full", budget_bytes=64_000)
    assert [p.mime_type for p in previews] == ["image/png", "image/webp"]
    assert base64.b64decode(previews[0].data) == png
    assert _decode(previews[1]).size == (40, 30)
    assert note == "Image 2 sent as a thumbnail: not PNG, JPEG, WebP or GIF."


def test_broken_bytes_are_skipped_with_a_note_and_others_still_previewed() -> None:
    truncated = prompt_image("cut", 256, 256)[:200]
    images = [prompt_image("a", 256, 256), b"not an image at all", truncated, prompt_image("b", 256, 256)]
    previews, note = build_previews(images, mode="thumbnail", budget_bytes=64_000)
    assert len(previews) == 2
    assert note == (
        "Preview unavailable for image 2: not a decodable image; "
        "preview unavailable for image 3: not a decodable image."
    )
    for preview in previews:
        _decode(preview)


@pytest.mark.parametrize("pixels", [(12_000, 12_000), (40_000, 40_000)])
def test_decompression_bombs_are_not_decoded(pixels: tuple[int, int]) -> None:
    previews, note = build_previews([_png_header_only(*pixels)], mode="thumbnail", budget_bytes=64_000)
    assert previews == []
    assert note == "Preview unavailable for image 1: not a decodable image."


@pytest.mark.parametrize("budget", [0, 100, 300])
def test_a_budget_too_small_for_any_preview_says_what_to_change(budget: int) -> None:
    previews, note = build_previews([prompt_image("a", 512, 512)] * 2, mode="thumbnail", budget_bytes=budget)
    assert previews == []
    assert note is not None and f"budget of {budget} bytes is too small" in note
    assert "KREA_PREVIEW_BUDGET_BYTES" in note


def test_a_budget_too_small_for_some_images_names_them() -> None:
    images = [prompt_image("a", 512, 512), _noise_png(32, seed=1)]  # 32 px of noise: small, not compressible
    previews, note = build_previews(images, mode="thumbnail", budget_bytes=900)
    assert sum(len(p.data) for p in previews) <= 900
    assert len(previews) == 1
    assert note is not None and "image 2" in note and "KREA_PREVIEW_BUDGET_BYTES" in note


def test_importing_the_module_does_not_import_pillow() -> None:
    code = "import sys, krea_mcp.files.previews; print('PIL' in sys.modules)"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert result.stdout.strip() == "False"
