"""Job ids survive any interruption: a call the client cut off still leaves its job findable with list_jobs."""

from __future__ import annotations

import itertools

import anyio
import httpx
import pytest
from mcp import MCPError

from krea_mcp.fake_api import FakeKrea
from tests.helpers import TOKEN, Around, connect, is_create, text_of

pytestmark = pytest.mark.anyio


async def test_a_call_cut_by_the_client_leaves_its_job_in_list_jobs(mode: str) -> None:
    fake = FakeKrea(token=TOKEN, job_duration_s=30)
    async with connect(fake, mode=mode, preview="off", wait_s=20) as client:
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
    async with connect(fake, preview="off") as a:
        await a.call_tool("generate_image", {"prompt": "first"})
    # A second server process (a host restart): Krea still lists the job; only the prompt is not known here.
    async with connect(fake, preview="off") as b:
        listed = await b.call_tool("list_jobs", {"limit": 5})
    (row,) = listed.structured_content["jobs"]
    assert row["status"] == "completed" and row["urls"] and "prompt" not in row
    assert "model not recorded here" in text_of(listed)


async def test_list_jobs_falls_back_to_this_servers_records_when_krea_cannot_list() -> None:
    fake = FakeKrea(token=TOKEN, job_duration_s=0)
    async with connect(fake, preview="off") as client:
        await client.call_tool("generate_image", {"prompt": "kept"})
        fake.inject("list_jobs", 503, count=20)
        listed = await client.call_tool("list_jobs", {})
    assert not listed.is_error
    (row,) = listed.structured_content["jobs"]
    assert row["status"] == "unknown" and row["prompt"] == "kept"
    assert "could not be read" in text_of(listed)


async def test_list_jobs_with_no_jobs_says_so() -> None:
    fake = FakeKrea(token=TOKEN)
    async with connect(fake) as client:
        listed = await client.call_tool("list_jobs", {})
    assert text_of(listed) == "No jobs found for this token." and listed.structured_content == {"jobs": []}


async def slow_create(request: httpx.Request, inner: httpx.AsyncBaseTransport) -> httpx.Response:
    """The emulator, with Krea's answer to a create arriving only after 0.6 s (no injected fault waits and answers)."""
    response = await inner.handle_async_request(request)
    if is_create(request):
        await anyio.sleep(0.6)
    return response


async def test_a_call_cut_while_the_job_is_being_created_still_records_and_publishes_it(mode: str) -> None:
    """The host gives up while the create request is in flight: the job Krea made is still recorded and listed."""
    fake = FakeKrea(token=TOKEN, job_duration_s=30)
    async with connect(Around(fake, slow_create), mode=mode, preview="off") as client:
        with pytest.raises(MCPError):
            await client.call_tool("generate_image", {"prompt": "cut mid-create"}, read_timeout_seconds=0.2)
        await anyio.sleep(0.8)  # the create finishes on the server after the client stopped listening
        fake.inject("list_jobs", 503, count=20)  # only the server's own record can name the job now
        listed = await client.call_tool("list_jobs", {})
        resources = {str(r.uri) for r in (await client.list_resources()).resources}
    (job_id,) = fake.jobs
    (row,) = listed.structured_content["jobs"]
    assert row["job_id"] == job_id and row["prompt"] == "cut mid-create"
    assert f"krea://jobs/{job_id}" in resources


async def test_the_first_progress_notification_names_the_job_and_totals_are_the_expected_run_time() -> None:
    fake = FakeKrea(token=TOKEN, job_duration_s=0.4)
    seen: list[tuple[float, float | None, str | None]] = []

    async def on_progress(progress: float, total: float | None, message: str | None) -> None:
        seen.append((progress, total, message))

    async with connect(fake, preview="off") as client:
        result = await client.call_tool("generate_image", {"prompt": "x"}, progress_callback=on_progress)
    (job_id,) = fake.jobs
    assert seen and (seen[0][2] or "").startswith(f"Job {job_id}: queued")
    assert all(b[0] > a[0] for a, b in itertools.pairwise(seen)), seen
    typical = 7.0  # bfl/flux-1-dev in the catalog, not this call's wait deadline (10 s in make_settings)
    assert all(total is not None and total >= min(typical, progress) for progress, total, _ in seen)
    assert seen[0][1] == typical
    assert result.structured_content["status"] == "completed"
