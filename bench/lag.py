"""Completion-detection lag: from the instant the emulator completes a job to the instant the client holds its URLs.

Jobs of 2, 7, 30 and 70 s (real model timings: sandbox Flux, Flux dev, Luma UNI-1, GPT Image) run concurrently,
each polled by krea-mcp's schedule and, as the baseline, by fixed 2 s polling (Krea's documented advice).
Also counts GET /jobs/{id} per job. The emulator runs in-process on the same clock, so lag is exact.
"""

from __future__ import annotations

import statistics
import time
from datetime import datetime
from typing import Any

import anyio
from mcp import Client

from krea_mcp.fake_api import FakeKrea
from krea_mcp.server.app import create_server
from krea_mcp.settings import Settings

#: (job seconds, model whose typical time the schedule uses, scale so typical == job seconds)
CASES = [
    (2.0, "bfl/flux-1-dev", 2 / 7),
    (7.0, "bfl/flux-1-dev", 1.0),
    (30.0, "luma/uni-1", 1.0),
    (70.0, "openai/gpt-image", 70 / 72),
]


async def _one(client: Client, model: str) -> tuple[float, str]:
    r = await client.call_tool("generate_image", {"prompt": "a fox", "model": model})
    data: dict[str, Any] = r.structured_content or {}
    while data.get("status") != "completed":
        r = await client.call_tool("wait_for_job", {"job_id": data["job_id"]})
        data = r.structured_content or {}
    held = time.time()
    completed = datetime.fromisoformat(data["completed_at"].replace("Z", "+00:00")).timestamp()
    return held - completed, data["job_id"]


async def _strategy(fixed: float | None, jobs_per_case: int, out: dict[str, list[float]]) -> None:
    async def run_case(seconds: float, model: str, scale: float) -> None:
        fake = FakeKrea(token="bench", job_duration_s=seconds)
        settings = Settings(_env_file=None, api_token="bench", preview="off", poll_interval_s=fixed)  # type: ignore[call-arg]
        server = create_server(settings, transport=fake.transport(), duration_scale=scale)
        async with Client(server) as client, anyio.create_task_group() as tg:

            async def job() -> None:
                lag, job_id = await _one(client, model)
                gets = sum(1 for m, p in fake.requests if m == "GET" and p == f"/jobs/{job_id}")
                out["lag"].append(lag)
                out["gets_per_s"].append(gets / seconds)
                out[f"lag_{seconds:g}s"].append(lag)

            for _ in range(jobs_per_case):
                tg.start_soon(job)
                await anyio.sleep(0.137)  # different phases relative to the poll schedule

    async with anyio.create_task_group() as tg:
        for case in CASES:
            tg.start_soon(run_case, *case)


def _pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


async def measure(jobs_per_case: int = 4) -> dict[str, float]:
    ours: dict[str, list[float]] = {"lag": [], "gets_per_s": []}
    base: dict[str, list[float]] = {"lag": [], "gets_per_s": []}
    for d in (ours, base):
        for seconds, *_ in CASES:
            d[f"lag_{seconds:g}s"] = []
    async with anyio.create_task_group() as tg:
        tg.start_soon(_strategy, None, jobs_per_case, ours)
        tg.start_soon(_strategy, 2.0, jobs_per_case, base)
    result = {
        "lag_p50_s": statistics.median(ours["lag"]),
        "lag_p95_s": _pct(ours["lag"], 0.95),
        "max_gets_per_s": max(ours["gets_per_s"]),
        "baseline_lag_p50_s": statistics.median(base["lag"]),
        "baseline_lag_p95_s": _pct(base["lag"], 0.95),
        "baseline_max_gets_per_s": max(base["gets_per_s"]),
        "jobs": len(ours["lag"]),
    }
    for seconds, *_ in CASES:
        result[f"lag_p50_{seconds:g}s"] = statistics.median(ours[f"lag_{seconds:g}s"])
    return result


if __name__ == "__main__":
    r = anyio.run(measure)
    print(
        f"lag p50 {r['lag_p50_s']:.3f} s, p95 {r['lag_p95_s']:.3f} s, max {r['max_gets_per_s']:.2f} GET/s of job time "
        f"(fixed 2 s polling: p50 {r['baseline_lag_p50_s']:.3f} s, p95 {r['baseline_lag_p95_s']:.3f} s, "
        f"{r['baseline_max_gets_per_s']:.2f} GET/s); {r['jobs']:.0f} jobs"
    )
