"""Image and video types, told apart in one place: from the first bytes, a Content-Type header or a URL's suffix."""

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
    "video/mp4": ".mp4",
    "video/quicktime": ".mov",
    "video/webm": ".webm",
}
_URL_SUFFIXES = {
    ".png": ".png",
    ".jpg": ".jpg",
    ".jpeg": ".jpg",
    ".webp": ".webp",
    ".heic": ".heic",
    ".gif": ".gif",
    ".mp4": ".mp4",
    ".mov": ".mov",
    ".webm": ".webm",
}
#: Suffixes of the video files Krea returns.
VIDEO_SUFFIXES = frozenset({".mp4", ".mov", ".webm"})
#: Bytes :func:`sniff` needs to see.
HEAD_BYTES = 16


def sniff(data: bytes) -> tuple[str, str] | None:
    """MIME type and extension of a PNG, JPEG, GIF, WebP, HEIC, MP4, MOV or WebM file, from its first bytes (None if
    none of them)."""
    for magic, mime, ext in _MAGIC:
        if data.startswith(magic):
            return mime, ext
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "image/webp", ".webp"
    if data[4:8] == b"ftyp" and data[8:12] in _HEIC_BRANDS:
        return "image/heic", ".heic"
    if data[4:8] == b"ftyp":
        return ("video/quicktime", ".mov") if data[8:12] == b"qt  " else ("video/mp4", ".mp4")
    if data[:4] == b"\x1a\x45\xdf\xa3":
        return "video/webm", ".webm"
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


#: Formats whose size :func:`header_size` reads: the ones Krea takes as input images (HEIC needs a plugin).
_SIZED = {"image/png": "PNG", "image/jpeg": "JPEG", "image/webp": "WEBP"}
#: EXIF orientations that turn the stored image a quarter turn: the upright image has width and height swapped.
_QUARTER_TURNS = frozenset({5, 6, 7, 8})


class UnreadableHeader(ValueError):
    """The bytes are not (yet) an image whose size can be read: too few of them, or not a supported format."""


def header_size(data: bytes) -> tuple[int, int, bool]:
    """Width and height of the image as it is shown (EXIF orientation applied), and whether that turned it.

    Only the header is parsed, by the format's own Pillow reader and without Pillow's decompression-bomb check:
    nothing is decoded, so a 20,000-pixel photo can be measured (and a 100,000-pixel one refused for its size
    rather than crash). ``UnreadableHeader`` when the bytes end before the size, or are not PNG, JPEG or WebP.
    """
    import io

    from PIL import Image

    kind = sniff(data[:HEAD_BYTES])
    if kind is None or kind[0] not in _SIZED:
        what = "HEIC (not measurable here: convert it to PNG or JPEG)" if kind and kind[0] == "image/heic" else None
        raise UnreadableHeader(what or "not a PNG, JPEG or WebP image")
    name = _SIZED[kind[0]]
    if name not in Image.OPEN:
        Image.init()
    factory, _ = Image.OPEN[name]
    try:
        image = factory(io.BytesIO(data), "")
        width, height = image.size
        orientation = _orientation(image.info.get("exif"))  # from the header's EXIF block: nothing is decoded
    except (SyntaxError, OSError, ValueError, IndexError, EOFError, TypeError) as exc:
        raise UnreadableHeader(f"its header cannot be read ({type(exc).__name__})") from None
    except Exception as exc:  # struct.error and the like from a truncated header
        raise UnreadableHeader(f"its header cannot be read ({type(exc).__name__})") from None
    if orientation in _QUARTER_TURNS:
        return height, width, True
    return width, height, False


def _orientation(exif: object) -> int | None:
    """The EXIF orientation tag in a raw EXIF block, if there is one."""
    if not isinstance(exif, bytes | bytearray) or not exif:
        return None
    from PIL import Image

    try:
        tags = Image.Exif()
        tags.load(bytes(exif))
        value = tags.get(0x0112)
    except Exception:  # a broken EXIF block: the stored orientation is used
        return None
    return value if isinstance(value, int) else None
