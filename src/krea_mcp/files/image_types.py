"""Image types, told apart in one place: from the first bytes, a Content-Type header or a URL's suffix."""

from __future__ import annotations

from pathlib import Path
from urllib.parse import urlparse

_MAGIC = (
    (b"\x89PNG\r\n\x1a\n", "image/png", ".png"),
    (b"\xff\xd8\xff", "image/jpeg", ".jpg"),
    (b"GIF87a", "image/gif", ".gif"),
    (b"GIF89a", "image/gif", ".gif"),
)
_HEIC_BRANDS = (b"heic", b"heix", b"mif1", b"msf1", b"heim", b"heis")
#: What Krea accepts as an input image (POST /assets): GIF is not among them.
UPLOADABLE = frozenset({"image/png", "image/jpeg", "image/webp", "image/heic"})
#: Content types of images, and the extension a saved file gets.
EXTENSIONS = {
    "image/png": ".png",
    "image/jpeg": ".jpg",
    "image/jpg": ".jpg",
    "image/pjpeg": ".jpg",
    "image/webp": ".webp",
    "image/heic": ".heic",
    "image/heif": ".heic",
    "image/gif": ".gif",
}
_URL_SUFFIXES = {".png": ".png", ".jpg": ".jpg", ".jpeg": ".jpg", ".webp": ".webp", ".heic": ".heic", ".gif": ".gif"}
#: Bytes :func:`sniff` needs to see.
HEAD_BYTES = 16


def sniff(data: bytes) -> tuple[str, str] | None:
    """MIME type and extension of a PNG, JPEG, GIF, WebP or HEIC file, from its first bytes (None if none of them)."""
    for magic, mime, ext in _MAGIC:
        if data.startswith(magic):
            return mime, ext
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "image/webp", ".webp"
    if data[4:8] == b"ftyp" and data[8:12] in _HEIC_BRANDS:
        return "image/heic", ".heic"
    return None


def extension_of(content_type: str | None, url: str, head: bytes) -> str:
    """A saved image's extension: from the Content-Type, else the URL's suffix, else the first bytes, else ``.bin``."""
    mime = (content_type or "").split(";", 1)[0].strip().lower()
    if mime in EXTENSIONS:
        return EXTENSIONS[mime]
    suffix = Path(urlparse(url).path).suffix.lower()
    if suffix in _URL_SUFFIXES:
        return _URL_SUFFIXES[suffix]
    kind = sniff(head)
    return kind[1] if kind is not None else ".bin"
