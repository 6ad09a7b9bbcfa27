"""MCP resources: every job this server created (``krea://jobs/{job_id}``) and every image it saved (``file://``).

Hosts that browse resources can list and show them; the template also reads any job by id.
"""

from __future__ import annotations

import mimetypes
from functools import partial
from typing import TYPE_CHECKING, Any

from mcp.server import MCPServer
from mcp.server.mcpserver import Context
from mcp.server.mcpserver.exceptions import ResourceError
from mcp.server.mcpserver.resources import FileResource, FunctionResource

from .caller import as_caller, bearer_from
from .errors import KreaError
from .results import job_data

if TYPE_CHECKING:
    from .service import JobService, Outcome

JOB_URI = "krea://jobs/{job_id}"


def job_json(outcome: Outcome) -> str:
    """The job as the resource shows it: the same fields as a tool result's structuredContent."""
    return job_data(outcome).model_dump_json(exclude_none=True)


def register_job_template(mcp: MCPServer) -> None:
    """``krea://jobs/{job_id}``: read any job's current state."""

    @mcp.resource(JOB_URI, name="krea-job", title="Krea job", mime_type="application/json")
    async def read_job(job_id: str, ctx: Context[Any, Any]) -> str:
        state = ctx.request_context.lifespan_context
        service: JobService = await state.service()
        token = bearer_from(ctx.headers) if state.settings.multi_user else None
        try:
            with as_caller(token):
                return job_json(await service.get(job_id))
        except KreaError as exc:
            raise ResourceError(str(exc)) from exc


class Publisher:
    """Adds resources for jobs and files as they appear (once each)."""

    def __init__(self, mcp: MCPServer, service: JobService) -> None:
        self._mcp = mcp
        self._service = service
        self._published: set[str] = set()

    def publish(self, outcome: Outcome) -> bool:
        """Register the job and its saved files; returns True when something new was added."""
        added = False
        job_id = outcome.job.job_id
        uri = JOB_URI.format(job_id=job_id)
        record = self._service.records.get(job_id)
        if uri not in self._published and record is not None:

            async def read() -> str:
                return job_json(await self._service.get(job_id))

            self._mcp.add_resource(
                FunctionResource(
                    uri=uri,
                    name=f"job-{job_id[:8]}",
                    title=f"Krea job: {record.prompt[:60]}",
                    description=f"{record.model} job {job_id}",
                    mime_type="application/json",
                    fn=read,
                )
            )
            self._published.add(uri)
            added = True
        for i, url in enumerate(outcome.job.urls, 1):  # result links must be readable here (MCP: resource_link)
            if url in self._published:
                continue
            self._mcp.add_resource(
                FunctionResource(
                    uri=url,
                    name=f"image-{i}",
                    description=f"image {i} of job {job_id}",
                    mime_type=mimetypes.guess_type(url)[0] or "image/png",
                    fn=partial(self._fetch, url),
                )
            )
            self._published.add(url)
            added = True
        for path in outcome.files:
            file_uri = path.as_uri()
            if file_uri in self._published:
                continue
            mime = mimetypes.guess_type(path.name)[0] or "application/octet-stream"
            self._mcp.add_resource(
                FileResource(uri=file_uri, path=path, name=path.name, mime_type=mime, description=f"job {job_id}")
            )
            self._published.add(file_uri)
            added = True
        return added

    async def _fetch(self, url: str) -> bytes:
        """The image bytes, fetched through the server's own HTTP client (so sandbox URLs work too)."""
        try:
            return await self._service.fetch_image(url)
        except KreaError as exc:
            raise ResourceError(str(exc)) from exc
