"""Shared fixtures: a deterministic emulator, settings that never read the real environment, MCP clients."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator, Callable, Iterator
from typing import Any

import pytest
from mcp import Client

from krea_mcp.fake_api import FakeKrea
from krea_mcp.krea import retry
from krea_mcp.server.app import create_server
from krea_mcp.settings import Settings

TOKEN = "test-token-5f0c2a"


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Any) -> None:
    """No KREA_* variable or .env file from the developer's machine leaks into a test."""
    for key in list(os.environ):
        if key.startswith("KREA_"):
            monkeypatch.delenv(key)
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("KREA_OUTPUT_DIR", str(tmp_path / "images"))  # never the user's real Pictures folder


@pytest.fixture(autouse=True)
def fast_retries() -> Iterator[None]:
    """Retries still happen, without the backoff waits (tests of the waits use RetryPolicy directly)."""
    retry.set_testing(True)
    yield
    retry.set_testing(False)


def make_settings(**overrides: Any) -> Settings:
    values: dict[str, Any] = {"api_token": TOKEN, "poll_interval_s": 0.02, "wait_s": 10.0}
    values.update(overrides)
    return Settings(_env_file=None, **values)  # type: ignore[call-arg]


@pytest.fixture
def fake() -> FakeKrea:
    return FakeKrea(token=TOKEN, job_duration_s=0.15)


@pytest.fixture(params=["auto", "legacy"])
def mode(request: pytest.FixtureRequest) -> str:
    """Both protocol eras: 2026-07-28 (auto, in-process) and the 2025-11-25 initialize handshake."""
    return str(request.param)


ClientFactory = Callable[..., Any]


@pytest.fixture
def connect(fake: FakeKrea, mode: str) -> ClientFactory:
    """``async with connect(**settings_overrides) as client`` — a server wired to the emulator."""

    def factory(**overrides: Any) -> Client:
        server = create_server(make_settings(**overrides), transport=fake.transport())
        return Client(server, mode=mode)  # type: ignore[arg-type]

    return factory


@pytest.fixture
async def client(connect: ClientFactory) -> AsyncIterator[Client]:
    async with connect() as c:
        yield c
