"""The video group: ``generate_video`` (every Krea video model, from a prompt or from images)."""

from typing import Annotated, Any

from mcp.server.mcpserver import Context
from mcp.server.mcpserver.tools import Tool
from mcp.types import CallToolResult
from pydantic import Field

from krea_mcp.server.calls import reply, start_job, state, tool_errors
from krea_mcp.server.tool_kit import ImageRef, SaveTo, make_tool
from krea_mcp.settings import Settings


def build(settings: Settings) -> list[Tool]:
    """This group's tools, for these settings.

    generate_video has no outputSchema (its structuredContent is the job object generate_image's schema describes,
    with ``duration_s``, ``width`` and ``height`` of the video): the bytes go to what agents need to know. It has no
    ``negative_prompt``: no video model in Krea's spec takes one, and an argument every model refuses is noise.
    """
    default = settings.default_video_model  # as configured: no catalog is loaded to list the tools

    async def generate_video(
        prompt: Annotated[str, Field(min_length=1, max_length=10_000)],
        ctx: Context[Any, Any],
        model: Annotated[str | None, Field(min_length=1, max_length=100, description=f"Default {default}")] = None,
        duration_s: Annotated[float | None, Field(gt=0, le=60, allow_inf_nan=False)] = None,
        aspect_ratio: Annotated[str | None, Field(max_length=12)] = None,
        resolution: Annotated[str | None, Field(max_length=8, description="e.g. 720p")] = None,
        start_image: Annotated[
            ImageRef | None, Field(description="First frame: URL, path, data: URI or job_id")
        ] = None,
        end_image: Annotated[ImageRef | None, Field(description="Last frame, same forms")] = None,
        generate_audio: bool | None = None,
        seed: Annotated[int | None, Field(ge=0, le=2**32 - 1)] = None,
        options: Annotated[dict[str, Any] | None, Field(description="Other fields of the model (list_models)")] = None,
        wait: Annotated[bool, Field(description="false: return job_id at once")] = True,
        save_to: SaveTo = None,
    ) -> CallToolResult:
        import anyio

        from krea_mcp.catalog.video_params import VideoParams, takes_frame
        from krea_mcp.workflow.enhance_source import JOB_ID, job_image

        app = state(ctx)
        deadline = anyio.current_time() + app.settings.wait_s
        with tool_errors():
            service = await app.service()
            chosen = model or app.settings.default_video_model
            operation = _video_model(service.catalog, chosen)  # refused before any job is looked up
            frames: dict[str, str | None] = {"start_image": start_image, "end_image": end_image}
            notes = []
            for name, value in frames.items():
                if value is not None:
                    takes_frame(operation, name)  # a model without the frame refuses it before any lookup
                if value is not None and JOB_ID.match(value.strip()):  # a previous image job: its first image
                    frames[name], note = await job_image(service, value, name, verb="animate")
                    notes.append(note)
            params = VideoParams(
                prompt=prompt,
                model=chosen,
                duration_s=duration_s,
                aspect_ratio=aspect_ratio,
                resolution=resolution,
                start_image=frames["start_image"],
                end_image=frames["end_image"],
                generate_audio=generate_audio,
                seed=seed,
                options=options or {},
            )
            outcome = await start_job(ctx, params, wait=wait, save_to=save_to, deadline=deadline)
            outcome.notes.extend(n for n in notes if n)
        return await reply(ctx, outcome)

    def video_field_hint(name: str, arguments: dict[str, Any]) -> str | None:
        """Where the chosen video model takes a setting sent at the top level (only a field it really has)."""
        from krea_mcp.catalog.image_params import suggest_field
        from krea_mcp.catalog.models import load_catalog
        from krea_mcp.catalog.video_params import option_fields, owned_fields
        from krea_mcp.errors import KreaError

        try:
            info = load_catalog().find(str(arguments.get("model") or settings.default_video_model), "video")
        except KreaError:
            return None
        found = suggest_field(info, name)  # durationSeconds -> duration, which duration_s sets
        owned = owned_fields(info)
        if found in owned:
            return f"use {owned[found]!r}"
        others = option_fields(info)
        if found in others:
            return f"model {info.id} takes it as options.{found}: pass options={{{found!r}: ...}}"
        return f"model {info.id} has no such setting either (its other fields, for options: {', '.join(others)})"

    return [
        make_tool(
            generate_video,
            "Generate a video from a prompt or start/end images (models: list_models kind=video); checked first. "
            f"Takes minutes: waits {settings.wait_s:g} s, else returns job_id for wait_for_job.",
            read_only=False,
        ).model_copy(update={"field_hint": video_field_hint})
    ]


def _video_model(catalog: Any, name: str) -> Any:
    """The video model ``name`` means; an image model's name is refused pointing to generate_image."""
    from krea_mcp.errors import InvalidRequestError, KreaError, UnknownModelError

    try:
        return catalog.find(name, "video")
    except UnknownModelError as missing:
        try:
            image = catalog.find(name, "image")
        except KreaError:
            raise missing from None
        raise InvalidRequestError(
            f"model={name!r} is {image.id}, an image model: generate_image makes images; for a video pick a video "
            "model (list_models with kind='video'), and pass an image as start_image to animate it.",
            field="model",
        ) from None
