"""HTTP transport safety: loopback by default, DNS-rebinding protection, auth modes, refusal of unsafe binds."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

import anyio
import httpx
import pytest
from mcp import Client
from mcp.client.streamable_http import streamable_http_client

from krea_mcp.http_app import ConfigError, build_app, check, is_loopback
from krea_mcp.settings import Settings

from .e2e import child_env, free_port, running

pytestmark = pytest.mark.anyio

INIT = {
    "jsonrpc": "2.0",
    "id": 1,
    "method": "initialize",
    "params": {"protocolVersion": "2025-06-18", "capabilities": {}, "clientInfo": {"name": "t", "version": "0"}},
}
ACCEPT = {"accept": "application/json, text/event-stream", "content-type": "application/json"}


def settings(**values: Any) -> Settings:
    return Settings(_env_file=None, **values)  # type: ignore[call-arg]


@pytest.mark.parametrize(
    ("host", "loopback"),
    [
        ("127.0.0.1", True),
        ("::1", True),
        ("localhost", True),
        ("0.0.0.0", False),
        ("192.168.1.5", False),
        ("example.com", False),
    ],
)
def test_loopback_detection(host: str, loopback: bool) -> None:
    assert is_loopback(host) is loopback


@pytest.mark.parametrize(
    ("values", "fragment"),
    [
        ({}, "without authentication"),
        ({"http_auth": "token", "http_token": "s3cret"}, "KREA_ALLOWED_HOSTS"),
        ({"http_auth": "token"}, "KREA_HTTP_TOKEN"),
        ({"http_auth": "bearer-passthrough", "api_token": "operator", "allowed_hosts": "a.example"}, "unset"),
    ],
)
def test_unsafe_public_binds_are_refused(values: dict[str, Any], fragment: str) -> None:
    with pytest.raises(ConfigError, match=fragment):
        check(settings(**values), "0.0.0.0")


def test_a_configured_public_bind_is_accepted() -> None:
    check(settings(http_auth="bearer-passthrough", allowed_hosts="mcp.example.com"), "0.0.0.0")
    assert build_app(settings(http_auth="token", http_token="t", allowed_hosts="mcp.example.com"), host="0.0.0.0")


def test_cli_refuses_a_public_bind_without_auth(tmp_path: Path) -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "krea_mcp", "--transport", "http", "--host", "0.0.0.0", "--sandbox"],
        env=child_env(),
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 2
    assert "without authentication" in proc.stderr and "Traceback" not in proc.stderr


@pytest.fixture
def token_server(tmp_path: Path) -> Any:
    port = free_port()
    env = child_env(KREA_HTTP_AUTH="token", KREA_HTTP_TOKEN="gate-7c1e", KREA_ALLOWED_HOSTS="mcp.example.com")
    with running(
        ["-m", "krea_mcp", "--transport", "http", "--port", str(port), "--sandbox"], port, env=env, cwd=tmp_path
    ):
        yield f"http://127.0.0.1:{port}/mcp"


async def test_token_mode_requires_the_exact_token(token_server: str) -> None:
    async with httpx.AsyncClient() as http:
        missing = await http.post(token_server, json=INIT, headers=ACCEPT)
        wrong = await http.post(token_server, json=INIT, headers={**ACCEPT, "authorization": "Bearer nope"})
        right = await http.post(token_server, json=INIT, headers={**ACCEPT, "authorization": "Bearer gate-7c1e"})
    assert missing.status_code == 401 and "www-authenticate" in missing.headers
    assert wrong.status_code == 401
    assert right.status_code == 200


async def test_dns_rebinding_protection_stays_on(token_server: str) -> None:
    auth = {**ACCEPT, "authorization": "Bearer gate-7c1e"}
    async with httpx.AsyncClient() as http:
        foreign_host = await http.post(token_server, json=INIT, headers={**auth, "host": "evil.example"})
        foreign_origin = await http.post(token_server, json=INIT, headers={**auth, "origin": "http://evil.example"})
        allowed_host = await http.post(token_server, json=INIT, headers={**auth, "host": "mcp.example.com"})
    assert foreign_host.status_code == 421
    assert foreign_origin.status_code == 403
    assert allowed_host.status_code == 200


async def test_token_mode_serves_tools_to_an_mcp_client(token_server: str) -> None:
    import httpx2

    with anyio.fail_after(60):
        async with (
            httpx2.AsyncClient(headers={"authorization": "Bearer gate-7c1e"}) as http,
            Client(streamable_http_client(token_server, http_client=http)) as client,
        ):
            result = await client.call_tool("generate_image", {"prompt": "a fox"})
    assert result.is_error is False
    assert result.structured_content["status"] == "completed"
