"""HTTP transport safety: loopback by default, DNS-rebinding protection, auth modes, refusal of unsafe binds."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import anyio
import httpx
import pytest
from mcp import Client
from mcp.client.streamable_http import streamable_http_client

from krea_mcp.errors import ConfigError
from krea_mcp.http_app import build_app, check, is_loopback
from tests.helpers import ACCEPT, bare_settings, child_env, free_port, initialize, run_cli, running

pytestmark = pytest.mark.anyio

INIT = initialize("2025-06-18")


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
        ({"http_auth": "token", "http_token": "s3cret-s3cret-s3cret-s3cret-s3cret"}, "KREA_ALLOWED_HOSTS"),
        ({"http_auth": "token"}, "KREA_HTTP_TOKEN"),
        ({"http_auth": "bearer-passthrough", "api_token": "operator", "allowed_hosts": "a.example"}, "unset"),
    ],
)
def test_unsafe_public_binds_are_refused(values: dict[str, Any], fragment: str) -> None:
    with pytest.raises(ConfigError, match=fragment):
        check(bare_settings(**values), "0.0.0.0")


def test_a_configured_public_bind_is_accepted() -> None:
    check(bare_settings(http_auth="bearer-passthrough", allowed_hosts="mcp.example.com"), "0.0.0.0")
    assert build_app(
        bare_settings(http_auth="token", http_token="t" * 32, allowed_hosts="mcp.example.com"), host="0.0.0.0"
    )


def test_cli_refuses_a_public_bind_without_auth(tmp_path: Path) -> None:
    proc = run_cli("--transport", "http", "--host", "0.0.0.0", "--sandbox", cwd=tmp_path)
    assert proc.returncode == 2
    assert "without authentication" in proc.stderr and "Traceback" not in proc.stderr


GATE_TOKEN = "gate-7c1e-9f4b2d0a8e6c41f3b5d7a9c2e4f6a8b0"


@pytest.fixture
def token_server(tmp_path: Path) -> Any:
    port = free_port()
    env = child_env(KREA_HTTP_AUTH="token", KREA_HTTP_TOKEN=GATE_TOKEN, KREA_ALLOWED_HOSTS="mcp.example.com")
    with running(
        ["-m", "krea_mcp", "--transport", "http", "--port", str(port), "--sandbox"], port, env=env, cwd=tmp_path
    ):
        yield f"http://127.0.0.1:{port}/mcp"


async def test_token_mode_requires_the_exact_token(token_server: str) -> None:
    async with httpx.AsyncClient() as http:
        missing = await http.post(token_server, json=INIT, headers=ACCEPT)
        wrong = await http.post(token_server, json=INIT, headers={**ACCEPT, "authorization": "Bearer nope"})
        right = await http.post(token_server, json=INIT, headers={**ACCEPT, "authorization": f"Bearer {GATE_TOKEN}"})
    assert missing.status_code == 401 and "www-authenticate" in missing.headers
    assert wrong.status_code == 401
    assert right.status_code == 200


async def test_dns_rebinding_protection_stays_on(token_server: str) -> None:
    auth = {**ACCEPT, "authorization": f"Bearer {GATE_TOKEN}"}
    async with httpx.AsyncClient() as http:
        foreign_host = await http.post(token_server, json=INIT, headers={**auth, "host": "evil.example"})
        foreign_origin = await http.post(token_server, json=INIT, headers={**auth, "origin": "http://evil.example"})
        allowed_host = await http.post(token_server, json=INIT, headers={**auth, "host": "mcp.example.com"})
    assert foreign_host.status_code == 421
    assert foreign_origin.status_code == 403
    assert allowed_host.status_code == 200


@asynccontextmanager
async def connected_as(url: str, token: str) -> AsyncIterator[Client]:
    """An MCP client of the server at ``url`` over streamable HTTP, sending ``Authorization: Bearer <token>``."""
    import httpx2

    async with (
        httpx2.AsyncClient(headers={"authorization": f"Bearer {token}"}) as http,
        Client(streamable_http_client(url, http_client=http)) as client,
    ):
        yield client


async def call_as(url: str, token: str, tool: str, arguments: dict[str, Any]) -> Any:
    async with connected_as(url, token) as client:
        return await client.call_tool(tool, arguments)


async def test_token_mode_serves_tools_to_an_mcp_client(token_server: str) -> None:
    with anyio.fail_after(60):
        result = await call_as(token_server, GATE_TOKEN, "generate_image", {"prompt": "a fox"})
    assert result.is_error is False
    assert result.structured_content["status"] == "completed"


@pytest.fixture
def passthrough_server(tmp_path: Path) -> Any:
    """A multi-user krea-mcp in front of an emulator that, like Krea, shows each job only to its creator."""
    api_port, mcp_port = free_port(), free_port()
    api = [
        "-m",
        "krea_mcp.fake_api",
        "--port",
        str(api_port),
        "--token",
        "alice-krea,bob-krea",
        "--job-duration",
        "0.4",
    ]
    env = child_env(
        KREA_HTTP_AUTH="bearer-passthrough",
        KREA_BASE_URL=f"http://127.0.0.1:{api_port}",
        KREA_POLL_INTERVAL_S="0.05",
        KREA_PREVIEW="off",
    )
    server = ["-m", "krea_mcp", "--transport", "http", "--port", str(mcp_port)]
    with running(api, api_port), running(server, mcp_port, env=env, cwd=tmp_path):
        yield f"http://127.0.0.1:{mcp_port}/mcp", f"http://127.0.0.1:{api_port}"


async def test_bearer_passthrough_keeps_two_concurrent_users_apart(passthrough_server: tuple[str, str]) -> None:
    """Each user's job is created with their own token, and neither can see the other's."""
    url, api = passthrough_server
    results: dict[str, Any] = {}

    async def generate(user: str) -> None:
        results[user] = await call_as(url, f"{user}-krea", "generate_image", {"prompt": f"{user}'s fox"})

    with anyio.fail_after(60):
        async with anyio.create_task_group() as tg:
            for _ in range(3):  # interleave several calls per user
                tg.start_soon(generate, "alice")
                tg.start_soon(generate, "bob")
        assert all(r.is_error is False for r in results.values())
        alice_job = results["alice"].structured_content["job_id"]
        bob_job = results["bob"].structured_content["job_id"]
        crossed = await call_as(url, "alice-krea", "get_job", {"job_id": bob_job})
        own = await call_as(url, "alice-krea", "get_job", {"job_id": alice_job})
    assert crossed.is_error is True and "not found" in crossed.content[0].text
    assert own.is_error is False
    async with httpx.AsyncClient(base_url=api) as http:  # what Krea saw: each job under its creator's token
        alice = (await http.get("/jobs", headers={"authorization": "Bearer alice-krea"})).json()["items"]
        bob = (await http.get("/jobs", headers={"authorization": "Bearer bob-krea"})).json()["items"]
    assert len(alice) == 3 and len(bob) == 3
    assert alice_job in {j["job_id"] for j in alice} and bob_job in {j["job_id"] for j in bob}


async def test_bearer_passthrough_shares_nothing_on_the_server(passthrough_server: tuple[str, str]) -> None:
    url, _ = passthrough_server
    with anyio.fail_after(60):
        saved = await call_as(url, "alice-krea", "generate_image", {"prompt": "x", "save_to": "out"})
        local = await call_as(url, "alice-krea", "generate_image", {"prompt": "x", "images": ["/etc/hostname"]})
        async with connected_as(url, "bob-krea") as client:
            await client.call_tool("generate_image", {"prompt": "bob's", "wait": False})
            listed = [str(r.uri) for r in (await client.list_resources()).resources]
    assert saved.is_error and "disabled" in saved.content[0].text
    assert local.is_error and "cannot read local files" in local.content[0].text
    assert not [u for u in listed if u.startswith("krea://jobs/")]


async def test_bearer_passthrough_rejects_requests_without_a_token(passthrough_server: tuple[str, str]) -> None:
    url, _ = passthrough_server
    async with httpx.AsyncClient() as http:
        response = await http.post(url, json=INIT, headers=ACCEPT)
    assert response.status_code == 401


async def test_the_gate_covers_every_path_including_under_a_root_path() -> None:
    """Mounted under a prefix (or uvicorn --root-path), /mcp arrives as /api/mcp: still 401 without a token."""
    app = build_app(
        bare_settings(http_auth="token", http_token="t" * 32, allowed_hosts="mcp.example.com"), host="0.0.0.0"
    )
    transport = httpx.ASGITransport(app=app, root_path="/api")
    async with httpx.AsyncClient(transport=transport, base_url="http://127.0.0.1") as http:
        for path in ("/mcp", "/api/mcp", "/anything"):
            response = await http.post(path, json=INIT, headers=ACCEPT)
            assert response.status_code == 401, path


def test_the_uvicorn_factory_applies_the_public_bind_rules(monkeypatch: pytest.MonkeyPatch) -> None:
    from krea_mcp.http_app import create_app

    with pytest.raises(ConfigError, match="without authentication"):
        create_app()
    monkeypatch.setenv("KREA_HTTP_AUTH", "bearer-passthrough")
    monkeypatch.setenv("KREA_ALLOWED_HOSTS", "mcp.example.com")
    assert create_app() is not None
