"""Each Krea error answer becomes an actionable tool error, and none of them leaks the token.

Faults come from the emulator's own fault injection; ``httpx.MockTransport`` answers only what it cannot give: a
410 body naming a replacement, Krea's own 400 message, and a connection refused before anything was sent.
"""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest

from krea_mcp.fake_api import FakeKrea
from tests.helpers import FLUX, TOKEN, UNKNOWN_JOB, call_once, connect, text_of

pytestmark = pytest.mark.anyio


def answering(status: int, body: Any, headers: dict[str, str] | None = None) -> httpx.MockTransport:
    """A transport where every request gets the same answer."""

    def handler(request: httpx.Request) -> httpx.Response:
        content = body if isinstance(body, bytes) else json.dumps(body).encode()
        return httpx.Response(status, content=content, headers=headers or {"content-type": "application/json"})

    return httpx.MockTransport(handler)


async def test_401_says_the_token_is_invalid_and_where_to_get_one() -> None:
    fake = FakeKrea(token="the-real-token")
    result = await call_once(fake, "generate_image", {"prompt": "a fox"})
    assert result.is_error
    text = text_of(result)
    assert "401" in text and "KREA_API_TOKEN" in text and "api-keys-and-billing" in text
    assert TOKEN not in text


async def test_missing_token_fails_before_any_request_and_suggests_sandbox() -> None:
    fake = FakeKrea()
    result = await call_once(fake, "generate_image", {"prompt": "a fox"}, api_token=None)
    assert result.is_error
    assert "KREA_API_TOKEN" in text_of(result) and "--sandbox" in text_of(result)
    assert fake.requests == []


async def test_402_says_out_of_credits() -> None:
    fake = FakeKrea(token=TOKEN)
    fake.out_of_credits = True
    result = await call_once(fake, "generate_image", {"prompt": "a fox"})
    assert result.is_error
    assert "out of credits" in text_of(result) and "402" in text_of(result)
    assert fake.jobs_created == 0


async def test_404_names_the_unknown_job() -> None:
    fake = FakeKrea(token=TOKEN)
    result = await call_once(fake, "get_job", {"job_id": UNKNOWN_JOB})
    assert result.is_error
    assert UNKNOWN_JOB in text_of(result) and "not found" in text_of(result)


async def test_410_names_the_replacement_from_the_body() -> None:
    body = {
        "error": "model_unavailable",
        "reason": "deprecated",
        "message": "The model 'bfl/flux-1-dev' was deprecated on 2026-09-01.",
        "sunset_date": "2026-09-01",
        "replacement": "krea/krea-2/medium",
        "migration_url": "https://docs.krea.ai/developers/deprecations",
    }
    result = await call_once(answering(410, body), "generate_image", {"prompt": "a fox"})
    assert result.is_error
    text = text_of(result)
    assert "retired" in text and "'krea/krea-2/medium'" in text and "2026-09-01" in text


@pytest.mark.parametrize("name", ["bytedance/seedream-3", "seedream-3"])
async def test_sunset_model_is_refused_locally_with_its_replacement(name: str) -> None:
    fake = FakeKrea(token=TOKEN)
    result = await call_once(fake, "generate_image", {"prompt": "a fox", "model": name})
    assert result.is_error
    assert "bytedance/seedream-5-lite" in text_of(result)
    assert fake.generate_posts == 0


async def test_429_says_the_backlog_is_full_and_what_to_do() -> None:
    fake = FakeKrea(token=TOKEN, concurrency=1, backlog=0, job_duration_s=30)
    async with connect(fake) as client:
        first = await client.call_tool("generate_image", {"prompt": "a fox", "wait": False})
        assert not first.is_error
        second = await client.call_tool("generate_image", {"prompt": "a fox", "wait": False})
    assert second.is_error
    assert "429" in text_of(second) and "concurrency" in text_of(second) and "get_job" in text_of(second)
    assert fake.jobs_created == 1


async def test_429_retry_after_is_reported() -> None:
    fake = FakeKrea(token=TOKEN)
    fake.inject("generate", 429, retry_after=7, count=10)  # every attempt is refused
    result = await call_once(fake, "generate_image", {"prompt": "a fox"})
    assert result.is_error
    assert "retrying after 7 s" in text_of(result)
    assert fake.jobs_created == 0


async def test_400_carries_krea_own_message() -> None:
    transport = answering(400, {"error": "prompt rejected by the provider"})
    result = await call_once(transport, "generate_image", {"prompt": "x"})
    assert result.is_error
    assert "prompt rejected by the provider" in text_of(result)


@pytest.mark.parametrize("status", [500, 502, 503, 504])
async def test_a_5xx_is_reported_as_temporary(status: int) -> None:
    """500 is Krea's own JSON error; 502-504 are the HTML pages of the gateway in front of it."""
    fake = FakeKrea(token=TOKEN)
    fake.inject("get_job", status, count=10)  # every attempt fails
    result = await call_once(fake, "get_job", {"job_id": UNKNOWN_JOB})
    assert result.is_error
    assert str(status) in text_of(result) and "temporary" in text_of(result)
    assert fake.requests == [("GET", f"/jobs/{UNKNOWN_JOB}")] * 4  # retried, then reported


async def test_unreadable_job_body_is_an_error_not_a_crash() -> None:
    fake = FakeKrea(token=TOKEN)
    fake.inject("get_job", "malformed", count=10)
    result = await call_once(fake, "get_job", {"job_id": UNKNOWN_JOB})
    assert result.is_error
    assert "not a job" in text_of(result)


async def test_connection_failure_is_reported_with_the_base_url() -> None:
    def refuse(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("connection refused", request=request)

    transport = httpx.MockTransport(refuse)
    result = await call_once(transport, "generate_image", {"prompt": "a fox"}, base_url="https://krea.example:8443")
    assert result.is_error
    assert "Krea at https://krea.example:8443 could not be reached" in text_of(result)
    assert TOKEN not in text_of(result)


async def test_errors_while_waiting_keep_the_job_id() -> None:
    """The job exists: a 401 during polling is reported together with its id, never instead of it."""
    fake = FakeKrea(token=TOKEN, job_duration_s=5)
    fake.inject("get_job", 401, count=10)  # the token is revoked once the job is created
    result = await call_once(fake, "generate_image", {"prompt": "a fox"})
    assert result.is_error
    (job_id,) = fake.jobs
    assert job_id in text_of(result) and "missing or invalid API token" in text_of(result)
    assert fake.requests == [("POST", FLUX), ("GET", f"/jobs/{job_id}")]  # a 401 is not polled again


async def test_polling_survives_transient_errors_until_the_job_completes() -> None:
    fake = FakeKrea(token=TOKEN, job_duration_s=0.2)
    fake.inject("get_job", 502, count=3)
    result = await call_once(fake, "generate_image", {"prompt": "a fox"})
    assert not result.is_error, text_of(result)
    assert result.structured_content["status"] == "completed"
    assert fake.jobs_created == 1
    assert fake.faults_pending == 0  # all three bad gateways were met, and got over


async def test_deadline_with_krea_unreachable_still_returns_the_job_id() -> None:
    fake = FakeKrea(token=TOKEN, job_duration_s=5)
    fake.inject("get_job", "hang", count=1000)  # every check times out
    result = await call_once(fake, "generate_image", {"prompt": "a fox"}, wait_s=0.3, request_timeout_s=0.05)
    assert not result.is_error
    (job_id,) = fake.jobs
    assert result.structured_content["job_id"] == job_id
    assert "could not be reached" in text_of(result) and "wait_for_job" in text_of(result)


@pytest.mark.parametrize(
    ("arguments", "expected"),
    [
        ({"model": "fluxx"}, ["Unknown model 'fluxx'", "bfl/flux-1-dev", "list_models"]),
        ({"width": 100, "height": 100}, ["out of range", "bfl/flux-1-dev", "512–2368"]),
        ({"model": "z-image", "aspect_ratio": "5:4"}, ["aspect_ratio", "z-image/z-image", "1:1, 4:3"]),
        ({"steps": 150}, ["steps=150", "1–100"]),
        ({"model": "imagen-4", "steps": 20}, ["steps", "google/imagen-4", "no such parameter"]),
        # The hint names the field the model really has, so following it cannot be rejected again.
        ({"options": {"guidanceScale": 2}}, ["options.guidanceScale", "use options.guidance_scale_flux"]),
        ({"options": {"bogus": 1}}, ["options.bogus", "it takes"]),
        ({"model": "flux-pro", "resolution": "4K"}, ["resolution=4K", "at most 1440"]),
    ],
)
async def test_invalid_parameters_are_rejected_before_any_post(arguments: dict[str, Any], expected: list[str]) -> None:
    fake = FakeKrea(token=TOKEN)
    result = await call_once(fake, "generate_image", {"prompt": "a fox", **arguments})
    assert result.is_error
    for fragment in expected:
        assert fragment in text_of(result)
    assert fake.generate_posts == 0
