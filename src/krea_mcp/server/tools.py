"""The tools: each parses its arguments and calls one workflow method; schemas are compact, errors explained.

The generate, jobs and models groups live here; each other group has its own module (``enhance_tools``,
``style_tools``), registered through the same ``tool_kit``.
"""

from typing import Annotated, Any, Literal

from mcp.server.mcpserver import Context
from mcp.server.mcpserver.tools import Tool
from mcp.types import CallToolResult
from pydantic import Field

from krea_mcp.errors import KreaError
from krea_mcp.server.calls import client_folder, progress, reply, start_job, state, tool_errors
from krea_mcp.server.style_tools import StyleChoices
from krea_mcp.server.tool_kit import JobId, JobToolResult, SaveTo
from krea_mcp.server.tool_kit import make_tool as _tool
from krea_mcp.settings import TOOL_GROUPS, Settings


def build_tools(settings: Settings) -> list[Tool]:
    """Every tool of the server, for these settings (their descriptions name the configured wait)."""

    async def generate_image(
        prompt: Annotated[str, Field(min_length=1, max_length=10_000)],
        ctx: Context[Any, Any],
        model: Annotated[
            str | None,
            Field(min_length=1, max_length=100, description=f"Model id or alias; default {settings.default_model}"),
        ] = None,
        width: Annotated[int | None, Field(ge=16, le=8192)] = None,
        height: Annotated[int | None, Field(ge=16, le=8192)] = None,
        aspect_ratio: Annotated[str | None, Field(max_length=12, description="e.g. 16:9")] = None,
        resolution: Literal["1K", "2K", "4K"] | None = None,
        seed: Annotated[int | None, Field(ge=0, le=2**32 - 1)] = None,
        steps: Annotated[int | None, Field(ge=1, le=200)] = None,
        negative_prompt: Annotated[str | None, Field(max_length=5_000)] = None,
        strength: Annotated[float | None, Field(ge=-2, le=2, allow_inf_nan=False, description="Edit strength")] = None,
        images: Annotated[
            list[Annotated[str, Field(min_length=1, max_length=14_000_000)]] | None,
            Field(max_length=16, description="Input/reference images: URLs, local paths or data: URIs"),
        ] = None,
        style_images: Annotated[
            list[Annotated[str, Field(min_length=1, max_length=14_000_000)]] | None,
            Field(max_length=16, description="Style references, same forms"),
        ] = None,
        options: Annotated[dict[str, Any] | None, Field(description="Other fields of the model (list_models)")] = None,
        wait: Annotated[bool, Field(description="false: return job_id at once")] = True,
        save_to: SaveTo = None,
        styles: StyleChoices | None = None,
    ) -> JobToolResult:
        from krea_mcp.catalog.image_params import GenerateParams

        app = state(ctx)
        params = GenerateParams(
            prompt=prompt,
            model=model or app.settings.default_model,
            width=width,
            height=height,
            aspect_ratio=aspect_ratio,
            resolution=resolution,
            seed=seed,
            steps=steps,
            negative_prompt=negative_prompt,
            strength=strength,
            images=images or [],
            style_images=style_images or [],
            options=options or {},
            styles=[choice.model_dump() for choice in styles or []],
        )
        with tool_errors():
            outcome = await start_job(ctx, params, wait=wait, save_to=save_to)
        return await reply(ctx, outcome)

    # get_job and wait_for_job return the job object generate_image's outputSchema describes, without repeating
    # that schema (about 400 bytes each of every tools/list): the budget goes to what agents need to know.
    async def get_job(job_id: JobId, ctx: Context[Any, Any]) -> CallToolResult:
        with tool_errors(job_id=job_id):
            outcome = await (await state(ctx).service()).get(job_id)
        return await reply(ctx, outcome)

    async def wait_for_job(
        job_id: JobId,
        ctx: Context[Any, Any],
        timeout_s: Annotated[float | None, Field(gt=0, le=600, allow_inf_nan=False)] = None,
        save_to: SaveTo = None,
    ) -> CallToolResult:
        app = state(ctx)
        with tool_errors(job_id=job_id):
            outcome = await (await app.service()).wait(
                job_id,
                timeout_s or app.settings.wait_s,
                progress=progress(ctx),
                save_to=save_to,
                granted=await client_folder(ctx, save_to),
            )
        return await reply(ctx, outcome)

    # No outputSchema (its structuredContent is the same job object): the bytes go to what agents need to know.
    async def cancel_job(job_id: JobId, ctx: Context[Any, Any]) -> CallToolResult:
        with tool_errors(job_id=job_id):
            outcome, _ = await (await state(ctx).service()).cancel(job_id)
        return await reply(ctx, outcome, cancel_request=True)

    async def list_jobs(
        ctx: Context[Any, Any],
        limit: Annotated[int, Field(ge=1, le=50)] = 10,
    ) -> CallToolResult:
        from krea_mcp.server.tool_results import jobs_list_result

        with tool_errors():
            items, note = await (await state(ctx).service()).recent(limit)
        return jobs_list_result(items, note)

    async def list_models(
        model: Annotated[str | None, Field(max_length=100, description="Id or alias: show its full parameters")] = None,
        kind: Literal["image", "video"] = "image",
    ) -> str:
        from krea_mcp.catalog.models import load_catalog
        from krea_mcp.catalog.views import compact_list, compact_video_list, model_detail

        catalog = load_catalog()
        if model is None:
            if kind == "video":
                return compact_video_list(catalog, settings.default_video_model)
            return compact_list(catalog, settings.default_model)
        with tool_errors():
            return model_detail(_any_kind(catalog, model, kind))

    def model_field_hint(name: str, arguments: dict[str, Any]) -> str | None:
        """Where the chosen model takes a setting sent at the top level (only a field it really has)."""
        from krea_mcp.catalog.image_params import argument_for, option_fields, suggest_field
        from krea_mcp.catalog.models import load_catalog

        try:
            info = load_catalog().find(str(arguments.get("model") or settings.default_model))
        except KreaError:
            return None
        found = suggest_field(info, name)
        argument = argument_for(found) if found else None
        if argument is not None:
            return f"use {argument!r}"
        if found is not None:
            return f"model {info.id} takes it as options.{found}: pass options={{{found!r}: ...}}"
        own = ", ".join(option_fields(info)) or "none"
        return f"model {info.id} has no such setting either (its other fields, for options: {own})"

    wait_s = f"{settings.wait_s:g}"
    tools = [
        _tool(
            generate_image,
            f"Generate an image with Krea; returns its URLs. Checked first: a bad call costs nothing. Waits up to "
            f"{wait_s} s, else returns job_id: then call wait_for_job.",
            read_only=False,
        ).model_copy(update={"field_hint": model_field_hint}),
        _tool(get_job, "Check a job once: status, and image URLs when completed.", read_only=True),
        _tool(
            wait_for_job,
            f"Wait up to timeout_s (default {wait_s}) for a job, with progress; returns URLs or the status (call "
            "again). Never cancels the job.",
            read_only=False,  # with save_to it writes files
        ),
        _tool(
            cancel_job,
            "Cancel a running job (not charged). A finished job is left alone.",
            read_only=False,
            destructive=True,
        ),
        _tool(
            list_jobs,
            "Recent jobs (id, status, model, age, prompt), newest first: finds a job whose call was cut off.",
            read_only=True,
        ),
        _tool(
            list_models,
            "Krea image (or kind=video) models: id, aliases, time, price, inputs. With model: its parameters.",
            read_only=True,
            structured=False,  # the catalog as text: a JSON copy would double it
        ),
    ]
    from krea_mcp.server import enhance_tools, style_tools, video_tools

    tools += enhance_tools.build(settings) + style_tools.build(settings) + video_tools.build(settings)
    offered = {name for group in settings.tools for name in TOOL_GROUPS[group]}  # KREA_TOOLS
    return [tool for tool in tools if tool.name in offered]


def _any_kind(catalog: Any, model: str, kind: str) -> Any:
    """The model ``model`` names, looked up in ``kind`` first, then among the other kind (image or video)."""
    from krea_mcp.errors import UnknownModelError

    other = "image" if kind == "video" else "video"
    try:
        return catalog.find(model, kind)
    except UnknownModelError:
        try:
            return catalog.find(model, other)
        except UnknownModelError:
            pass
        raise
