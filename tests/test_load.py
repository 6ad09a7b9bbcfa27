"""100 concurrent generate_image calls through one server against an emulator limited to 10 running jobs."""

from __future__ import annotations

import time

import anyio
import pytest

from krea_mcp.fake_api import FakeKrea
from tests.helpers import TOKEN, connect

pytestmark = pytest.mark.anyio


async def test_hundred_concurrent_generations_all_succeed_without_stalling_the_loop() -> None:
    """All succeed, one job each, and the event loop never blocks (a heartbeat measures the worst delay).

    The bound on the heartbeat is generous on purpose: it catches blocking I/O in async code (seconds), not
    machine noise. Timing figures live in ``python -m bench``.
    """
    fake = FakeKrea(token=TOKEN, job_duration_s=0.5, concurrency=10)
    worst_lag = 0.0
    results = []

    async def heartbeat() -> None:
        nonlocal worst_lag
        while True:
            start = time.perf_counter()
            await anyio.sleep(0.01)
            worst_lag = max(worst_lag, time.perf_counter() - start - 0.01)

    async with connect(fake, wait_s=60, poll_interval_s=0.25, preview="off") as client:

        async def one(i: int) -> None:
            results.append(await client.call_tool("generate_image", {"prompt": f"fox {i}"}))

        with anyio.fail_after(60):
            async with anyio.create_task_group() as tg:
                tg.start_soon(heartbeat)
                async with anyio.create_task_group() as calls:
                    for i in range(100):
                        calls.start_soon(one, i)
                tg.cancel_scope.cancel()
    assert len(results) == 100
    assert all(r.structured_content["status"] == "completed" for r in results)
    assert fake.jobs_created == 100 == fake.generate_posts
    assert len({r.structured_content["job_id"] for r in results}) == 100
    assert worst_lag < 1.0, f"event loop blocked for {worst_lag:.2f} s"
