"""Scale-out (issue 16): two krea-mcp HTTP workers sharing Redis in front of one emulator, as real processes.

Two runs on one cluster (``tests/cluster.py``: Redis, the standalone emulator, two workers on loopback ports):

* **one job, 200 waiters**: jobs A and B are created together (same model, same duration); 100 ``wait_for_job``
  calls per worker wait on A while a single call waits on B. The emulator counts ``GET /jobs/{id}`` of each: with
  one poller per job, A costs what B costs (target ≤ 1.1× B + 2).
* **1,000 generate+wait**: 1,000 concurrent ``generate_image`` calls (then ``wait_for_job`` while a job still runs)
  split across the workers, against an emulator running 50 jobs at a time for ``DURATION_S`` each. Figures: errors
  (target 0), wall against the emulator-bound ideal ``1000 / 50 × DURATION_S`` (target ≤ 1.15×), the peak of Krea
  GETs per second against the jobs running in that second (bounded by running jobs, not by waiters; also shown per
  live job, counting the jobs created but still waiting for one of the emulator's 50 slots, which are polled too),
  and the workers' RSS per waiting call (their RSS during the wait minus their idle RSS, over the calls).

A few MCP client sessions (``SESSIONS`` per worker) each make many concurrent calls, as a gateway would, so the
client side stays light; their connection pools are uncapped.

``python -m bench --only scaleout --before /tmp/before/src`` runs the workers from another checkout (its ``src`` on
PYTHONPATH) without Redis, so the figures before and after come from the same script; ``python -m bench --only
scaleout`` runs this tree's code.
"""

from __future__ import annotations

import math
import tempfile
import time
from pathlib import Path
from typing import Any

import anyio
from tests.cluster import Cluster, session

MODEL = "z-image/z-image"
DURATION_S = 2.0
CONCURRENCY = 50
CALLS = 1000
WAITERS_PER_WORKER = 100
SESSIONS = 5  # per worker
RSS_EVERY_S = 0.25


def _data(result: Any) -> dict[str, Any]:
    data: dict[str, Any] = result.structured_content or {}
    return data


async def _one_job(c: Cluster) -> dict[str, float]:
    """200 waiters on job A (100 per worker) beside one waiter on job B, created at the same moment."""
    token = c.client_token()
    async with session(c.urls[0], token) as s:
        created = [
            _data(await s.call_tool("generate_image", {"prompt": name, "model": MODEL, "wait": False}))
            for name in ("shared job", "single job")
        ]
    a, b = (job["job_id"] for job in created)
    before = (await c.astats())["job_gets_by_id"]
    outcomes: list[str] = []

    async def wait(client: Any, job_id: str) -> None:
        result = await client.call_tool("wait_for_job", {"job_id": job_id, "timeout_s": 120})
        outcomes.append("error" if result.is_error else str(_data(result).get("status")))

    async def worker(url: str, single: bool) -> None:
        async with session(url, token) as client, anyio.create_task_group() as tg:
            for _ in range(WAITERS_PER_WORKER):
                tg.start_soon(wait, client, a)
            if single:
                tg.start_soon(wait, client, b)

    async with anyio.create_task_group() as tg:
        for i, url in enumerate(c.urls):
            tg.start_soon(worker, url, i == len(c.urls) - 1)
    after = (await c.astats())["job_gets_by_id"]
    gets = {job: after.get(job, 0) - before.get(job, 0) for job in (a, b)}
    failed = sum(o != "completed" for o in outcomes)
    return {"shared_gets": gets[a], "single_gets": gets[b], "waiters": len(outcomes) - 1, "wait_errors": failed}


async def _load(c: Cluster, rss: list[float]) -> dict[str, Any]:
    """``CALLS`` generate+wait calls split across the workers; samples the workers' total RSS meanwhile."""
    errors: list[str] = []
    texts: list[str] = []  # what the failed calls said
    done = anyio.Event()

    async def sample() -> None:
        while not done.is_set():
            rss.append(sum(p.rss_mb() for p in c.servers))
            with anyio.move_on_after(RSS_EVERY_S):
                await done.wait()

    async def one(client: Any, i: int) -> None:
        try:
            result = await client.call_tool("generate_image", {"prompt": f"fox {i}", "model": MODEL})
            data = _data(result)
            while not result.is_error and data.get("status") not in ("completed", "failed", "cancelled"):
                result = await client.call_tool("wait_for_job", {"job_id": data["job_id"], "timeout_s": 120})
                data = _data(result)
            if result.is_error or data.get("status") != "completed":
                errors.append(str(data.get("status") or "error"))
                texts.append(" ".join(b.text for b in result.content if getattr(b, "type", "") == "text")[:300])
        except Exception as exc:  # a transport failure counts as an error, the run goes on
            errors.append(type(exc).__name__)
            texts.append(repr(exc)[:300])

    async def client_session(url: str, calls: range) -> None:
        async with session(url, c.client_token()) as client, anyio.create_task_group() as tg:
            for i in calls:
                tg.start_soon(one, client, i)

    lanes = [(url, k) for url in c.urls for k in range(SESSIONS)]
    started = time.monotonic()
    async with anyio.create_task_group() as outer:
        outer.start_soon(sample)
        async with anyio.create_task_group() as tg:
            for n, (url, _) in enumerate(lanes):
                tg.start_soon(client_session, url, range(n, CALLS, len(lanes)))
        wall = time.monotonic() - started
        done.set()
    kinds = ",".join(sorted(set(errors)))
    return {"wall_s": wall, "errors": len(errors), "error_kinds": kinds, "first_error": texts[0] if texts else ""}


def _gets_per_second(stats: dict[str, Any], since: float) -> dict[str, float]:
    """The busiest second's GETs beside the jobs running in it (job-seconds within the second), and the worst second's
    GETs per running job and per live job (created, not yet finished: running or waiting for a slot)."""
    times = [t for t in stats["job_get_times"] if t >= since]
    if not times:
        return dict.fromkeys(
            ("peak_gets_per_s", "running_at_peak", "live_at_peak", "worst_per_running", "worst_per_live"), 0.0
        )
    spans = [
        (j["created"], j["start"], j["end"] if j["end"] is not None else math.inf) for j in stats["job_spans"].values()
    ]
    origin = math.floor(min(times))
    buckets: dict[int, int] = {}
    for t in times:
        buckets[int(t - origin)] = buckets.get(int(t - origin), 0) + 1

    def within(second: int, begin: float, end: float) -> float:
        lo = origin + second
        return max(0.0, min(end, lo + 1) - max(begin, lo))

    def running(second: int) -> float:
        return float(sum(within(second, start, end) for _, start, end in spans))

    def live(second: int) -> float:
        return float(sum(within(second, created, end) for created, _, end in spans))

    peak = max(buckets, key=lambda k: buckets[k])
    return {
        "peak_gets_per_s": float(buckets[peak]),
        "running_at_peak": running(peak),
        "live_at_peak": live(peak),
        "worst_per_running": max(count / max(running(k), 1.0) for k, count in buckets.items()),
        "worst_per_live": max(count / max(live(k), 1.0) for k, count in buckets.items()),
    }


def measure(before: str | None = None, home: Path | None = None) -> dict[str, Any]:
    """Both runs on one cluster; ``before``: the workers' PYTHONPATH (another checkout's ``src``), without Redis."""
    home = home or Path(tempfile.mkdtemp(prefix="bench-scaleout-"))
    cluster = Cluster(
        home,
        workers=2,
        redis=before is None,
        pythonpath=before,
        job_duration=DURATION_S,
        concurrency=CONCURRENCY,
        env={"wait_s": "120"},
    )
    with cluster as c:
        starts = {p.name: p.start_s for p in [c.api, *c.servers]}

        async def warm_up() -> None:  # each worker learns the model's duration and loads its catalog
            for url in c.urls:
                async with session(url, c.client_token()) as s:
                    await s.call_tool("generate_image", {"prompt": "warm-up", "model": MODEL})

        anyio.run(warm_up)
        one_job = anyio.run(_one_job, c)
        time.sleep(1.0)
        idle = sum(p.rss_mb() for p in c.servers)
        since = c.stats()["now"]
        rss: list[float] = []
        load = anyio.run(_load, c, rss)
        stats = c.stats(times=True)
    jobs = sum(1 for j in stats["job_spans"].values() if j["created"] >= since)
    per_second = _gets_per_second(stats, since)
    gets = sum(1 for t in stats["job_get_times"] if t >= since)
    ideal = CALLS / CONCURRENCY * DURATION_S
    return {
        "code": before or "this tree",
        "redis": before is None,
        "start_s": starts,
        **one_job,
        **load,
        "ideal_s": ideal,
        "wall_ratio": load["wall_s"] / ideal,
        "jobs": jobs,
        "gets": gets,
        "gets_per_job": gets / max(jobs, 1),
        **per_second,
        "idle_rss_mb": idle,
        "peak_rss_mb": max(rss, default=idle),
        "rss_kb_per_call": (max(rss, default=idle) - idle) * 1024 / CALLS,
    }
