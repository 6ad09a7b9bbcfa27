"""The gallery's own tools (MCP Apps, ``_meta.ui.visibility = ["app"]``): called by the view, never listed to the model.

Each returns a job result like generate_image's and goes through the same checks and spend guard as the model's
tools (vary starts its job the way generate_image does; upscale and animate call enhance_image and generate_video
themselves), so credits are spent only when the person clicks.
"""

from __future__ import annotations

import json
from typing import Annotated, Any

from mcp.server.mcpserver import Context
from mcp.server.mcpserver.exceptions import ToolError
from mcp.server.mcpserver.tools import Tool
from mcp.types import CallToolResult, TextContent
from pydantic import Field

from krea_mcp.errors import InvalidRequestError, KreaError
from krea_mcp.server.calls import progress, reply, start_job, state, tool_errors
from krea_mcp.server.gallery import GALLERY_URI, requests_of
from krea_mcp.server.tool_kit import JobId, make_tool
from krea_mcp.settings import Settings

Index = Annotated[int, Field(ge=0, le=63, description="0-based index of the job's image")]
_APP_ONLY = {"ui": {"resourceUri": GALLERY_URI, "visibility": ["app"]}}


def build(settings: Settings) -> list[Tool]:
    """The gallery's tools that the offered groups support (KREA_TOOLS): upscale needs enhance, animate video."""
    groups = set(settings.tools)

    async def gallery_vary(job_id: JobId, ctx: Context[Any, Any]) -> CallToolResult:
        import secrets
        from dataclasses import replace

        app = state(ctx)
        with tool_errors(job_id=job_id):
            service = await app.service()
            request, record = await _request_of(ctx, job_id)
            if request.kind not in ("image", "video"):
                raise InvalidRequestError(
                    f"Job {job_id} ({request.kind}) was not made from a prompt; vary makes a new image or video from "
                    "one: vary the job it came from."
                )
            group = "generate" if request.kind == "image" else "video"
            if group not in groups:
                raise InvalidRequestError(f"This server does not offer {group} (KREA_TOOLS); vary cannot run.")
            takes_seed = "seed" in service.catalog.find(request.model, request.kind).properties
            varied = replace(request, seed=secrets.randbelow(2**32) if takes_seed else None)
        with tool_errors():  # a new job: a refusal is about it, not about the job it varies
            outcome = await start_job(ctx, varied, wait=True)
            if record is not None and requests_of(app).get(job_id, record.caller) is None:
                outcome.notes.append("Varied from the job's prompt and model (its other settings are not known here).")
        return await reply(ctx, outcome)

    async def gallery_upscale(job_id: JobId, index: Index, ctx: Context[Any, Any]) -> CallToolResult:
        url = await _image_url(ctx, job_id, index)
        result = await _call(ctx, "enhance_image", {"image": url, "scale": 2})
        made = (result.structured_content or {}).get("job_id")
        try:
            prompt = await _prompt_of(ctx, job_id)
        except KreaError:  # a job this server did not start: the upscale keeps its own caption
            return result
        if made and prompt:  # the upscale's card is captioned with the prompt of the image it came from
            requests_of(state(ctx)).made_from(made, prompt)
        return result

    async def gallery_animate(job_id: JobId, index: Index, ctx: Context[Any, Any]) -> CallToolResult:
        url = await _image_url(ctx, job_id, index)
        with tool_errors(job_id=job_id):
            prompt = await _prompt_of(ctx, job_id)
            if not prompt:
                raise InvalidRequestError(
                    f"Job {job_id} has no prompt known here to animate its image with (an upscale of an image this "
                    "server did not make): animate the image it came from, or call generate_video with a prompt.",
                    field="job_id",
                )
        return await _call(ctx, "generate_video", {"prompt": prompt, "start_image": url})

    async def gallery_save(job_id: JobId, ctx: Context[Any, Any]) -> CallToolResult:
        app = state(ctx)
        if app.settings.multi_user:
            raise ToolError(
                "Saving is off on this server (it serves many users, so it writes nothing to its disk). Open or "
                "download the image from its URL instead."
            )
        folder = app.settings.resolved_output_dir()
        with tool_errors(job_id=job_id):
            outcome = await (await app.service()).wait(
                job_id, app.settings.wait_s, progress=progress(ctx), save_to=str(folder)
            )
        return await reply(ctx, outcome)

    async def gallery_details(job_id: JobId, ctx: Context[Any, Any]) -> CallToolResult:
        with tool_errors(job_id=job_id):
            request, record = await _request_of(ctx, job_id)
            app = state(ctx)
            details = _details(await app.service(), job_id, request, record)
            if details["kind"] == "enhance":
                details["prompt"] = requests_of(app).origin_prompt(job_id)
            details["actions"] = _actions(app.settings, details["kind"], has_prompt=bool(details["prompt"]))
        return CallToolResult(content=[TextContent(text=json.dumps(details))], structured_content=details)

    tools = [
        make_tool(
            gallery_vary, "Gallery: the same prompt, model and settings as the job, with a new seed.", read_only=False
        ),
        make_tool(gallery_save, "Gallery: save the job's results into the server's output folder.", read_only=False),
        make_tool(
            gallery_details, "Gallery: the job's prompt, model, kind, seed and size, for its card.", read_only=True
        ),
    ]
    if "enhance" in groups:
        tools.append(make_tool(gallery_upscale, "Gallery: upscale one image of the job 2x.", read_only=False))
    if "video" in groups:
        tools.append(make_tool(gallery_animate, "Gallery: animate one image of the job into a video.", read_only=False))
    return [t.model_copy(update={"meta": _APP_ONLY}) for t in tools]


def _actions(settings: Settings, kind: str, *, has_prompt: bool) -> list[str]:
    """The view's buttons that can work for a job of ``kind`` on this server: a tool for each (KREA_TOOLS), saving
    only where it is allowed, vary only for a job made from a prompt, nothing that needs an image for a video."""
    groups = set(settings.tools)
    actions = ["copy", "open"]
    if kind in ("image", "video") and ("generate" if kind == "image" else "video") in groups:
        actions.append("vary")
    if not settings.multi_user:
        actions.append("save")
    if kind != "video" and "enhance" in groups:
        actions.append("upscale")
    if kind != "video" and "video" in groups and has_prompt:
        actions.append("animate")
    return actions


async def _prompt_of(ctx: Context[Any, Any], job_id: str) -> str | None:
    """The prompt a job's image was made from: its own, or for an upscale the prompt of the image it came from."""
    request, _ = await _request_of(ctx, job_id)
    if request.kind == "enhance":
        return requests_of(state(ctx)).origin_prompt(job_id)
    return str(request.prompt) if request.prompt else None


async def _request_of(ctx: Context[Any, Any], job_id: str) -> tuple[Any, Any]:
    """What the job was asked for (this server's record of it) and its record; refused for a job this deployment did
    not start for the caller. Without the full request (another worker started it), its prompt and model."""
    from krea_mcp.krea.caller import caller_key

    app = state(ctx)
    service = await app.service()
    record = await service.load_record(job_id)
    request = requests_of(app).get(job_id, caller_key())
    if request is not None:
        return request, record
    if record is None:
        raise InvalidRequestError(
            f"Job {job_id} was not started through this server (or not by you), so its prompt and settings are not "
            "known here.",
            field="job_id",
        )
    if requests_of(app).known(job_id, caller_key()) and record.kind == "image":
        raise InvalidRequestError(
            f"Job {job_id} was sent inline images too large to keep for the gallery; call generate_image again with "
            "them.",
            field="job_id",
        )
    return _from_record(record), record


def _from_record(record: Any) -> Any:
    """A request rebuilt from a job's record: its prompt and model only."""
    if record.kind == "video":
        from krea_mcp.catalog.video_params import VideoParams

        return VideoParams(prompt=record.prompt, model=record.model)
    if record.kind == "image":
        from krea_mcp.catalog.image_params import GenerateParams

        return GenerateParams(prompt=record.prompt, model=record.model)
    return _Described(record.kind, record.model, record.prompt)


class _Described:
    """A job of another kind (enhance, style training): only what its record says."""

    seed = None
    width = None
    height = None

    def __init__(self, kind: str, model: str, prompt: str) -> None:
        self.kind, self.model, self.prompt = kind, model, prompt


def _details(service: Any, job_id: str, request: Any, record: Any) -> dict[str, Any]:
    width, height = getattr(request, "width", None), getattr(request, "height", None)
    if width is None and record is not None and record.expected_size is not None:
        width, height = record.expected_size
    if width is None and request.kind == "image":
        width, height = _body_size(service, request)
    return {
        "job_id": job_id,
        "prompt": request.prompt,
        "model": record.model if record is not None else request.model,
        "kind": request.kind,
        "seed": getattr(request, "seed", None),
        "width": width,
        "height": height,
    }


def _body_size(service: Any, request: Any) -> tuple[int | None, int | None]:
    """The width and height the request's body asks for, when the model takes a size in pixels."""
    from krea_mcp.catalog.job_kinds import adapter_for

    try:
        operation = service.catalog.find(request.model, request.kind)
        body = adapter_for(operation.kind).build(operation, request)
    except Exception:
        return None, None
    width, height = body.get("width"), body.get("height")
    return (width, height) if isinstance(width, int) and isinstance(height, int) else (None, None)


async def _image_url(ctx: Context[Any, Any], job_id: str, index: int) -> str:
    """The job's image ``index``, refused before anything is spent for a video or a job not finished."""
    with tool_errors(job_id=job_id):
        service = await state(ctx).service()
        outcome = await service.get(job_id)
    record = service.records.get(job_id)
    if (record is not None and record.kind == "video") or any(_is_video(u) for u in outcome.job.urls):
        raise ToolError(f"Job {job_id} is a video: upscale and animate take an image. Nothing was started.")
    urls = outcome.job.urls
    if outcome.job.status != "completed" or not urls:
        raise ToolError(f"Job {job_id} is {outcome.job.status}: it has no image yet.")
    if index >= len(urls):
        raise ToolError(f"Job {job_id} has {len(urls)} image(s): index {index} is out of range (0-based).")
    return urls[index]


def _is_video(url: str) -> bool:
    import mimetypes

    return (mimetypes.guess_type(url.split("?", 1)[0])[0] or "").startswith("video/")


async def _call(ctx: Context[Any, Any], tool: str, arguments: dict[str, Any]) -> CallToolResult:
    """Run one of the model's tools for the view, with its own checks (the same arguments the model could send)."""
    result = await ctx.mcp_server.call_tool(tool, arguments, ctx)
    assert isinstance(result, CallToolResult)
    return result
