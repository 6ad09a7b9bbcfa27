"""Process helpers for benchmarks: free ports, a background emulator, RSS readings."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from pathlib import Path


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextmanager
def emulator(*args: str) -> Iterator[str]:
    """Run ``python -m krea_mcp.fake_api`` on a free loopback port; yields its base URL."""
    port = free_port()
    cmd = [sys.executable, "-m", "krea_mcp.fake_api", "--port", str(port), "--quiet", *args]
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 20
        while True:
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                    break
            except OSError:
                if time.monotonic() > deadline or proc.poll() is not None:
                    raise RuntimeError("emulator did not start") from None
                time.sleep(0.05)
        yield f"http://127.0.0.1:{port}"
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def _status_kb(field: str) -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    return 0


def rss_mb() -> float:
    """Current resident set size."""
    return _status_kb("VmRSS") / 1024


def peak_rss_mb() -> float:
    """Peak resident set size since start or since the last ``reset_peak_rss()``."""
    return _status_kb("VmHWM") / 1024


def reset_peak_rss() -> None:
    """Linux: make VmHWM restart from the current RSS (no-op elsewhere)."""
    with suppress(OSError):
        Path(f"/proc/{os.getpid()}/clear_refs").write_text("5")
