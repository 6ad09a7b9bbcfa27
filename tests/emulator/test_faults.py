"""Tests for fault injection in the Krea API emulator: injected statuses, resets, hangs, job markers, control plane."""

from __future__ import annotations

import json
import time
from collections.abc import Awaitable, Callable
from contextlib import nullcontext
from datetime import timedelta
from typing import Any

import anyio
import httpx
import pytest

from krea_mcp.fake_api import FakeKrea
from krea_mcp.fake_api.__main__ import _parser
from krea_mcp.fake_api._png import PNG_SIGNATURE, encode_png
from tests.helpers import FLUX, TOKEN, FakeClock, free_port, running
from tests.helpers import open_client as _client
from tests.helpers import status as _status
from tests.helpers import submit as _submit
from tests.helpers import when as _when

pytestmark = pytest.mark.anyio

SUNSET = "/generate/image/bytedance/seedream-3"
ROUTES = ("generate", "get_job", "list_jobs", "delete_job", "upload", "image")
STATUSES = (400, 401, 402, 404, 410, 429, 500, 502, 503, 504)
NON_TERMINAL = ["backlogged", "queued", "scheduled", "processing", "sampling", "intermediate-complete"]
PNG = encode_png(2, 2, [b"\x10\x20\x30" * 2] * 2)


Call = Callable[[], Awaitable[httpx.Response]]


async def _route_calls(client: httpx.AsyncClient, clock: FakeClock) -> dict[str, Call]:
    """One request per fault route, aimed at a job that has already completed."""
    job = await _submit(client, prompt="a finished job")
    clock.advance(7)
    (image_url,) = (await _status(client, job["job_id"]))["result"]["urls"]
    return {
        "generate": lambda: client.post(FLUX, json={"prompt": "x"}),
        "get_job": lambda: client.get(f"/jobs/{job['job_id']}"),
        "list_jobs": lambda: client.get("/jobs"),
        "delete_job": lambda: client.delete(f"/jobs/{job['job_id']}"),
        "upload": lambda: client.post("/assets", files={"file": ("in.png", PNG, "image/png")}),
        "image": lambda: client.get(image_url),
    }


def _check_fault_body(response: httpx.Response, status: int, route: str) -> None:
    assert response.status_code == status
    if status in (502, 503, 504):
        assert response.headers["content-type"].startswith("text/html")
        assert f"<title>{status} " in response.text
        return
    body = response.json()
    assert isinstance(body["error"], str) and body["error"]
    if status == 500:
        assert body == {"error": "Internal server error"}
    elif status == 429:
        assert body["error"].startswith("Too many concurrent jobs")
        assert "retry-after" not in response.headers
    elif status == 401:
        assert body == {"error": "Unauthorized: missing or invalid API token"}
        assert response.headers["www-authenticate"] == "Bearer"
    elif status == 402:
        assert body["error"].startswith("Insufficient credits")
    elif status == 410 and route == "generate":
        assert (body["error"], body["reason"]) == ("model_unavailable", "deprecated")
        assert "bfl/flux-1-dev" in body["message"] and "sunset_date" in body


# --- status faults --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("status", STATUSES)
@pytest.mark.parametrize("route", ROUTES)
async def test_status_fault_answers_count_times_then_normal(
    client: httpx.AsyncClient, fake: FakeKrea, clock: FakeClock, route: str, status: int
) -> None:
    calls = await _route_calls(client, clock)
    created, posts = fake.jobs_created, fake.generate_posts
    fake.inject(route, status, count=2)
    assert fake.faults_pending == 2
    for _ in range(2):
        _check_fault_body(await calls[route](), status, route)
    assert fake.faults_pending == 0
    assert fake.jobs_created == created  # a fault before the app creates nothing
    assert fake.generate_posts == posts + (2 if route == "generate" else 0)
    assert (await calls[route]()).status_code == 200


async def test_410_for_a_sunset_model_is_its_documented_body(client: httpx.AsyncClient, fake: FakeKrea) -> None:
    real = (await client.post(SUNSET, json={"prompt": "x"})).json()
    fake.inject("generate", 410)
    assert (await client.post(SUNSET, json={"prompt": "x"})).json() == real
    assert real["replacement"] == "bytedance/seedream-5-lite"


async def test_generic_404_and_400_messages(client: httpx.AsyncClient, fake: FakeKrea) -> None:
    fake.inject("generate", 404)
    fake.inject("list_jobs", 400)
    assert (await client.post(FLUX, json={"prompt": "x"})).json() == {"error": "Model not found: bfl/flux-1-dev"}
    assert (await client.get("/jobs")).json() == {"error": "Invalid query parameters"}


@pytest.mark.parametrize(("retry_after", "header"), [(None, None), (3, "3"), (2.0, "2"), (0.25, "0.25")])
async def test_429_with_and_without_retry_after(
    client: httpx.AsyncClient, fake: FakeKrea, retry_after: float | None, header: str | None
) -> None:
    fake.inject("generate", 429, retry_after=retry_after)
    response = await client.post(FLUX, json={"prompt": "x"})
    assert response.status_code == 429
    assert response.json()["error"].startswith("Too many concurrent jobs")
    assert response.headers.get("retry-after") == header


async def test_faults_are_used_first_in_first_out(client: httpx.AsyncClient, fake: FakeKrea) -> None:
    fake.inject("list_jobs", 500)
    fake.inject("list_jobs", 503)
    fake.inject("get_job", 502)
    assert (await client.get("/jobs/nope")).status_code == 502  # other routes' faults do not block this one
    assert [(await client.get("/jobs")).status_code for _ in range(3)] == [500, 503, 200]


async def test_star_route_matches_every_route_in_order_with_specific_ones(
    client: httpx.AsyncClient, fake: FakeKrea, clock: FakeClock
) -> None:
    calls = await _route_calls(client, clock)
    fake.inject("get_job", 502)
    fake.inject("*", 503, count=len(ROUTES))
    assert (await calls["get_job"]()).status_code == 502
    assert [(await calls[route]()).status_code for route in ROUTES] == [503] * len(ROUTES)
    assert fake.faults_pending == 0


async def test_star_route_leaves_other_endpoints_alone(client: httpx.AsyncClient, fake: FakeKrea) -> None:
    fake.inject("*", 500)
    assert (await client.get("/assets")).status_code == 200
    assert (await client.get("/_fake/stats")).status_code == 200
    assert fake.faults_pending == 1


async def test_fault_requests_are_recorded_and_counted(client: httpx.AsyncClient, fake: FakeKrea) -> None:
    fake.inject("generate", 503)
    fake.inject("list_jobs", "malformed")
    await client.post(FLUX, json={"prompt": "x"})
    await client.get("/jobs")
    assert fake.requests == [("POST", FLUX), ("GET", "/jobs")]
    assert (fake.generate_posts, fake.jobs_created) == (1, 0)


async def test_faults_apply_after_authentication(fake: FakeKrea) -> None:
    fake.inject("list_jobs", 500)
    async with _client(fake, token=None) as anonymous:
        assert (await anonymous.get("/jobs")).status_code == 401
    assert fake.faults_pending == 1


@pytest.mark.parametrize(
    ("args", "kwargs"),
    [
        (("jobs", 500), {}),
        (("generate", 418), {}),
        (("generate", "explode"), {}),
        (("generate", True), {}),
        (("generate", 500), {"count": 0}),
        (("generate", 429), {"retry_after": -1}),
    ],
)
def test_inject_rejects_invalid_arguments(args: tuple[Any, ...], kwargs: dict[str, Any]) -> None:
    fake = FakeKrea()
    with pytest.raises(ValueError):
        fake.inject(*args, **kwargs)
    assert fake.faults_pending == 0


# --- malformed, reset, hang -----------------------------------------------------------------------------------


@pytest.mark.parametrize("route", ROUTES)
async def test_malformed_is_a_200_with_invalid_json(
    client: httpx.AsyncClient, fake: FakeKrea, clock: FakeClock, route: str
) -> None:
    calls = await _route_calls(client, clock)
    fake.inject(route, "malformed")
    response = await calls[route]()
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/json"
    with pytest.raises(json.JSONDecodeError):
        response.json()
    assert (await calls[route]()).status_code == 200


@pytest.mark.parametrize("route", ROUTES)
async def test_reset_surfaces_as_a_transport_error(
    client: httpx.AsyncClient, fake: FakeKrea, clock: FakeClock, route: str
) -> None:
    calls = await _route_calls(client, clock)
    fake.inject(route, "reset")
    with pytest.raises(httpx.TransportError) as caught:
        await calls[route]()
    assert isinstance(caught.value, httpx.ReadError | httpx.RemoteProtocolError)
    assert (await calls[route]()).status_code == 200


async def test_hang_ends_with_the_client_read_timeout(fake: FakeKrea) -> None:
    fake.inject("get_job", "hang")
    async with _client(fake, timeout=0.2) as c:
        started = time.monotonic()
        with anyio.fail_after(5), pytest.raises(httpx.ReadTimeout):
            await c.get("/jobs/any")
        assert time.monotonic() - started < 2
        assert (await c.get("/jobs/any")).status_code == 404  # the next request is answered normally


async def test_without_a_client_timeout_nothing_times_out(fake: FakeKrea) -> None:
    async with _client(fake) as c:
        c.timeout = httpx.Timeout(None)
        assert (await c.get("/jobs")).status_code == 200


# --- after_create ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("fault", [500, 502, 429, "reset", "hang", "malformed"])
async def test_after_create_the_job_exists_but_the_answer_is_the_fault(fake: FakeKrea, fault: int | str) -> None:
    fake.inject("generate", fault, after_create=True)
    async with _client(fake, timeout=0.2) as c:
        with anyio.fail_after(5):
            try:
                response = await c.post(FLUX, json={"prompt": "ambiguous"})
            except httpx.TransportError:
                assert fault in ("reset", "hang")
            else:
                assert response.status_code == (200 if fault == "malformed" else fault)
                assert "job_id" not in response.text or fault == "malformed"
        items = (await c.get("/jobs")).json()["items"]
    assert len(items) == 1
    assert items[0]["job_id"] in fake.jobs
    assert (fake.generate_posts, fake.jobs_created) == (1, 1)


@pytest.mark.parametrize("fault", [500, "reset", "hang"])
async def test_without_after_create_nothing_is_created(fake: FakeKrea, fault: int | str) -> None:
    fake.inject("generate", fault)
    async with _client(fake, timeout=0.2) as c:
        with anyio.fail_after(5), pytest.raises(httpx.TransportError) if fault != 500 else nullcontext():
            await c.post(FLUX, json={"prompt": "x"})
        assert (await c.get("/jobs")).json()["items"] == []
    assert (fake.generate_posts, fake.jobs_created) == (1, 0)


async def test_after_create_on_delete_still_cancels(client: httpx.AsyncClient, fake: FakeKrea) -> None:
    job = await _submit(client)
    fake.inject("delete_job", 502, after_create=True)
    assert (await client.delete(f"/jobs/{job['job_id']}")).status_code == 502
    assert (await _status(client, job["job_id"]))["status"] == "cancelled"


async def test_image_route_fault_on_a_completed_job_url(
    client: httpx.AsyncClient, fake: FakeKrea, clock: FakeClock
) -> None:
    job = await _submit(client)
    clock.advance(7)
    (url,) = (await _status(client, job["job_id"]))["result"]["urls"]
    fake.inject("image", 503)
    fake.inject("image", "reset")
    async with _client(fake, token=None) as anonymous:
        assert (await anonymous.get(url)).status_code == 503
        with pytest.raises(httpx.ReadError):
            await anonymous.get(url)
        image = await anonymous.get(url)
    assert image.status_code == 200
    assert image.content.startswith(PNG_SIGNATURE)


# --- job markers: system cancellation, every status -----------------------------------------------------------


async def test_cancel_next_jobs_cancels_half_way(client: httpx.AsyncClient, fake: FakeKrea, clock: FakeClock) -> None:
    fake.cancel_next_jobs()
    cancelled = await _submit(client)
    fake.fail_next_jobs()
    failed, normal = await _submit(client), await _submit(client)
    clock.advance(3.4)
    assert (await _status(client, cancelled["job_id"]))["status"] == "processing"
    clock.advance(0.2)
    done = await _status(client, cancelled["job_id"])
    assert done["status"] == "cancelled"
    assert done["result"] is None
    assert _when(done["completed_at"]) - _when(done["created_at"]) == timedelta(seconds=3.5)
    clock.advance(10)
    assert await _status(client, cancelled["job_id"]) == done
    assert (await client.delete(f"/jobs/{cancelled['job_id']}")).json() == done
    assert (await _status(client, failed["job_id"]))["status"] == "failed"
    assert (await _status(client, normal["job_id"]))["status"] == "completed"


async def test_a_system_cancel_frees_the_concurrency_slot(clock: FakeClock) -> None:
    fake = FakeKrea(token=TOKEN, clock=clock, concurrency=1)
    fake.cancel_next_jobs()
    async with _client(fake) as c:
        first, second = await _submit(c), await _submit(c)
        assert second["status"] == "backlogged"
        clock.advance(3.6)
        assert (await _status(c, first["job_id"]))["status"] == "cancelled"
        assert (await _status(c, second["job_id"]))["status"] != "backlogged"


async def test_walk_all_statuses_visits_every_status_in_order(clock: FakeClock) -> None:
    fake = FakeKrea(token=TOKEN, clock=clock, job_duration_s=6, walk_all_statuses=True)
    async with _client(fake) as c:
        job = await _submit(c)
        assert job["status"] == "backlogged"
        seen = []
        for at in (0.5, 1.5, 2.5, 3.5, 4.5, 5.5, 6.0):
            clock.now = 1000.0 + at
            seen.append((await _status(c, job["job_id"]))["status"])
        assert seen == [*NON_TERMINAL, "completed"]
        done = await _status(c, job["job_id"])
    assert _when(done["completed_at"]) - _when(done["created_at"]) == timedelta(seconds=6)


async def test_walk_all_statuses_applies_to_jobs_created_while_on(
    client: httpx.AsyncClient, fake: FakeKrea, clock: FakeClock
) -> None:
    plain = await _submit(client)
    fake.walk_all_statuses = True
    walking = await _submit(client)
    fake.stall_next_jobs()
    stalled = await _submit(client)
    clock.advance(7 * 5.5 / 6)
    assert (await _status(client, plain["job_id"]))["status"] == "sampling"
    assert (await _status(client, walking["job_id"]))["status"] == "intermediate-complete"
    clock.advance(100)
    assert (await _status(client, walking["job_id"]))["status"] == "completed"
    assert (await _status(client, stalled["job_id"]))["status"] == "processing"


def test_cli_has_walk_all_statuses() -> None:
    assert _parser().parse_args(["--walk-all-statuses"]).walk_all_statuses is True
    assert _parser().parse_args([]).walk_all_statuses is False


# --- control plane --------------------------------------------------------------------------------------------


async def _control(client: httpx.AsyncClient, body: Any) -> dict[str, Any]:
    response = await client.post("/_fake/control", json=body)
    assert response.status_code == 200, response.text
    answer: dict[str, Any] = response.json()
    return answer


async def test_control_inject(client: httpx.AsyncClient, fake: FakeKrea) -> None:
    spec = {"route": "generate", "fault": 429, "count": 2, "retry_after": 1.5, "after_create": True}
    assert await _control(client, {"inject": spec}) == {"ok": True, "faults_pending": 2}
    assert await _control(client, {"inject": {"route": "list_jobs", "fault": "malformed"}}) == {
        "ok": True,
        "faults_pending": 3,
    }
    response = await client.post(FLUX, json={"prompt": "x"})
    assert (response.status_code, response.headers["retry-after"]) == (429, "1.5")
    assert fake.jobs_created == 1
    assert fake.faults_pending == 2


async def test_control_job_markers(client: httpx.AsyncClient, clock: FakeClock) -> None:
    await _control(client, {"fail_next_jobs": 1, "error": "Provider error: upstream timeout"})
    await _control(client, {"fail_next_jobs": 1})
    await _control(client, {"stall_next_jobs": 1})
    await _control(client, {"cancel_next_jobs": 1})
    jobs = [await _submit(client) for _ in range(5)]
    clock.advance(100)
    results = [await _status(client, job["job_id"]) for job in jobs]
    assert [r["status"] for r in results] == ["failed", "failed", "processing", "cancelled", "completed"]
    assert results[0]["result"] == {"error": "Provider error: upstream timeout"}
    assert results[1]["result"]["error"].startswith("Content moderation")


async def test_control_switches_and_reset(client: httpx.AsyncClient, fake: FakeKrea) -> None:
    await _control(client, {"out_of_credits": True, "walk_all_statuses": True})
    assert (fake.out_of_credits, fake.walk_all_statuses) == (True, True)
    assert (await client.post(FLUX, json={"prompt": "x"})).status_code == 402
    await _control(client, {"out_of_credits": False})
    assert (await _submit(client))["status"] == "backlogged"  # walking jobs start backlogged
    await _control(client, {"inject": {"route": "*", "fault": 500, "count": 3}, "cancel_next_jobs": 2})
    await _control(client, {"fail_next_jobs": 2, "stall_next_jobs": 1, "out_of_credits": True})
    assert await _control(client, {"reset": True}) == {"ok": True, "faults_pending": 0}
    assert (fake.out_of_credits, fake.walk_all_statuses, fake.faults_pending) == (False, False, 0)
    job = await _submit(client)
    assert job["status"] == "queued"
    assert fake.jobs[job["job_id"]].fail_reason is None
    assert not fake.jobs[job["job_id"]].stalled and not fake.jobs[job["job_id"]].system_cancel


@pytest.mark.parametrize(
    "body",
    [
        {},
        {"bogus": 1},
        {"inject": {"route": "nope", "fault": 500}},
        {"inject": {"route": "generate", "fault": 418}},
        {"inject": {"route": "generate", "fault": "explode"}},
        {"inject": {"route": "generate", "fault": 500, "count": 0}},
        {"inject": {"route": "generate", "fault": 500, "extra": 1}},
        {"inject": {"route": "generate", "fault": 429, "retry_after": "soon"}},
        {"inject": {"route": "generate", "fault": 500, "after_create": "yes"}},
        {"inject": "generate"},
        {"fail_next_jobs": -1},
        {"fail_next_jobs": True},
        {"fail_next_jobs": 1, "error": ""},
        {"error": "no count"},
        {"out_of_credits": "yes"},
        {"reset": 1},
        {"out_of_credits": True, "inject": {"route": "nope", "fault": 500}},  # all or nothing
        [1, 2],
        "not an object",
    ],
)
async def test_control_rejects_invalid_bodies(client: httpx.AsyncClient, fake: FakeKrea, body: Any) -> None:
    response = await client.post("/_fake/control", json=body)
    assert response.status_code == 400
    assert response.json()["error"].startswith("Invalid control request")
    assert (fake.faults_pending, fake.out_of_credits) == (0, False)


async def test_control_rejects_non_json(client: httpx.AsyncClient) -> None:
    response = await client.post("/_fake/control", content=b"{", headers={"Content-Type": "application/json"})
    assert response.status_code == 400


@pytest.mark.parametrize("token", [None, "wrong"])
async def test_control_and_stats_need_the_token(fake: FakeKrea, token: str | None) -> None:
    async with _client(fake, token=token) as c:
        response = await c.post("/_fake/control", json={"out_of_credits": True})
        assert response.status_code == 401
        assert (await c.get("/_fake/stats")).status_code == 401
    assert fake.out_of_credits is False


async def test_stats(client: httpx.AsyncClient, fake: FakeKrea) -> None:
    fake.inject("generate", 503)
    await client.post(FLUX, json={"prompt": "x"})
    await _submit(client)
    await client.get("/jobs")
    stats = (await client.get("/_fake/stats")).json()
    assert stats == {"generate_posts": 2, "jobs_created": 1, "requests": 4, "faults_pending": 0}


# --- standalone server ----------------------------------------------------------------------------------------


def test_standalone_reset_and_hang_look_like_network_failures() -> None:
    port = free_port()
    base_url = f"http://127.0.0.1:{port}"
    args = ["-m", "krea_mcp.fake_api", "--port", str(port), "--token", "t0k", "--job-duration", "0", "--quiet"]
    auth = {"Authorization": "Bearer t0k"}
    with running(args, port), httpx.Client(base_url=base_url, headers=auth, timeout=5.0) as c:
        inject = {"inject": {"route": "generate", "fault": "reset", "after_create": True}}
        assert c.post("/_fake/control", json=inject).json() == {"ok": True, "faults_pending": 1}
        with pytest.raises(httpx.TransportError):
            c.post(FLUX, json={"prompt": "cut off"})
        c.post("/_fake/control", json={"inject": {"route": "list_jobs", "fault": "hang"}})
        with pytest.raises(httpx.ReadTimeout):
            c.get("/jobs", timeout=0.3)
        listed = c.get("/jobs")
        assert listed.status_code == 200
        assert len(listed.json()["items"]) == 1
        stats = c.get("/_fake/stats").json()
        assert (stats["generate_posts"], stats["jobs_created"], stats["faults_pending"]) == (1, 1, 0)
        assert c.post("/_fake/control", json={"inject": {"route": "x", "fault": 500}}).status_code == 400
