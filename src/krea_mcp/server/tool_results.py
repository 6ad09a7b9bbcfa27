"""How a job is reported to the agent: short text, ``structuredContent``, previews, and resource links.

Image bytes appear only as ``ImageContent`` previews (within the budget), never in ``structuredContent``.
"""

from __future__ import annotations

import json
import mimetypes
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from mcp.types import CallToolResult, ImageContent, ResourceLink, TextContent
from pydantic import BaseModel, ConfigDict, Field

from krea_mcp.server.schemas import compact_in_place

if TYPE_CHECKING:
    from krea_mcp.job import Job, JobRecord, Outcome


class JobResult(BaseModel):
    """A Krea job (an image job, or a style training that ends with ``style_id``)."""

    #: Extra keys are kept (a video's ``duration_s``, ``width``, ``height``) without growing the schema every
    #: tools/list carries: only generate_image declares it, and it never returns a video.
    model_config = ConfigDict(json_schema_extra=compact_in_place, extra="allow")

    job_id: str
    status: str
    urls: list[str] = Field(default_factory=list)
    files: list[str] | None = None
    model: str | None = None
    created_at: str | None = None
    completed_at: str | None = None
    error: str | None = None
    next_step: str | None = None
    #: The style a completed training job made (apply it with generate_image's ``styles``).
    style_id: str | None = None


def job_data(outcome: Outcome) -> JobResult:
    """The job as tool results (``structuredContent``) and the ``krea://jobs/{id}`` resource show it."""
    from krea_mcp.catalog.training_params import is_training, trained_style_id

    job = outcome.job
    style_id = trained_style_id(job.result) if job.status == "completed" else None
    no_style = job.status == "completed" and style_id is None and is_training(job, outcome.model)
    return JobResult(
        job_id=job.job_id,
        status=job.status,
        urls=job.urls,
        files=[str(f) for f in outcome.files] or None,
        model=outcome.model,
        created_at=job.created_at,
        completed_at=job.completed_at,
        error=job.error
        or ("Cancelled." if job.status == "cancelled" else None)
        or ("Training completed but Krea returned no usable style_id." if no_style else None),
        next_step=None if job.terminal else _next_step(job.job_id, outcome.save_to),
        style_id=style_id,
        **_video_fields(outcome),
    )


def job_result(
    outcome: Outcome, *, cancel_request: bool = False, link_urls: bool = True, previews: bool = True
) -> CallToolResult:
    """Build the tool result for a job; failed and cancelled jobs are ``isError`` (except for cancel_job itself).

    ``link_urls``: add a ``resource_link`` per image URL; only where the server can also read them (see resources).
    ``previews``: add the inline thumbnails (not for a client that shows the gallery instead).
    """
    job = outcome.job
    data = job_data(outcome)
    media = _media_of(outcome)
    content: list[Any] = [TextContent(text=_text(outcome, data, cancel_request))]
    if previews:
        content += [ImageContent(data=p.data, mime_type=p.mime_type) for p in outcome.previews]
    if link_urls:
        content += [
            ResourceLink(name=f"{media}-{i}", uri=url, mime_type=_mime(url, media)) for i, url in enumerate(job.urls, 1)
        ]
    content += [
        ResourceLink(name=f.name, uri=f.as_uri(), mime_type=mimetypes.guess_type(f.name)[0]) for f in outcome.files
    ]
    failed = job.status == "failed" or (job.status == "cancelled" and not cancel_request)
    return CallToolResult(
        content=content, structured_content=data.model_dump(mode="json", exclude_none=True), is_error=failed
    )


def run_seconds(job: Job) -> float | None:
    """How long the job itself took, from Krea's own timestamps (not how long this call waited); None if unknown."""
    created, completed = job.created(), _instant(job.completed_at)
    if created is None or completed is None:
        return None
    seconds = (completed - created).total_seconds()
    return seconds if 0 <= seconds <= 7 * 86_400 else None


def _instant(text: str | None) -> datetime | None:
    try:
        when = datetime.fromisoformat((text or "").replace("Z", "+00:00"))
    except ValueError:
        return None
    return when if when.tzinfo else when.replace(tzinfo=UTC)


def _next_step(job_id: str, save_to: str | None) -> str:
    extra = f", save_to={json.dumps(save_to)}" if save_to else ""
    return f'Call wait_for_job with job_id="{job_id}"{extra} to keep waiting.'


def _text(outcome: Outcome, data: JobResult, cancel_request: bool) -> str:
    model = f" ({data.model})" if data.model else ""
    lines = [_headline(outcome, data, model, cancel_request)]
    if data.status == "completed":
        lines += data.urls
        lines += [f"Saved: {f}" for f in data.files or []]
    lines += outcome.notes
    return "\n".join(lines)


def _headline(outcome: Outcome, data: JobResult, model: str, cancel_request: bool) -> str:
    from krea_mcp.catalog.training_params import is_training, unusable_style_id

    next_step = data.next_step or ""
    if data.status == "completed":
        n = len(data.urls)
        run_s = run_seconds(outcome.job)
        took = f" in {run_s:.0f} s" if run_s is not None else ""
        if data.style_id is not None:  # a training job: its result is a style, not images
            if cancel_request:
                return f"Job {data.job_id}{model} had already completed (style_id {data.style_id}); nothing to cancel."
            return f"Style trained{took}{model}: style_id {data.style_id}."
        if is_training(outcome.job, outcome.model):  # completed, yet no style id generate_image would take
            what = unusable_style_id(outcome.job.result)
            if cancel_request:
                return f"Job {data.job_id}{model} had already completed ({what}); nothing to cancel."
            return (
                f"Training completed{took}{model} but Krea returned no usable style_id ({what}); "
                'list_styles(filter="mine") may show the style.'
            )
        kind = _media_of(outcome)
        if cancel_request:
            return f"Job {data.job_id}{model} had already completed; nothing to cancel. {n} {kind}(s):"
        facts = _video_facts(data) if kind == "video" else ""
        return f"Completed{took}{model}: {n} {kind}{'s' if n != 1 else ''}{facts}."
    if data.status == "failed":
        return f"Job {data.job_id}{model} failed: {data.error or 'no reason given'}. Failed jobs are not charged."
    if data.status == "cancelled":
        return f"Job {data.job_id}{model} was cancelled. Cancelled jobs are not charged."
    if cancel_request:
        return f"Job {data.job_id}{model} is {data.status}; Krea did not cancel it. {next_step}"
    if outcome.timed_out:
        trouble = f" Krea could not be reached on the last check ({outcome.poll_error})" if outcome.poll_error else ""
        waited = f"{outcome.waited_s:.0f} s"
        return f"Job {data.job_id}{model} is still {data.status} after {waited}; it keeps running.{trouble} {next_step}"
    return f"Job {data.job_id}{model} is {data.status}. {next_step}"


def jobs_list_result(items: list[tuple[Job, JobRecord | None]], note: str | None) -> CallToolResult:
    """``list_jobs``: one line per job (id, status, model, age, prompt), newest first; the same as structured data.

    A style training says so (for a job another process started, Krea's job type tells), with its style_id once
    completed.
    """
    from krea_mcp.catalog.training_params import TRAIN_OPERATION, is_training, trained_style_id

    now = datetime.now(UTC)
    lines, rows = [], []
    for job, record in items:
        created = job.created()
        age = _age(now, created) if created else "age unknown"
        training = is_training(job, record.model if record else None)
        model = "style training" if training else (record.model if record else "model not recorded here")
        prompt = f" · {record.prompt[:60]!r}" if record else ""
        style_id = trained_style_id(job.result) if job.status == "completed" else None
        made = ""
        if training and job.status == "completed":
            made = f" · style_id {style_id}" if style_id else " · no usable style_id"
        lines.append(f"{job.job_id} · {job.status} · {model} · {age}{prompt}{made}")
        row: dict[str, Any] = {"job_id": job.job_id, "status": job.status, "created_at": job.created_at}
        if record:
            row |= {"model": record.model, "prompt": record.prompt[:200]}
        elif training:
            row["model"] = TRAIN_OPERATION
        if job.urls:
            row["urls"] = job.urls
        if style_id:
            row["style_id"] = style_id
        rows.append({k: v for k, v in row.items() if v is not None})
    head = (
        f"{len(items)} recent job(s), newest first. Pick one up with wait_for_job(job_id=...)."
        if items
        else ("No jobs found for this token.")
    )
    text = "\n".join([head, *lines, *([note] if note else [])])
    return CallToolResult(content=[TextContent(text=text)], structured_content={"jobs": rows})


def _age(now: datetime, then: datetime) -> str:
    seconds = max(0, int((now - then).total_seconds()))
    if seconds < 90:
        return f"{seconds} s ago"
    if seconds < 5400:
        return f"{seconds // 60} min ago"
    if seconds < 2 * 86_400:
        return f"{seconds // 3600} h ago"
    return f"{seconds // 86_400} days ago"


def _media_of(outcome: Outcome) -> str:
    """ "video" for a video job's result (known from the job this server started, the video's header it read, or
    a URL naming a video file), else "image"."""
    if outcome.kind == "video" or outcome.video is not None:
        return "video"
    if outcome.kind is None and outcome.job.urls:
        kind = mimetypes.guess_type(outcome.job.urls[0].split("?", 1)[0])[0] or ""
        return "video" if kind.startswith("video/") else "image"
    return "image"


def _mime(url: str, media: str) -> str | None:
    """A result URL's MIME type: from its file name, else what the job makes (a video's URL may lack a suffix)."""
    guessed = mimetypes.guess_type(url.split("?", 1)[0])[0]
    return guessed or ("video/mp4" if media == "video" else None)


def _video_fields(outcome: Outcome) -> dict[str, Any]:
    """A completed video's ``duration_s``, ``width`` and ``height``, as far as its file's header said them."""
    if outcome.video is None:
        return {}
    duration, width, height = outcome.video
    fields = {"duration_s": round(duration, 3) if duration is not None else None, "width": width, "height": height}
    return {k: v for k, v in fields.items() if v is not None}


def _video_facts(data: JobResult) -> str:
    """ " (5 s, 1280×720)" from what the video's header said; empty when it said nothing."""
    extra = data.model_extra or {}
    parts = []
    if extra.get("duration_s") is not None:
        parts.append(f"{extra['duration_s']:g} s")
    if extra.get("width") and extra.get("height"):
        parts.append(f"{extra['width']}×{extra['height']}")
    return f" ({', '.join(parts)})" if parts else ""
