"""krea-mcp as real processes: stdio child against the standalone emulator, and streamable HTTP."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import anyio
import httpx
import pytest
from mcp import Client, ClientSession, StdioServerParameters, stdio_client

from tests.helpers import TOKEN, child_env, free_port, run_cli, running

pytestmark = pytest.mark.anyio


@pytest.fixture
def emulator_port() -> Any:
    port = free_port()
    with running(["-m", "krea_mcp.fake_api", "--port", str(port), "--token", TOKEN, "--job-duration", "0.4"], port):
        yield port


def stdio_params(port: int, cwd: Path) -> StdioServerParameters:
    env = child_env(KREA_API_TOKEN=TOKEN, KREA_BASE_URL=f"http://127.0.0.1:{port}", KREA_POLL_INTERVAL_S="0.1")
    return StdioServerParameters(command=sys.executable, args=["-m", "krea_mcp"], env=env, cwd=str(cwd))


async def test_stdio_subprocess_generates_an_image_from_the_emulator(emulator_port: int, tmp_path: Path) -> None:
    """The way Claude Desktop runs it: a child process on stdio, token and base URL passed in env."""
    progress: list[float] = []

    async def on_progress(p: float, total: float | None, message: str | None) -> None:
        progress.append(p)

    with anyio.fail_after(60):
        async with Client(stdio_params(emulator_port, tmp_path)) as client:
            names = {t.name for t in (await client.list_tools()).tools}
            assert {"generate_image", "get_job", "wait_for_job"} <= names
            result = await client.call_tool(
                "generate_image", {"prompt": "a red fox", "model": "flux"}, progress_callback=on_progress
            )
    assert result.is_error is False
    (url,) = result.structured_content["urls"]
    assert url.startswith(f"http://127.0.0.1:{emulator_port}/")
    assert progress
    async with httpx.AsyncClient() as http:
        png = await http.get(url)
    assert png.content.startswith(b"\x89PNG")


async def test_stdio_legacy_handshake_works_too(emulator_port: int, tmp_path: Path) -> None:
    with anyio.fail_after(60):
        async with (
            stdio_client(stdio_params(emulator_port, tmp_path)) as (read, write),
            ClientSession(read, write) as s,
        ):
            init = await s.initialize()
            assert init.protocol_version == "2025-11-25"
            result = await s.call_tool("generate_image", {"prompt": "a red fox"})
    assert result.is_error is False
    assert result.structured_content["status"] == "completed"


async def test_streamable_http_serves_mcp_with_progress(tmp_path: Path) -> None:
    port = free_port()
    args = ["-m", "krea_mcp", "--transport", "http", "--port", str(port), "--sandbox"]
    progress: list[str | None] = []

    async def on_progress(p: float, total: float | None, message: str | None) -> None:
        progress.append(message)

    with running(args, port, env=child_env(), cwd=tmp_path), anyio.fail_after(60):
        async with Client(f"http://127.0.0.1:{port}/mcp") as client:
            result = await client.call_tool("generate_image", {"prompt": "a red fox"}, progress_callback=on_progress)
        async with httpx.AsyncClient() as http:
            rebinding = await http.post(f"http://127.0.0.1:{port}/mcp", headers={"Host": "evil.example"}, json={})
    assert result.is_error is False
    assert result.structured_content["status"] == "completed"
    assert progress and progress[-1] is not None and progress[-1].startswith("completed")
    assert rebinding.status_code == 421


def test_cli_generate_sandbox_saves_and_prints_path_and_url(tmp_path: Path) -> None:
    """The README's first command, minus the install: plain progress lines when stderr is not a terminal."""
    out = tmp_path / "out"
    proc = run_cli("generate", "a red fox", "--sandbox", cwd=tmp_path, KREA_OUTPUT_DIR=str(out))
    assert proc.returncode == 0, proc.stderr
    saved, url = proc.stdout.strip().splitlines()
    assert Path(saved).parent == out and Path(saved).read_bytes().startswith(b"\x89PNG")
    assert Path(saved).name.startswith("a-red-fox-")
    assert url.startswith("http://krea.sandbox/")
    assert "\r" not in proc.stderr and "completed" in proc.stderr
