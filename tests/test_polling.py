"""The polling schedule: sparse early, dense near the typical finish, backing off after; backlog time not counted."""

from __future__ import annotations

from typing import Any

import anyio
import pytest

from krea_mcp.fake_api import FakeKrea
from krea_mcp.workflow import job_service as service_module
from krea_mcp.workflow.polling import DENSE_INTERVAL_S, MAX_INTERVAL_S, next_poll_delay
from tests.helpers import TOKEN, connect


@pytest.mark.parametrize("typical", [2.0, 7.0, 30.0, 70.0])
def test_schedule_shape(typical: float) -> None:
    assert next_poll_delay(0, typical) >= DENSE_INTERVAL_S
    assert next_poll_delay(typical, typical) == DENSE_INTERVAL_S  # dense around the expected finish
    assert next_poll_delay(10 * typical + 60, typical) == MAX_INTERVAL_S  # long overdue: back off
    assert next_poll_delay(5, typical, fixed_interval_s=0.1) == 0.1


def simulate(typical: float, actual: float) -> tuple[int, float]:
    """GETs made and lag after completion, for a job of ``actual`` seconds polled on the schedule."""
    t, gets = 0.0, 0
    while t < actual:
        t += next_poll_delay(t, typical)
        gets += 1
    return gets, t - actual


@pytest.mark.parametrize("typical", [2.0, 5.0, 7.0, 30.0, 70.0])
def test_a_job_of_typical_length_costs_at_most_one_get_per_second_and_is_seen_within_half_a_second(
    typical: float,
) -> None:
    gets, lag = simulate(typical, typical)
    assert gets <= typical
    assert lag <= DENSE_INTERVAL_S


@pytest.mark.parametrize("typical", [7.0, 30.0, 70.0])
def test_an_early_finish_is_still_seen_without_waiting_for_the_dense_window(typical: float) -> None:
    _, lag = simulate(typical, typical / 2)
    assert lag <= 0.2 * typical


@pytest.mark.anyio
async def test_a_job_leaving_the_backlog_is_polled_densely_not_as_overdue(monkeypatch: pytest.MonkeyPatch) -> None:
    """Concurrency 1: our job waits ~3 s in the backlog behind three others, then runs 1 s.

    The schedule must place it by its running time, not its age: counting the backlog would make it look
    overdue and back off. The poll-delay function is wrapped (not replaced) to record where the service
    thinks the job is in its schedule.
    """
    seen: list[float] = []

    def recording(elapsed_s: float, typical_s: float, fixed_interval_s: float | None = None) -> float:
        seen.append(elapsed_s)
        return next_poll_delay(elapsed_s, typical_s, fixed_interval_s)

    monkeypatch.setattr(service_module, "next_poll_delay", recording)
    fake = FakeKrea(token=TOKEN, job_duration_s=1.0, concurrency=1)
    async with connect(fake, poll_interval_s=None, wait_s=20, preview="off") as client:
        for prompt in ("first", "second", "third"):
            await client.call_tool("generate_image", {"prompt": prompt, "model": "flux-pro", "wait": False})
        ours = await client.call_tool("generate_image", {"prompt": "ours", "model": "z-image", "wait": False})
        assert ours.structured_content["status"] == "backlogged"
        gets_before = len(fake.requests)
        seen.clear()
        done = await client.call_tool("wait_for_job", {"job_id": ours.structured_content["job_id"]})
    assert done.structured_content["status"] == "completed"
    gets = len(fake.requests) - gets_before
    assert gets <= 14  # ~4 s of waiting: sparse in the backlog and early, dense only near the end
    # Counted from leaving the backlog (it runs 1 s), never ~3-4 s of age; while backlogged it is paced by the queue
    # (Watches.backlog_delay), so the schedule may first be asked once it runs, or not at all.
    assert not seen or max(seen) < 2.5, seen


@pytest.mark.anyio
async def test_jobs_waiting_in_the_backlog_are_polled_by_the_pace_of_the_running_ones() -> None:
    """Concurrency 2, 24 jobs of 0.5 s each with a wait on every one: the backlog's tail is looked at rarely and its
    head about as often as a job could end, so GETs grow with the jobs running, not with the jobs waiting."""
    fake = FakeKrea(token=TOKEN, job_duration_s=0.5, concurrency=2)
    async with connect(fake, poll_interval_s=None, wait_s=30, preview="off") as client:
        ids = []
        for i in range(24):
            made = await client.call_tool("generate_image", {"prompt": f"p{i}", "model": "z-image", "wait": False})
            ids.append(made.structured_content["job_id"])
        before = len(fake.requests)
        results: list[Any] = []

        async def wait(job_id: str) -> None:
            results.append(await client.call_tool("wait_for_job", {"job_id": job_id}))

        started = anyio.current_time()
        async with anyio.create_task_group() as group:
            for job_id in ids:
                group.start_soon(wait, job_id)
        wall = anyio.current_time() - started
    assert all(r.structured_content["status"] == "completed" for r in results)
    gets = len(fake.requests) - before
    # 6 s of work at concurrency 2, on a model whose catalog time (5 s) is 10x the emulator's: the first jobs are seen
    # late either way, and the backlog is counted with that estimate until run times are learned.
    assert wall < 15, wall
    assert gets <= 24 * 3, gets  # polling every backlogged job on its own schedule made ~3.6 GETs per job
