"""Job ids survive any interruption: a call the client cut off still leaves its job findable with list_jobs."""

from __future__ import annotations

import pytest
from mcp import Client, MCPError

from krea_mcp.fake_api import FakeKrea
from krea_mcp.server import create_server
from tests.conftest import TOKEN, make_settings
from tests.test_tools import text_of

pytestmark = pytest.mark.anyio


async def test_a_call_cut_by_the_client_leaves_its_job_in_list_jobs(mode: str) -> None:
    fake = FakeKrea(token=TOKEN, job_duration_s=30)
    server = create_server(make_settings(preview="off", wait_s=20), transport=fake.transport())
    async with Client(server, mode=mode) as client:  # type: ignore[arg-type]
        with pytest.raises(MCPError):  # the host gives up long before the server's own deadline
            await client.call_tool("generate_image", {"prompt": "a lighthouse at dusk"}, read_timeout_seconds=0.5)
        listed = await client.call_tool("list_jobs", {})
    assert not listed.is_error, text_of(listed)
    (job_id,) = fake.jobs
    (row,) = listed.structured_content["jobs"]
    assert row == {
        "job_id": job_id,
        "status": row["status"],
        "created_at": row["created_at"],
        "model": "bfl/flux-1-dev",
        "prompt": "a lighthouse at dusk",
    }
    assert row["status"] in ("queued", "processing", "sampling")
    line = text_of(listed).splitlines()[1]
    assert line.startswith(f"{job_id} · ") and "bfl/flux-1-dev" in line and "s ago" in line and "lighthouse" in line
    assert fake.generate_posts == 1


async def test_list_jobs_shows_jobs_this_server_did_not_start_without_a_prompt() -> None:
    fake = FakeKrea(token=TOKEN, job_duration_s=0)
    async with Client(create_server(make_settings(preview="off"), transport=fake.transport())) as a:
        await a.call_tool("generate_image", {"prompt": "first"})
    # A second server process (a host restart): Krea still lists the job; only the prompt is not known here.
    async with Client(create_server(make_settings(preview="off"), transport=fake.transport())) as b:
        listed = await b.call_tool("list_jobs", {"limit": 5})
    (row,) = listed.structured_content["jobs"]
    assert row["status"] == "completed" and row["urls"] and "prompt" not in row
    assert "model not recorded here" in text_of(listed)


async def test_list_jobs_falls_back_to_this_servers_records_when_krea_cannot_list() -> None:
    fake = FakeKrea(token=TOKEN, job_duration_s=0)
    async with Client(create_server(make_settings(preview="off"), transport=fake.transport())) as client:
        await client.call_tool("generate_image", {"prompt": "kept"})
        fake.inject("list_jobs", 503, count=20)
        listed = await client.call_tool("list_jobs", {})
    assert not listed.is_error
    (row,) = listed.structured_content["jobs"]
    assert row["status"] == "unknown" and row["prompt"] == "kept"
    assert "could not be read" in text_of(listed)


async def test_list_jobs_with_no_jobs_says_so() -> None:
    fake = FakeKrea(token=TOKEN)
    async with Client(create_server(make_settings(), transport=fake.transport())) as client:
        listed = await client.call_tool("list_jobs", {})
    assert text_of(listed) == "No jobs found for this token." and listed.structured_content == {"jobs": []}
