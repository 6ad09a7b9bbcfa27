"""The styles and training groups: ``list_styles`` and ``train_style``; and ``StyleChoice``, the items of
generate_image's ``styles`` argument."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Annotated, Any, Literal

from mcp.server.mcpserver import Context
from mcp.server.mcpserver.tools import Tool
from mcp.types import CallToolResult, TextContent
from pydantic import BaseModel, ConfigDict, Field, WithJsonSchema

from krea_mcp.server.calls import reply, start_job, state, tool_errors
from krea_mcp.server.tool_kit import ImageRef, make_tool
from krea_mcp.settings import Settings

if TYPE_CHECKING:
    from krea_mcp.workflow.style_book import StylePage

#: Characters of a style's suggested prompt shown per line.
PROMPT_SHOWN = 80


class StyleChoice(BaseModel):
    """One trained style (LoRA) to apply: its id from list_styles, and how strongly (1 by default)."""

    model_config = ConfigDict(extra="forbid")

    id: Annotated[str, Field(min_length=1, max_length=100, pattern=r"^[A-Za-z0-9_-]+$")]
    strength: Annotated[float, Field(ge=-2, le=2, allow_inf_nan=False)] = 1.0


#: generate_image's ``styles``: validated as ``StyleChoice`` items, advertised inline (no ``$defs``: every byte of
#: tools/list is paid in context); unknown keys and the id's form are still refused when a call arrives.
StyleChoices = Annotated[
    list[StyleChoice],
    Field(max_length=10),
    WithJsonSchema(
        {
            "items": {
                "properties": {"id": {"type": "string"}, "strength": {"maximum": 2, "minimum": -2, "type": "number"}},
                "required": ["id"],
                "type": "object",
            },
            "maxItems": 10,
            "type": "array",
        }
    ),
]


def build(settings: Settings) -> list[Tool]:
    """This group's tools, for these settings."""

    async def list_styles(
        ctx: Context[Any, Any],
        filter: Literal["all", "mine", "krea", "community", "shared", "liked"] = "all",
        model: Annotated[str | None, Field(max_length=100, description="Base or image model")] = None,
        title: Annotated[str | None, Field(max_length=200)] = None,
        limit: Annotated[int, Field(ge=1, le=50)] = 20,
        cursor: Annotated[str | None, Field(max_length=2000)] = None,
    ) -> CallToolResult:
        with tool_errors():
            app = state(ctx)
            book = (await app.service()).styles
            assert book is not None  # every served JobService has one (workflow.assembly)
            page = await book.page(
                filter=filter, model=model, title=title, limit=limit, cursor=cursor, deadline_s=app.settings.wait_s
            )
        return styles_result(page)

    async def train_style(
        name: Annotated[str, Field(min_length=1, max_length=200)],
        images: Annotated[list[ImageRef], Field(min_length=1, max_length=50)],
        ctx: Context[Any, Any],
        model: Literal["flux_dev", "flux_schnell", "wan", "wan22", "qwen", "z-image"] = "flux_dev",
        type: Literal["Style", "Object", "Character", "Default"] | None = None,
        trigger_word: Annotated[str | None, Field(max_length=100)] = None,
        steps: Annotated[int | None, Field(ge=1, le=2000)] = None,
        wait: bool = False,
    ) -> CallToolResult:
        from krea_mcp.catalog.training_params import TrainParams

        params = TrainParams(name, list(images), model, type, trigger_word, steps)
        with tool_errors():
            outcome = await start_job(ctx, params, wait=wait, granted=None)
        return await reply(ctx, outcome)

    return [
        make_tool(
            list_styles,
            "Trained styles (LoRAs) for generate_image's styles: id, title, bases, prompt. title: substring.",
            read_only=True,
        ),
        make_tool(
            train_style,
            "Train a style (LoRA) from images (as generate_image's); paid per step, slow: wait_for_job gives style_id.",
            read_only=False,
        ),
    ]


def styles_result(page: StylePage) -> CallToolResult:
    """One line per style (id · title · bases · owner · suggested prompt), the next cursor; the same as data."""
    count = len(page.styles)
    if count:
        head = (
            f"{count} style{'s' if count != 1 else ''}, newest first (id · title · bases · owner · prompt). Apply: "
            'generate_image(styles=[{"id": ..., "strength": 1}]) with a model of its base (flux_dev: flux, qwen: '
            "qwen, z-image: z-image)."
        )
    else:
        head = "No styles found."
    lines = [head]
    for style in page.styles:
        shown = style.prompt if len(style.prompt) <= PROMPT_SHOWN else style.prompt[: PROMPT_SHOWN - 1] + "…"
        bases, prompt = ",".join(style.models) or "?", json.dumps(shown, ensure_ascii=False)
        lines.append(f"{style.id} · {style.title} · {bases} · {style.owner_label} · {prompt}")
    if page.note:
        lines.append(page.note)
    more = f'cursor="{page.next_cursor}" (same filter, model and title)'
    if page.stopped_s is not None:
        lines.append(
            f"Stopped at the {page.stopped_s:g} s this call may take (KREA_WAIT_S) after searching {page.searched} "
            f"styles, before the end of the list; pass {more} to go on."
        )
    elif page.bounded:
        lines.append(f"Searched {page.searched} styles without reaching the end of the list; pass {more} to go on.")
    elif page.next_cursor:
        lines.append(f"More: pass {more}.")
    rows = [
        {"id": s.id, "title": s.title, "models": list(s.models), "prompt": s.prompt, "owner": s.owner_label}
        for s in page.styles
    ]
    return CallToolResult(
        content=[TextContent(text="\n".join(lines))],
        structured_content={"styles": rows, "next_cursor": page.next_cursor},
    )
