"""The polling schedule: sparse early, dense near the typical finish, backing off after; backlog time not counted."""

from __future__ import annotations

from typing import Any

import anyio
import httpx
import pytest

from krea_mcp.fake_api import FakeKrea
from krea_mcp.workflow import job_service as service_module
from krea_mcp.workflow.polling import DENSE_INTERVAL_S, MAX_INTERVAL_S, next_poll_delay
from tests.helpers import TOKEN, Around, connect


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


async def _backlog_run(paced: bool, monkeypatch: pytest.MonkeyPatch) -> tuple[int, float]:
    """24 jobs of 0.5 s behind a concurrency of 2, a wait on each (the model's catalog time, 5 s, not yet corrected by
    learning): the GETs made while a job was still in the backlog, and the wall time. ``paced=False``: backlogged jobs
    polled on the plain schedule."""
    from krea_mcp.workflow import job_watch

    if not paced:

        async def plain_sleep(self: Any, watch: Any, typical: Any) -> None:
            await anyio.sleep(next_poll_delay(0.0, typical()))

        monkeypatch.setattr(job_watch.Watches, "backlog_delay", lambda self, watch, typical: 0.0)
        monkeypatch.setattr(job_watch.Watches, "backlog_sleep", plain_sleep)
    fake = FakeKrea(token=TOKEN, job_duration_s=0.5, concurrency=2)
    backlogged = 0

    async def handler(request: httpx.Request, inner: httpx.AsyncBaseTransport) -> httpx.Response:
        nonlocal backlogged
        parts = request.url.path.strip("/").split("/")
        if request.method == "GET" and len(parts) == 2 and parts[0] == "jobs":
            job = fake.jobs.get(parts[1])
            backlogged += job is not None and job.status(fake._time.now()) == "backlogged"
        return await inner.handle_async_request(request)

    async with connect(Around(fake, handler), poll_interval_s=None, wait_s=30, preview="off") as client:
        ids = []
        for i in range(24):
            made = await client.call_tool("generate_image", {"prompt": f"p{i}", "model": "z-image", "wait": False})
            ids.append(made.structured_content["job_id"])
        backlogged = 0
        results: list[Any] = []

        async def wait(job_id: str) -> None:
            results.append(await client.call_tool("wait_for_job", {"job_id": job_id}))

        started = anyio.current_time()
        async with anyio.create_task_group() as group:
            for job_id in ids:
                group.start_soon(wait, job_id)
        wall = anyio.current_time() - started
    assert all(r.structured_content["status"] == "completed" for r in results)
    return backlogged, wall


@pytest.mark.anyio
async def test_jobs_waiting_in_the_backlog_are_polled_by_the_pace_of_the_running_ones(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The backlog's tail is looked at rarely and its head about as often as a job could end: fewer GETs of jobs
    still waiting than polling each on its own schedule makes, on the same jobs, without finishing much later.

    Both runs keep the catalog's run time (learning is switched off): what a job's first completions teach would
    otherwise arrive at a moment that depends on the machine's load, and change both schedules mid-run."""
    from krea_mcp.workflow.durations import DurationBook

    monkeypatch.setattr(DurationBook, "learn", lambda self, model, seconds: None)
    paced, paced_wall = await _backlog_run(True, monkeypatch)
    plain, plain_wall = await _backlog_run(False, monkeypatch)
    print(f"\nbacklogged GETs: {paced} paced, {plain} plain; wall {paced_wall:.1f} s vs {plain_wall:.1f} s")
    assert paced <= 0.75 * plain, (paced, plain)
    assert paced_wall <= plain_wall + 4.0, (paced_wall, plain_wall)
