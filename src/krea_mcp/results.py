"""How a job is reported to the agent: short text, ``structuredContent`` and one resource link per image."""

from __future__ import annotations

import mimetypes
from typing import Any

from mcp.types import CallToolResult, ResourceLink, TextContent
from pydantic import BaseModel, ConfigDict, Field

from ._schema import compact_in_place
from .service import Outcome


class JobResult(BaseModel):
    """A Krea image job."""

    model_config = ConfigDict(json_schema_extra=compact_in_place)

    job_id: str
    status: str = Field(description="completed|failed|cancelled, else still running")
    urls: list[str] = Field(default_factory=list)
    model: str | None = None
    created_at: str | None = None
    completed_at: str | None = None
    error: str | None = Field(default=None, description="Krea's reason when failed")
    next_step: str | None = None


def job_result(outcome: Outcome) -> CallToolResult:
    """Build the tool result for a job; failed and cancelled jobs are ``isError`` results."""
    job = outcome.job
    next_step = None if job.terminal else f'Call wait_for_job with job_id="{job.job_id}" to keep waiting.'
    data = JobResult(
        job_id=job.job_id,
        status=job.status,
        urls=job.urls,
        model=outcome.model,
        created_at=job.created_at,
        completed_at=job.completed_at,
        error=job.error or ("Cancelled." if job.status == "cancelled" else None),
        next_step=next_step,
    )
    content: list[Any] = [TextContent(text=_text(outcome, data))]
    content += [
        ResourceLink(name=f"{job.job_id[:8]}-{i}", uri=url, mime_type=mimetypes.guess_type(url)[0])
        for i, url in enumerate(job.urls)
    ]
    return CallToolResult(
        content=content,
        structured_content=data.model_dump(mode="json", exclude_none=True),
        is_error=job.status in ("failed", "cancelled"),
    )


def _text(outcome: Outcome, data: JobResult) -> str:
    model = f" ({data.model})" if data.model else ""
    next_step = data.next_step or ""
    if data.status == "completed":
        n = len(data.urls)
        took = f" in {outcome.waited_s:.0f} s" if outcome.waited_s else ""
        return f"Job {data.job_id}{model} completed{took}: {n} image{'s' if n != 1 else ''}.\n" + "\n".join(data.urls)
    if data.status == "failed":
        return f"Job {data.job_id}{model} failed: {data.error or 'no reason given'}. Failed jobs are not charged."
    if data.status == "cancelled":
        return f"Job {data.job_id}{model} was cancelled. Cancelled jobs are not charged."
    if outcome.timed_out:
        trouble = f" Krea could not be reached on the last check ({outcome.poll_error})" if outcome.poll_error else ""
        waited = f"{outcome.waited_s:.0f} s"
        return f"Job {data.job_id}{model} is still {data.status} after {waited}; it keeps running.{trouble} {next_step}"
    return f"Job {data.job_id}{model} is {data.status}. {next_step}"
