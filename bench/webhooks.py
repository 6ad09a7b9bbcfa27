"""Webhooks against polling: from the instant the emulator ends a job to the instant the agent holds its URLs, and
GET /jobs/{id} per job.

The same jobs (2, 7, 15 and 30 s, the schedule told their real duration) run three ways at once, each through the real
HTTP app in-process (an MCP client over streamable HTTP, ``build_app``), with the emulator delivering its webhooks to
that app over ASGI:

* ``webhooks``: KREA_WEBHOOK_URL set; Krea's call wakes the wait, one GET confirms it;
* ``polling``: no KREA_WEBHOOK_URL, the normal polling schedule (the baseline);
* ``dropped``: KREA_WEBHOOK_URL set but every call is lost: the sparse fallback polling alone (one look per 10 s).

With webhooks a job costs one GET after its call plus one fallback GET per 10 s it runs: at most 2 for the jobs of up
to 20 s, 3 for the 30 s ones.

The emulator runs in-process on the same clock, so lag is exact (to the emulator's millisecond timestamps).
"""

from __future__ import annotations

import statistics
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import datetime
from typing import Any

import anyio
import httpx
from mcp import Client
from pydantic import SecretStr

from krea_mcp.fake_api import FakeKrea
from krea_mcp.http_app import build_app
from krea_mcp.settings import Settings

#: Seconds each job runs; the schedule is told so (``duration_scale``: Flux's typical 7 s scaled to it).
CASES = (2.0, 7.0, 15.0, 30.0)
MODEL, MODEL_TYPICAL_S = "bfl/flux-1-dev", 7.0
BASE = "http://127.0.0.1:8000"
MODES = ("webhooks", "polling", "dropped")


@asynccontextmanager
async def _served(fake: FakeKrea, mode: str, seconds: float) -> AsyncIterator[Client]:
    import httpx2
    from mcp.client.streamable_http import streamable_http_client

    settings = Settings(  # type: ignore[call-arg]
        _env_file=None, api_token=SecretStr("bench"), preview="off", webhook_url=None if mode == "polling" else BASE
    )
    app = build_app(settings, transport=fake.transport(), duration_scale=seconds / MODEL_TYPICAL_S)
    fake.webhooks.transport = httpx.ASGITransport(app=app)
    if mode == "dropped":
        fake.webhooks.failure = "drop"
    inner: Any = app
    while not hasattr(inner, "router"):
        inner = inner.app
    try:
        async with (
            inner.router.lifespan_context(inner),
            httpx2.AsyncClient(transport=httpx2.ASGITransport(app=app), base_url="http://127.0.0.1") as http,
            Client(streamable_http_client("http://127.0.0.1/mcp", http_client=http)) as client,
        ):
            yield client
    finally:
        await fake.webhooks.aclose()


async def _one(client: Client) -> tuple[float, str]:
    r = await client.call_tool("generate_image", {"prompt": "a fox", "model": MODEL})
    data: dict[str, Any] = r.structured_content or {}
    while data.get("status") != "completed":
        r = await client.call_tool("wait_for_job", {"job_id": data["job_id"]})
        data = r.structured_content or {}
    held = time.time()
    completed = datetime.fromisoformat(data["completed_at"].replace("Z", "+00:00")).timestamp()
    return held - completed, data["job_id"]


async def _mode(mode: str, jobs_per_case: int, out: dict[str, list[float]]) -> None:
    async def run_case(seconds: float) -> None:
        fake = FakeKrea(token="bench", job_duration_s=seconds)
        async with _served(fake, mode, seconds) as client, anyio.create_task_group() as tg:

            async def job() -> None:
                lag, job_id = await _one(client)
                gets = sum(1 for m, p in fake.requests if m == "GET" and p == f"/jobs/{job_id}")
                out["lag"].append(lag)
                out["gets"].append(gets)
                out[f"gets_{seconds:g}s"].append(gets)

            for _ in range(jobs_per_case):
                tg.start_soon(job)
                await anyio.sleep(0.137)  # different phases relative to the poll schedule

    async with anyio.create_task_group() as tg:
        for seconds in CASES:
            tg.start_soon(run_case, seconds)


def _pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


async def measure(jobs_per_case: int = 4) -> dict[str, float]:
    runs: dict[str, dict[str, list[float]]] = {
        mode: {"lag": [], "gets": [], **{f"gets_{s:g}s": [] for s in CASES}} for mode in MODES
    }
    async with anyio.create_task_group() as tg:
        for mode in MODES:
            tg.start_soon(_mode, mode, jobs_per_case, runs[mode])
    result: dict[str, float] = {"jobs": float(len(runs["webhooks"]["lag"]))}
    for mode, r in runs.items():
        result[f"{mode}_lag_p50_s"] = statistics.median(r["lag"])
        result[f"{mode}_lag_p95_s"] = _pct(r["lag"], 0.95)
        result[f"{mode}_gets_per_job_max"] = max(r["gets"])
        result[f"{mode}_gets_per_job_mean"] = statistics.mean(r["gets"])
        for seconds in CASES:
            result[f"{mode}_gets_max_{seconds:g}s"] = max(r[f"gets_{seconds:g}s"])
    return result


if __name__ == "__main__":
    r = anyio.run(measure)
    for mode in MODES:
        print(
            f"{mode:9} lag p50 {r[f'{mode}_lag_p50_s']:.3f} s, p95 {r[f'{mode}_lag_p95_s']:.3f} s, "
            f"GETs per job mean {r[f'{mode}_gets_per_job_mean']:.2f}, max "
            + ", ".join(f"{r[f'{mode}_gets_max_{s:g}s']:.0f} ({s:g} s jobs)" for s in CASES)
        )
    print(f"{r['jobs']:.0f} jobs per mode ({', '.join(f'{s:g} s' for s in CASES)})")
