"""The enhance group: ``enhance_image`` (Topaz upscaling and enhancement through Krea)."""

from contextlib import nullcontext
from typing import Annotated, Any

from mcp.server.mcpserver import Context
from mcp.server.mcpserver.tools import Tool
from mcp.types import CallToolResult
from pydantic import Field

from krea_mcp.errors import InvalidRequestError
from krea_mcp.server.calls import client_folder, reply, start_job, state, tool_errors
from krea_mcp.server.tool_kit import ImageRef, SaveTo, make_tool
from krea_mcp.settings import Settings


def build(settings: Settings) -> list[Tool]:
    """This group's tools, for these settings.

    enhance_image has no outputSchema (its structuredContent is the job object generate_image's schema describes):
    the bytes go to what agents need to know. Rarely used settings (prompt, output_format, the enhancer's own
    sliders) go in ``options``, checked against the enhancer's schema.
    """

    async def enhance_image(
        image: Annotated[ImageRef, Field(description="URL, local path, data: URI, or a job_id")],
        ctx: Context[Any, Any],
        scale: Annotated[float | None, Field(ge=1, le=32, allow_inf_nan=False, description="Default 2")] = None,
        long_side: Annotated[int | None, Field(ge=1, le=32_000, description="Or: output long side, px")] = None,
        enhancer: Annotated[
            str | None,
            Field(max_length=60, description="standard (default, faithful), generative or bloom (add detail)"),
        ] = None,
        model: Annotated[str | None, Field(max_length=40, description="Enhancer's model, e.g. Redefine")] = None,
        options: Annotated[dict[str, Any] | None, Field(description="prompt, output_format, creativity...")] = None,
        wait: Annotated[bool, Field(description="false: return job_id at once")] = True,
        save_to: SaveTo = None,
    ) -> CallToolResult:
        import anyio

        from krea_mcp.catalog.enhance_params import ENHANCERS, EnhanceParams, find_enhancer, topaz_model
        from krea_mcp.workflow.enhance_source import read_source
        from krea_mcp.workflow.image_inputs import holding

        app = state(ctx)
        deadline = anyio.current_time() + app.settings.wait_s  # one deadline: reading the image comes out of it
        with tool_errors():
            service = await app.service()
            chosen = (enhancer or ENHANCERS[0]).strip()
            # What can be checked without the image is checked before it is read (a URL may take seconds).
            operation = find_enhancer(service.catalog, chosen)
            topaz_model(operation, model)
            if scale is not None and long_side is not None:
                raise InvalidRequestError(
                    f"scale={scale:g} and long_side={long_side}: give one of them, not both (scale multiplies the "
                    "input's size; long_side sets the output's longer side in pixels).",
                    field="scale",
                )
            granted = await client_folder(ctx, save_to)
            if service.delivery is not None:
                service.delivery.target(save_to, granted=granted)
            extra = dict(options or {})
            wanted = _format_of(save_to)
            from_save_to = wanted is not None and "output_format" not in extra
            if from_save_to:
                extra["output_format"] = wanted
            source = await read_source(service, image, deadline=deadline)
            params = EnhanceParams(
                image=source.ref,
                input_size=source.size,
                enhancer=chosen,
                scale=scale,
                long_side=long_side,
                topaz_model=model,
                options=extra,
                source=source.name,
                source_note=source.note,
                format_from_save_to=from_save_to,
            )
            with holding(source.ref, source.data) if source.data is not None else nullcontext():
                outcome = await start_job(ctx, params, wait=wait, save_to=save_to, deadline=deadline, granted=granted)
        return await reply(ctx, outcome)

    def enhancer_field_hint(name: str, arguments: dict[str, Any]) -> str | None:
        """Where the chosen enhancer takes a setting sent at the top level (only a field it really has)."""
        from krea_mcp.catalog.enhance_params import ENHANCERS, OWN_FIELDS
        from krea_mcp.catalog.image_params import suggest_field
        from krea_mcp.catalog.models import load_catalog
        from krea_mcp.errors import KreaError

        try:
            info = load_catalog().find(str(arguments.get("enhancer") or ENHANCERS[0]), "enhance")
        except KreaError:
            return None
        found = suggest_field(info, name)  # outputFormat -> output_format
        if found in OWN_FIELDS:
            return f"use {OWN_FIELDS[found].split(' or ')[0]!r}"
        if found is not None:
            return f"the {info.aliases[0]} enhancer takes it as options.{found}: pass options={{{found!r}: ...}}"
        return None

    return [
        make_tool(
            enhance_image,
            "Upscale/enhance an image (Topaz) to scale x or long_side px, from its real size; limits checked first. "
            f"Waits up to {settings.wait_s:g} s, else returns job_id.",
            read_only=False,
        ).model_copy(update={"field_hint": enhancer_field_hint})
    ]


#: The enhancers' output formats, by the file suffix save_to may end in.
_FORMATS = {".png": "png", ".jpg": "jpg", ".jpeg": "jpg", ".webp": "webp"}


def _format_of(save_to: str | None) -> str | None:
    """The output format a save_to file name asks for (None for a directory or no save_to)."""
    if not save_to:
        return None
    suffix = "." + save_to.strip().rsplit(".", 1)[-1].lower() if "." in save_to.strip()[-6:] else ""
    return _FORMATS.get(suffix)
