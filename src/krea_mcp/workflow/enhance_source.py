"""enhance_image's input: where the image comes from (a URL, a local file, a ``data:`` URI or a previous job) and its
real size, read from the image itself before anything is spent.

* A URL is read only as far as its header (the size is in the first few KB of every format Krea returns), through
  the same download rules as result images: https only, public addresses only, no token sent.
* A local file or ``data:`` URI is read once: the bytes measured are the bytes uploaded (``image_inputs.holding``).
* The size is the image as shown: a photo whose EXIF orientation turns it a quarter turn is measured upright.
* Reading ends by the call's deadline, like everything else the call does.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import TYPE_CHECKING

import anyio

from krea_mcp.catalog.enhance_params import source_name
from krea_mcp.errors import DownloadError, InvalidRequestError, NotFoundError
from krea_mcp.files.image_types import UnreadableHeader, header_size
from krea_mcp.workflow.image_inputs import is_remote

if TYPE_CHECKING:
    from krea_mcp.workflow.job_service import JobService

#: A Krea job id (a UUID): ``image`` names a previous job's image this way.
JOB_ID = re.compile(r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$")
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
    #: The bytes read from a local file or data: URI (uploaded as read); None for a URL.
    data: bytes | None = None


async def read_source(service: JobService, image: str, *, deadline: float) -> Source:
    """The input ``image`` names and its real size, by ``deadline`` (anyio time); refusals name ``image``."""
    ref = image.strip()
    if not ref:
        raise InvalidRequestError(
            "image: empty; pass an https URL, a local path, a data: URI or a job id.", field=_FIELD
        )
    seconds = max(0.0, deadline - anyio.current_time())
    try:
        with anyio.fail_after(seconds):
            return await _read(service, ref)
    except TimeoutError:
        raise InvalidRequestError(
            f"image: reading the image to learn its size did not finish within the {seconds:.0f} s this call had "
            "left, so nothing was sent. Try again, or pass the image as a local file.",
            field=_FIELD,
        ) from None


async def _read(service: JobService, ref: str) -> Source:
    if JOB_ID.match(ref):
        return await _from_job(service, ref.lower())
    if is_remote(ref):
        width, height, turned = await _remote_size(service, ref)
        return Source(ref, (width, height), source_name(ref), _turned_note(turned, width, height))
    if service.inputs is None:
        raise InvalidRequestError("image: this server cannot read local files; pass an https URL.", field=_FIELD)
    data = await service.inputs.read(ref, field=_FIELD)
    name = source_name(ref)
    width, height, turned = _measured(data, "the pasted image" if ref.startswith("data:") else f"{name!r}")
    return Source(ref, (width, height), name, _turned_note(turned, width, height), data)


async def _from_job(service: JobService, job_id: str) -> Source:
    """A completed job's first image, by its result URL (its other images are enhanced by passing their URLs)."""
    url, note = await job_image(service, job_id, _FIELD, verb="enhance")
    width, height, turned = await _remote_size(service, url)
    notes = [note, _turned_note(turned, width, height)]
    return Source(url, (width, height), f"job {job_id[:8]}", " ".join(n for n in notes if n) or None)


async def job_image(service: JobService, job_id: str, field: str, *, verb: str) -> tuple[str, str | None]:
    """The first result URL of a completed job, named by ``field``, and a note when the job has several.

    Refusals (an unknown job, one still running, one that failed) name ``field`` and say what to do.
    """
    job_id = job_id.strip().lower()
    try:
        outcome = await service.get(job_id)
    except NotFoundError:
        sandbox = " Sandbox jobs live only in the server process that made them." if service.settings.sandbox else ""
        raise InvalidRequestError(
            f"{field}: no job {job_id} was found for this token (a job id is only usable by the token that created "
            f"it).{sandbox} list_jobs shows your recent jobs; or pass the image's URL.",
            field=field,
        ) from None
    job = outcome.job
    record = service.records.get(job_id)
    made_video = (record is not None and record.kind == "video") or "video" in str(getattr(job, "type", "")).lower()
    if made_video or (job.urls and _is_video_url(job.urls[0])):
        raise InvalidRequestError(
            f"{field}: job {job_id} made a video, not an image; pass an image job's id, or an image.", field=field
        )
    if job.status != "completed":
        hint = (
            f"call wait_for_job with it first, then {verb}"
            if not job.terminal
            else f"it has no image to {verb}; start a new one"
        )
        raise InvalidRequestError(f"{field}: job {job_id} is {job.status}, not completed: {hint}.", field=field)
    urls = job.urls
    if not urls:
        raise InvalidRequestError(f"{field}: job {job_id} has no result images to {verb}.", field=field)
    note = None
    if len(urls) > 1:
        note = (
            f"Job {job_id} has {len(urls)} images; its first was used for {field}. To use another, pass its URL "
            "from the job's urls."
        )
    return urls[0], note


async def _remote_size(service: JobService, url: str) -> tuple[int, int, bool]:
    """Width and height from the first bytes of ``url``, under the download rules."""
    if service.downloader is None:
        raise InvalidRequestError("image: this server cannot read URLs to learn their size.", field=_FIELD)
    try:
        return _checked(await service.downloader.image_size(url))
    except DownloadError as exc:
        raise _unreachable(service, url, exc) from None
    except UnreadableHeader as exc:
        raise InvalidRequestError(
            f"image: {_shown(url)} is not an image whose size can be read ({exc}). Pass a PNG, JPEG or WebP.",
            field=_FIELD,
        ) from None


def _unreachable(service: JobService, url: str, exc: DownloadError) -> InvalidRequestError:
    """Why a URL could not be measured, and what to pass instead."""
    if service.settings.sandbox and exc.host not in service.settings.base_url:
        return InvalidRequestError(
            f"image: the sandbox has no network, so {_shown(url)} cannot be read. In the sandbox, enhance a local "
            "file, a data: URI, or a sandbox job's id or URL. Nothing was sent.",
            field=_FIELD,
        )
    return InvalidRequestError(
        f"image: could not read {_shown(url)} to learn its size ({exc.rule}). The output size is computed from the "
        "input's real size, so nothing was sent. Pass the image as a local file or data: URI, or a URL this server "
        "can fetch.",
        field=_FIELD,
    )


def _measured(data: bytes, shown: str) -> tuple[int, int, bool]:
    """Width, height and turn of an image held in memory (only its header is parsed)."""
    try:
        return _checked(header_size(data))
    except UnreadableHeader as exc:
        raise InvalidRequestError(
            f"image: {shown} is not an image whose size can be read ({exc}). Pass a PNG, JPEG or WebP.",
            field=_FIELD,
        ) from None


def _checked(size: tuple[int, int, bool]) -> tuple[int, int, bool]:
    width, height, _ = size
    if width < 1 or height < 1:
        raise InvalidRequestError(f"image: its header says {width}×{height}, which is not a usable size.", field=_FIELD)
    return size


def _turned_note(turned: bool, width: int, height: int) -> str | None:
    if not turned:
        return None
    return (
        f"The input's EXIF orientation turns it a quarter turn; it was measured upright ({width}×{height}), as it "
        "is shown."
    )


def _is_video_url(url: str) -> bool:
    from urllib.parse import urlsplit

    from krea_mcp.files.image_types import VIDEO_SUFFIXES

    return any(urlsplit(url).path.lower().endswith(suffix) for suffix in VIDEO_SUFFIXES)


def _shown(url: str) -> str:
    """A URL as errors show it: without query or userinfo, cut to 120 characters."""
    from krea_mcp.errors import shown_url

    return shown_url(url).split("?", 1)[0][:120]
