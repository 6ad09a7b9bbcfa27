"""Load: N concurrent generate+wait calls through one krea-mcp process, against an emulator running 10 at a time.

The emulator bounds the best possible wall time: ceil(N / concurrency) x job duration. krea-mcp runs as its own
HTTP process so its peak RSS (VmHWM) is measured alone.
"""

from __future__ import annotations

import math
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import anyio
from mcp import Client

from ._proc import emulator, free_port

MODEL, DURATION_S = "z-image/z-image", 5.0  # z-image's typical time in the catalog, so polling is tuned for it


def _server_env(base_url: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k in ("PATH", "HOME")}
    env.update(KREA_API_TOKEN="bench", KREA_BASE_URL=base_url, KREA_PREVIEW="off", KREA_LOG_LEVEL="WARNING")
    return env


def _peak_rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


async def _drive(url: str, n: int) -> tuple[float, int]:
    ok = 0
    async with Client(url) as client:

        async def one(i: int) -> None:
            nonlocal ok
            r = await client.call_tool("generate_image", {"prompt": f"fox {i}", "model": MODEL})
            data: dict[str, Any] = r.structured_content or {}
            while not r.is_error and data.get("status") != "completed":
                r = await client.call_tool("wait_for_job", {"job_id": data["job_id"]})
                data = r.structured_content or {}
            ok += data.get("status") == "completed"

        start = time.perf_counter()
        async with anyio.create_task_group() as tg:
            for i in range(n):
                tg.start_soon(one, i)
        return time.perf_counter() - start, ok


def run(n: int = 100, concurrency: int = 10) -> dict[str, float]:
    with emulator("--token", "bench", "--concurrency", str(concurrency), "--job-duration", str(DURATION_S)) as api:
        port = free_port()
        cmd = [sys.executable, "-m", "krea_mcp", "--transport", "http", "--port", str(port)]
        proc = subprocess.Popen(cmd, env=_server_env(api), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            time.sleep(1.5)
            wall, ok = anyio.run(_drive, f"http://127.0.0.1:{port}/mcp", n)
            peak = _peak_rss_mb(proc.pid)
        finally:
            proc.terminate()
            proc.wait(timeout=10)
    ideal = math.ceil(n / concurrency) * DURATION_S
    return {"calls": n, "succeeded": ok, "wall_s": wall, "ideal_s": ideal, "ratio": wall / ideal, "peak_rss_mb": peak}


if __name__ == "__main__":
    r = run()
    print(
        f"{r['calls']:.0f} concurrent generate+wait (emulator concurrency 10, {DURATION_S:g} s jobs): "
        f"{r['succeeded']:.0f} succeeded, wall {r['wall_s']:.1f} s vs ideal {r['ideal_s']:.0f} s "
        f"(ratio {r['ratio']:.3f}x), server peak RSS {r['peak_rss_mb']:.0f} MB"
    )
