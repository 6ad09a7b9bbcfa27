"""Krea's webhooks (issue 15, item 3): a completion wakes the waiter at once, a forged or unknown call does nothing
costly, a lost call falls back to polling, the route needs no Krea token and leaks nothing; stdio ignores the setting.

The server is the real HTTP app (in-process over ASGI, or a real uvicorn process) and the emulator delivers the
webhooks to it; GETs are counted on the emulator.
"""

from __future__ import annotations

import json
import logging
import re
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import anyio
import httpx
import pytest
from mcp import Client
from mcp.client.streamable_http import streamable_http_client

from krea_mcp.fake_api import FakeKrea
from krea_mcp.fake_api._webhooks import FAULTS
from krea_mcp.http_app import MAX_WEBHOOK_BYTES, WEBHOOK_BURST, WebhookRoute, build_app
from krea_mcp.settings import Settings, describe_error
from krea_mcp.workflow import wakeups as wakeups_module
from krea_mcp.workflow.wakeups import MIN_GAP_S, WEBHOOK_PATH, Wakeups
from tests.helpers import (
    ACCEPT,
    FLUX,
    TOKEN,
    UNKNOWN_JOB,
    Around,
    bare_settings,
    child_env,
    connect,
    free_port,
    initialize,
    is_create,
    make_settings,
    open_client,
    running,
    submit,
)

pytestmark = pytest.mark.anyio

#: This server's public base URL in the tests (the in-process transport ignores the host).
BASE = "http://127.0.0.1:8000"
GATE_TOKEN = "webhook-gate-3f9c1e7a5b2d4c6e8a0b1d3f5e7c9a2b"


def gets(fake: FakeKrea, job_id: str) -> int:
    return sum(1 for method, path in fake.requests if method == "GET" and path == f"/jobs/{job_id}")


def lag_of(data: dict[str, Any]) -> float:
    """Seconds from the emulator's completion of the job to now (when the client holds the result)."""
    completed = data["completed_at"].replace("Z", "+00:00")
    from datetime import datetime

    return time.time() - datetime.fromisoformat(completed).timestamp()


@asynccontextmanager
async def served(
    fake: FakeKrea, *, transport: httpx.AsyncBaseTransport | None = None, **values: Any
) -> AsyncIterator[tuple[Client, WebhookRoute, httpx.AsyncClient]]:
    """The real HTTP app with KREA_WEBHOOK_URL, an MCP client of it over HTTP, a plain HTTP client of it; the
    emulator delivers its webhooks to the app in-process."""
    import httpx2

    settings = make_settings(webhook_url=BASE, preview="off", **values)
    app = build_app(settings, transport=transport or fake.transport())
    assert isinstance(app, WebhookRoute)
    fake.webhooks.transport = httpx.ASGITransport(app=app)
    inner: Any = app
    while not hasattr(inner, "router"):
        inner = inner.app
    try:
        async with (
            inner.router.lifespan_context(inner),
            httpx2.AsyncClient(transport=httpx2.ASGITransport(app=app), base_url="http://127.0.0.1") as mcp_http,
            httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://127.0.0.1") as http,
        ):
            headers = {"authorization": f"Bearer {values['http_token']}"} if "http_token" in values else {}
            mcp_http.headers.update(headers)
            async with Client(streamable_http_client("http://127.0.0.1/mcp", http_client=mcp_http)) as client:
                yield client, app, http
    finally:
        await fake.webhooks.aclose()


async def generate(client: Client, **arguments: Any) -> dict[str, Any]:
    result = await client.call_tool("generate_image", {"prompt": "a fox", **arguments})
    data: dict[str, Any] = result.structured_content or {}
    return data


def hook_path(app: WebhookRoute) -> str:
    return f"{WEBHOOK_PATH}{app.link.token}"


async def eventually(check: Callable[[], object], seconds: float = 2.0) -> None:
    """Until ``check()`` holds (it polls state the emulator keeps; a failure after ``seconds``)."""
    with anyio.fail_after(seconds):
        while True:
            if check():
                return
            await anyio.sleep(0.01)


# --- the header ---------------------------------------------------------------------------------------------------


class Recorder:
    """The emulator's transport, remembering every request's X-Webhook-URL header."""

    def __init__(self, fake: FakeKrea) -> None:
        self.seen: list[tuple[str, str, str | None]] = []
        self.transport = Around(fake, self._handle)

    async def _handle(self, request: httpx.Request, inner: httpx.AsyncBaseTransport) -> httpx.Response:
        self.seen.append((request.method, request.url.path, request.headers.get("x-webhook-url")))
        return await inner.handle_async_request(request)


async def test_every_create_carries_the_webhook_url_and_nothing_else_does() -> None:
    fake = FakeKrea(token=TOKEN, job_duration_s=0.2)
    recorder = Recorder(fake)
    async with served(fake, transport=recorder.transport) as (client, app, _):
        data = await generate(client)
        await client.call_tool("get_job", {"job_id": data["job_id"]})
    creates = [url for method, path, url in recorder.seen if method == "POST" and path.startswith("/generate/")]
    others = [url for method, path, url in recorder.seen if not (method == "POST" and path.startswith("/generate/"))]
    assert creates == [f"{BASE}/webhooks/krea/{app.link.token}"]
    assert len(app.link.token) >= 43  # secrets.token_urlsafe(32)
    assert others and all(url is None for url in others)


async def test_no_header_without_the_setting() -> None:
    fake = FakeKrea(token=TOKEN, job_duration_s=0.1)
    seen: list[str | None] = []

    async def handler(request: httpx.Request, inner: httpx.AsyncBaseTransport) -> httpx.Response:
        seen.append(request.headers.get("x-webhook-url"))
        return await inner.handle_async_request(request)

    app = build_app(make_settings(preview="off"), transport=Around(fake, handler))
    assert not isinstance(app, WebhookRoute)  # no route either: the path goes through the gate like any other
    async with connect(Around(fake, handler), preview="off") as client:
        await client.call_tool("generate_image", {"prompt": "a fox"})
    assert seen and all(url is None for url in seen)


async def test_stdio_ignores_the_setting_with_one_warning(caplog: pytest.LogCaptureFixture) -> None:
    """Krea cannot reach a stdio server: no header is sent, jobs are polled as usual, and the log says so once."""
    caplog.set_level(logging.INFO)
    fake = FakeKrea(token=TOKEN, job_duration_s=0.1)
    seen: list[str | None] = []

    async def handler(request: httpx.Request, inner: httpx.AsyncBaseTransport) -> httpx.Response:
        if is_create(request):
            seen.append(request.headers.get("x-webhook-url"))
        return await inner.handle_async_request(request)

    async with connect(Around(fake, handler), webhook_url="https://mcp.example.com", preview="off") as client:
        for _ in range(2):
            result = await client.call_tool("generate_image", {"prompt": "a fox"})
            assert (result.structured_content or {})["status"] == "completed"
    assert seen == [None, None]
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert len([w for w in warnings if "KREA_WEBHOOK_URL is ignored" in w]) == 1, warnings
    assert fake.webhooks.deliveries == []


# --- the fast path ------------------------------------------------------------------------------------------------


async def test_a_completion_wakes_the_waiter_at_once() -> None:
    """A 1 s job: the webhook ends the wait (the fallback poll would come at 10 s), one GET confirms it."""
    fake = FakeKrea(token=TOKEN, job_duration_s=1.0)
    async with served(fake) as (client, _, _):
        started = time.monotonic()
        data = await generate(client)
        lag = lag_of(data)
        elapsed = time.monotonic() - started
    assert data["status"] == "completed" and data["urls"]
    assert lag < 0.25, lag
    assert elapsed < 2.0, elapsed
    assert gets(fake, data["job_id"]) <= 2
    assert [d.outcome for d in fake.webhooks.deliveries] == [202]


async def test_failed_and_cancelled_jobs_wake_their_waiter_too() -> None:
    fake = FakeKrea(token=TOKEN, job_duration_s=0.8)
    fake.fail_next_jobs(1)
    async with served(fake) as (client, _, _):
        started = time.monotonic()
        result = await client.call_tool("generate_image", {"prompt": "a fox"})
        assert time.monotonic() - started < 2.0
        assert result.is_error or (result.structured_content or {}).get("status") == "failed"
        fake.cancel_next_jobs(1)  # the system cancels it half-way
        started = time.monotonic()
        data = await generate(client)
        assert data["status"] == "cancelled" and time.monotonic() - started < 2.0
    assert [d.status for d in fake.webhooks.deliveries] == ["failed", "cancelled"]


async def test_wait_for_job_is_woken_too() -> None:
    fake = FakeKrea(token=TOKEN, job_duration_s=1.5)
    async with served(fake, wait_s=0.3) as (client, _, _):
        first = await generate(client)
        assert first["status"] != "completed"
        result = await client.call_tool("wait_for_job", {"job_id": first["job_id"], "timeout_s": 10})
        data = result.structured_content or {}
        assert data["status"] == "completed" and lag_of(data) < 0.25
    assert gets(fake, first["job_id"]) <= 3  # wait_for_job's first look, and the one after the webhook


async def test_the_sandbox_delivers_its_webhooks_in_process() -> None:
    """``--sandbox --transport http`` with KREA_WEBHOOK_URL: the built-in emulator calls the app itself (nothing
    on the network), so the wait ends with the ~2 s sandbox job, well before a 10 s fallback poll."""
    import httpx2

    app = build_app(bare_settings(sandbox=True, webhook_url="https://mcp.example.com", preview="off"))
    inner: Any = app
    while not hasattr(inner, "router"):
        inner = inner.app
    async with (
        inner.router.lifespan_context(inner),
        httpx2.AsyncClient(transport=httpx2.ASGITransport(app=app), base_url="http://127.0.0.1") as http,
        Client(streamable_http_client("http://127.0.0.1/mcp", http_client=http)) as client,
    ):
        started = time.monotonic()
        data = await generate(client)
        assert data["status"] == "completed"
        assert time.monotonic() - started < 4.0


# --- forged and unknown calls ---------------------------------------------------------------------------------------


async def test_a_wrong_token_gets_an_empty_404_and_reaches_nothing() -> None:
    fake = FakeKrea(token=TOKEN, job_duration_s=0.1)
    async with served(fake) as (_, app, http):
        token = app.link.token
        for path in (
            f"{WEBHOOK_PATH}{token[:-1]}",
            f"{WEBHOOK_PATH}{token}x",
            f"{WEBHOOK_PATH}{token}/",
            f"{WEBHOOK_PATH}",
            f"{WEBHOOK_PATH}{'a' * 43}",
            f"{WEBHOOK_PATH}{token.upper() if token != token.upper() else token.lower()}",
        ):
            response = await http.post(path, json={"job_id": UNKNOWN_JOB})
            assert response.status_code == 404 and response.content == b"", path
            assert "www-authenticate" not in response.headers
        wrong_method = await http.get(hook_path(app))
    assert wrong_method.status_code == 405 and wrong_method.content == b""
    assert fake.requests == []


async def test_unknown_jobs_and_garbage_bodies_cost_nothing() -> None:
    """Right token: each call is answered 202 (empty) and wakes nothing; no GET reaches Krea, nothing is kept."""
    fake = FakeKrea(token=TOKEN, job_duration_s=0.1)
    async with served(fake) as (_, app, http):
        path = hook_path(app)
        bodies: list[bytes] = [
            json.dumps({"job_id": UNKNOWN_JOB, "status": "completed"}).encode(),
            b"not json",
            b"\xff\xfe\x00garbage",
            b"[" * 20_000 + b"]" * 20_000,
            b'{"job_id": ' + b"[" * 30_000 + b"]" * 30_000 + b"}",
            b"[1, 2, 3]",
            b'{"job_id": 42}',
            b'{"job_id": null}',
            json.dumps({"job_id": "x" * 500}).encode(),
            json.dumps({"job_id": "../../jobs/1"}).encode(),
            json.dumps({"job_id": "a\nINFO fake log line"}).encode(),
            b"",
        ]
        for body in bodies:
            response = await http.post(path, content=body, headers={"content-type": "application/json"})
            assert response.status_code == 202 and response.content == b"", body[:40]
        assert len(app.link.wakeups) == 0
    assert fake.requests == []


async def test_an_oversized_body_is_refused_unread() -> None:
    fake = FakeKrea(token=TOKEN, job_duration_s=0.1)
    async with served(fake) as (_, app, http):
        big = json.dumps({"job_id": UNKNOWN_JOB, "pad": "x" * MAX_WEBHOOK_BYTES}).encode()
        response = await http.post(hook_path(app), content=big)
        assert response.status_code == 413 and response.content == b""
        # Without a Content-Length (chunked): read only up to the cap, then refused.
        answered: list[dict[str, Any]] = []
        sent = 0

        async def receive() -> dict[str, Any]:
            nonlocal sent
            sent += 1
            return {"type": "http.request", "body": b"x" * 16_384, "more_body": sent < 1_000}

        async def send(message: dict[str, Any]) -> None:
            answered.append(message)

        scope = {"type": "http", "method": "POST", "path": hook_path(app), "headers": [], "root_path": ""}
        await app(scope, receive, send)
        assert answered[0]["status"] == 413 and sent <= MAX_WEBHOOK_BYTES // 16_384 + 1
    assert fake.requests == []


async def test_a_flood_of_forged_calls_cannot_make_the_waiter_poll_fast() -> None:
    """Hundreds of calls naming a real job that is still running: the token bucket refuses most of them, and the
    waiter reads the job at most once per MIN_GAP_S however many get through."""
    fake = FakeKrea(token=TOKEN, job_duration_s=3.0)
    async with served(fake, wait_s=8.0) as (client, app, http):
        statuses: list[int] = []
        job_ids: list[str] = []

        async def flood() -> None:
            await eventually(lambda: fake.jobs)
            job_id = next(iter(fake.jobs))
            job_ids.append(job_id)
            for _ in range(60):  # 300 calls over ~2.4 s
                for _ in range(5):
                    response = await http.post(hook_path(app), json={"job_id": job_id})
                    statuses.append(response.status_code)
                await anyio.sleep(0.04)

        async with anyio.create_task_group() as tg:
            tg.start_soon(flood)
            data = await generate(client)
    assert data["status"] == "completed"
    assert statuses.count(429) > 0 and statuses.count(202) <= WEBHOOK_BURST + 20 * 3 + 5
    assert set(statuses) <= {202, 429}
    # 3 s of job: at most one GET per MIN_GAP_S, plus the one after the real webhook
    assert gets(fake, job_ids[0]) <= 3.0 / MIN_GAP_S + 2, gets(fake, job_ids[0])


async def test_a_call_for_a_job_this_server_did_not_create_wakes_nothing() -> None:
    """Someone else's job (made on Krea directly, waited for here with wait_for_job) is polled on the normal
    schedule; a call naming it is ignored."""
    fake = FakeKrea(token=TOKEN, job_duration_s=1.0)
    async with served(fake, poll_interval_s=0.3) as (client, app, http), open_client(fake) as krea:
        job = await submit(krea, path=FLUX)
        with anyio.fail_after(5):
            async with anyio.create_task_group() as tg:

                async def forge() -> None:
                    await anyio.sleep(0.2)
                    response = await http.post(hook_path(app), json={"job_id": job["job_id"]})
                    assert response.status_code == 202

                tg.start_soon(forge)
                result = await client.call_tool("wait_for_job", {"job_id": job["job_id"], "timeout_s": 5})
        assert (result.structured_content or {})["status"] == "completed"
        assert not app.link.wakeups.wake(job["job_id"])
        assert len(app.link.wakeups) == 0


# --- lost calls -----------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("fault", FAULTS)
async def test_a_lost_webhook_falls_back_to_polling(fault: int | str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(wakeups_module, "FALLBACK_EVERY_S", 0.6)  # the real one is 10 s
    fake = FakeKrea(token=TOKEN, job_duration_s=0.5)
    fake.webhooks.timeout_s = 0.2
    fake.webhooks.fail_next(fault)
    async with served(fake) as (client, _, _):
        data = await generate(client)
        await eventually(lambda: not fake.webhooks.pending)
    assert data["status"] == "completed" and data["urls"]
    assert 1 <= gets(fake, data["job_id"]) <= 3
    assert [d.outcome for d in fake.webhooks.deliveries] == [{"drop": "dropped"}.get(str(fault), fault)]


async def test_the_fallback_polls_sparsely_then_the_normal_schedule_returns_when_calls_stop_arriving(
    caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Krea's calls never arrive (the URL is not reachable from Krea): after a few such waits, one warning, and the
    normal schedule again instead of one look every 10 s."""
    monkeypatch.setattr(wakeups_module, "LINGER_S", 0.0)
    fake = FakeKrea(token=TOKEN, job_duration_s=0.2)
    fake.webhooks.failure = "drop"
    async with served(fake, poll_interval_s=0.05) as (client, app, _):
        monkeypatch.setattr(wakeups_module, "FALLBACK_EVERY_S", 0.4)
        for _ in range(wakeups_module.MISSES_BEFORE_DOUBT + 1):
            assert (await generate(client))["status"] == "completed"
        assert not app.link.wakeups.trusted
        monkeypatch.setattr(wakeups_module, "FALLBACK_EVERY_S", 30.0)  # would time the next wait out if used
        started = time.monotonic()
        assert (await generate(client))["status"] == "completed"
        assert time.monotonic() - started < 2.0
        fake.webhooks.failure = None
        assert (await generate(client))["status"] == "completed"
        assert app.link.wakeups.trusted  # a call arrived: sparse fallback again
    assert any("no webhook from Krea arrived" in r.getMessage() for r in caplog.records)


# --- no token needed, nothing leaks ---------------------------------------------------------------------------------


async def test_the_route_needs_no_token_while_mcp_still_does() -> None:
    fake = FakeKrea(token=TOKEN, job_duration_s=1.0)
    async with served(fake, http_auth="token", http_token=GATE_TOKEN) as (client, app, http):
        assert (await http.post("/mcp", json=initialize(), headers=ACCEPT)).status_code == 401
        unknown = await http.post(hook_path(app), json={"job_id": UNKNOWN_JOB})
        assert unknown.status_code == 202
        foreign_host = await http.post(hook_path(app), json={"job_id": UNKNOWN_JOB}, headers={"host": "tunnel.example"})
        assert foreign_host.status_code == 202  # Krea calls the public name (a tunnel, a proxy), not a local one
        data = await generate(client)
        assert data["status"] == "completed" and lag_of(data) < 0.25
    assert [d.outcome for d in fake.webhooks.deliveries] == [202]


async def test_nothing_leaks_in_answers_or_logs(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    fake = FakeKrea(token=TOKEN, job_duration_s=0.3)
    async with served(fake) as (client, app, http):
        token = app.link.token
        data = await generate(client)
        answers = [
            await http.post(hook_path(app), json={"job_id": data["job_id"]}),
            await http.post(hook_path(app), content=b"garbage"),
            await http.post(f"{WEBHOOK_PATH}nope", json={"job_id": data["job_id"]}),
        ]
        for response in answers:
            assert response.content == b""
            assert set(response.headers) <= {"content-length", "allow"}
        # uvicorn's access log line for a call (its path holds the token) is redacted
        logging.getLogger("uvicorn.access").info(
            '%s - "%s %s HTTP/%s" %d', "203.0.113.9:4711", "POST", hook_path(app), "1.1", 202
        )
        result = await client.call_tool("get_job", {"job_id": data["job_id"]})
    logged = "\n".join(record.getMessage() for record in caplog.records)
    assert token not in logged and token not in json.dumps(data) and token not in str(result)
    assert f"POST {WEBHOOK_PATH}[redacted]" in logged
    assert f"webhook from Krea for job {data['job_id']}" in logged


async def test_a_token_krea_echoes_is_scrubbed_from_what_the_agent_sees() -> None:
    """Were Krea to show the webhook URL in a job's JSON, its secret would not reach the agent."""
    fake = FakeKrea(token=TOKEN, job_duration_s=0.2)
    urls: list[str] = []

    async def handler(request: httpx.Request, inner: httpx.AsyncBaseTransport) -> httpx.Response:
        response = await inner.handle_async_request(request)
        hook = request.headers.get("x-webhook-url")
        if hook:
            urls.append(hook)
        if request.method == "GET" and request.url.path.startswith("/jobs/") and urls:
            await response.aread()
            body = {**json.loads(response.content), "webhook_url": urls[0]}
            return httpx.Response(response.status_code, json=body)
        return response

    async with served(fake, transport=Around(fake, handler)) as (client, app, _):
        data = await generate(client)
        result = await client.call_tool("get_job", {"job_id": data["job_id"]})
    assert urls and app.link.token not in str(result) and app.link.token not in json.dumps(data)


# --- a real uvicorn process, the standalone emulator calling it over the network ------------------------------------


async def test_over_the_network_with_uvicorn_and_the_standalone_emulator(tmp_path: Path) -> None:
    """The emulator POSTs to the server's public URL over TCP; uvicorn's access log never shows the token."""
    import httpx2

    krea_port, server_port = free_port(), free_port()
    krea_log, server_log = tmp_path / "krea.log", tmp_path / "server.log"
    emulator = ["-m", "krea_mcp.fake_api", "--port", str(krea_port), "--token", TOKEN, "--job-duration", "1.0"]
    env = child_env(
        KREA_API_TOKEN=TOKEN,
        KREA_BASE_URL=f"http://127.0.0.1:{krea_port}",
        KREA_WEBHOOK_URL=f"http://127.0.0.1:{server_port}",
        KREA_PREVIEW="off",
        KREA_OUTPUT_DIR=str(tmp_path / "images"),
    )
    server = ["-m", "krea_mcp", "--transport", "http", "--port", str(server_port), "--log-level", "DEBUG"]
    with (
        running(emulator, krea_port, env=child_env(), log=krea_log),
        running(server, server_port, env=env, log=server_log),
    ):
        async with (
            httpx2.AsyncClient() as http,
            Client(streamable_http_client(f"http://127.0.0.1:{server_port}/mcp", http_client=http)) as client,
        ):
            started = time.monotonic()
            data = await generate(client)
            elapsed = time.monotonic() - started
            async with httpx.AsyncClient() as plain:
                wrong = await plain.post(f"http://127.0.0.1:{server_port}{WEBHOOK_PATH}guess", json={"job_id": "x"})
    assert data["status"] == "completed" and lag_of(data) < 0.5, data
    assert elapsed < 3.0  # the webhook, not the 10 s fallback poll, ended the wait
    assert wrong.status_code == 404
    server_text = server_log.read_text()
    assert f"POST {WEBHOOK_PATH}[redacted]" in server_text  # uvicorn's access line for Krea's call
    assert not re.search(re.escape(WEBHOOK_PATH) + r"[A-Za-z0-9_-]{20,}", server_text)
    assert "webhook from Krea for job" in server_text


# --- the registry ---------------------------------------------------------------------------------------------------


async def test_a_wake_ends_a_sleep_and_a_wake_during_the_get_is_not_lost() -> None:
    wakeups = Wakeups(webhooks=True)
    wakeups.ours = lambda job_id: job_id == "j"
    async with anyio.create_task_group() as tg:
        tg.start_soon(lambda: _wake_later(wakeups, "j", 0.1))
        started = anyio.current_time()
        await wakeups.sleep("j", 10)
        assert anyio.current_time() - started < 0.5
    await anyio.sleep(MIN_GAP_S)
    wakeups.wake("j")  # arrives while the waiter is reading the job
    started = anyio.current_time()
    await wakeups.sleep("j", 10)
    assert anyio.current_time() - started < 0.05


async def test_early_returns_are_at_most_one_per_min_gap() -> None:
    wakeups = Wakeups(webhooks=True)
    wakeups.ours = lambda job_id: True
    returns = 0
    with anyio.move_on_after(2.0):
        async with anyio.create_task_group() as tg:

            async def flood() -> None:
                while True:
                    wakeups.wake("j")
                    await anyio.sleep(0.005)

            tg.start_soon(flood)
            while True:
                await wakeups.sleep("j", 10)
                returns += 1
    assert 2 <= returns <= 2.0 / MIN_GAP_S + 1


async def test_without_webhooks_or_for_other_jobs_it_is_a_plain_sleep() -> None:
    off = Wakeups()
    started = anyio.current_time()
    await off.sleep("j", 0.05)
    assert not off.wake("j") and len(off) == 0
    on = Wakeups(webhooks=True)  # nothing is ours yet (no job service)
    await on.sleep("j", 0.05)
    assert anyio.current_time() - started < 0.5
    assert not on.wake("j") and len(on) == 0


async def test_entries_go_when_their_wait_is_over(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(wakeups_module, "LINGER_S", 0.05)
    monkeypatch.setattr(wakeups_module, "FALLBACK_EVERY_S", 0.0)
    wakeups = Wakeups(webhooks=True)
    wakeups.ours = lambda job_id: True
    for i in range(50):
        await wakeups.sleep(f"job-{i}", 0.001)
    await anyio.sleep(0.1)
    await wakeups.sleep("last", 0.001)
    assert len(wakeups) == 1


async def _wake_later(wakeups: Wakeups, job_id: str, seconds: float) -> None:
    await anyio.sleep(seconds)
    wakeups.wake(job_id)


# --- the setting and the emulator -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "stored"),
    [
        ("https://mcp.example.com/", "https://mcp.example.com"),
        ("https://example.com/krea", "https://example.com/krea"),
        ("http://127.0.0.1:8000", "http://127.0.0.1:8000"),
        ("http://localhost:8000/", "http://localhost:8000"),
        ("http://[::1]:8000", "http://[::1]:8000"),
        ("  ", None),
    ],
)
def test_the_setting_takes_a_public_https_url_or_loopback_http(value: str, stored: str | None) -> None:
    assert bare_settings(webhook_url=value).webhook_url == stored


@pytest.mark.parametrize(
    ("value", "words"),
    [
        ("http://hidden-host.test", "must use https"),
        ("https://user:secret-pw@hidden-host.test", "user name or password"),
        ("https://hidden-host.test/?k=secret-q", "query or fragment"),
        ("hidden-host.test", "public base URL"),
        ("ftp://hidden-host.test", "public base URL"),
        ("https://hidden-host.test/a b", "without spaces"),
        ("https://hidden-host.test:99999999", "not a valid URL"),
    ],
)
def test_the_setting_refuses_other_urls_without_repeating_them(value: str, words: str) -> None:
    from pydantic import ValidationError

    with pytest.raises(ValidationError) as caught:
        bare_settings(webhook_url=value)
    message = describe_error(caught.value)
    assert message.startswith("KREA_WEBHOOK_URL: ") and words in message
    assert "secret" not in message and "hidden-host" not in message


def test_the_setting_is_read_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KREA_WEBHOOK_URL", "https://mcp.example.com")
    assert Settings(_env_file=None).webhook_url == "https://mcp.example.com"  # type: ignore[call-arg]


async def test_the_emulator_calls_back_after_its_delay_and_retries_when_asked() -> None:
    calls: list[tuple[float, dict[str, Any]]] = []

    async def receiver(request: httpx.Request) -> httpx.Response:
        calls.append((time.monotonic(), json.loads(request.content)))
        return httpx.Response(202)

    receiving = httpx.MockTransport(receiver)
    fake = FakeKrea(token=TOKEN, job_duration_s=0.2, webhook_delay_s=0.3, webhook_transport=receiving)
    fake.webhooks.retries, fake.webhooks.retry_delay_s = 1, 0.2
    fake.webhooks.fail_next(500)
    try:
        async with open_client(fake) as krea:
            response = await krea.post(FLUX, json={"prompt": "a fox"}, headers={"x-webhook-url": "https://h.example/w"})
            job = response.json()
            started = time.monotonic()
            await eventually(lambda: calls, 5.0)
            bad = await krea.post(FLUX, json={"prompt": "a fox"}, headers={"x-webhook-url": "not a url"})
    finally:
        await fake.webhooks.aclose()
    at, body = calls[0]
    assert at - started >= 0.2 + 0.3 + 0.2 - 0.05  # the job, the delay, the retry delay
    assert body["job_id"] == job["job_id"] and body["status"] == "completed" and body["result"]["urls"]
    assert [(d.attempt, d.outcome) for d in fake.webhooks.deliveries] == [(1, 500), (2, 202)]
    assert bad.status_code == 400 and "X-Webhook-URL" in bad.json()["error"]


async def test_the_emulator_calls_back_as_soon_as_a_job_is_cancelled() -> None:
    calls: list[dict[str, Any]] = []

    async def receiver(request: httpx.Request) -> httpx.Response:
        calls.append(json.loads(request.content))
        return httpx.Response(204)

    fake = FakeKrea(token=TOKEN, job_duration_s=30.0, webhook_transport=httpx.MockTransport(receiver))
    try:
        async with open_client(fake) as krea:
            response = await krea.post(FLUX, json={"prompt": "a fox"}, headers={"x-webhook-url": "https://h.example/w"})
            job_id = response.json()["job_id"]
            await anyio.sleep(0.1)
            await krea.delete(f"/jobs/{job_id}")
            await eventually(lambda: calls, 1.0)
    finally:
        await fake.webhooks.aclose()
    assert calls[0]["job_id"] == job_id and calls[0]["status"] == "cancelled"
