"""The three job tools over real MCP (in memory), in both protocol eras, against the emulator."""

from __future__ import annotations

from typing import Any

import anyio
import httpx
import pytest
from mcp import Client, MCPError

from krea_mcp.fake_api import FakeKrea
from tests.helpers import TOKEN, UNKNOWN_JOB, connect, text_of

pytestmark = pytest.mark.anyio


async def test_tools_list_names_the_tools_with_annotations_and_output_schema(client: Client) -> None:
    """generate_image declares the job's outputSchema (the other job tools return the same object without repeating
    it); get_job is read-only; nothing but cancel_job is destructive."""
    tools = {t.name: t for t in (await client.list_tools()).tools}
    # The default groups: every tool but train_style (KREA_TOOLS; see test_settings).
    job_tools = {"generate_image", "get_job", "wait_for_job", "cancel_job", "list_jobs", "list_models"}
    assert set(tools) == job_tools | {"enhance_image", "list_styles", "generate_video"}
    # their own tests cover them (test_enhance, test_styles, test_video)
    del tools["enhance_image"], tools["list_styles"], tools["generate_video"]
    for name in ("list_models", "list_jobs"):
        assert tools[name].annotations.read_only_hint is True
        assert tools[name].output_schema is None
    del tools["list_jobs"]
    # cancel_job's structuredContent is the same job object; its schema is not repeated (context bytes).
    assert tools["cancel_job"].output_schema is None
    # Hints equal to the spec's defaults are omitted to save context: destructive defaults to true.
    assert tools["cancel_job"].annotations.destructive_hint in (None, True)
    assert tools["cancel_job"].annotations.idempotent_hint is True
    assert tools["generate_image"].annotations.destructive_hint is False
    del tools["list_models"], tools["cancel_job"]
    assert tools["get_job"].annotations.read_only_hint is True
    assert tools["wait_for_job"].annotations.destructive_hint is False  # may write files (save_to), never deletes
    assert tools["generate_image"].annotations.read_only_hint in (None, False)
    schema = tools["generate_image"].output_schema
    assert schema is not None and {"job_id", "status"} <= set(schema["required"])
    assert {"urls", "style_id", "next_step"} <= set(schema["properties"])
    assert tools["get_job"].output_schema is None and tools["wait_for_job"].output_schema is None


async def test_generate_image_returns_urls_structured_content_and_resource_links(
    client: Client, fake: FakeKrea
) -> None:
    """The happy path: one call, final URLs, a resource_link per image, a fetchable PNG."""
    result = await client.call_tool("generate_image", {"prompt": "a red fox in the snow"})
    assert result.is_error is False
    data = result.structured_content
    assert data["status"] == "completed"
    assert data["model"] == "bfl/flux-1-dev"
    assert data["completed_at"] and data["created_at"]
    assert len(data["urls"]) == 1
    links = [b for b in result.content if b.type == "resource_link"]
    assert [str(link.uri) for link in links] == data["urls"]
    assert data["urls"][0] in text_of(result)
    async with httpx.AsyncClient(transport=fake.transport()) as http:
        png = await http.get(data["urls"][0])
    assert png.headers["content-type"] == "image/png"
    assert png.content.startswith(b"\x89PNG\r\n\x1a\n")
    assert fake.jobs_created == 1


async def test_generate_image_passes_through_the_mapped_body(client: Client, fake: FakeKrea) -> None:
    """A 16:9 request on a ratio-only model becomes that model's aspect_ratio field."""
    result = await client.call_tool(
        "generate_image", {"prompt": "a lighthouse", "model": "z-image", "width": 1920, "height": 1080, "seed": 7}
    )
    assert result.is_error is False, text_of(result)
    (job,) = fake.jobs.values()
    assert job.body == {"prompt": "a lighthouse", "aspect_ratio": "16:9", "resolution": "1K", "seed": 7}


async def test_wait_false_returns_the_job_id_at_once(client: Client) -> None:
    result = await client.call_tool("generate_image", {"prompt": "a fox", "wait": False})
    assert result.is_error is False
    assert result.structured_content["status"] not in ("completed", "failed", "cancelled")
    assert "wait_for_job" in result.structured_content["next_step"]


async def test_deadline_returns_job_id_and_wait_for_job_finishes_it(fake: FakeKrea, mode: str) -> None:
    """A job slower than the deadline is not an error: its id comes back, and wait_for_job completes it later."""
    fake.job_duration_s = 0.6
    async with connect(fake, mode=mode, wait_s=0.2) as client:
        first = await client.call_tool("generate_image", {"prompt": "a slow fox"})
        assert first.is_error is False
        data = first.structured_content
        assert data["status"] not in ("completed", "failed", "cancelled")
        assert data["job_id"] in text_of(first)
        assert f'wait_for_job with job_id="{data["job_id"]}"' in text_of(first)
        done = await client.call_tool("wait_for_job", {"job_id": data["job_id"], "timeout_s": 5})
    assert done.structured_content["status"] == "completed"
    assert done.structured_content["urls"]
    assert done.structured_content["model"] == "bfl/flux-1-dev"
    assert fake.jobs_created == 1


async def test_failed_job_is_a_tool_error_with_reason_and_job_id(client: Client, fake: FakeKrea) -> None:
    fake.fail_next_jobs(1, error="NSFW content detected")
    result = await client.call_tool("generate_image", {"prompt": "a fox"})
    assert result.is_error is True
    (job_id,) = fake.jobs
    assert job_id in text_of(result)
    assert "NSFW content detected" in text_of(result)
    assert result.structured_content["status"] == "failed"
    assert result.structured_content["error"] == "NSFW content detected"


async def test_get_job_reports_status_once(client: Client, fake: FakeKrea) -> None:
    started = await client.call_tool("generate_image", {"prompt": "a fox", "wait": False})
    job_id = started.structured_content["job_id"]
    before = len(fake.requests)
    result = await client.call_tool("get_job", {"job_id": job_id})
    assert result.structured_content["job_id"] == job_id
    assert len(fake.requests) == before + 1


async def test_wait_for_job_reports_increasing_progress(client: Client, fake: FakeKrea) -> None:
    fake.job_duration_s = 0.3
    started = await client.call_tool("generate_image", {"prompt": "a fox", "wait": False})
    seen: list[tuple[float, float | None, str | None]] = []

    async def on_progress(progress: float, total: float | None, message: str | None) -> None:
        seen.append((progress, total, message))

    result = await client.call_tool(
        "wait_for_job", {"job_id": started.structured_content["job_id"]}, progress_callback=on_progress
    )
    assert result.structured_content["status"] == "completed"
    assert len(seen) >= 2
    progress = [p for p, _, _ in seen]
    assert progress == sorted(progress) and len(set(progress)) == len(progress)
    # total is the job's expected run time (flux: 7 s in the catalog), not the wait's 10 s deadline; at the end
    # the bar is full (progress == total).
    assert all(total == 7.0 for _, total, _ in seen[:-1]), seen
    assert seen[-1][0] == seen[-1][1]
    assert seen[-1][2] is not None and seen[-1][2].startswith("completed")
    job_id = started.structured_content["job_id"]
    assert (seen[0][2] or "").startswith(f"Job {job_id}: ")
    states = ("queued", "scheduled", "processing", "sampling")
    assert any(m and m.removeprefix(f"Job {job_id}: ").startswith(states) for _, _, m in seen)


async def test_generate_image_reports_progress_too(client: Client) -> None:
    seen: list[str | None] = []

    async def on_progress(progress: float, total: float | None, message: str | None) -> None:
        seen.append(message)

    await client.call_tool("generate_image", {"prompt": "a fox"}, progress_callback=on_progress)
    assert seen and seen[-1] is not None and seen[-1].startswith("completed")


async def test_cancelled_wait_leaves_server_healthy_and_job_running(client: Client, fake: FakeKrea) -> None:
    """A client-side cancel stops the wait promptly; the Krea job is not cancelled and can still be collected."""
    fake.job_duration_s = 1.0
    started = await client.call_tool("generate_image", {"prompt": "a fox", "wait": False})
    job_id = started.structured_content["job_id"]
    with anyio.fail_after(3), pytest.raises(MCPError):
        await client.call_tool("wait_for_job", {"job_id": job_id, "timeout_s": 30}, read_timeout_seconds=0.2)
    assert ("DELETE", f"/jobs/{job_id}") not in fake.requests
    done = await client.call_tool("wait_for_job", {"job_id": job_id, "timeout_s": 5})
    assert done.structured_content["status"] == "completed"


async def test_wait_for_unknown_job_is_an_actionable_404(client: Client) -> None:
    result = await client.call_tool("wait_for_job", {"job_id": UNKNOWN_JOB})
    assert result.is_error is True
    assert UNKNOWN_JOB in text_of(result)
    assert "not found" in text_of(result)


async def test_cancelled_job_is_a_tool_error(client: Client, fake: FakeKrea) -> None:
    fake.job_duration_s = 5
    started = await client.call_tool("generate_image", {"prompt": "a fox", "wait": False})
    job_id = started.structured_content["job_id"]
    async with httpx.AsyncClient(transport=fake.transport(), base_url=fake.base_url) as http:
        await http.delete(f"/jobs/{job_id}", headers={"Authorization": f"Bearer {TOKEN}"})
    result = await client.call_tool("get_job", {"job_id": job_id})
    assert result.is_error is True
    assert result.structured_content["status"] == "cancelled"
    assert job_id in text_of(result)


@pytest.mark.parametrize(
    ("arguments", "field"),
    [
        ({"prompt": ""}, "prompt"),
        ({"prompt": "x", "width": -5, "height": 5}, "width"),
        ({"prompt": "x", "seed": "abc"}, "seed"),
        ({"prompt": "x", "resolution": "8K"}, "resolution"),
        ({"job_id": "../../etc"}, "job_id"),
    ],
)
async def test_malformed_arguments_name_the_field(
    client: Client, fake: FakeKrea, arguments: dict[str, Any], field: str
) -> None:
    tool = "get_job" if "job_id" in arguments else "generate_image"
    result = await client.call_tool(tool, arguments)
    assert result.is_error is True
    assert field in text_of(result)
    assert fake.generate_posts == 0
