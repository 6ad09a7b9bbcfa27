"""Context cost: bytes an agent pays for tools/list, a one-image job result, and the compact list_models."""

from __future__ import annotations

import json
from typing import Any

import anyio
from mcp import Client

from krea_mcp.fake_api import FakeKrea
from krea_mcp.server import create_server
from krea_mcp.settings import Settings


def _size(obj: Any) -> int:
    """UTF-8 bytes of the JSON a client receives for this result (camelCase, nulls dropped)."""
    return len(
        json.dumps(obj.model_dump(mode="json", by_alias=True, exclude_none=True), separators=(",", ":")).encode()
    )


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
    out.update(tools=len(tools.tools), tools_list_bytes=_size(tools), list_models_bytes=_size(models))
    return out


if __name__ == "__main__":
    for key, value in anyio.run(measure).items():
        print(f"{key}: {value}")
