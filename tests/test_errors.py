"""Each Krea error answer becomes an actionable tool error, and none of them leaks the token."""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest
from mcp import Client

from krea_mcp.fake_api import FakeKrea
from krea_mcp.server.app import create_server

from .conftest import TOKEN, make_settings
from .test_tools import text_of

pytestmark = pytest.mark.anyio

JOB = "3c90c3cc-0d44-4b50-8888-8dd25736052a"


async def call(transport: httpx.AsyncBaseTransport, tool: str, arguments: dict[str, Any], **settings: Any) -> Any:
    async with Client(create_server(make_settings(**settings), transport=transport)) as client:
        return await client.call_tool(tool, arguments)


def answering(status: int, body: Any, headers: dict[str, str] | None = None) -> httpx.MockTransport:
    """A transport where every request gets the same answer."""

    def handler(request: httpx.Request) -> httpx.Response:
        content = body if isinstance(body, bytes) else json.dumps(body).encode()
        return httpx.Response(status, content=content, headers=headers or {"content-type": "application/json"})

    return httpx.MockTransport(handler)


async def test_401_says_the_token_is_invalid_and_where_to_get_one() -> None:
    fake = FakeKrea(token="the-real-token")
    result = await call(fake.transport(), "generate_image", {"prompt": "a fox"})
    assert result.is_error
    text = text_of(result)
    assert "401" in text and "KREA_API_TOKEN" in text and "api-keys-and-billing" in text
    assert TOKEN not in text


async def test_missing_token_fails_before_any_request_and_suggests_sandbox() -> None:
    fake = FakeKrea()
    result = await call(fake.transport(), "generate_image", {"prompt": "a fox"}, api_token=None)
    assert result.is_error
    assert "KREA_API_TOKEN" in text_of(result) and "--sandbox" in text_of(result)
    assert fake.requests == []


async def test_402_says_out_of_credits() -> None:
    fake = FakeKrea(token=TOKEN)
    fake.out_of_credits = True
    result = await call(fake.transport(), "generate_image", {"prompt": "a fox"})
    assert result.is_error
    assert "out of credits" in text_of(result) and "402" in text_of(result)
    assert fake.jobs_created == 0


async def test_404_names_the_unknown_job() -> None:
    fake = FakeKrea(token=TOKEN)
    result = await call(fake.transport(), "get_job", {"job_id": JOB})
    assert result.is_error
    assert JOB in text_of(result) and "not found" in text_of(result)


async def test_410_names_the_replacement_from_the_body() -> None:
    body = {
        "error": "model_unavailable",
        "reason": "deprecated",
        "message": "The model 'bfl/flux-1-dev' was deprecated on 2026-09-01.",
        "sunset_date": "2026-09-01",
        "replacement": "krea/krea-2/medium",
        "migration_url": "https://docs.krea.ai/developers/deprecations",
    }
    result = await call(answering(410, body), "generate_image", {"prompt": "a fox"})
    assert result.is_error
    text = text_of(result)
    assert "retired" in text and "'krea/krea-2/medium'" in text and "2026-09-01" in text


@pytest.mark.parametrize("name", ["bytedance/seedream-3", "seedream-3"])
async def test_sunset_model_is_refused_locally_with_its_replacement(name: str) -> None:
    fake = FakeKrea(token=TOKEN)
    result = await call(fake.transport(), "generate_image", {"prompt": "a fox", "model": name})
    assert result.is_error
    assert "bytedance/seedream-5-lite" in text_of(result)
    assert fake.generate_posts == 0


async def test_429_says_the_backlog_is_full_and_what_to_do() -> None:
    fake = FakeKrea(token=TOKEN, concurrency=1, backlog=0, job_duration_s=30)
    async with Client(create_server(make_settings(), transport=fake.transport())) as client:
        first = await client.call_tool("generate_image", {"prompt": "a fox", "wait": False})
        assert not first.is_error
        second = await client.call_tool("generate_image", {"prompt": "a fox", "wait": False})
    assert second.is_error
    assert "429" in text_of(second) and "concurrency" in text_of(second) and "get_job" in text_of(second)
    assert fake.jobs_created == 1


async def test_429_retry_after_is_reported() -> None:
    transport = answering(429, {"error": "busy"}, {"content-type": "application/json", "retry-after": "7"})
    result = await call(transport, "generate_image", {"prompt": "a fox"})
    assert "retrying after 7 s" in text_of(result)


async def test_400_carries_krea_own_message() -> None:
    result = await call(answering(400, {"error": "prompt rejected by the provider"}), "generate_image", {"prompt": "x"})
    assert result.is_error
    assert "prompt rejected by the provider" in text_of(result)


async def test_500_is_reported_as_temporary() -> None:
    result = await call(answering(503, b"<html>upstream down</html>"), "get_job", {"job_id": JOB})
    assert result.is_error
    assert "503" in text_of(result) and "temporary" in text_of(result)


async def test_unreadable_job_body_is_an_error_not_a_crash() -> None:
    result = await call(answering(200, b"{not json"), "get_job", {"job_id": JOB})
    assert result.is_error
    assert "not a job" in text_of(result)


async def test_connection_failure_is_reported_with_the_base_url() -> None:
    def refuse(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("connection refused", request=request)

    result = await call(httpx.MockTransport(refuse), "generate_image", {"prompt": "a fox"})
    assert result.is_error
    assert "could not be reached" in text_of(result)
    assert TOKEN not in text_of(result)


async def test_errors_while_waiting_keep_the_job_id() -> None:
    """The job exists: a 401 during polling is reported together with its id, never instead of it."""
    fake = FakeKrea(token=TOKEN, job_duration_s=5)
    calls = {"n": 0}
    inner = fake.transport()

    class RevokeAfterCreate(httpx.AsyncBaseTransport):
        async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
            calls["n"] += 1
            if request.method == "GET":
                return httpx.Response(401, json={"error": "token revoked"})
            return await inner.handle_async_request(request)

    result = await call(RevokeAfterCreate(), "generate_image", {"prompt": "a fox"})
    assert result.is_error
    (job_id,) = fake.jobs
    assert job_id in text_of(result) and "token revoked" in text_of(result)


async def test_polling_survives_transient_errors_until_the_job_completes() -> None:
    fake = FakeKrea(token=TOKEN, job_duration_s=0.2)
    inner = fake.transport()
    failures = {"left": 3}

    class Flaky(httpx.AsyncBaseTransport):
        async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
            if request.method == "GET" and failures["left"] > 0:
                failures["left"] -= 1
                return httpx.Response(502, text="bad gateway")
            return await inner.handle_async_request(request)

    result = await call(Flaky(), "generate_image", {"prompt": "a fox"})
    assert not result.is_error, text_of(result)
    assert result.structured_content["status"] == "completed"
    assert fake.jobs_created == 1


async def test_deadline_with_krea_unreachable_still_returns_the_job_id() -> None:
    fake = FakeKrea(token=TOKEN, job_duration_s=5)
    inner = fake.transport()

    class DownAfterCreate(httpx.AsyncBaseTransport):
        async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
            if request.method == "GET":
                raise httpx.ReadTimeout("timed out", request=request)
            return await inner.handle_async_request(request)

    result = await call(DownAfterCreate(), "generate_image", {"prompt": "a fox"}, wait_s=0.3)
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
    result = await call(fake.transport(), "generate_image", {"prompt": "a fox", **arguments})
    assert result.is_error
    for fragment in expected:
        assert fragment in text_of(result)
    assert fake.generate_posts == 0
