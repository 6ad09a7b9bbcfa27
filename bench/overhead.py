"""Per-call overhead: a get_job tool call minus the bare HTTP round trip it makes, against a zero-latency emulator.

In memory: the emulator and server share one process (ASGI transport); the baseline is a bare httpx GET through
the same transport. Over stdio: krea-mcp runs as a child process talking to the standalone emulator on loopback;
the baseline is a bare httpx GET from this process to that emulator.
"""

from __future__ import annotations

import os
import statistics
import sys
import time
from collections.abc import Awaitable, Callable

import anyio
import httpx
from mcp import Client, StdioServerParameters

from krea_mcp.fake_api import FakeKrea
from krea_mcp.server.app import create_server
from krea_mcp.settings import Settings

from ._proc import emulator

AUTH = {"Authorization": "Bearer bench"}


async def _p50(fn: Callable[[], Awaitable[object]], n: int) -> float:
    for _ in range(20):  # warm-up
        await fn()
    times = []
    for _ in range(n):
        start = time.perf_counter()
        await fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times) * 1000


async def _job(http: httpx.AsyncClient) -> str:
    r = await http.post("/generate/image/bfl/flux-1-dev", json={"prompt": "x"}, headers=AUTH)
    return str(r.json()["job_id"])


async def in_memory(n: int) -> dict[str, float]:
    fake = FakeKrea(token="bench", job_duration_s=0)
    settings = Settings(_env_file=None, api_token="bench", preview="off")  # type: ignore[call-arg]
    async with httpx.AsyncClient(transport=fake.transport(), base_url=fake.base_url) as http:
        job_id = await _job(http)
        bare = await _p50(lambda: http.get(f"/jobs/{job_id}", headers=AUTH), n)
        async with Client(create_server(settings, transport=fake.transport())) as client:
            tool = await _p50(lambda: client.call_tool("get_job", {"job_id": job_id}), n)
    return {"tool_ms": tool, "bare_ms": bare, "overhead_ms": tool - bare}


async def over_stdio(n: int) -> dict[str, float]:
    with emulator("--token", "bench", "--job-duration", "0") as base_url:
        env = {k: v for k, v in os.environ.items() if k in ("PATH", "HOME")}
        env.update(KREA_API_TOKEN="bench", KREA_BASE_URL=base_url, KREA_PREVIEW="off", KREA_LOG_LEVEL="WARNING")
        params = StdioServerParameters(command=sys.executable, args=["-m", "krea_mcp"], env=env)
        async with httpx.AsyncClient(base_url=base_url) as http:
            job_id = await _job(http)
            bare = await _p50(lambda: http.get(f"/jobs/{job_id}", headers=AUTH), n)
            async with Client(params) as client:
                tool = await _p50(lambda: client.call_tool("get_job", {"job_id": job_id}), n)
    return {"tool_ms": tool, "bare_ms": bare, "overhead_ms": tool - bare}


if __name__ == "__main__":
    mem = anyio.run(in_memory, 300)
    std = anyio.run(over_stdio, 300)
    for name, r in (("in memory", mem), ("stdio", std)):
        tool, bare, extra = r["tool_ms"], r["bare_ms"], r["overhead_ms"]
        print(f"{name}: get_job p50 {tool:.2f} ms, bare GET {bare:.2f} ms, overhead {extra:.2f} ms")
