"""MCP resources: jobs this server created (``krea://jobs/{job_id}``), their image URLs and the images it saved
(``file://``).

Hosts that browse resources can list and show them; the template also reads any job by id. What stays listed is
bounded (the least recently used go first), a saved file is read again from its allowed root by descriptor (a
symlink swapped in since it was saved is never followed), and reading an image URL is bounded in time and size.
"""

from __future__ import annotations

import mimetypes
from collections import OrderedDict
from collections.abc import Callable, Iterator
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Any

import anyio.to_thread
from mcp.server import MCPServer
from mcp.server.mcpserver import Context
from mcp.server.mcpserver.exceptions import ResourceError, ResourceNotFoundError
from mcp.server.mcpserver.resources import FunctionResource, Resource

from krea_mcp.errors import KreaError
from krea_mcp.server.tool_results import job_data

if TYPE_CHECKING:
    from krea_mcp.job import JobRecord, Outcome
    from krea_mcp.workflow.job_service import JobService

JOB_URI = "krea://jobs/{job_id}"
#: Resources kept listed (jobs, image URLs, saved files together); the least recently published or read go first.
MAX_RESOURCES = 512
#: Largest saved file or result image that ``resources/read`` returns.
MAX_READ_BYTES = 64 * 1024 * 1024
#: ``resources/read`` of an image URL gives up after this long (a host trickling bytes must not hold the call).
READ_TIMEOUT_S = 20.0


def job_json(outcome: Outcome) -> str:
    """The job as the resource shows it: the same fields as a tool result's structuredContent."""
    return job_data(outcome).model_dump_json(exclude_none=True)


def serve_shared_links(mcp: MCPServer) -> None:
    """Resources another worker of the deployment published (a result URL, a saved file) are served here too: a read
    of a URI this process does not list looks it up in the deployment's job records (``KREA_REDIS_URL``), for the
    caller's own jobs only. SDK 2.3 has no hook for unknown resources, so the manager's lookup is wrapped."""
    manager = mcp._resource_manager
    listed = manager.get_resource

    async def get_resource(uri: Any, context: Any) -> Any:
        if str(uri).startswith("ui://") and not _apps(context):  # the gallery's view: for clients that show it only
            raise ResourceNotFoundError(f"Unknown resource: {uri}")
        try:
            return await listed(uri, context)
        except ResourceNotFoundError:
            found = await _shared_link(str(uri), context)
            if found is None:
                raise
            return found

    manager.get_resource = get_resource  # type: ignore[method-assign]


async def _shared_link(uri: str, context: Any) -> Resource | None:
    state = getattr(getattr(context, "request_context", None), "lifespan_context", None)
    if state is None or not hasattr(state, "service"):
        return None
    multi_user = state.settings.multi_user
    if not state.settings.redis_url and not multi_user:  # this process lists every link it has: not one of them
        return None
    service: JobService = await state.service()
    publisher: Publisher | None = state.publisher
    job_id = await service.shared.job_of_link(uri)
    record = await service.load_record(job_id) if job_id else None  # the caller's own jobs only
    # Result URLs only: a saved file is on the disk of the worker that saved it, which may be another machine.
    if record is None or uri not in record.urls:
        return None
    if publisher is None:  # multi-user: nothing is listed; the gallery (only) reads its caller's own job's results
        return url_resource(service, uri, record) if _apps(context) else None
    return publisher.adopt(uri, record)


def _apps(context: Any) -> bool:
    """Whether the client of this request shows the gallery (MCP Apps)."""
    from mcp.server.apps import client_supports_apps

    try:
        return client_supports_apps(context)
    except Exception:  # no request context: not a client that negotiated anything
        return False


async def keep_links(service: JobService, outcome: Outcome) -> None:
    """Note a finished job's result URLs in its record (the caller's own jobs only), so they can be read as resources
    where nothing is listed (multi-user mode); a job seen by get_job has not been through the service's finish."""
    record = await service.load_record(outcome.job.job_id)
    if record is None or not outcome.job.urls or record.urls == list(outcome.job.urls):
        return
    record.urls = list(outcome.job.urls)
    await service.shared.save_record(record)


def url_resource(service: JobService, url: str, record: JobRecord) -> Resource:
    """A result URL of the caller's own job as a resource that is not listed (multi-user mode lists nothing)."""
    video = record.kind == "video" or _is_video(url)
    media = "video" if video else "image"
    index = record.urls.index(url) + 1

    async def read() -> bytes:
        return await fetch_result(service, url, video)

    return FunctionResource(
        uri=url,
        name=f"{media}-{index}",
        description=f"{media} {index} of job {record.job_id}",
        mime_type=mimetypes.guess_type(url.split("?", 1)[0])[0] or ("video/mp4" if video else "image/png"),
        fn=read,
    )


async def fetch_result(service: JobService, url: str, video: bool) -> bytes:
    """A result's bytes, under the download rules, within READ_TIMEOUT_S and MAX_READ_BYTES."""
    downloader = service.downloader
    if downloader is None:
        raise ResourceError(f"Downloads are not available on this server; open {url} directly.")
    kinds = ("video/", "application/octet-stream") if video else ("image/",)
    try:
        return await downloader.fetch_bytes(url, limit=MAX_READ_BYTES, timeout_s=READ_TIMEOUT_S, kinds=kinds)
    except KreaError as exc:
        raise ResourceError(str(exc)) from exc


def register_job_template(mcp: MCPServer) -> None:
    """``krea://jobs/{job_id}``: read any job's current state."""

    @mcp.resource(JOB_URI, name="krea-job", title="Krea job", mime_type="application/json")
    async def read_job(job_id: str, ctx: Context[Any, Any]) -> str:
        service: JobService = await ctx.request_context.lifespan_context.service()
        try:  # the caller's own token, in multi-user mode, was bound for this request (server.app.BindCaller)
            return job_json(await service.get(job_id))
        except KreaError as exc:
            raise ResourceError(str(exc)) from exc


class Publisher:
    """Adds resources for jobs, their image URLs and saved files as they appear, keeping the most recent ones."""

    def __init__(self, mcp: MCPServer, service: JobService) -> None:
        self._mcp = mcp
        self._service = service
        self._roots = service.settings.input_dirs()  # where saved files may be (output dir included)
        self._limit = MAX_RESOURCES
        self._published: OrderedDict[str, None] = OrderedDict()

    def publish(self, outcome: Outcome) -> bool:
        """Register the job, its image URLs and saved files; returns True when the listing changed."""
        changed = False
        candidates = list(self._candidates(outcome))[: self._limit]
        for uri, make in candidates:
            if uri in self._published:
                self._published.move_to_end(uri)
                continue
            self._mcp.add_resource(make())
            self._published[uri] = None
            changed = True
        while len(self._published) > self._limit:
            old, _ = self._published.popitem(last=False)
            _remove_resource(self._mcp, old)
        return changed

    def _candidates(self, outcome: Outcome) -> Iterator[tuple[str, Callable[[], Resource]]]:
        job_id = outcome.job.job_id
        record = self._service.records.get(job_id)
        if record is not None:
            uri = JOB_URI.format(job_id=job_id)
            yield uri, partial(self._job_resource, uri, job_id, record.prompt, record.model)
        for path in outcome.files:
            yield path.as_uri(), partial(self._file_resource, path, job_id, outcome.granted)
        for i, url in enumerate(outcome.job.urls, 1):  # result links must be readable here (MCP: resource_link)
            yield url, partial(self._url_resource, url, i, job_id)

    def adopt(self, uri: str, record: JobRecord) -> Resource:
        """List a result URL or saved file of a job another worker published, and return it."""
        if uri in record.urls:
            resource = self._url_resource(uri, record.urls.index(uri) + 1, record.job_id)
        else:
            resource = self._file_resource(Path(file_path(uri)), record.job_id)
        self._mcp.add_resource(resource)
        self._published[uri] = None
        while len(self._published) > self._limit:
            old, _ = self._published.popitem(last=False)
            _remove_resource(self._mcp, old)
        return resource

    def _touch(self, uri: str) -> None:
        if uri in self._published:
            self._published.move_to_end(uri)

    def _job_resource(self, uri: str, job_id: str, prompt: str, model: str) -> Resource:
        async def read() -> str:
            self._touch(uri)
            return job_json(await self._service.get(job_id))

        return FunctionResource(
            uri=uri,
            name=f"job-{job_id[:8]}",
            title=f"Krea job: {prompt[:60]}",
            description=f"{model} job {job_id}",
            mime_type="application/json",
            fn=read,
        )

    def _file_resource(self, path: Path, job_id: str, granted: Path | None = None) -> Resource:
        return FunctionResource(
            uri=path.as_uri(),
            name=path.name,
            description=f"job {job_id}",
            mime_type=mimetypes.guess_type(path.name)[0] or "application/octet-stream",
            fn=partial(self._read_file, path, granted),
        )

    def _url_resource(self, url: str, index: int, job_id: str) -> Resource:
        record = self._service.records.get(job_id)
        video = (record is not None and record.kind == "video") or _is_video(url)
        media = "video" if video else "image"
        return FunctionResource(
            uri=url,
            name=f"{media}-{index}",
            description=f"{media} {index} of job {job_id}",
            mime_type=mimetypes.guess_type(url.split("?", 1)[0])[0] or ("video/mp4" if video else "image/png"),
            fn=partial(self._fetch, url, video),
        )

    async def _read_file(self, path: Path, granted: Path | None = None) -> bytes:
        """The saved file, reached again from its allowed root without following any symlink below it."""
        from krea_mcp.files.confined import read_below

        self._touch(path.as_uri())
        try:
            roots = [*self._roots, granted] if granted is not None else self._roots  # a client root it was saved in
            return await anyio.to_thread.run_sync(read_below, roots, path, MAX_READ_BYTES)
        except ValueError:
            limit = f"{MAX_READ_BYTES / 2**20:g} MB" if MAX_READ_BYTES >= 2**20 else f"{MAX_READ_BYTES} bytes"
            raise ResourceError(
                f"{path} is larger than the {limit} a resource read returns; open the file directly."
            ) from None
        except OSError as exc:
            where = exc.filename or path
            reason = exc.strerror or type(exc).__name__
            raise ResourceError(
                f"{path} can no longer be read as it was saved: {where}: {reason}. Nothing outside the allowed "
                "directories is read; the image URL in the job result still works."
            ) from None

    async def _fetch(self, url: str, video: bool = False) -> bytes:
        """The image (or video) bytes, under the download rules, within READ_TIMEOUT_S and MAX_READ_BYTES."""
        self._touch(url)
        return await fetch_result(self._service, url, video)


def _remove_resource(mcp: MCPServer, uri: str) -> None:
    """Unlist a resource. SDK 2.3 has no public removal (python-sdk issue #2331); use it once there is one."""
    remove = getattr(mcp, "remove_resource", None)
    if remove is not None:
        remove(uri)
    else:
        mcp._resource_manager._resources.pop(uri, None)


def file_path(uri: str) -> str:
    """The local path of a ``file://`` URI as ``Path.as_uri`` wrote it."""
    from urllib.parse import unquote, urlsplit

    return unquote(urlsplit(uri).path)


def _is_video(url: str) -> bool:
    """Whether a result URL names a video file."""
    kind = mimetypes.guess_type(url.split("?", 1)[0])[0] or ""
    return kind.startswith("video/")
