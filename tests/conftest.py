"""Shared fixtures: a clean environment, instant retries, a deterministic emulator, MCP clients in both eras.

The helpers they are built on (``connect``, ``make_settings``, ``TOKEN``, ``text_of``...) are in ``tests/helpers.py``.
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
from mcp import Client

from krea_mcp.fake_api import FakeKrea
from krea_mcp.krea import retry
from tests.helpers import TOKEN, connect


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
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


@pytest.fixture
def outside(tmp_path: Path) -> Path:
    """An empty directory beside the test's own ``allowed`` one, where nothing may be written."""
    path = tmp_path / "outside"
    path.mkdir()
    return path


@pytest.fixture
def fake() -> FakeKrea:
    return FakeKrea(token=TOKEN, job_duration_s=0.15)


@pytest.fixture(params=["auto", "legacy"])
def mode(request: pytest.FixtureRequest) -> str:
    """Both protocol eras: 2026-07-28 (auto, in-process) and the 2025-11-25 initialize handshake."""
    return str(request.param)


@pytest.fixture
async def client(fake: FakeKrea, mode: str) -> AsyncIterator[Client]:
    """A client of a server on ``fake`` with the default test settings, in each protocol era."""
    async with connect(fake, mode=mode) as c:
        yield c
