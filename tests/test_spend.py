"""The spend guard stops a looping agent before it spends, and never counts a job that was not created."""

from __future__ import annotations

from typing import Any

import anyio
import pytest

from krea_mcp.fake_api import FakeKrea
from tests.helpers import TOKEN, connect, text_of

pytestmark = pytest.mark.anyio


async def test_max_jobs_refuses_the_next_job_without_submitting() -> None:
    fake = FakeKrea(token=TOKEN, job_duration_s=0)
    async with connect(fake, preview="off", max_jobs=2) as client:
        for _ in range(2):
            assert not (await client.call_tool("generate_image", {"prompt": "a fox", "wait": False})).is_error
        refused = await client.call_tool("generate_image", {"prompt": "a fox", "wait": False})
    assert refused.is_error is True
    assert "KREA_MAX_JOBS" in text_of(refused) and "Nothing was charged" in text_of(refused)
    assert fake.generate_posts == 2


async def test_max_spend_counts_the_models_estimated_price() -> None:
    fake = FakeKrea(token=TOKEN, job_duration_s=0)
    async with connect(fake, preview="off", max_spend_usd=0.05) as client:
        cheap = await client.call_tool("generate_image", {"prompt": "a fox", "model": "z-image", "wait": False})
        pricey = await client.call_tool("generate_image", {"prompt": "a fox", "model": "nano-banana-pro"})
    assert cheap.is_error is False
    assert pricey.is_error is True
    assert "KREA_MAX_SPEND_USD" in text_of(pricey) and "google/nano-banana-pro" in text_of(pricey)
    assert fake.generate_posts == 1


async def test_rejected_requests_do_not_use_up_the_budget() -> None:
    fake = FakeKrea(token=TOKEN, job_duration_s=0)
    fake.out_of_credits = True
    async with connect(fake, preview="off", max_jobs=1) as client:
        assert (await client.call_tool("generate_image", {"prompt": "a fox"})).is_error  # 402: nothing created
        fake.out_of_credits = False
        ok = await client.call_tool("generate_image", {"prompt": "a fox", "wait": False})
    assert ok.is_error is False, text_of(ok)


async def test_concurrent_calls_cannot_slip_past_the_limit() -> None:
    fake = FakeKrea(token=TOKEN, job_duration_s=0)
    results: list[Any] = []
    async with connect(fake, preview="off", max_jobs=3) as client:

        async def one() -> None:
            results.append(await client.call_tool("generate_image", {"prompt": "a fox", "wait": False}))

        async with anyio.create_task_group() as tg:
            for _ in range(10):
                tg.start_soon(one)
    assert sum(not r.is_error for r in results) == 3
    assert fake.jobs_created == 3


async def test_a_refused_call_uploads_nothing(tmp_path: Any) -> None:
    from krea_mcp.fake_api._png import prompt_image

    (tmp_path / "cat.png").write_bytes(prompt_image("cat", 8, 8))
    fake = FakeKrea(token=TOKEN, job_duration_s=0)
    async with connect(fake, preview="off", max_jobs=0) as client:
        refused = await client.call_tool("generate_image", {"prompt": "a fox", "images": ["cat.png"]})
    assert refused.is_error and "KREA_MAX_JOBS" in text_of(refused)
    assert fake.requests == []


def test_guards_of_callers_that_never_started_a_job_are_not_kept_forever() -> None:
    from krea_mcp.workflow import spend

    guards = spend.SpendGuards(max_jobs=5)
    guards.get("busy").jobs = 1
    for i in range(spend.IDLE_GUARDS_KEPT + 10):
        guards.get(f"stranger-{i}")  # each rejected token once
    assert len(guards._guards) <= spend.IDLE_GUARDS_KEPT
    assert guards.get("busy").jobs == 1  # a guard that counted a job is never forgotten
