"""Saving N large images: krea-mcp (wait_for_job with save_to, through MCP) vs a plain parallel httpx download.

Each side runs in its own child process, so peak RSS is that side's alone; the emulator serving the images
runs in a third process. Figures: wall time for all downloads, and peak RSS growth while they run.
"""

from __future__ import annotations

import json
import statistics
import subprocess
import sys
import tempfile
import time
from typing import Any

import anyio
import httpx

from ._proc import emulator, peak_rss_mb, reset_peak_rss, rss_mb

TOKEN = "bench"


async def _make_jobs(base_url: str, n: int) -> list[dict[str, Any]]:
    """Create n completed jobs whose images are the same (cached) 8 MB PNG; warm the emulator's cache."""
    headers = {"Authorization": f"Bearer {TOKEN}"}
    async with httpx.AsyncClient(base_url=base_url, headers=headers, timeout=60) as http:
        jobs = []
        for _ in range(n):
            r = await http.post("/generate/image/bfl/flux-1-dev", json={"prompt": "noise"})
            jobs.append(r.json())
        out = []
        for job in jobs:
            done = (await http.get(f"/jobs/{job['job_id']}")).json()
            assert done["status"] == "completed", done
            out.append(done)
        size = len((await http.get(out[0]["result"]["urls"][0])).content)
    return [dict(j, size=size) for j in out]


async def _baseline(jobs: list[dict[str, Any]], directory: str) -> None:
    async def fetch(i: int, url: str) -> None:
        async with http.stream("GET", url) as response, await anyio.open_file(f"{directory}/{i}.png", "wb") as f:
            async for chunk in response.aiter_bytes():
                await f.write(chunk)

    async with httpx.AsyncClient(timeout=60) as http, anyio.create_task_group() as tg:
        for i, job in enumerate(jobs):
            tg.start_soon(fetch, i, job["result"]["urls"][0])


async def _krea(jobs: list[dict[str, Any]], directory: str, base_url: str) -> None:
    from mcp import Client

    from krea_mcp.server.app import create_server
    from krea_mcp.settings import Settings

    settings = Settings(  # type: ignore[call-arg]
        _env_file=None, api_token=TOKEN, base_url=base_url, preview="off", allowed_dirs=[directory]
    )
    async with Client(create_server(settings)) as client:

        async def save(job_id: str) -> None:
            r = await client.call_tool("wait_for_job", {"job_id": job_id, "save_to": directory})
            assert not r.is_error and r.structured_content and r.structured_content.get("files"), r

        await client.call_tool("get_job", {"job_id": jobs[0]["job_id"]})  # first call builds the service: not timed
        reset_peak_rss()
        before = rss_mb()
        start = time.perf_counter()
        async with anyio.create_task_group() as tg:
            for job in jobs:
                tg.start_soon(save, job["job_id"])
        _report(start, before)


def _report(start: float, before: float) -> None:
    wall, peak = time.perf_counter() - start, peak_rss_mb()
    print(json.dumps({"wall_s": wall, "rss_growth_mb": peak - before, "peak_rss_mb": peak}))


def child(kind: str, base_url: str, jobs_json: str) -> None:
    jobs = json.loads(jobs_json)
    with tempfile.TemporaryDirectory() as directory:
        if kind == "baseline":
            reset_peak_rss()
            before, start = rss_mb(), time.perf_counter()
            anyio.run(_baseline, jobs, directory)
            _report(start, before)
        else:
            anyio.run(_krea, jobs, directory, base_url)


def run(n: int = 10, size: str = "1633x1633", repeats: int = 3) -> dict[str, Any]:
    with emulator("--token", TOKEN, "--job-duration", "0", "--image-size", size, "--image-noise") as base_url:
        jobs = anyio.run(_make_jobs, base_url, n)
        results: dict[str, list[dict[str, float]]] = {"baseline": [], "krea": []}
        for _ in range(repeats):
            for kind in ("baseline", "krea"):
                out = subprocess.run(
                    [sys.executable, "-m", "bench.saving", "--child", kind, base_url, json.dumps(jobs)],
                    capture_output=True,
                    text=True,
                    check=True,
                )
                results[kind].append(json.loads(out.stdout.strip().splitlines()[-1]))
    med = {
        k: {m: statistics.median(r[m] for r in v) for m in ("wall_s", "rss_growth_mb", "peak_rss_mb")}
        for k, v in results.items()
    }
    return {
        "images": n,
        "image_mb": jobs[0]["size"] / 2**20,
        "baseline_wall_s": med["baseline"]["wall_s"],
        "krea_wall_s": med["krea"]["wall_s"],
        "wall_ratio": med["krea"]["wall_s"] / med["baseline"]["wall_s"],
        "baseline_rss_growth_mb": med["baseline"]["rss_growth_mb"],
        "krea_rss_growth_mb": med["krea"]["rss_growth_mb"],
        "krea_peak_rss_mb": med["krea"]["peak_rss_mb"],
    }


if __name__ == "__main__":
    if sys.argv[1:2] == ["--child"]:
        child(sys.argv[2], sys.argv[3], sys.argv[4])
    else:
        r = run()
        print(
            f"saving {r['images']} x {r['image_mb']:.1f} MB: krea-mcp {r['krea_wall_s']:.2f} s vs plain httpx "
            f"{r['baseline_wall_s']:.2f} s (ratio {r['wall_ratio']:.2f}x); peak RSS growth krea-mcp "
            f"{r['krea_rss_growth_mb']:.1f} MB (peak RSS {r['krea_peak_rss_mb']:.0f} MB), "
            f"baseline {r['baseline_rss_growth_mb']:.1f} MB"
        )
