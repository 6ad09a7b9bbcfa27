"""What the tests share, in one place.

- the API token every emulator and server in the tests uses, and settings that never read a developer's ``.env``;
- one way to connect an MCP client to a server: ``async with connect(fake, mode=mode, **settings) as client``;
- the text of a tool result;
- ``Around``: the one transport wrapper, for the few faults the emulator's own ``fake.inject`` cannot express
  (a refused connection, a slow or trickling answer, a request that changes the file system as it arrives);
- plain HTTP to the emulator (``open_client``, ``submit``, ``status``) and to an ASGI app (``asgi_client``);
- real processes: ``run_cli`` runs the command line to its end; ``running`` keeps a server on a loopback port.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from contextlib import asynccontextmanager, contextmanager
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx
from mcp import Client
from mcp.types import CallToolResult

from krea_mcp.fake_api import FakeKrea
from krea_mcp.server.app import create_server
from krea_mcp.settings import Settings

TOKEN = "test-token-5f0c2a"
#: A well-formed job id no emulator knows.
UNKNOWN_JOB = "3c90c3cc-0d44-4b50-8888-8dd25736052a"
FLUX = "/generate/image/bfl/flux-1-dev"  # typical_s = 7.0


# --- settings and MCP clients ---------------------------------------------------------------------------------------


def bare_settings(**values: Any) -> Settings:
    """Settings from ``values`` and the defaults only (no ``.env`` file; the autouse fixture clears ``KREA_*``)."""
    return Settings(_env_file=None, **values)  # type: ignore[call-arg]


def make_settings(**overrides: Any) -> Settings:
    """Settings for a server on the emulator: the test token, fast polling, a 10 s wait; ``overrides`` win."""
    return bare_settings(**{"api_token": TOKEN, "poll_interval_s": 0.02, "wait_s": 10.0, **overrides})


def connect(
    target: FakeKrea | httpx.AsyncBaseTransport | None = None,
    *,
    mode: str = "auto",
    client_options: dict[str, Any] | None = None,
    **settings: Any,
) -> Client:
    """An MCP client of a new server whose Krea API is ``target``; use it as ``async with connect(...) as client``.

    ``target`` is the emulator, a transport (``Around`` the emulator, ``httpx.MockTransport``), or None for the
    server's own choice (the built-in sandbox with ``sandbox=True``). ``mode`` is the protocol era: "auto"
    (2026-07-28) or "legacy" (the 2025-11-25 initialize handshake). ``settings`` override ``make_settings``;
    ``client_options`` go to ``mcp.Client`` (``list_roots_callback``, ...).
    """
    transport = target.transport() if isinstance(target, FakeKrea) else target
    server = create_server(make_settings(**settings), transport=transport)
    return Client(server, mode=mode, **(client_options or {}))  # type: ignore[arg-type]


async def call_once(
    target: FakeKrea | httpx.AsyncBaseTransport | None,
    tool: str,
    arguments: dict[str, Any],
    *,
    mode: str = "auto",
    **settings: Any,
) -> CallToolResult:
    """One tool call on a new server (``target``, ``mode`` and ``settings`` as for ``connect``)."""
    async with connect(target, mode=mode, **settings) as client:
        return await client.call_tool(tool, arguments)


def text_of(result: Any) -> str:
    """The text blocks of a tool result, one per line."""
    return "\n".join(block.text for block in result.content if block.type == "text")


# --- faults the emulator cannot inject --------------------------------------------------------------------------

Handler = Callable[[httpx.Request, httpx.AsyncBaseTransport], Awaitable[httpx.Response]]


class Around(httpx.AsyncBaseTransport):
    """The emulator's transport with a per-test twist: ``handler(request, inner)`` answers every request.

    Only for what ``fake.inject`` cannot express; a fault the emulator has (a status, ``malformed``, ``reset``,
    ``hang``, ``after_create``) is injected there instead.
    """

    def __init__(self, fake: FakeKrea, handler: Handler) -> None:
        self.inner = fake.transport()
        self.handler = handler

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        return await self.handler(request, self.inner)


def is_create(request: httpx.Request) -> bool:
    """A request that creates a Krea job."""
    return request.method == "POST" and request.url.path.startswith("/generate/")


def is_image(request: httpx.Request) -> bool:
    """A download of one of the emulator's result images."""
    return request.url.path.startswith("/_fake/images/")


# --- plain HTTP: the emulator and ASGI apps -------------------------------------------------------------------------


class FakeClock:
    """A manually advanced clock."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


def open_client(fake: FakeKrea, token: str | None = TOKEN, timeout: float = 5.0) -> httpx.AsyncClient:
    """An httpx client on the emulator's in-process transport, authenticated unless ``token`` is None."""
    headers = {"Authorization": f"Bearer {token}"} if token is not None else {}
    return httpx.AsyncClient(transport=fake.transport(), base_url=fake.base_url, headers=headers, timeout=timeout)


async def submit(client: httpx.AsyncClient, prompt: str = "a red fox", path: str = FLUX) -> dict[str, Any]:
    """Create a job on the emulator; its JSON."""
    response = await client.post(path, json={"prompt": prompt})
    assert response.status_code == 200, response.text
    job: dict[str, Any] = response.json()
    return job


async def status(client: httpx.AsyncClient, job_id: str) -> dict[str, Any]:
    """A job's JSON, as the emulator reports it now."""
    response = await client.get(f"/jobs/{job_id}")
    assert response.status_code == 200, response.text
    job: dict[str, Any] = response.json()
    return job


def when(text: str) -> datetime:
    return datetime.fromisoformat(text)


#: What an MCP client over HTTP sends with every request.
ACCEPT = {"accept": "application/json, text/event-stream", "content-type": "application/json"}


def initialize(version: str = "2025-11-25", request_id: int = 1) -> dict[str, Any]:
    """A JSON-RPC ``initialize`` request of protocol ``version``."""
    params = {"protocolVersion": version, "capabilities": {}, "clientInfo": {"name": "t", "version": "0"}}
    return {"jsonrpc": "2.0", "id": request_id, "method": "initialize", "params": params}


@asynccontextmanager
async def asgi_client(app: Any) -> AsyncIterator[httpx.AsyncClient]:
    """An httpx client calling the ASGI ``app`` in-process, with the lifespan of the MCP app inside it running."""
    inner = app
    while not hasattr(inner, "router"):
        inner = inner.app
    transport = httpx.ASGITransport(app=app)
    async with (
        inner.router.lifespan_context(inner),
        httpx.AsyncClient(transport=transport, base_url="http://127.0.0.1", timeout=30) as http,
    ):
        yield http


# --- real processes on loopback ports -------------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def child_env(**extra: str) -> dict[str, str]:
    """What a host would pass a stdio child: a minimal environment plus explicit settings."""
    env = {k: v for k, v in os.environ.items() if k in ("PATH", "HOME", "SYSTEMROOT", "TMPDIR")}
    env.update(extra)
    return env


def run_cli(*args: str, cwd: Path, stdin: str | None = None, **env: str) -> subprocess.CompletedProcess[str]:
    """``krea-mcp args…`` (``python -m krea_mcp``) run to its end in ``cwd`` with ``child_env(**env)``."""
    return subprocess.run(
        [sys.executable, "-m", "krea_mcp", *args],
        input=stdin,
        env=child_env(**env),
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=90,
    )


@contextmanager
def running(
    args: list[str],
    port: int,
    *,
    env: dict[str, str] | None = None,
    cwd: Path | None = None,
    log: Path | None = None,
) -> Iterator[None]:
    """Start ``python args…`` and wait until it accepts TCP connections on ``port``; always stop it.

    ``log``: a file that receives the process's stderr (to read what it logged), instead of a pipe.
    """
    err = log.open("w") if log is not None else subprocess.PIPE
    proc = subprocess.Popen([sys.executable, *args], env=env, cwd=cwd, stdout=subprocess.DEVNULL, stderr=err)
    try:
        deadline = time.monotonic() + 20
        while True:
            if proc.poll() is not None:
                said = log.read_text() if log is not None else proc.stderr.read().decode() if proc.stderr else ""
                raise RuntimeError(f"{args} exited early: {said}")
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                    break
            except OSError:
                if time.monotonic() > deadline:
                    raise TimeoutError(f"{args} did not listen on {port}") from None
                time.sleep(0.05)
        yield
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=10)
        if proc.stderr:
            proc.stderr.close()
        if log is not None and not isinstance(err, int):
            err.close()
