"""Context cost: bytes an agent pays for tools/list (with each tool group setting), a one-image job result, and
the compact list_models."""

from __future__ import annotations

import json
from typing import Any

import anyio
from mcp import Client

from krea_mcp.fake_api import FakeKrea
from krea_mcp.server.app import create_server
from krea_mcp.settings import Settings


def _size(obj: Any) -> int:
    """UTF-8 bytes of the JSON a client receives for this result (camelCase, nulls dropped)."""
    return len(
        json.dumps(obj.model_dump(mode="json", by_alias=True, exclude_none=True), separators=(",", ":")).encode()
    )


#: KREA_TOOLS settings measured: unset (the default), every group, the issue's example, and minimal surfaces.
GROUP_SETTINGS = (
    "",
    "all",
    "generate,enhance,styles,training,jobs,models",
    "generate,enhance,styles,jobs,models",
    "generate,enhance,styles,jobs",
    "generate,jobs",
    "enhance,jobs",
    "video,jobs",
    "styles",
    "models",
)


def _sdk_default_tools_bytes(groups: str = "all") -> int:
    """Baseline: the same tools as the SDK advertises them by default (no schema compaction, titles kept)."""
    from mcp.server.mcpserver.tools import Tool

    from krea_mcp.server.tools import build_tools

    raw = []
    for tool in build_tools(_settings(groups)):
        full = Tool.from_function(tool.fn, title=tool.name.replace("_", " ").capitalize())
        raw.append(
            {"name": full.name, "title": full.title, "description": tool.description, "inputSchema": full.parameters}
            | ({"outputSchema": full.output_schema} if full.output_schema else {})
            | {
                "annotations": {
                    "readOnlyHint": False,
                    "destructiveHint": False,
                    "idempotentHint": False,
                    "openWorldHint": True,
                }
            }
        )
    return len(json.dumps({"tools": raw}, separators=(",", ":")).encode())


def _sdk_default_result_bytes(result: Any) -> int:
    """Baseline: the same result as the SDK sends a returned pydantic model: its JSON as the text content."""
    dump = result.model_dump(mode="json", by_alias=True, exclude_none=True)
    dump["content"] = [{"type": "text", "text": json.dumps(result.structured_content, indent=2)}]
    return len(json.dumps(dump, separators=(",", ":")).encode())


def _settings(groups: str, **values: Any) -> Settings:
    """Settings with KREA_TOOLS=``groups`` ("" for the default)."""
    if groups:
        values["tools"] = groups
    return Settings(_env_file=None, **values)  # type: ignore[call-arg]


async def tools_by_groups() -> dict[str, tuple[int, int, int, bool]]:
    """For each KREA_TOOLS setting: (tools offered, tools/list bytes as the client receives them, SDK baseline,
    whether generate_video is among them)."""
    out: dict[str, tuple[int, int, int, bool]] = {}
    for groups in GROUP_SETTINGS:
        async with Client(create_server(_settings(groups, api_token="bench"))) as client:
            tools = await client.list_tools()
        video = any(tool.name == "generate_video" for tool in tools.tools)
        out[groups] = (len(tools.tools), _size(tools), _sdk_default_tools_bytes(groups), video)
    return out


async def measure() -> dict[str, int]:
    """Sizes as the client receives them; the preview case uses a realistic 1024x1024 noisy image."""
    fake = FakeKrea(token="bench", job_duration_s=0.05, image_size=(1024, 1024), image_noise=True)
    out: dict[str, int] = {}
    for preview in ("off", "thumbnail"):
        settings = Settings(  # type: ignore[call-arg]
            _env_file=None, api_token="bench", poll_interval_s=0.02, preview=preview
        )
        async with Client(create_server(settings, transport=fake.transport())) as client:
            tools = await client.list_tools()
            result = await client.call_tool("generate_image", {"prompt": "a red fox in the snow"})
            models = await client.call_tool("list_models", {})
        out[f"one_image_result_bytes_preview_{preview}"] = _size(result)
        if preview == "off":
            out["baseline_result_bytes"] = _sdk_default_result_bytes(result)
    # The same result for a client that shows the gallery (MCP Apps): the person sees the image there, so the model's
    # result carries no inline thumbnail.
    from mcp.client.extension import advertise
    from mcp.server.apps import APP_MIME_TYPE, EXTENSION_ID

    settings = Settings(_env_file=None, api_token="bench", poll_interval_s=0.02, preview="thumbnail")  # type: ignore[call-arg]
    apps = [advertise(EXTENSION_ID, {"mimeTypes": [APP_MIME_TYPE]})]
    async with Client(create_server(settings, transport=fake.transport()), extensions=apps) as client:
        result = await client.call_tool("generate_image", {"prompt": "a red fox in the snow"})
        out["apps_tools_list_bytes"] = _size(await client.list_tools())
    out["one_image_result_bytes_apps"] = _size(result)
    out.update(tools=len(tools.tools), tools_list_bytes=_size(tools), list_models_bytes=_size(models))
    out["baseline_tools_list_bytes"] = _sdk_default_tools_bytes("")
    out["baseline_list_models_bytes"] = _all_details_bytes()
    return out


def _all_details_bytes() -> int:
    """Baseline: every model's full parameter list, as a list_models without the compact view would send."""
    from krea_mcp.catalog.models import load_catalog
    from krea_mcp.catalog.views import model_detail

    return len("\n\n".join(model_detail(m) for m in load_catalog().models.values()).encode())


if __name__ == "__main__":
    for key, value in anyio.run(measure).items():
        print(f"{key}: {value}")
