"""After a job completes: save its images where asked, then build previews within the context budget.

Neither step can lose the result: a failure becomes a one-line note next to the image URLs.
"""

from __future__ import annotations

import errno
import logging
import os
import time
from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING

import anyio

from krea_mcp.errors import InvalidRequestError, KreaError, SaveError

if TYPE_CHECKING:
    from krea_mcp.files.image_saver import ImageSaver, SaveTarget
    from krea_mcp.job import Outcome, Preview
    from krea_mcp.krea.downloads import Downloader
    from krea_mcp.settings import Settings

log = logging.getLogger(__name__)

#: Time allowed for saving and previews after the wait, so a call stays under the ~60 s host cap.
DELIVERY_TIMEOUT_S = 12.0
#: A call's length hosts allow (~60 s) less a margin: a video's download may use what the call has left of it.
CALL_CAP_S = 55.0
#: The most of a video read to learn its length and size (its index, ``moov``, is at the start when it is faststart).
VIDEO_HEADER_BYTES = 2 * 1024 * 1024
#: Images previewed per result at the most (each is held in memory until its thumbnail is made).
MAX_PREVIEWED = 8
#: Largest image downloaded into memory for a preview (saved files are read from disk instead).
MAX_PREVIEW_SOURCE_BYTES = 64 * 1024 * 1024
_BINARY = getattr(os, "O_BINARY", 0)


class Delivery:
    """Saves and previews completed jobs' images; ``saver`` is None where saving is disabled."""

    def __init__(self, downloader: Downloader, saver: ImageSaver | None, settings: Settings) -> None:
        self._downloader = downloader
        self._saver = saver
        self._settings = settings

    def target(self, save_to: str | None, *, granted: Path | None = None, kind: str | None = None) -> SaveTarget | None:
        """Check ``save_to`` before any job is started; None means: do not save. ``granted``: the client's folder;
        ``kind``: "image" or "video" when the job's kind is known (a video is never saved under an image name)."""
        if self._saver is None:
            if save_to is not None:
                raise InvalidRequestError("save_to: saving files is disabled on this server.", field="save_to")
            return None
        if save_to is None and not self._settings.auto_save:
            return None
        return self._saver.target(save_to, granted=granted, kind=kind)

    async def deliver(
        self,
        outcome: Outcome,
        target: SaveTarget | None,
        prompt: str,
        *,
        expected: tuple[int, int] | None = None,
        kind: str | None = None,
        elapsed_s: float | None = None,
    ) -> None:
        """Fill ``outcome.files``, ``outcome.previews`` and ``outcome.notes`` for a completed job.

        ``expected``: the size the request asked for (an enhance job); the first image's real size is read from its
        header, and a difference is said with the result rather than left for the agent to discover.
        ``kind``: the job's kind when known ("video": no inline preview; length and size read from the file's header;
        saving may use what is left of the call, ``CALL_CAP_S`` less ``elapsed_s``, as videos are large).
        """
        job = outcome.job
        if job.status != "completed" or not job.urls:
            return
        video = kind == "video" or (kind is None and _looks_like_video(job.urls[0]))
        budget = DELIVERY_TIMEOUT_S
        if video and elapsed_s is not None:
            budget = max(DELIVERY_TIMEOUT_S, CALL_CAP_S - elapsed_s)
        deadline = time.monotonic() + budget  # for the preview thread, which cannot be cancelled
        published: list[Path] = []
        with anyio.move_on_after(budget) as scope:
            if target is not None and self._saver is not None:
                outcome.granted = target.granted
                try:
                    outcome.files = await self._saver.save(
                        job.urls,
                        target=target,
                        prompt=prompt,
                        job_id=job.job_id,
                        notes=outcome.notes,
                        published=published,
                        kind="video" if video else "image",
                    )
                except SaveError as exc:
                    outcome.files = exc.saved  # images saved before the failure still count
                    outcome.notes.append(f"Saving failed: {exc}")
            if video:
                outcome.video = await self._video_facts(job.urls[0])
                if outcome.video is None:
                    outcome.notes.append(
                        "Length and size unknown: the video's header does not say them in its first "
                        f"{VIDEO_HEADER_BYTES // 2**20} MB (its index may be at the end of the file)."
                    )
                if self._settings.preview != "off":
                    outcome.notes.append(
                        "No inline preview: videos are not shown in the chat (the URL plays in a browser)."
                    )
            elif self._settings.preview != "off":
                granted = target.granted if target is not None else None
                outcome.previews, note = await self._previews(job.urls, outcome.files, deadline, granted)
                if note:
                    outcome.notes.append(note)
            if expected is not None:
                mismatch = await self._size_mismatch(job.urls[0], expected)
                if mismatch:
                    outcome.notes.append(mismatch)
        if scope.cancelled_caught:
            if not outcome.files and published:  # files written before the deadline still count
                outcome.files = list(published)
            saved = f" ({len(outcome.files)} of {len(job.urls)} images saved before it)" if outcome.files else ""
            what = "videos" if video else "images"
            saved = saved.replace("images", what)
            outcome.notes.append(
                f"Saving/preview took over {budget:.0f} s and was cut short{saved}; the URLs above are "
                f"complete, and wait_for_job with save_to saves the rest."
            )

    async def _video_facts(self, url: str) -> tuple[float | None, int | None, int | None] | None:
        """A video's length and size from the first bytes of its file (None when its header does not tell)."""
        from krea_mcp.files.video_info import video_info

        head = bytearray()
        try:
            async with self._downloader.open(url, kinds=("video/", "application/octet-stream")) as download:
                async for chunk in download.chunks():
                    head += chunk
                    facts = _facts(bytes(head), video_info)
                    if facts is not None and None not in facts:
                        return facts
                    if len(head) >= VIDEO_HEADER_BYTES:
                        break
        except KreaError as exc:
            log.info("could not read the header of %s: %s", url, exc)
            return None
        return _facts(bytes(head), video_info)

    async def _size_mismatch(self, url: str, expected: tuple[int, int]) -> str | None:
        """A note when the image at ``url`` is not ``expected`` in size (None when it is, or cannot be told)."""
        from krea_mcp.files.image_types import UnreadableHeader

        try:
            width, height, _ = await self._downloader.image_size(url)
        except (KreaError, UnreadableHeader) as exc:
            log.info("could not read the size of %s: %s", url, exc)
            return None
        if (width, height) == expected:
            return None
        return (
            f"Krea returned a {width}×{height} image, not the {expected[0]}×{expected[1]} asked for (this server "
            "sends the output size as width/height; Krea's spec does not say which size it means). Check the image "
            "before using it."
        )

    def _read_saved(self, path: Path, granted: Path | None) -> bytes:
        """A file this call just saved, for its preview: from its allowed root, never through a symlink, ≤ 64 MB."""
        assert self._saver is not None  # files exist only where saving is enabled
        try:
            return self._saver.read_saved(path, MAX_PREVIEW_SOURCE_BYTES, granted=granted)
        except ValueError:
            raise OSError(errno.EFBIG, f"larger than the {MAX_PREVIEW_SOURCE_BYTES // 2**20} MB previewed") from None

    async def _previews(
        self, urls: list[str], files: list[Path], deadline: float, granted: Path | None = None
    ) -> tuple[list[Preview], str | None]:
        from krea_mcp.files.previews import build_previews  # Pillow is imported only when a preview is made

        sources: list[Path] | list[str] = files or urls
        shown = sources[:MAX_PREVIEWED]  # each source is held in memory until its thumbnail is made: bound them
        try:
            if files:
                images = [await anyio.to_thread.run_sync(self._read_saved, f, granted) for f in files[:MAX_PREVIEWED]]
            else:
                images = [await self.fetch(url) for url in urls[:MAX_PREVIEWED]]
        except KreaError as exc:
            return [], f"Preview unavailable: {exc}"
        except OSError as exc:
            return [], f"Preview unavailable: could not read the saved image ({exc.strerror or type(exc).__name__})."
        build = partial(
            build_previews,
            images,
            mode=self._settings.preview,
            budget_bytes=self._settings.preview_budget_bytes,
            deadline=deadline,
        )
        # Past the deadline the call returns without waiting; the thread starts no new image and ends by itself.
        previews, note = await anyio.to_thread.run_sync(build, abandon_on_cancel=True)
        if len(sources) > len(shown):
            more = f"Previews show the first {len(shown)} of {len(sources)} images; the URLs above are all of them."
            note = f"{note} {more}" if note else more
        return previews, note

    async def fetch(self, url: str) -> bytes:
        """An image's bytes, in memory (at most 64 MB), fetched under the download rules (DownloadError if not)."""
        return await self._downloader.fetch_bytes(url, limit=MAX_PREVIEW_SOURCE_BYTES)


def _looks_like_video(url: str) -> bool:
    """Whether a result URL names a video file (for jobs this server did not start, whose kind it does not know)."""
    from urllib.parse import urlsplit

    from krea_mcp.files.image_types import VIDEO_SUFFIXES

    path = urlsplit(url).path.lower()
    return any(path.endswith(suffix) for suffix in VIDEO_SUFFIXES)


def _facts(
    head: bytes, reader: Callable[[bytes], tuple[float | None, int | None, int | None]]
) -> tuple[float | None, int | None, int | None] | None:
    """What ``reader`` finds in ``head``, or None when it is not a video header it reads."""
    try:
        duration, width, height = reader(head)
    except ValueError:
        return None
    if duration is not None and not 0 < duration <= 86_400:  # 0: a fragmented file's header; more: not believable
        duration = None
    facts = (duration, width, height)
    return None if facts == (None, None, None) else facts
