"""Save a finished job's images to disk without ever losing, leaking or clobbering anything.

Safety properties:

* **Confinement, checked early.** ``save_to`` is checked before the job is submitted (a bad path costs no credits):
  a ``file://`` URI is read as its path, ``~`` is expanded, relative paths start at the output directory, symlinks
  and ``..`` are resolved, and the result must lie inside the output directory or one of the allowed directories.
  Control characters, other file types (``hero.gif``), names or paths too long for the file system and a directory
  that could not be created are refused at that point too.
* **Confinement, kept while writing.** The target directory is opened once, one component at a time from its
  allowed root without following symlinks (:mod:`krea_mcp.files.confined`); every file is created, published and removed
  relative to that open directory, so a directory swapped for a symlink after the check cannot redirect a write.
  The path reported is where the file really is (if the directory was renamed meanwhile, its new name).
* **Fetched under the download rules.** Result URLs go through :class:`~krea_mcp.krea.downloads.Downloader` (https only,
  public addresses only, checked redirects, an image content type, never the ``Authorization`` header).
* **Bounded memory and disk.** Bodies are streamed chunk by chunk into a hidden ``.<name>.<random>.part`` file in
  the target directory; nothing holds a whole image, and a body over ``MAX_IMAGE_BYTES`` is abandoned.
* **Atomic, never overwriting.** A complete download is published with a hard link (which fails rather than
  replaces), trying ``name-2``, ``name-3``, … when a name is taken; where hard links are unsupported it falls back
  to a rename after checking the name is free (a narrow race on such file systems only).
* **Nothing half-written.** On any error or cancellation the temp file is removed and no file appears under the
  final name. Download and disk errors become :class:`SaveError`, which says the job and its URL are intact.
* **Never blocks the event loop.** All file-system calls run in worker threads.
"""

from __future__ import annotations

import functools
import os
import re
import secrets
import unicodedata
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, BinaryIO
from urllib.parse import urlparse

import anyio
import anyio.to_thread

from krea_mcp.errors import DownloadError, InvalidRequestError, SaveError
from krea_mcp.files.confined import ConfinementError, Directory, open_below, read_below, root_of
from krea_mcp.files.image_types import extension_of
from krea_mcp.files.user_paths import user_path

if TYPE_CHECKING:
    from anyio import AsyncFile

    from krea_mcp.krea.downloads import Download, Downloader

#: Suffixes that make ``save_to`` a file path rather than a directory.
#: (HEIC is not among them: no writer ships with Pillow, so a .heic name could not be honoured.)
IMAGE_SUFFIXES = frozenset({".png", ".jpg", ".jpeg", ".webp"})
#: The suffix a video's save_to file name may end in: videos are saved as delivered (MP4), never converted.
VIDEO_NAME_SUFFIXES = frozenset({".mp4"})
#: Every suffix a save_to file name may end in.
MEDIA_SUFFIXES = IMAGE_SUFFIXES | VIDEO_NAME_SUFFIXES
#: What a result download may be, by the job's kind: an image job's images; a video job's video (CDNs often send
#: MP4 as application/octet-stream: its first bytes are then checked).
DOWNLOAD_KINDS = {"image": ("image/",), "video": ("video/", "application/octet-stream")}
#: A download larger than this is abandoned (protects the disk from a runaway body).
MAX_IMAGE_BYTES = 512 * 1024 * 1024
CHUNK_BYTES = 256 * 1024
SLUG_MAX = 40
#: Longest explicit file name accepted (leaves room for "-2" suffixes and the hidden temp name).
MAX_FILENAME_BYTES = 200
#: Longest name this module creates in a directory: an explicit name with a "-9999" suffix and a longer extension.
_LONGEST_NAME = MAX_FILENAME_BYTES + 16
_MAX_NAME_TRIES = 10_000
_SAME_TYPE = {".jpeg": ".jpg"}


@dataclass(frozen=True, slots=True)
class SaveTarget:
    """Where a job's images go: a checked, absolute directory and an optional explicit file name."""

    directory: Path
    filename: str | None
    #: A folder the client granted for this call (an MCP root), allowed besides the configured directories.
    granted: Path | None = None


class ImageSaver:
    """Checks ``save_to`` arguments and streams result images into the allowed directories."""

    def __init__(
        self,
        downloader: Downloader,
        *,
        output_dir: Path,
        allowed_dirs: list[Path],
        project_dir: Path | None = None,
        max_parallel: int = 4,
    ) -> None:
        if max_parallel < 1:
            raise ValueError("max_parallel must be at least 1")
        self._downloader = downloader
        self._output_dir = output_dir.expanduser().resolve()
        roots = [self._output_dir, *(d.expanduser().resolve() for d in allowed_dirs)]
        self._roots = list(dict.fromkeys(roots))
        #: Where a relative save_to starts: the project the server was started in, else the output directory.
        self._relative_base = project_dir.resolve() if project_dir is not None else self._output_dir
        self._limiter = anyio.CapacityLimiter(max_parallel)

    def target(self, save_to: str | None, *, granted: Path | None = None, kind: str | None = None) -> SaveTarget:
        """Check ``save_to`` (no network, no writes): a directory, or a file path ending in an image or video suffix.

        ``kind`` ("image" or "video", when the job's is known) refuses a file name of the other kind: a video cannot
        be written as ``hero.png``.

        ``granted`` is a folder the client offered for this call (its first MCP root): a relative ``save_to`` starts
        there, and writing inside it is allowed.
        """
        granted = _grantable(granted)
        if save_to is None or not save_to.strip():
            return SaveTarget(self._output_dir, None)
        try:
            return self._target(save_to, granted, kind)
        except (OSError, RuntimeError) as exc:  # a name too long for the file system; a symlink loop (3.11/3.12)
            reason = getattr(exc, "strerror", None) or str(exc) or type(exc).__name__
            raise InvalidRequestError(
                f"save_to: {save_to[:120]!r} cannot be used: {reason}.", field="save_to"
            ) from None

    def _target(self, save_to: str, granted: Path | None, kind: str | None = None) -> SaveTarget:
        text = save_to.strip()
        path = user_path(text, field="save_to")
        if not path.is_absolute():
            path = (granted or self._relative_base) / path
        as_directory = text.endswith(("/", os.sep))
        suffix = path.suffix.lower()
        filename = path.name if suffix in MEDIA_SUFFIXES and not as_directory else None
        if filename is None and not as_directory and _is_other_file_type(suffix) and not path.is_dir():
            raise InvalidRequestError(
                f"save_to: {save_to[:120]!r} ends in {path.suffix}, a file type this server does not write: images "
                "are saved as .png, .jpg, .jpeg or .webp (converted when Krea delivers another type), videos as "
                ".mp4 (as Krea delivers them). Pass a file name ending in one of those, or a directory (end the "
                f"path with / to mean a directory named {path.name!r}).",
                field="save_to",
            )
        if filename is not None and kind is not None:
            wanted = VIDEO_NAME_SUFFIXES if kind == "video" else IMAGE_SUFFIXES
            if suffix not in wanted:
                names = ".mp4" if kind == "video" else ".png, .jpg or .webp"
                raise InvalidRequestError(
                    f"save_to: {save_to[:120]!r} names a {suffix} file, but this job makes {kind}s; name it {names}, "
                    "or pass a directory.",
                    field="save_to",
                )
        if filename is not None and len(filename.encode("utf-8")) > MAX_FILENAME_BYTES:
            raise InvalidRequestError(
                f"save_to: the file name is longer than {MAX_FILENAME_BYTES} bytes; choose a shorter one.",
                field="save_to",
            )
        directory = (path.parent if filename else path).resolve(strict=False)
        self._check_inside(directory, shown=save_to, granted=granted)
        existing = _nearest_existing(directory)
        _check_lengths(directory, existing)
        if filename is not None:
            _check_not_directory(directory / filename)
        _check_directory_usable(directory, existing)
        return SaveTarget(directory, filename, granted)

    async def save(
        self,
        urls: list[str],
        *,
        target: SaveTarget,
        prompt: str,
        job_id: str,
        notes: list[str] | None = None,
        published: list[Path] | None = None,
        kind: str = "image",
    ) -> list[Path]:
        """Download ``urls`` concurrently into ``target``; return the absolute paths of the files, in URL order.

        When ``save_to`` named a file type other than the one Krea delivered, the image is converted to it and a
        line saying so goes to ``notes`` (or, when it cannot be converted, it is saved as delivered and said so).
        """
        notes = notes if notes is not None else []
        if not urls:
            return []
        directory = await self._open_directory(target, job_id=job_id, url=urls[0])
        results: list[Path | Exception | None] = [None] * len(urls)

        async def run(index: int, url: str) -> None:
            stem = _stem(target, prompt, job_id, index, len(urls))
            try:
                results[index] = saved = await self._save_one(url, directory, target, stem, notes, kind)
                if published is not None:  # known to the caller even if a deadline cuts the rest short
                    published.append(saved)
            except Exception as exc:  # collected so that the other downloads still finish
                results[index] = exc

        try:
            async with anyio.create_task_group() as group:
                for index, url in enumerate(urls):
                    group.start_soon(run, index, url)
        finally:  # every worker thread using the descriptor has returned by now
            directory.close()
        return _outcome(results, urls, job_id)

    def read_saved(self, path: Path, limit: int, *, granted: Path | None = None) -> bytes:
        """A file this server saved, read back from its allowed root without following any symlink (worker thread):
        a folder swapped for a link after saving cannot make it read from outside."""
        return read_below(self._roots_with(granted), path, limit)

    # --- checks -----------------------------------------------------------------------------------------------

    def _roots_with(self, granted: Path | None) -> list[Path]:
        return [*self._roots, granted] if granted is not None else self._roots

    def _check_inside(self, directory: Path, *, shown: str, granted: Path | None = None) -> None:
        roots = self._roots_with(granted)
        if any(directory.is_relative_to(root) for root in roots):
            return
        allowed = ", ".join(str(root) for root in roots)
        base = granted or self._relative_base
        raise InvalidRequestError(
            f"save_to: {shown!r} resolves to {directory}, which is outside the directories this server may write "
            f"to ({allowed}). Pass a path inside one of them (relative paths start at {base}), or ask "
            "the user to add the directory to KREA_ALLOWED_DIRS or set KREA_OUTPUT_DIR.",
            field="save_to",
        )

    async def _open_directory(self, target: SaveTarget, *, job_id: str, url: str) -> Directory:
        """Open (creating) the directory from its allowed root; a symlink swapped in after ``target()`` is refused."""
        directory = target.directory
        try:
            with anyio.CancelScope(shield=True):  # quick; never leave a descriptor open behind a cancellation
                opened = await anyio.to_thread.run_sync(self._open_below_root, directory, target.granted)
        except InvalidRequestError as exc:
            raise SaveError(f"{exc} {_intact(job_id, url)}", job_id=job_id, url=url) from None
        except ConfinementError as exc:
            raise SaveError(
                f"Did not save into {directory}: {exc.filename} is {exc.strerror}. It changed after save_to was "
                f"checked; nothing was written. {_intact(job_id, url)}",
                job_id=job_id,
                url=url,
            ) from None
        except (OSError, RuntimeError) as exc:  # RuntimeError: a symlink loop (Python 3.11/3.12)
            raise SaveError(
                f"Could not create the directory {directory} ({getattr(exc, 'strerror', None) or exc}). "
                f"{_intact(job_id, url)}",
                job_id=job_id,
                url=url,
            ) from None
        return opened

    def _open_below_root(self, directory: Path, granted: Path | None = None) -> Directory:
        roots = self._roots_with(granted)
        self._check_inside(directory.resolve(strict=False), shown=str(directory), granted=granted)  # a clear text
        root = root_of(directory, roots)
        if root is None:  # not reachable after target(); kept so that a bad SaveTarget can never escape
            self._check_inside(directory, shown=str(directory), granted=granted)
            raise AssertionError("unreachable")
        return open_below(root, directory, create=True)

    # --- one image ----------------------------------------------------------------------------------------------

    async def _save_one(
        self, url: str, directory: Directory, target: SaveTarget, stem: str, notes: list[str], kind: str = "image"
    ) -> Path:
        async with self._limiter:
            try:
                with anyio.CancelScope(shield=True):  # quick; a created temp file is always removed below
                    tmp, raw = await anyio.to_thread.run_sync(_create_temp, directory, stem)
            except OSError as exc:
                raise _write_failed(url, target.directory, exc) from exc
            try:
                async with anyio.wrap_file(raw) as file:  # closing is shielded from cancellation
                    ext = await self._download(url, file, kind)
                asked = Path(target.filename).suffix if target.filename else ""
                if asked and _same_type(asked) != ext:
                    tmp, ext = await anyio.to_thread.run_sync(_convert, directory, tmp, stem, asked, ext, notes)
                names = _candidate_names(stem, ext, target.filename)
                return await anyio.to_thread.run_sync(self._publish, directory, tmp, names, url, target.granted)
            except OSError as exc:
                raise _write_failed(url, target.directory, exc) from exc
            finally:  # after a successful publish the temp name is already gone; this is then a no-op
                with anyio.CancelScope(shield=True):
                    await anyio.to_thread.run_sync(directory.unlink_quietly, tmp)

    def _publish(self, directory: Directory, tmp: str, names: Iterator[str], url: str, granted: Path | None) -> Path:
        """Give ``tmp`` the first free name of ``names`` without ever replacing an existing file (worker thread)."""
        for name in names:
            try:
                directory.link(tmp, name)
            except FileExistsError:
                continue
            except OSError:  # no hard links here (some network or FAT file systems): check, then rename
                if directory.exists(name):
                    continue
                directory.rename(tmp, name)
            else:
                directory.unlink_quietly(tmp)
            return self._located(directory, name, url, granted)
        raise FileExistsError(f"every candidate name for {tmp} in {directory.path} is taken")

    def _located(self, directory: Directory, name: str, url: str, granted: Path | None) -> Path:
        """Where the published file really is; a directory moved out of the allowed ones loses the file again."""
        place = directory.location()
        if place is not None and any(place.is_relative_to(root) for root in self._roots_with(granted)):
            return place / name
        directory.unlink_quietly(name)
        where = "was removed" if place is None else f"was moved to {place}, outside the allowed directories,"
        raise _Failed(url, f"the directory {directory.path} {where} while the image was being saved; nothing was kept")

    async def _download(self, url: str, file: AsyncFile[bytes], kind: str = "image") -> str:
        """Stream ``url`` into ``file`` and return the file extension of what arrived (a video is checked to be one
        by its first bytes: an answer of another type is not saved under a video's name)."""
        from krea_mcp.files.image_types import sniff

        try:
            async with self._downloader.open(url, kinds=DOWNLOAD_KINDS.get(kind, DOWNLOAD_KINDS["image"])) as download:
                head = await _write_body(download, file, url)
                if kind == "video":
                    found = sniff(head[:16])
                    if found is None or not found[0].startswith("video/"):
                        raise _Failed(url, "its answer is not a video file (its first bytes are not MP4, MOV or WebM)")
                return extension_of(download.content_type, url, head)
        except DownloadError as exc:  # refused, or the body broke off
            raise _Failed(url, exc.rule, download=True, host=exc.host) from exc


async def _write_body(download: Download, file: AsyncFile[bytes], url: str) -> bytes:
    head, size = b"", 0
    async for chunk in download.chunks(CHUNK_BYTES):
        size += len(chunk)
        if size > MAX_IMAGE_BYTES:
            raise _Failed(url, f"the body is larger than {MAX_IMAGE_BYTES // 2**20} MB", download=True)
        if len(head) < 16:
            head += chunk[: 16 - len(head)]
        await file.write(chunk)
    if size == 0:
        raise _Failed(url, "the body was empty", download=True)
    return head


class _Failed(Exception):
    """Internal: one URL could not be saved; ``_outcome`` turns these into one SaveError carrying the job id."""

    def __init__(self, url: str, reason: str, *, download: bool = False, host: str | None = None) -> None:
        super().__init__(reason)
        self.url, self.reason, self.download, self.host = url, reason, download, host


def _outcome(results: list[Path | Exception | None], urls: list[str], job_id: str) -> list[Path]:
    """The saved paths in URL order, or one SaveError describing the failures (and what was saved anyway)."""
    saved = [r for r in results if isinstance(r, Path)]
    if len(saved) == len(results):
        return saved
    failures: list[tuple[int, _Failed]] = []
    for index, result in enumerate(results, 1):
        if isinstance(result, _Failed):
            failures.append((index, result))
        elif not isinstance(result, Path):
            raise result or RuntimeError(f"image {index} was not saved")  # a bug, not a download problem
    index, first = failures[0]
    what = f"image {index} of {len(urls)}" if len(urls) > 1 else "the image"
    if first.download:
        host = first.host or urlparse(first.url).hostname or "the image host"
        message = f"Could not download {what} of job {job_id!r} from {host}: {first.reason}."
    else:
        message = f"Could not save {what} of job {job_id!r}: {first.reason}."
    if len(failures) > 1:
        message += f" {len(failures) - 1} more image(s) also failed."
    if saved:
        message += f" Saved anyway: {', '.join(str(p) for p in saved)}."
    raise SaveError(f"{message} {_intact(job_id, first.url)}", job_id=job_id, url=first.url, saved=saved) from first


def _write_failed(url: str, directory: Path, exc: OSError) -> _Failed:
    return _Failed(url, f"could not write to {directory} ({exc.strerror or exc})")


def _intact(job_id: str, url: str) -> str:
    return (
        f"The job is not lost: the image is still available at {url} (share that URL), and calling wait_for_job "
        f"with job_id {job_id!r} and save_to retries the save without generating again."
    )


# --- checks and file-system steps (run in worker threads) -----------------------------------------------------------


def _is_other_file_type(suffix: str) -> bool:
    """``.gif``, ``.txt``, …: a suffix that names a known file type (Python's built-in table, not the system's)."""
    return bool(suffix) and suffix in _file_types()


@functools.cache
def _file_types() -> frozenset[str]:
    import mimetypes

    table = mimetypes.MimeTypes()  # the built-in table only: the same answer on every machine
    return frozenset(ext.lower() for strict in table.types_map for ext in strict)


def _nearest_existing(directory: Path) -> Path:
    """``directory`` or its nearest ancestor that exists (an over-long name counts as missing, not an error)."""
    probe = directory
    while not os.path.lexists(probe) and probe != probe.parent:
        probe = probe.parent
    return probe


def _check_lengths(directory: Path, existing: Path) -> None:
    """Each name fits the file system's limit, and so does the whole path with a file name added."""
    name_max = _pathconf(existing, "PC_NAME_MAX", 255)
    path_max = _pathconf(existing, "PC_PATH_MAX", 4096)
    for part in directory.parts[1:]:
        size = len(os.fsencode(part))
        if size > name_max:
            raise InvalidRequestError(
                f"save_to: the directory name {part[:40]!r}… is {size} bytes long; this file system allows at most "
                f"{name_max} bytes per name. Choose a shorter name.",
                field="save_to",
            )
    size = len(os.fsencode(directory)) + 1 + _LONGEST_NAME
    if size >= path_max:
        raise InvalidRequestError(
            f"save_to: the directory path {str(directory)[:60]!r}… is too long: with a file name it would be "
            f"{size} bytes, and this system allows paths of fewer than {path_max}. Choose a shorter path.",
            field="save_to",
        )


def _pathconf(path: Path, name: str, default: int) -> int:
    try:
        value = os.pathconf(path, name)
    except (OSError, ValueError, AttributeError):  # AttributeError: no pathconf (Windows)
        return default
    return value if value > 0 else default


def _check_not_directory(path: Path) -> None:
    if path.is_dir():
        raise InvalidRequestError(
            f"save_to: {path} is an existing directory, not a file name. Pass the directory without the file name "
            "to save there under generated names, or choose a file name that is not taken by a directory.",
            field="save_to",
        )


def _check_directory_usable(directory: Path, existing: Path) -> None:
    """The directory, or its nearest existing ancestor, must be a directory (not a file) this process can write."""
    if not existing.is_dir():
        where = "is an existing file" if existing == directory else f"cannot be created: {existing} is a file"
        raise InvalidRequestError(
            f"save_to: the directory {directory} {where}. Pass a directory path, or a file path ending in "
            ".png, .jpg, .jpeg or .webp.",
            field="save_to",
        )
    if not os.access(existing, os.W_OK | os.X_OK):
        what = "cannot be written" if existing == directory else f"cannot be created in {existing}"
        raise InvalidRequestError(
            f"save_to: the directory {directory} {what}: this server has no write permission there. Choose "
            "another directory, or ask the user to fix its permissions.",
            field="save_to",
        )


def _create_temp(directory: Directory, stem: str) -> tuple[str, BinaryIO]:
    """Create and open a hidden, unique ``.<stem>.<random>.part`` file (its mode follows the umask, unlike mkstemp)."""
    for _ in range(100):
        name = f".{stem[:100]}.{secrets.token_hex(4)}.part"
        try:
            fd = directory.open(name, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
        except FileExistsError:
            continue
        return name, os.fdopen(fd, "wb")
    raise FileExistsError(f"could not create a temporary file in {directory.path}")


#: Types a file can be converted to when ``save_to`` names one (HEIC would need a plugin Pillow does not ship).
_CONVERTIBLE = {".png": "PNG", ".jpg": "JPEG", ".jpeg": "JPEG", ".webp": "WEBP"}
#: Largest delivered image converted in memory (a larger one is saved as delivered, and the result says so).
CONVERT_MAX_BYTES = 64 * 1024 * 1024
CONVERT_MAX_PIXELS = 40_000_000


def _convert(directory: Directory, tmp: str, stem: str, asked: str, ext: str, notes: list[str]) -> tuple[str, str]:
    """Re-encode the downloaded ``tmp`` as the type ``asked`` names (worker thread); returns the file and extension.

    Anything that prevents it leaves the image as delivered, with a note saying what was saved instead.
    """
    fmt = _CONVERTIBLE.get(asked.lower())
    delivered = ext.lstrip(".").upper()
    reason = "" if fmt else f"{asked} cannot be written here"
    if fmt:
        try:
            encoded = _reencode(directory.read(tmp, CONVERT_MAX_BYTES), fmt)
        except Exception as exc:  # too large, too many pixels, or not decodable: keep the original
            reason = str(exc) if isinstance(exc, ValueError) else f"it could not be decoded ({type(exc).__name__})"
        else:
            new_tmp, raw = _create_temp(directory, stem)
            try:
                with raw:
                    raw.write(encoded)
            except BaseException:
                directory.unlink_quietly(new_tmp)
                raise
            directory.unlink_quietly(tmp)
            notes.append(f"Krea delivered {delivered}; converted to {fmt} as save_to asked ({asked}).")
            return new_tmp, _same_type(asked)
    notes.append(
        f"save_to asked for {asked}, but Krea delivered {delivered}: saved as {ext} ({reason}; not converted)."
    )
    return tmp, ext


def _reencode(data: bytes, fmt: str) -> bytes:
    import io

    from PIL import Image  # deferred: only when a conversion is asked for

    with Image.open(io.BytesIO(data)) as opened:
        image: Image.Image = opened
        if image.width * image.height > CONVERT_MAX_PIXELS:
            raise ValueError(
                f"it has {image.width * image.height / 1e6:.0f} Mpx, over the {CONVERT_MAX_PIXELS // 10**6} Mpx this "
                "server converts"
            )
        if fmt == "JPEG" and image.mode not in ("RGB", "L"):  # no alpha in JPEG: flatten onto white
            rgba = image.convert("RGBA")
            flat = Image.new("RGB", rgba.size, (255, 255, 255))
            flat.paste(rgba, mask=rgba.getchannel("A"))
            image = flat
        out = io.BytesIO()
        image.save(out, format=fmt, **({"quality": 92} if fmt in ("JPEG", "WEBP") else {}))
    return out.getvalue()


def _same_type(suffix: str) -> str:
    return _SAME_TYPE.get(suffix.lower(), suffix.lower())


def _grantable(folder: Path | None) -> Path | None:
    """A client-offered folder, if it may be written to: an existing directory that is neither a file-system root nor
    the home directory itself (a root the client offers must not widen access to everything)."""
    if folder is None:
        return None
    try:
        resolved = folder.expanduser().resolve(strict=True)
    except (OSError, RuntimeError):
        return None
    if not resolved.is_dir() or resolved == Path(resolved.anchor) or resolved == Path.home().resolve():
        return None
    return resolved


# --- names ----------------------------------------------------------------------------------------------------------


def slugify(prompt: str, max_length: int = SLUG_MAX) -> str:
    """A short, ASCII, file-name-safe version of ``prompt`` (``image`` if nothing is left)."""
    ascii_text = unicodedata.normalize("NFKD", prompt).encode("ascii", "ignore").decode("ascii")
    slug = re.sub(r"[^a-z0-9]+", "-", ascii_text.lower()).strip("-")
    if len(slug) > max_length:
        cut = slug[:max_length]
        if slug[max_length] != "-" and "-" in cut and cut.rfind("-") >= max_length // 2:
            cut = cut[: cut.rfind("-")]
        slug = cut.strip("-")
    return slug or "image"


def _stem(target: SaveTarget, prompt: str, job_id: str, index: int, count: int) -> str:
    """The file name without extension (or with the user's extension, replaced later) of image ``index``."""
    if target.filename is not None:
        stem = Path(target.filename).stem
        return stem if count == 1 else f"{stem}-{index + 1}"
    short_id = re.sub(r"[^A-Za-z0-9]", "", job_id)[:8]
    parts = [slugify(prompt), short_id, str(index + 1)]
    return "-".join(p for p in parts if p)


def _candidate_names(stem: str, ext: str, filename: str | None) -> Iterator[str]:
    """``stem.ext``, ``stem-2.ext``, ``stem-3.ext``, …; an explicit name keeps its suffix if the type matches."""
    if filename is not None:
        given = Path(filename).suffix
        if ext == ".bin" or _same_type(given) == ext:
            ext = given  # the user's spelling (".JPEG") when it names the same type, or when the type is unknown
    yield stem + ext
    for n in range(2, _MAX_NAME_TRIES):
        yield f"{stem}-{n}{ext}"
