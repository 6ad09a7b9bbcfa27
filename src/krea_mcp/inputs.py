"""Image inputs from wherever the agent has them: URLs pass through; local files and ``data:`` URIs are uploaded.

Local reads are confined to the configured directories (symlinks resolved first), limited to Krea's 75 MB and
to image types Krea accepts, and each distinct file is uploaded once per server lifetime (SHA-256 of the bytes).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import logging
from pathlib import Path
from urllib.parse import unquote, urlparse
from urllib.request import url2pathname

import anyio

from .caller import caller_key
from .client import KreaClient
from .errors import InvalidRequestError
from .paths import user_path

log = logging.getLogger(__name__)

MAX_UPLOAD_BYTES = 75 * 1024 * 1024
_MAGIC = (
    (b"\x89PNG\r\n\x1a\n", "image/png", ".png"),
    (b"\xff\xd8\xff", "image/jpeg", ".jpg"),
)


def sniff_image(data: bytes) -> tuple[str, str] | None:
    """MIME type and extension of a JPEG, PNG, WebP or HEIC file, from its first bytes."""
    for magic, mime, ext in _MAGIC:
        if data.startswith(magic):
            return mime, ext
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "image/webp", ".webp"
    if data[4:8] == b"ftyp" and data[8:12] in (b"heic", b"heix", b"mif1", b"msf1", b"heim", b"heis"):
        return "image/heic", ".heic"
    return None


def is_remote(ref: str) -> bool:
    return ref.startswith(("https://", "http://"))


class ImageInputs:
    """Turns image references into URLs Krea can fetch, uploading local data through ``POST /assets``."""

    def __init__(self, client: KreaClient, allowed_dirs: list[Path]) -> None:
        self._client = client
        self._dirs = allowed_dirs
        self._by_hash: dict[tuple[str, str], str] = {}  # (caller, sha256) -> URL: uploads are never shared
        self._locks: dict[tuple[str, str], anyio.Lock] = {}

    def check(self, refs: list[str], *, field: str) -> None:
        """Check every local reference without reading it, so a bad one is reported before anything is uploaded."""
        for ref in refs:
            ref = ref.strip()
            if not is_remote(ref) and not ref.startswith("data:"):
                self.local_path(ref, field=field)

    async def resolve_all(self, refs: list[str], *, field: str) -> list[str]:
        """URLs for ``refs``, in order (call ``check`` on every list first)."""
        return [await self.resolve(ref, field=field) for ref in refs]

    async def resolve(self, ref: str, *, field: str) -> str:
        """Return a URL for ``ref`` (an http(s) URL, a local path, a ``file://`` URI or a ``data:`` URI)."""
        ref = ref.strip()
        if is_remote(ref):
            if any(c.isspace() for c in ref):
                raise InvalidRequestError(
                    f"{field}: {ref[:80]!r} is not a valid URL (it contains spaces).", field=field
                )
            return ref
        if ref.startswith("data:"):
            data, name = await anyio.to_thread.run_sync(_decode_data_uri, ref, field), "pasted-image"
        else:
            path = self.local_path(ref, field=field)
            data, name = await anyio.Path(path).read_bytes(), path.name
        return await self._upload(data, name, field=field)

    def local_path(self, ref: str, *, field: str) -> Path:
        """Check a local reference without reading it: exists, inside an allowed directory, a file, not too big."""
        if not self._dirs:
            raise InvalidRequestError(
                f"{field}: this is a remote server and cannot read local files; pass an https URL or a base64 "
                "data: URI instead.",
                field=field,
            )
        raw = url2pathname(unquote(urlparse(ref).path)) if ref.startswith("file://") else ref
        candidate = user_path(raw, field=field)
        if not candidate.is_absolute():
            candidate = self._dirs[0] / candidate
        try:
            path = candidate.resolve(strict=True)
        except (FileNotFoundError, NotADirectoryError):
            raise InvalidRequestError(f"{field}: file not found: {candidate}", field=field) from None
        except (OSError, RuntimeError) as exc:  # RuntimeError: a symlink loop (Python 3.11/3.12)
            reason = getattr(exc, "strerror", None) or str(exc)
            raise InvalidRequestError(f"{field}: cannot read {candidate}: {reason}", field=field) from None
        if not any(path.is_relative_to(d) for d in self._dirs):
            allowed = ", ".join(str(d) for d in self._dirs)
            raise InvalidRequestError(
                f"{field}: {path} is outside the directories this server may read ({allowed}). "
                "Move the file there, pass an https URL, or add the directory to KREA_ALLOWED_DIRS.",
                field=field,
            )
        if not path.is_file():
            raise InvalidRequestError(f"{field}: {path} is not a file.", field=field)
        size = path.stat().st_size
        if size > MAX_UPLOAD_BYTES:
            raise InvalidRequestError(
                f"{field}: {path} is {size / 2**20:.0f} MB; Krea accepts at most 75 MB.", field=field
            )
        return path

    async def _upload(self, data: bytes, name: str, *, field: str) -> str:
        kind = sniff_image(data[:16])
        if kind is None:
            raise InvalidRequestError(f"{field}: {name} is not a JPEG, PNG, WebP or HEIC image.", field=field)
        if len(data) > MAX_UPLOAD_BYTES:
            raise InvalidRequestError(f"{field}: {name} is larger than Krea's 75 MB limit.", field=field)
        sha = await anyio.to_thread.run_sync(lambda: hashlib.sha256(data).hexdigest())  # up to 75 MB: off the loop
        digest = (caller_key(), sha)
        async with self._locks.setdefault(digest, anyio.Lock()):  # the same file uploads once; others go in parallel
            url = self._by_hash.get(digest)
            if url is None:
                mime, ext = kind
                filename = name if name.lower().endswith(ext) or "." in name else name + ext
                url = await self._client.upload_asset(data, filename=filename, mime_type=mime)
                self._by_hash[digest] = url
                log.info("uploaded %s (%d bytes) as %s", filename, len(data), url)
        return url


def _decode_data_uri(ref: str, field: str) -> bytes:
    header, _, payload = ref.partition(",")
    if ";base64" not in header:
        raise InvalidRequestError(f"{field}: only base64 data: URIs are supported.", field=field)
    if len(payload) > MAX_UPLOAD_BYTES * 4 // 3 + 4:
        raise InvalidRequestError(f"{field}: the data: URI is larger than Krea's 75 MB limit.", field=field)
    try:
        return base64.b64decode(payload, validate=True)
    except (binascii.Error, ValueError):
        raise InvalidRequestError(f"{field}: the data: URI is not valid base64.", field=field) from None
