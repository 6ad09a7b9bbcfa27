"""Image inputs from wherever the agent has them: URLs pass through; local files and ``data:`` URIs are uploaded.

Safety properties:

* **Confined reads.** Local paths are checked before anything is spent (symlinks resolved, inside the configured
  directories, a regular file, not too big). The file is then read by descriptor: reached from its allowed root one
  directory at a time without following any symlink, opened with ``O_NOFOLLOW | O_NONBLOCK``, ``fstat``-ed (a
  regular file, within the limit) and read for at most the limit + 1 bytes. A path swapped for a symlink or a FIFO
  after the check is refused instead of being followed or hanging the call.
* **Bounded.** Each image is at most Krea's 75 MB, and one call uploads at most :data:`MAX_CALL_INPUT_BYTES` in
  all, checked before anything is uploaded. ``data:`` URIs are validated from their length first and decoded in
  chunks, off the event loop, so no image is held in more than two copies while it is decoded.
* **Parallel, within the call's deadline.** Up to :data:`MAX_PARALLEL_UPLOADS` uploads run at once; the caller puts
  them under the call's deadline.
* **Once each.** A distinct file is uploaded once per server lifetime and caller (SHA-256 of the bytes).
* **Read once when measured.** Bytes a tool read to inspect an input (enhance_image reads its size) are held for
  the rest of that call (:func:`holding`) and are what gets uploaded: the file cannot change in between.
"""

from __future__ import annotations

import binascii
import errno
import hashlib
import logging
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from pathlib import Path

import anyio

from krea_mcp.errors import InvalidRequestError, KreaError
from krea_mcp.files.image_types import HEAD_BYTES, UPLOADABLE, sniff
from krea_mcp.files.user_paths import user_path
from krea_mcp.krea.caller import caller_key
from krea_mcp.krea.client import KreaClient
from krea_mcp.workflow.shared import LocalState

log = logging.getLogger(__name__)

MAX_UPLOAD_BYTES = 75 * 1024 * 1024
#: Local files and data: URIs one call may upload, all images together (URLs are not counted: Krea fetches them).
MAX_CALL_INPUT_BYTES = 100 * 1024 * 1024
MAX_PARALLEL_UPLOADS = 4
#: base64 characters decoded at a time (a multiple of 4).
_DECODE_CHUNK = 4 * 1024 * 1024


#: Inputs already read during the current call, by reference: uploaded as read (see :func:`holding`).
_HELD: ContextVar[dict[str, bytes] | None] = ContextVar("krea_mcp_held_inputs", default=None)


@contextmanager
def holding(ref: str, data: bytes) -> Iterator[None]:
    """For the rest of this call (this context and the tasks it starts), ``ref`` is uploaded as ``data``."""
    held = dict(_HELD.get() or {})
    held[_stripped(ref)] = data
    token = _HELD.set(held)
    try:
        yield
    finally:
        _HELD.reset(token)


def is_remote(ref: str) -> bool:
    return ref.startswith(("https://", "http://"))


def _mb(size: int) -> str:
    return f"{size / 2**20:.0f} MB"


class ImageInputs:
    """Turns image references into URLs Krea can fetch, uploading local data through ``POST /assets``."""

    def __init__(
        self,
        client: KreaClient,
        allowed_dirs: list[Path],
        *,
        relative_to: Path | None = None,
        shared: LocalState | None = None,
    ) -> None:
        self._client = client
        #: Where uploads are remembered per caller: the deployment's shared state, or this object alone.
        self._shared = shared
        self._dirs = allowed_dirs
        #: Where a relative path starts: the project folder the server was started in, like save_to's (else the
        #: first allowed directory).
        self._relative_to = relative_to if relative_to is not None else (allowed_dirs[0] if allowed_dirs else None)
        self._by_hash: dict[tuple[str, str], str] = {}  # (caller, sha256) -> URL: uploads are never shared
        self._locks: dict[tuple[str, str], anyio.Lock] = {}
        #: Called (in a worker thread) with the checked path just before a local file is opened; tests use it to
        #: change the file system at exactly that moment.
        self.before_open: Callable[[Path], None] | None = None

    def check(self, fields: dict[str, list[str]]) -> None:
        """Check every reference without reading or decoding it, and the call's total, before anything is uploaded."""
        total = 0
        for field, refs in fields.items():
            for ref in refs:
                ref = _stripped(ref)
                if is_remote(ref):
                    _checked_url(ref, field)
                elif ref.startswith("data:"):
                    total += _data_uri_layout(ref, field)[1]
                else:
                    total += self.local_path(ref, field=field).stat().st_size
        if total > MAX_CALL_INPUT_BYTES:
            names = " and ".join(f for f, refs in fields.items() if any(not is_remote(_stripped(r)) for r in refs))
            raise InvalidRequestError(
                f"{names}: the local files and data: URIs of this call add up to {_mb(total)}; at most "
                f"{_mb(MAX_CALL_INPUT_BYTES)} are uploaded per call. Pass large images as https URLs (Krea fetches "
                "those itself), or split the images over several calls.",
                field=names.split(" ", 1)[0],
            )

    async def resolve_all(self, fields: dict[str, list[str]]) -> dict[str, list[str]]:
        """URLs for every reference, in order, uploading up to MAX_PARALLEL_UPLOADS at once (call ``check`` first).

        The first failure (in argument order) is raised and the remaining uploads are cancelled.
        """
        results = {field: list(refs) for field, refs in fields.items()}
        failures: list[tuple[int, KreaError]] = []
        limiter = anyio.CapacityLimiter(MAX_PARALLEL_UPLOADS)
        budget = _Budget()

        async def run(order: int, field: str, index: int, ref: str) -> None:
            async with limiter:
                try:
                    results[field][index] = await self.resolve(ref, field=field, budget=budget)
                except KreaError as exc:
                    failures.append((order, exc))
                    group.cancel_scope.cancel()

        async with anyio.create_task_group() as group:
            order = 0
            for field, refs in fields.items():
                for index, ref in enumerate(refs):
                    group.start_soon(run, order, field, index, ref)
                    order += 1
        if failures:
            raise min(failures, key=lambda failure: failure[0])[1]
        return results

    async def resolve(self, ref: str, *, field: str, budget: _Budget | None = None) -> str:
        """Return a URL for ``ref`` (an http(s) URL, a local path, a ``file://`` URI or a ``data:`` URI)."""
        ref = _stripped(ref)
        budget = budget or _Budget()
        if is_remote(ref):
            return _checked_url(ref, field)
        held = (_HELD.get() or {}).get(ref)
        if held is not None:  # read earlier in this call: upload exactly what was inspected
            budget.take(len(held), field)
            name = "pasted-image" if ref.startswith("data:") else user_path(ref, field=field).name
            return await self._upload(held, name, field=field)
        if ref.startswith("data:"):
            start, size = _data_uri_layout(ref, field)
            budget.take(size, field)
            data, name = await anyio.to_thread.run_sync(_decode_data_uri, ref, start, field), "pasted-image"
        else:
            path = self.local_path(ref, field=field)
            data, name = await anyio.to_thread.run_sync(self._read, path, field), path.name
            budget.take(len(data), field)
        return await self._upload(data, name, field=field)

    async def read(self, ref: str, *, field: str) -> bytes:
        """The bytes of a local file, ``file://`` or ``data:`` reference, checked and read as an upload would be,
        without uploading them (enhance_image reads an input's real size this way)."""
        ref = _stripped(ref)
        if ref.startswith("data:"):
            start, _ = _data_uri_layout(ref, field)
            return await anyio.to_thread.run_sync(_decode_data_uri, ref, start, field)
        path = self.local_path(ref, field=field)
        return await anyio.to_thread.run_sync(self._read, path, field)

    def local_path(self, ref: str, *, field: str) -> Path:
        """Check a local reference without reading it: exists, inside an allowed directory, a file, not too big."""
        if not self._dirs:
            raise InvalidRequestError(
                f"{field}: this is a remote server and cannot read local files; pass an https URL or a base64 "
                "data: URI instead.",
                field=field,
            )
        candidate = user_path(ref, field=field)  # file:// URIs included (one parser, host checked)
        if not candidate.is_absolute() and self._relative_to is not None:
            candidate = self._relative_to / candidate
        try:
            path = candidate.resolve(strict=True)
        except (FileNotFoundError, NotADirectoryError):
            raise InvalidRequestError(f"{field}: file not found: {candidate}.", field=field) from None
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
            raise InvalidRequestError(f"{field}: {path} is {_mb(size)}; Krea accepts at most 75 MB.", field=field)
        return path

    def _read(self, path: Path, field: str) -> bytes:
        """The bytes of the checked file ``path``, read by descriptor (see the module docstring); worker thread."""
        from krea_mcp.files.confined import (  # deferred: only needed when a local file is read
            ConfinementError,
            read_below,
        )

        if self.before_open is not None:
            self.before_open(path)
        changed = (
            f"{field}: {path} changed after it was checked ({{}}), so it was not read. Nothing was uploaded; "
            "check the file and try again."
        )
        try:
            return read_below(self._dirs, path, MAX_UPLOAD_BYTES)
        except FileNotFoundError:
            raise InvalidRequestError(changed.format("it no longer exists"), field=field) from None
        except ConfinementError as exc:
            where = "it" if exc.filename in (None, str(path)) else str(exc.filename)
            what = "something other than a regular file" if exc.strerror == "not a regular file" else exc.strerror
            raise InvalidRequestError(changed.format(f"{where} is now {what}"), field=field) from None
        except ValueError:
            raise InvalidRequestError(
                changed.format("it grew past Krea's limit; Krea accepts at most 75 MB"), field=field
            ) from None
        except OSError as exc:
            if exc.errno == errno.ELOOP:
                raise InvalidRequestError(
                    changed.format("it is now a symbolic link, which is never followed here"), field=field
                ) from None
            raise InvalidRequestError(
                f"{field}: cannot read {path}: {exc.strerror or type(exc).__name__}.", field=field
            ) from None

    async def _upload(self, data: bytes, name: str, *, field: str) -> str:
        kind = sniff(data[:HEAD_BYTES])
        kind = kind if kind is not None and kind[0] in UPLOADABLE else None
        if kind is None:
            raise InvalidRequestError(f"{field}: {name} is not a JPEG, PNG, WebP or HEIC image.", field=field)
        if len(data) > MAX_UPLOAD_BYTES:
            raise InvalidRequestError(f"{field}: {name} is larger than Krea's 75 MB limit.", field=field)
        sha = await anyio.to_thread.run_sync(lambda: hashlib.sha256(data).hexdigest())  # up to 75 MB: off the loop
        digest = (caller_key(), sha)
        lock = self._locks.setdefault(digest, anyio.Lock())
        try:
            async with lock:  # the same file uploads once; others go in parallel
                url = self._by_hash.get(digest)
                if url is None and self._shared is not None:  # another worker of the deployment uploaded it
                    url = await self._shared.upload(*digest)
                if url is None:
                    mime, ext = kind
                    filename = name if name.lower().endswith(ext) or "." in name else name + ext
                    url = await self._client.upload_asset(data, filename=filename, mime_type=mime)
                    log.info("uploaded %s (%d bytes) as %s", filename, len(data), url)
                    if self._shared is not None:
                        await self._shared.remember_upload(*digest, url)
                self._by_hash[digest] = url
        finally:  # a lock nobody waits for is not kept (one per caller and file would grow without bound)
            if not lock.locked() and not lock.statistics().tasks_waiting:
                self._locks.pop(digest, None)
        return url


class _Budget:
    """The bytes one call has read or decoded so far, against MAX_CALL_INPUT_BYTES (a file may grow after its
    check: this counts what was really read)."""

    def __init__(self) -> None:
        self.used = 0

    def take(self, size: int, field: str) -> None:
        self.used += size
        if self.used > MAX_CALL_INPUT_BYTES:
            raise InvalidRequestError(
                f"{field}: the local files and data: URIs of this call add up to more than "
                f"{_mb(MAX_CALL_INPUT_BYTES)}, the most uploaded per call. Pass large images as https URLs, or split "
                "the images over several calls.",
                field=field,
            )


def _checked_url(ref: str, field: str) -> str:
    if any(c.isspace() for c in ref):
        raise InvalidRequestError(f"{field}: {ref[:80]!r} is not a valid URL (it contains spaces).", field=field)
    return ref


def _stripped(ref: str) -> str:
    """``ref`` without surrounding whitespace, copying a (possibly huge) data: URI only when there is some."""
    return ref.strip() if ref[:1].isspace() or ref[-1:].isspace() else ref


def _data_uri_layout(ref: str, field: str) -> tuple[int, int]:
    """Where a base64 ``data:`` URI's payload starts and how many bytes it decodes to, checked without decoding."""
    comma = ref.find(",", 0, 256)  # "data:image/png;base64," and its parameters are short
    if comma < 0 or ";base64" not in ref[:comma]:
        raise InvalidRequestError(
            f"{field}: only base64 data: URIs are supported (data:image/png;base64,...).", field=field
        )
    length = len(ref) - comma - 1
    padding = (ref.endswith("=") + ref.endswith("==")) if length else 0
    size = length // 4 * 3 - padding
    if length % 4 or size <= 0:
        raise InvalidRequestError(f"{field}: the data: URI is not valid base64.", field=field)
    if size > MAX_UPLOAD_BYTES:
        raise InvalidRequestError(
            f"{field}: the data: URI holds {_mb(size)}; Krea accepts at most 75 MB per image. Pass the file's "
            "path or an https URL instead.",
            field=field,
        )
    return comma + 1, size


def _decode_data_uri(ref: str, start: int, field: str) -> bytes:
    """Decode the payload a few MB at a time (strict base64: no whitespace, padding only at the end)."""
    chunks: list[bytes] = []
    try:
        for offset in range(start, len(ref), _DECODE_CHUNK):
            piece = ref[offset : offset + _DECODE_CHUNK].encode("ascii")
            chunks.append(binascii.a2b_base64(piece, strict_mode=True))
    except (binascii.Error, UnicodeEncodeError, ValueError):
        raise InvalidRequestError(f"{field}: the data: URI is not valid base64.", field=field) from None
    return b"".join(chunks)
