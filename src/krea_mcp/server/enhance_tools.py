"""The enhance group: ``enhance_image`` (Topaz upscaling and enhancement through Krea)."""

from typing import Annotated, Any

from mcp.server.mcpserver import Context
from mcp.server.mcpserver.tools import Tool
from mcp.types import CallToolResult
from pydantic import Field

from krea_mcp.server.calls import client_folder, on_created, progress, reply, state, tool_errors
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
        from krea_mcp.catalog.enhance_params import ENHANCERS, EnhanceParams, find_enhancer
        from krea_mcp.workflow.enhance_source import read_source

        app = state(ctx)
        with tool_errors():
            service = await app.service()
            chosen = (enhancer or ENHANCERS[0]).strip()
            find_enhancer(service.catalog, chosen)  # an unknown enhancer is refused before the image is read
            source = await read_source(service, image)
            params = EnhanceParams(
                image=source.ref,
                input_size=source.size,
                enhancer=chosen,
                scale=scale,
                long_side=long_side,
                topaz_model=model,
                options=options or {},
                source=source.name,
                source_note=source.note,
            )
            outcome = await service.generate(
                params,
                wait=wait,
                deadline_s=app.settings.wait_s,
                progress=progress(ctx),
                save_to=save_to,
                on_created=on_created(ctx),
                granted=await client_folder(ctx, save_to),
            )
        return await reply(ctx, outcome)

    return [
        make_tool(
            enhance_image,
            "Upscale/enhance an image (Topaz) to scale x or long_side px, from its real size; limits checked first. "
            f"Waits up to {settings.wait_s:g} s, else returns job_id.",
            read_only=False,
        )
    ]
