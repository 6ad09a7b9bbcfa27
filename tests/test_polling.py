"""The polling schedule: sparse early, dense near the typical finish, backing off after; backlog time not counted."""

from __future__ import annotations

import pytest
from mcp import Client

from krea_mcp.fake_api import FakeKrea
from krea_mcp.polling import DENSE_INTERVAL_S, MAX_INTERVAL_S, next_poll_delay
from krea_mcp.server import create_server

from .conftest import TOKEN, make_settings


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
async def test_a_job_leaving_the_backlog_is_polled_densely_not_as_overdue() -> None:
    """Concurrency 1: the second job waits in the backlog, then runs; it must not be treated as long overdue."""
    fake = FakeKrea(token=TOKEN, job_duration_s=2.0, concurrency=1)
    settings = make_settings(poll_interval_s=None, wait_s=20, preview="off")
    async with Client(create_server(settings, transport=fake.transport())) as client:
        await client.call_tool("generate_image", {"prompt": "first", "model": "flux-pro", "wait": False})
        second = await client.call_tool("generate_image", {"prompt": "second", "model": "z-image", "wait": False})
        gets_before = len(fake.requests)
        done = await client.call_tool("wait_for_job", {"job_id": second.structured_content["job_id"]})
    assert done.structured_content["status"] == "completed"
    gets = len(fake.requests) - gets_before
    assert gets <= 14  # ~4 s of waiting: sparse in the backlog and early, dense only near the end
