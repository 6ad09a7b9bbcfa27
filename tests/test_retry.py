"""The retry policy, and job creation that never sends twice when Krea's answer is lost.

Lost answers are the emulator's injected faults; ``Around`` gives only what it cannot: a connection refused before
anything was sent, and a lost answer timed against a second create in flight.
"""

from __future__ import annotations

from typing import Any

import anyio
import httpx
import pytest

from krea_mcp.errors import KreaConnectionError, NotFoundError, RateLimitError, ServerError
from krea_mcp.fake_api import FakeKrea
from krea_mcp.krea import retry
from krea_mcp.krea.retry import RetryPolicy, certainly_not_applied, is_transient, retry_budget, with_retries
from tests.helpers import FLUX, TOKEN, Around, call_once, connect, is_create, text_of

pytestmark = pytest.mark.anyio


async def generate(target: FakeKrea | httpx.AsyncBaseTransport, **settings: Any) -> Any:
    return await call_once(target, "generate_image", {"prompt": "a fox"}, preview="off", **settings)


def test_delay_is_full_jitter_capped_and_honours_retry_after() -> None:
    policy = RetryPolicy(base_s=0.25, max_s=8, max_retry_after_s=30)
    assert policy.delay(0, rand=lambda: 1.0) == 0.25
    assert policy.delay(3, rand=lambda: 1.0) == 2.0
    assert policy.delay(10, rand=lambda: 1.0) == 8.0
    assert policy.delay(5, rand=lambda: 0.0) == 0.0
    assert policy.delay(0, retry_after=7, rand=lambda: 1.0) == 7
    assert policy.delay(0, retry_after=999, rand=lambda: 1.0) == 30


@pytest.mark.parametrize(
    ("exc", "read", "write"),
    [
        (KreaConnectionError("refused", sent=False), True, True),
        (KreaConnectionError("timed out after sending", sent=True), True, False),
        (ServerError("boom", status_code=503), True, False),
        (RateLimitError("busy", status_code=429, body=None, retry_after=None), True, True),
        (NotFoundError("gone", status_code=404), False, False),
    ],
)
def test_what_is_retried(exc: Any, read: bool, write: bool) -> None:
    assert is_transient(exc) is read
    assert certainly_not_applied(exc) is write


async def test_with_retries_retries_transient_errors_then_succeeds() -> None:
    calls = []

    async def op() -> str:
        calls.append(1)
        if len(calls) < 3:
            raise ServerError("flaky", status_code=502)
        return "ok"

    assert await with_retries(op, retryable=is_transient, policy=RetryPolicy(), what="x") == "ok"
    assert len(calls) == 3


async def test_with_retries_gives_up_after_the_attempts() -> None:
    calls = []

    async def op() -> str:
        calls.append(1)
        raise ServerError("down", status_code=503)

    with pytest.raises(ServerError):
        await with_retries(op, retryable=is_transient, policy=RetryPolicy(attempts=4), what="x")
    assert len(calls) == 4


async def test_retry_budget_stops_retries_that_would_overrun_it() -> None:
    """With real waits, a 30 s Retry-After inside a 1 s budget is not waited for: the error comes back at once."""
    retry.set_testing(False)
    calls = []

    async def op() -> str:
        calls.append(1)
        raise RateLimitError("busy", status_code=429, body=None, retry_after=30)

    with anyio.fail_after(2), retry_budget(1.0), pytest.raises(RateLimitError):
        await with_retries(op, retryable=is_transient, policy=RetryPolicy(), what="x")
    assert len(calls) == 1


async def test_create_is_retried_when_the_connection_was_never_made() -> None:
    fake = FakeKrea(token=TOKEN, job_duration_s=0)
    refused = {"left": 2}

    async def handler(request: httpx.Request, inner: httpx.AsyncBaseTransport) -> httpx.Response:
        if is_create(request) and refused["left"]:
            refused["left"] -= 1
            raise httpx.ConnectError("connection refused", request=request)
        return await inner.handle_async_request(request)

    result = await generate(Around(fake, handler))
    assert result.is_error is False, text_of(result)
    assert refused["left"] == 0  # refused twice, then sent once
    assert fake.jobs_created == 1 and fake.generate_posts == 1


@pytest.mark.parametrize("lost", [500, "hang", "malformed"], ids=["500", "timeout", "garbled"])
async def test_lost_answer_after_create_recovers_the_job_without_sending_again(lost: int | str) -> None:
    """Krea made the job, then its answer got lost on the way back: an error, a timeout, or a cut-off body."""
    fake = FakeKrea(token=TOKEN, job_duration_s=0)
    fake.inject("generate", lost, after_create=True)
    result = await generate(fake, request_timeout_s=0.3)
    assert result.is_error is False, text_of(result)
    (job_id,) = fake.jobs
    assert result.structured_content["job_id"] == job_id
    assert result.structured_content["status"] == "completed"
    assert fake.generate_posts == 1 and fake.jobs_created == 1
    assert fake.faults_pending == 0


async def test_lost_answer_with_no_new_job_says_a_retry_is_most_likely_safe() -> None:
    fake = FakeKrea(token=TOKEN)
    fake.inject("generate", 502)
    result = await generate(fake)
    assert result.is_error is True
    assert "most likely none was created" in text_of(result)
    assert fake.jobs_created == 0
    assert fake.generate_posts == 1 and fake.faults_pending == 0  # the create was not sent again


async def test_lost_answer_with_two_new_jobs_lists_both_and_sends_nothing_more() -> None:
    fake = FakeKrea(token=TOKEN)
    async with httpx.AsyncClient(transport=fake.transport(), base_url=fake.base_url) as http:
        other = await http.post(FLUX, json={"prompt": "x"}, headers={"Authorization": f"Bearer {TOKEN}"})
    fake.inject("generate", 504, after_create=True)
    result = await generate(fake)
    assert result.is_error is True
    assert other.json()["job_id"] in text_of(result)
    assert len(fake.jobs) == 2 and fake.generate_posts == 2  # the test's own POST and exactly one from the server
    assert "get_job" in text_of(result)


async def test_polling_retries_hide_a_flaky_get() -> None:
    fake = FakeKrea(token=TOKEN, job_duration_s=0)
    async with connect(fake) as client:
        started = await client.call_tool("generate_image", {"prompt": "a fox", "wait": False})
        fake.inject("get_job", 503, count=2, retry_after=1)
        result = await client.call_tool("get_job", {"job_id": started.structured_content["job_id"]})
    assert result.is_error is False
    assert result.structured_content["status"] == "completed"
    assert fake.faults_pending == 0


async def test_a_lost_answer_is_not_matched_while_another_create_is_in_flight() -> None:
    """Two calls start jobs at once and one answer is lost: which new job is ours cannot be told, so none is adopted."""
    fake = FakeKrea(token=TOKEN, job_duration_s=0)
    posts = {"n": 0}

    async def handler(request: httpx.Request, inner: httpx.AsyncBaseTransport) -> httpx.Response:
        if not is_create(request):
            return await inner.handle_async_request(request)
        posts["n"] += 1
        if posts["n"] == 1:  # created, then the answer is lost while the second create is still on its way
            await inner.handle_async_request(request)
            await anyio.sleep(0.05)
            return httpx.Response(502, text="bad gateway")
        await anyio.sleep(0.3)
        return await inner.handle_async_request(request)

    results: list[Any] = []
    async with connect(Around(fake, handler), preview="off") as client:

        async def one(prompt: str) -> None:
            results.append(await client.call_tool("generate_image", {"prompt": prompt, "wait": False}))

        async with anyio.create_task_group() as tg:
            tg.start_soon(one, "first")
            await anyio.sleep(0.01)
            tg.start_soon(one, "second")
    lost = [r for r in results if r.is_error]
    assert len(lost) == 1 and "cannot be told" in text_of(lost[0])
    assert fake.generate_posts == 2 and fake.jobs_created == 2


async def test_a_recovered_job_says_how_it_was_identified() -> None:
    fake = FakeKrea(token=TOKEN, job_duration_s=0)
    fake.inject("generate", 500, after_create=True)
    result = await generate(fake)
    assert result.is_error is False
    assert "identified as the only new job" in text_of(result)
