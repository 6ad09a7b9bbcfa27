"""Many krea-mcp servers on one emulator and one Redis, as real processes on loopback ports (tests and bench).

- ``Proc``: one child process on a port, its stderr (and stdout) in a log file; ``start``/``ready``, ``kill``
  (SIGKILL, as a crash), ``stop`` (SIGTERM) and ``restart`` on the same port;
- ``redis_server``, ``emulator`` and ``worker`` build the three kinds of ``Proc``; ``uvicorn_workers`` one port served
  by ``uvicorn --factory krea_mcp.http_app:create_app --workers N``;
- ``Cluster``: Redis (optional), the emulator and N workers, started together and stopped together;
- ``stats``/``control``: the emulator's ``/_fake/stats`` and ``/_fake/control``; ``session``: an MCP client of a worker
  over streamable HTTP with a given Bearer token.

Every helper but ``session`` (and ``astats``) is synchronous, so a pytest fixture or a benchmark can start a cluster
without an event loop. ``pythonpath`` runs the workers from another checkout (``PYTHONPATH=/tmp/before/src`` wins
over the editable install): the emulator always runs this tree's code.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from tests.helpers import TOKEN, child_env, free_port

#: The Bearer token clients send to a worker in token mode (KREA_HTTP_TOKEN: at least 32 characters).
GATE = "gate-scaleout-3f9c1d7e5b2a4c6e8f0a1b3d5e7f9a2c"
#: Two users of one emulator (``--token A,B``), for bearer-passthrough mode.
USER_A, USER_B = "user-a-token-7d1f", "user-b-token-2c9e"
REDIS = shutil.which("redis-server")
#: How long a process may take to listen (a cold Python start with the MCP SDK imports takes ~1-2 s here).
START_S = 30.0


@dataclass
class Proc:
    """A child process serving on ``port``; output goes to ``log`` (appended across restarts)."""

    name: str
    argv: list[str]
    port: int
    log: Path
    env: dict[str, str] | None = None
    cwd: Path | None = None
    proc: subprocess.Popen[bytes] | None = field(default=None, repr=False)
    started_at: float = 0.0
    #: Seconds from the last ``start`` until the port accepted connections.
    start_s: float = 0.0

    @property
    def pid(self) -> int:
        assert self.proc is not None, f"{self.name} is not running"
        return self.proc.pid

    @property
    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def start(self) -> Proc:
        """Start the process (without waiting for its port: see ``ready``)."""
        assert not self.alive, f"{self.name} is already running"
        self.log.parent.mkdir(parents=True, exist_ok=True)
        with self.log.open("ab") as out:
            out.write(f"--- start {' '.join(self.argv)}\n".encode())
            out.flush()
            self.proc = subprocess.Popen(
                self.argv, env=self.env, cwd=self.cwd, stdin=subprocess.DEVNULL, stdout=out, stderr=out
            )
        self.started_at = time.monotonic()
        return self

    def ready(self, timeout: float = START_S) -> Proc:
        """Wait until the port accepts TCP connections; RuntimeError with the log if the process exits first."""
        deadline = self.started_at + timeout
        while True:
            if self.proc is None or self.proc.poll() is not None:
                code = None if self.proc is None else self.proc.returncode
                raise RuntimeError(f"{self.name} exited ({code}) before listening on {self.port}:\n{self.output()}")
            if port_open(self.port):
                self.start_s = time.monotonic() - self.started_at
                return self
            if time.monotonic() > deadline:
                raise TimeoutError(f"{self.name} did not listen on {self.port} in {timeout:g} s:\n{self.output()}")
            time.sleep(0.02)

    def kill(self) -> None:
        """SIGKILL, as a crash: no shutdown handler runs."""
        if self.alive:
            assert self.proc is not None
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait(timeout=10)
        _wait_closed(self.port)

    def stop(self) -> None:
        """SIGTERM, then SIGKILL after 10 s."""
        if self.proc is None:
            return
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=10)

    def restart(self, timeout: float = START_S) -> Proc:
        """Kill if running, then start again on the same port and wait for it."""
        self.kill()
        return self.start().ready(timeout)

    def output(self) -> str:
        """Everything the process wrote so far."""
        try:
            return self.log.read_text(errors="replace")
        except FileNotFoundError:
            return ""

    def rss_mb(self) -> float:
        """Resident set size of the process (and its children, for uvicorn --workers), from /proc."""
        return sum(rss_mb(pid) for pid in [self.pid, *children(self.pid)])


def port_open(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.2):
            return True
    except OSError:
        return False


def _wait_closed(port: int, timeout: float = 5.0) -> None:
    deadline = time.monotonic() + timeout
    while port_open(port) and time.monotonic() < deadline:
        time.sleep(0.02)


def rss_mb(pid: int) -> float:
    """VmRSS of ``pid`` in MB (0 if it is gone)."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return 0.0


def children(pid: int) -> list[int]:
    """Direct children of ``pid`` (Linux)."""
    try:
        text = Path(f"/proc/{pid}/task/{pid}/children").read_text()
    except OSError:
        return []
    return [int(p) for p in text.split()]


def start_all(procs: Sequence[Proc], timeout: float = START_S) -> None:
    """Start every process, then wait for each (they start in parallel); on failure stop them all."""
    try:
        for p in procs:
            p.start()
        for p in procs:
            p.ready(timeout)
    except BaseException:
        for p in procs:
            p.stop()
        raise


# --- the three kinds of process -------------------------------------------------------------------------------------


def redis_server(logs: Path, port: int | None = None) -> Proc:
    """``redis-server`` without persistence on a loopback port (restart it on the same port to come back empty)."""
    if REDIS is None:
        raise RuntimeError("redis-server is not on PATH")
    port = port or free_port()
    argv = [REDIS, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"]
    return Proc("redis", argv, port, logs / "redis.log")


def redis_url(port: int) -> str:
    return f"redis://127.0.0.1:{port}/0"


def emulator(
    logs: Path,
    *,
    tokens: Sequence[str] = (TOKEN,),
    job_duration: float | None = 1.0,
    concurrency: int | None = None,
    extra: Sequence[str] = ("--image-size", "64x64"),
    port: int | None = None,
) -> Proc:
    """The standalone emulator (``python -m krea_mcp.fake_api``), quiet, with small fixed-size images by default."""
    port = port or free_port()
    argv = [sys.executable, "-m", "krea_mcp.fake_api", "--port", str(port), "--token", ",".join(tokens), "--quiet"]
    if job_duration is not None:
        argv += ["--job-duration", str(job_duration)]
    if concurrency is not None:
        argv += ["--concurrency", str(concurrency)]
    return Proc("emulator", [*argv, *extra], port, logs / "emulator.log", env=child_env())


def worker_env(
    api_url: str,
    home: Path,
    *,
    mode: str = "token",
    redis: str | None = None,
    max_jobs: int | None = None,
    pythonpath: str | None = None,
    **extra: str,
) -> dict[str, str]:
    """The environment of a krea-mcp HTTP worker: ``mode`` "token" (KREA_API_TOKEN, clients send ``GATE``) or
    "passthrough" (each caller's Bearer token is its Krea token); ``extra`` are more KREA_* settings by name."""
    env = {
        "KREA_BASE_URL": api_url,
        "KREA_OUTPUT_DIR": str(home / "images"),
        "KREA_PREVIEW": "off",
        "KREA_LOG_LEVEL": "WARNING",
    }
    if mode == "token":
        env |= {"KREA_API_TOKEN": TOKEN, "KREA_HTTP_AUTH": "token", "KREA_HTTP_TOKEN": GATE}
    elif mode == "passthrough":
        env |= {"KREA_HTTP_AUTH": "bearer-passthrough"}
    else:
        raise ValueError(f"mode must be token or passthrough, not {mode!r}")
    if redis is not None:
        env["KREA_REDIS_URL"] = redis
    if max_jobs is not None:
        env["KREA_MAX_JOBS"] = str(max_jobs)
    env |= {f"KREA_{k.upper()}": v for k, v in extra.items()}
    if pythonpath:
        env["PYTHONPATH"] = pythonpath
    return child_env(**env)


def worker(name: str, env: dict[str, str], logs: Path, port: int | None = None) -> Proc:
    """``python -m krea_mcp --transport http`` on a loopback port."""
    port = port or free_port()
    argv = [sys.executable, "-m", "krea_mcp", "--transport", "http", "--host", "127.0.0.1", "--port", str(port)]
    return Proc(name, argv, port, logs / f"{name}.log", env=env, cwd=logs)


def uvicorn_workers(name: str, env: dict[str, str], logs: Path, workers: int = 2, port: int | None = None) -> Proc:
    """One port served by ``uvicorn --factory krea_mcp.http_app:create_app --workers N`` (the factory needs an auth
    mode and KREA_ALLOWED_HOSTS)."""
    port = port or free_port()
    argv = [
        sys.executable,
        "-m",
        "uvicorn",
        "--factory",
        "krea_mcp.http_app:create_app",
        "--workers",
        str(workers),
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--log-level",
        "warning",
    ]
    env = {**env, "KREA_ALLOWED_HOSTS": "127.0.0.1"}
    return Proc(name, argv, port, logs / f"{name}.log", env=env, cwd=logs)


def mcp_url(proc: Proc) -> str:
    return f"http://127.0.0.1:{proc.port}/mcp"


# --- a cluster ------------------------------------------------------------------------------------------------------


@dataclass
class Cluster:
    """Redis (unless ``redis=False``), one emulator and ``workers`` krea-mcp HTTP servers sharing them.

    ``with Cluster(tmp_path, ...) as c:`` starts everything in parallel and stops it all at the end. ``uvicorn=N``
    serves one port with ``uvicorn --workers N`` instead of separate workers. ``env`` are more KREA_* settings.
    """

    home: Path
    workers: int = 2
    redis: bool = True
    mode: str = "token"
    max_jobs: int | None = None
    job_duration: float | None = 1.0
    concurrency: int | None = None
    pythonpath: str | None = None
    uvicorn: int = 0
    emulator_args: Sequence[str] = ("--image-size", "64x64")
    env: dict[str, str] = field(default_factory=dict)
    redis_proc: Proc | None = field(default=None, init=False)
    api: Proc = field(init=False)
    servers: list[Proc] = field(default_factory=list, init=False)

    def __post_init__(self) -> None:
        self.logs = self.home / "logs"
        self.logs.mkdir(parents=True, exist_ok=True)
        tokens = (USER_A, USER_B) if self.mode == "passthrough" else (TOKEN,)
        self.tokens = tokens
        self.api = emulator(
            self.logs,
            tokens=tokens,
            job_duration=self.job_duration,
            concurrency=self.concurrency,
            extra=self.emulator_args,
        )
        if self.redis:
            self.redis_proc = redis_server(self.logs)
        env = self.worker_env()
        if self.uvicorn:
            self.servers = [uvicorn_workers("uvicorn", env, self.logs, self.uvicorn)]
        else:
            self.servers = [worker(f"worker{i + 1}", env, self.logs) for i in range(self.workers)]

    @property
    def api_url(self) -> str:
        return f"http://127.0.0.1:{self.api.port}"

    @property
    def redis_url(self) -> str | None:
        return None if self.redis_proc is None else redis_url(self.redis_proc.port)

    @property
    def urls(self) -> list[str]:
        return [mcp_url(s) for s in self.servers]

    def worker_env(self, **overrides: str) -> dict[str, str]:
        """The environment every worker of this cluster gets (``overrides``: more KREA_* settings by name)."""
        return worker_env(
            self.api_url,
            self.home,
            mode=self.mode,
            redis=self.redis_url,
            max_jobs=self.max_jobs,
            pythonpath=self.pythonpath,
            **{**self.env, **overrides},
        )

    def client_token(self, user: int = 0) -> str:
        """What a client sends as Bearer: the gate token, or user ``user``'s own Krea token in passthrough mode."""
        return GATE if self.mode == "token" else self.tokens[user]

    def start(self) -> Cluster:
        base = [p for p in (self.redis_proc, self.api) if p is not None]
        start_all(base)
        start_all(self.servers)
        return self

    def stop(self) -> None:
        for p in [*self.servers, self.api, *([self.redis_proc] if self.redis_proc else [])]:
            p.stop()

    def __enter__(self) -> Cluster:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # --- the emulator ---------------------------------------------------------------------------------------------

    def stats(self, *, times: bool = False) -> dict[str, Any]:
        return stats(self.api_url, self.tokens[0], times=times)

    def control(self, body: dict[str, Any]) -> dict[str, Any]:
        return control(self.api_url, self.tokens[0], body)

    async def astats(self, *, times: bool = False) -> dict[str, Any]:
        return await astats(self.api_url, self.tokens[0], times=times)


def stats(api_url: str, token: str = TOKEN, *, times: bool = False) -> dict[str, Any]:
    """The emulator's counts with per-job GETs and running jobs (``times``: each GET's time, each job's span)."""
    query = "times=1" if times else "detail=1"
    response = httpx.get(f"{api_url}/_fake/stats?{query}", headers={"Authorization": f"Bearer {token}"}, timeout=30)
    response.raise_for_status()
    data: dict[str, Any] = response.json()
    return data


async def astats(api_url: str, token: str = TOKEN, *, times: bool = False) -> dict[str, Any]:
    query = "times=1" if times else "detail=1"
    async with httpx.AsyncClient(timeout=30) as http:
        response = await http.get(f"{api_url}/_fake/stats?{query}", headers={"Authorization": f"Bearer {token}"})
    response.raise_for_status()
    data: dict[str, Any] = response.json()
    return data


def control(api_url: str, token: str, body: dict[str, Any]) -> dict[str, Any]:
    """``POST /_fake/control`` (inject a fault, fail the next jobs...)."""
    response = httpx.post(f"{api_url}/_fake/control", json=body, headers={"Authorization": f"Bearer {token}"})
    response.raise_for_status()
    data: dict[str, Any] = response.json()
    return data


# --- MCP clients ----------------------------------------------------------------------------------------------------


@asynccontextmanager
async def session(url: str, token: str, *, connections: int | None = None) -> AsyncIterator[Any]:
    """An MCP client (``mcp.Client``) of the server at ``url`` over streamable HTTP, sending ``Bearer token``.

    One client can make many concurrent calls (the server is stateless: each call is its own POST); ``connections``
    caps its connection pool (None: no cap, so hundreds of waits can be open at once).
    """
    import httpx2
    from mcp import Client
    from mcp.client.streamable_http import streamable_http_client

    limits = httpx2.Limits(max_connections=connections, max_keepalive_connections=connections or 1000)
    timeout = httpx2.Timeout(60.0, read=600.0)
    headers = {"authorization": f"Bearer {token}"}
    async with (
        httpx2.AsyncClient(headers=headers, timeout=timeout, limits=limits) as http,
        Client(streamable_http_client(url, http_client=http)) as client,
    ):
        yield client


def text_of(result: Any) -> str:
    """The text blocks of a tool result, one per line."""
    return "\n".join(block.text for block in result.content if getattr(block, "type", "") == "text")


def run_to_exit(argv: Sequence[str], env: dict[str, str], *, timeout: float = 30.0) -> subprocess.CompletedProcess[str]:
    """Run a process to its end (``python argv...``); its output and the seconds it took as ``.elapsed``."""
    started = time.monotonic()
    done = subprocess.run(
        [sys.executable, *argv], env=env, capture_output=True, text=True, timeout=timeout, stdin=subprocess.DEVNULL
    )
    done.elapsed = time.monotonic() - started  # type: ignore[attr-defined]
    return done


def environ_has_redis() -> bool:
    return REDIS is not None and os.access(REDIS, os.X_OK)
