"""Cold start: spawn a stdio server, send initialize → initialized → tools/list, time until the tools/list reply."""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
KREA = [sys.executable, "-m", "krea_mcp"]
STUB = [sys.executable, str(HERE / "stub_server.py")]


def _messages() -> bytes:
    init = {
        "jsonrpc": "2.0",
        "id": 1,
        "method": "initialize",
        "params": {
            "protocolVersion": "2025-06-18",
            "capabilities": {},
            "clientInfo": {"name": "bench", "version": "0"},
        },
    }
    initialized = {"jsonrpc": "2.0", "method": "notifications/initialized"}
    tools = {"jsonrpc": "2.0", "id": 2, "method": "tools/list"}
    return b"".join(json.dumps(m).encode() + b"\n" for m in (init, initialized, tools))


def time_once(cmd: list[str]) -> tuple[float, int]:
    """Seconds from spawn to the tools/list reply, and that reply's size in bytes."""
    env = {k: v for k, v in os.environ.items() if k in ("PATH", "HOME")}
    env["KREA_API_TOKEN"] = "bench"
    start = time.perf_counter()
    proc = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, env=env)
    assert proc.stdin and proc.stdout
    proc.stdin.write(_messages())
    proc.stdin.flush()
    size = 0
    for line in proc.stdout:
        if b'"id":2' in line.replace(b" ", b""):
            size = len(line.rstrip(b"\n"))
            break
    elapsed = time.perf_counter() - start
    proc.stdin.close()
    proc.terminate()
    proc.wait(timeout=10)
    return elapsed, size


def run(repeats: int = 7) -> dict[str, float]:
    """Alternate krea-mcp and the stub so machine noise hits both alike; one warm-up each is discarded."""
    time_once(KREA)
    time_once(STUB)
    krea, stub = [], []
    size = 0
    for _ in range(repeats):
        t, size = time_once(KREA)
        krea.append(t)
        stub.append(time_once(STUB)[0])
    k, s = statistics.median(krea), statistics.median(stub)
    # Each pair ran back to back, so the median of per-pair ratios cancels drift in machine load.
    ratio = statistics.median(a / b for a, b in zip(krea, stub, strict=True))
    return {"krea_ms": k * 1000, "stub_ms": s * 1000, "ratio": ratio, "tools_list_bytes": size, "repeats": repeats}


if __name__ == "__main__":
    r = run(int(sys.argv[1]) if len(sys.argv) > 1 else 7)
    print(
        f"cold start to tools/list (median of {r['repeats']}): krea-mcp {r['krea_ms']:.0f} ms, "
        f"bare 3-tool MCPServer {r['stub_ms']:.0f} ms, ratio {r['ratio']:.2f}x; tools/list {r['tools_list_bytes']} B"
    )
