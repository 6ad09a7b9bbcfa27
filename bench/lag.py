"""Completion-detection lag: from the instant the emulator completes a job to the instant the client holds its URLs.

Every case runs each job twice, on two emulators given the same durations (keyed by the job's prompt, so the
same jobs whatever order they are created in): once polled by krea-mcp's schedule and once, as the baseline, by
fixed 2 s polling (Krea's documented advice). Lag is measured on the same clock as the emulator (in-process), and
GET /jobs/{id} are counted per job.

* **catalog**: jobs of 2, 7, 30 and 70 s whose durations are the catalog's own (its typical time, scaled), run
  concurrently on a server that has learned nothing: the schedule on its catalog prior.
* **learned** cases, after one warm-up job per model, each server learning as its jobs finish (several streams
  of sequential jobs per model share the server's book, as a busy server's callers do):

  - ``0.3x``: the real durations are 0.3x the catalog's (Flux dev 2.1 s, Imagen 4 3.6 s, GPT Image 21.6 s);
  - ``3x``: 3x the catalog's (Z-Image 15 s, Flux dev 21 s, Imagen 4 Fast 24 s);
  - ``spread``: log-normal durations (sigma 0.3) around 2, 7 and 20 s on Flux dev, Imagen 4 and GPT Image (the
    catalog says 7, 12 and 72 s): the jobs of issue 15, with a spread;
  - ``shift``: 0.3x the catalog (Flux dev 2.1 s, Imagen 4 3.6 s, Nano Banana Pro 7.5 s) for three jobs after the
    warm-up, then every job 2x slower; reported: how many jobs after the shift until every later one is within
    the lag target again, and the lag of the jobs from the third after the shift on.
"""

from __future__ import annotations

import math
import random
import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass
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
FIXED_S = 2.0
#: The lag targets of issue 15 (after one warm-up job per model).
P50_TARGET_S, P95_TARGET_S, GETS_TARGET = 0.3, 0.6, 1.0


async def _one(client: Client, model: str, prompt: str = "a fox") -> tuple[float, str]:
    r = await client.call_tool("generate_image", {"prompt": prompt, "model": model})
    data: dict[str, Any] = r.structured_content or {}
    while data.get("status") != "completed":
        r = await client.call_tool("wait_for_job", {"job_id": data["job_id"]})
        data = r.structured_content or {}
    held = time.time()
    completed = datetime.fromisoformat(data["completed_at"].replace("Z", "+00:00")).timestamp()
    return held - completed, data["job_id"]


def _settings(fixed: float | None) -> Settings:
    return Settings(_env_file=None, api_token="bench", preview="off", poll_interval_s=fixed)  # type: ignore[call-arg]


async def _strategy(fixed: float | None, jobs_per_case: int, out: dict[str, list[float]]) -> None:
    async def run_case(seconds: float, model: str, scale: float) -> None:
        fake = FakeKrea(token="bench", job_duration_s=seconds)
        server = create_server(_settings(fixed), transport=fake.transport(), duration_scale=scale)
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
    """The catalog case: durations exactly the catalog's, nothing learned."""
    ours: dict[str, list[float]] = {"lag": [], "gets_per_s": []}
    base: dict[str, list[float]] = {"lag": [], "gets_per_s": []}
    for d in (ours, base):
        for seconds, *_ in CASES:
            d[f"lag_{seconds:g}s"] = []
    async with anyio.create_task_group() as tg:
        tg.start_soon(_strategy, None, jobs_per_case, ours)
        tg.start_soon(_strategy, FIXED_S, jobs_per_case, base)
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


# --- learned cases ------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class LearnedCase:
    """Jobs on ``models``: one warm-up each, then ``streams`` concurrent streams of ``jobs`` sequential jobs."""

    name: str
    #: model id -> seconds of its n-th job (n = 0 is the warm-up, then 1, 2, ... in each stream).
    models: dict[str, Callable[[int, int], float]]
    jobs: int
    streams: int
    #: Jobs from this index on count (the shift case measures after the shift); the warm-up never counts.
    shift_at: int | None = None


def _fixed(seconds: float) -> Callable[[int, int], float]:
    return lambda _stream, _n: seconds


def _lognormal(median: float, sigma: float, seed: int) -> Callable[[int, int], float]:
    def draw(stream: int, n: int) -> float:
        return median * math.exp(random.Random(f"{seed}/{stream}/{n}").gauss(0.0, sigma))

    return draw


def _shifting(seconds: float, after: int, factor: float) -> Callable[[int, int], float]:
    return lambda _stream, n: seconds * (factor if n > after else 1.0)


SHIFT_AFTER = 3  # jobs after the warm-up at the old duration; from job 4 on, 2x slower
LEARNED = [
    LearnedCase(
        "0.3x",
        {"bfl/flux-1-dev": _fixed(2.1), "google/imagen-4": _fixed(3.6), "openai/gpt-image": _fixed(21.6)},
        jobs=3,
        streams=2,
    ),
    LearnedCase(
        "3x",
        {"z-image/z-image": _fixed(15.0), "bfl/flux-1-dev": _fixed(21.0), "google/imagen-4-fast": _fixed(24.0)},
        jobs=2,
        streams=3,
    ),
    LearnedCase(
        "spread",
        {
            "bfl/flux-1-dev": _lognormal(2.0, 0.3, 1),
            "google/imagen-4": _lognormal(7.0, 0.3, 2),
            "openai/gpt-image": _lognormal(20.0, 0.3, 3),
        },
        jobs=5,
        streams=3,
    ),
    LearnedCase(
        "shift",
        {
            "bfl/flux-1-dev": _shifting(2.1, SHIFT_AFTER, 2.0),
            "google/imagen-4": _shifting(3.6, SHIFT_AFTER, 2.0),
            "google/nano-banana-pro": _shifting(7.5, SHIFT_AFTER, 2.0),
        },
        jobs=SHIFT_AFTER + 5,
        streams=1,
        shift_at=SHIFT_AFTER + 1,
    ),
]


@dataclass
class _Run:
    """One measured job: which (model, stream, n), its lag, GETs and real duration."""

    model: str
    stream: int
    n: int
    lag: float
    gets: int
    seconds: float


async def _learned(case: LearnedCase, fixed: float | None) -> list[_Run]:
    """Run ``case`` on a fresh server and emulator, polled by the schedule (``fixed`` None) or every ``fixed`` s."""

    def duration(model: str, body: dict[str, Any]) -> float:
        _, stream, n = str(body.get("prompt", "")).split()  # "job <stream> <n>"
        return case.models[model](int(stream), int(n))

    fake = FakeKrea(token="bench", job_durations=duration)
    server = create_server(_settings(fixed), transport=fake.transport())
    runs: list[_Run] = []
    async with Client(server) as client:

        async def job(model: str, stream: int, n: int) -> None:
            lag, job_id = await _one(client, model, f"job {stream} {n}")
            gets = sum(1 for m, p in fake.requests if m == "GET" and p == f"/jobs/{job_id}")
            runs.append(_Run(model, stream, n, lag, gets, fake.jobs[job_id].duration))

        async def stream_of(model: str, stream: int) -> None:
            await anyio.sleep(0.137 * stream)  # different phases
            for n in range(1, case.jobs + 1):
                await job(model, stream, n)

        async def model_jobs(model: str) -> None:
            await job(model, 0, 0)  # the warm-up
            async with anyio.create_task_group() as tg:
                for stream in range(case.streams):
                    tg.start_soon(stream_of, model, stream)

        async with anyio.create_task_group() as tg:
            for model in case.models:
                tg.start_soon(model_jobs, model)
    return runs


def _summary(runs: list[_Run], base: list[_Run], case: LearnedCase) -> dict[str, float]:
    def counted(rs: list[_Run]) -> list[_Run]:
        first = 1 if case.shift_at is None else case.shift_at + 2  # the shift case: from the third job after it
        return sorted((r for r in rs if r.n >= first), key=lambda r: (r.model, r.stream, r.n))

    ours, fixed = counted(runs), counted(base)
    out = {
        "jobs": float(len(ours)),
        "lag_p50_s": statistics.median(r.lag for r in ours),
        "lag_p95_s": _pct([r.lag for r in ours], 0.95),
        "gets_per_s": sum(r.gets for r in ours) / sum(r.seconds for r in ours),
        "max_gets_per_s": max(r.gets / r.seconds for r in ours),
        "baseline_lag_p50_s": statistics.median(r.lag for r in fixed),
        "baseline_lag_p95_s": _pct([r.lag for r in fixed], 0.95),
        "baseline_gets_per_s": sum(r.gets for r in fixed) / sum(r.seconds for r in fixed),
        "seconds_checked": float(
            sum(abs(a.seconds - b.seconds) for a, b in zip(ours, fixed, strict=True))  # the same jobs: 0
        ),
    }
    for model in case.models:  # by model, for a closer look (--json)
        mine = [r for r in ours if r.model == model]
        theirs = [r for r in fixed if r.model == model]
        out[f"lag_p50_s {model}"] = statistics.median(r.lag for r in mine)
        out[f"lag_max_s {model}"] = max(r.lag for r in mine)
        out[f"gets_per_s {model}"] = sum(r.gets for r in mine) / sum(r.seconds for r in mine)
        out[f"baseline_lag_p50_s {model}"] = statistics.median(r.lag for r in theirs)
        out[f"baseline_gets_per_s {model}"] = sum(r.gets for r in theirs) / sum(r.seconds for r in theirs)
    if case.shift_at is not None:  # how many jobs after the shift until every later one is within the lag target
        worst = 0
        for model in case.models:
            after = sorted((r for r in runs if r.model == model and r.n >= case.shift_at), key=lambda r: r.n)
            late = [i + 1 for i, r in enumerate(after) if r.lag > P95_TARGET_S]
            worst = max(worst, (max(late) + 1) if late else 1)
        out["jobs_to_recover"] = float(worst)
    return out


async def measure_learned(case: LearnedCase) -> dict[str, float]:
    """One learned case: the schedule and fixed 2 s polling on the same jobs, run at the same time."""
    results: dict[str, list[_Run]] = {}

    async def strategy(name: str, fixed: float | None) -> None:
        results[name] = await _learned(case, fixed)

    async with anyio.create_task_group() as tg:
        tg.start_soon(strategy, "ours", None)
        tg.start_soon(strategy, "fixed", FIXED_S)
    return _summary(results["ours"], results["fixed"], case)


async def measure_all() -> dict[str, dict[str, float]]:
    """Every case at once (about 2.5 minutes: the longest stream waits its jobs out)."""
    out: dict[str, dict[str, float]] = {}

    async def catalog() -> None:
        out["catalog"] = await measure()

    async def learned(case: LearnedCase) -> None:
        out[case.name] = await measure_learned(case)

    async with anyio.create_task_group() as tg:
        tg.start_soon(catalog)
        for case in LEARNED:
            tg.start_soon(learned, case)
    return {name: out[name] for name in ["catalog", *(c.name for c in LEARNED)]}


if __name__ == "__main__":
    import json
    import sys

    results = anyio.run(measure_all)
    if "--json" in sys.argv:
        print(json.dumps(results, indent=1))
    for name, r in results.items():
        gets = r["gets_per_s"] if "gets_per_s" in r else r["max_gets_per_s"]
        base_gets = r["baseline_gets_per_s"] if "baseline_gets_per_s" in r else r["baseline_max_gets_per_s"]
        recovered = f"; within target {r['jobs_to_recover']:.0f} jobs after the shift" if "jobs_to_recover" in r else ""
        print(
            f"{name}: lag p50 {r['lag_p50_s']:.3f} s, p95 {r['lag_p95_s']:.3f} s, {gets:.2f} GET/s of job "
            f"(fixed 2 s polling: p50 {r['baseline_lag_p50_s']:.3f} s, p95 {r['baseline_lag_p95_s']:.3f} s, "
            f"{base_gets:.2f} GET/s); {r['jobs']:.0f} jobs{recovered}"
        )
