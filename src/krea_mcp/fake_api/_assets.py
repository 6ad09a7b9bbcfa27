"""Upload rules for ``POST /assets``: allowed types, size limit and magic-byte sniffing."""

from __future__ import annotations

from krea_mcp.fake_api._png import PNG_SIGNATURE

MAX_ASSET_BYTES = 75 * 1024 * 1024
ALLOWED_MIME_TYPES = frozenset(
    {
        "image/jpeg",
        "image/png",
        "image/webp",
        "image/heic",
        "video/mp4",
        "video/quicktime",
        "video/webm",
        "model/gltf-binary",
        "audio/wav",
        "audio/mpeg",
    }
)
_GENERIC = frozenset({"", "application/octet-stream"})


def sniff_mime(data: bytes) -> str | None:
    """Recognise PNG, JPEG and WebP from their magic bytes."""
    if data.startswith(PNG_SIGNATURE):
        return "image/png"
    if data.startswith(b"\xff\xd8\xff"):
        return "image/jpeg"
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "image/webp"
    return None


def accepted_mime(declared: str | None, data: bytes) -> str | None:
    """The upload's MIME type if it is allowed (sniffing when none or a generic one was declared), else None."""
    mime = (declared or "").split(";", 1)[0].strip().lower()
    if mime in _GENERIC:
        mime = sniff_mime(data) or ""
    return mime if mime in ALLOWED_MIME_TYPES else None
