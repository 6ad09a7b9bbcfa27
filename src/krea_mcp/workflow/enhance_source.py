"""enhance_image's input: where the image comes from (a URL, a local file, a ``data:`` URI or a previous job) and its
real size, read from the image itself before anything is spent.

A URL is read only as far as its header (the size is in the first few KB of every format Krea returns), through
the same download rules as result images: https only, public addresses only, no token sent.
"""

from __future__ import annotations

import io
import re
from dataclasses import dataclass
from typing import TYPE_CHECKING

import anyio

from krea_mcp.catalog.enhance_params import source_name
from krea_mcp.errors import DownloadError, InvalidRequestError
from krea_mcp.workflow.image_inputs import is_remote

if TYPE_CHECKING:
    from krea_mcp.workflow.job_service import JobService

#: A Krea job id (a UUID): ``image`` names a previous job's image this way.
JOB_ID = re.compile(r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$")
#: The most of a remote image read to find its size: headers (with EXIF and colour profiles) fit easily.
HEADER_LIMIT = 4 * 1024 * 1024
#: Time allowed for reading a remote image's header.
HEADER_TIMEOUT_S = 30.0
_FIELD = "image"


@dataclass(frozen=True, slots=True)
class Source:
    """The image to enhance: what to send (a URL, or a local reference uploaded later) and its size."""

    ref: str
    size: tuple[int, int]
    #: How the agent is told about it ("job 3c90c3cc", "cat", a URL's file name), in notes and saved file names.
    name: str
    #: Said with the result when the choice was not literally what was asked (a job with several images).
    note: str | None = None


async def read_source(service: JobService, image: str) -> Source:
    """The input ``image`` names and its real size; a refusal is an ``InvalidRequestError`` naming ``image``."""
    ref = image.strip()
    if not ref:
        raise InvalidRequestError(
            "image: empty; pass an https URL, a local path, a data: URI or a job id.", field=_FIELD
        )
    if JOB_ID.match(ref):
        return await _from_job(service, ref)
    if is_remote(ref):
        return Source(ref, await _remote_size(service, ref), source_name(ref))
    if service.inputs is None:
        raise InvalidRequestError("image: this server cannot read local files; pass an https URL.", field=_FIELD)
    data = await service.inputs.read(ref, field=_FIELD)
    return Source(ref, _size_of(data, "the image"), source_name(ref))


async def _from_job(service: JobService, job_id: str) -> Source:
    """A completed job's first image, by its result URL (its other images are enhanced by passing their URLs)."""
    outcome = await service.get(job_id)
    job = outcome.job
    if job.status != "completed":
        hint = (
            "call wait_for_job with it first, then enhance"
            if not job.terminal
            else "it has no image to enhance; start a new one"
        )
        raise InvalidRequestError(f"image: job {job_id} is {job.status}, not completed: {hint}.", field=_FIELD)
    urls = job.urls
    if not urls:
        raise InvalidRequestError(f"image: job {job_id} has no result images to enhance.", field=_FIELD)
    note = None
    if len(urls) > 1:
        note = (
            f"Job {job_id} has {len(urls)} images; its first was enhanced. To enhance another, pass its URL from "
            "the job's urls as image."
        )
    return Source(urls[0], await _remote_size(service, urls[0]), f"job {job_id[:8]}", note)


async def _remote_size(service: JobService, url: str) -> tuple[int, int]:
    """Width and height from the first bytes of ``url`` (at most ``HEADER_LIMIT``), under the download rules."""
    from PIL import ImageFile  # deferred: only when an image is measured

    if service.downloader is None:
        raise InvalidRequestError("image: this server cannot read URLs to learn their size.", field=_FIELD)
    parser = ImageFile.Parser()
    seen = 0
    try:
        with anyio.fail_after(HEADER_TIMEOUT_S):
            async with service.downloader.open(url) as download:
                async for chunk in download.chunks():
                    parser.feed(chunk)
                    seen += len(chunk)
                    if parser.image is not None:
                        return _checked(parser.image.size)
                    if seen > HEADER_LIMIT:
                        break
    except DownloadError as exc:
        raise InvalidRequestError(
            f"image: could not read {_shown(url)} to learn its size ({exc.rule}). The output size is computed from the "
            "input's real size, so nothing was sent. Pass the image as a local file or data: URI, or a URL this "
            "server can fetch.",
            field=_FIELD,
        ) from None
    except TimeoutError:
        raise InvalidRequestError(
            f"image: {_shown(url)} did not answer within {HEADER_TIMEOUT_S:g} s, so its size is unknown and nothing "
            "was sent. Try again, or pass the image as a local file.",
            field=_FIELD,
        ) from None
    except (OSError, SyntaxError, ValueError) as exc:  # what Pillow raises for data it cannot parse
        raise _not_an_image(_shown(url), exc) from None
    raise _not_an_image(_shown(url), None)


def _size_of(data: bytes, shown: str) -> tuple[int, int]:
    """Width and height of an image held in memory (only its header is parsed)."""
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(io.BytesIO(data)) as image:
            return _checked(image.size)
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError) as exc:
        raise _not_an_image(shown, exc) from None


def _checked(size: tuple[int, int]) -> tuple[int, int]:
    width, height = size
    if width < 1 or height < 1:
        raise InvalidRequestError(f"image: its header says {width}×{height}, which is not a usable size.", field=_FIELD)
    return width, height


def _not_an_image(shown: str, exc: Exception | None) -> InvalidRequestError:
    reason = f" ({type(exc).__name__})" if exc is not None else ""
    return InvalidRequestError(
        f"image: {shown} is not an image whose size can be read{reason}. Pass a PNG, JPEG or WebP.", field=_FIELD
    )


def _shown(url: str) -> str:
    """A URL as errors show it: without query or userinfo, cut to 120 characters."""
    from krea_mcp.errors import shown_url

    return shown_url(url).split("?", 1)[0][:120]
