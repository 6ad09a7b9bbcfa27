"""The polling schedule: sparse early, dense near the typical finish, backing off after; backlog time not counted."""

from __future__ import annotations

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
    assert seen and max(seen) < 2.5, seen  # counted from leaving the backlog (it runs 1 s), never ~3-4 s of age
