"""Helpers for tests that talk HTTP to the emulator directly (not through MCP)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import httpx

from krea_mcp.fake_api import FakeKrea

TOKEN = "key-id:secret"
FLUX = "/generate/image/bfl/flux-1-dev"  # typical_s = 7.0


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
    response = await client.post(path, json={"prompt": prompt})
    assert response.status_code == 200, response.text
    job: dict[str, Any] = response.json()
    return job


async def status(client: httpx.AsyncClient, job_id: str) -> dict[str, Any]:
    response = await client.get(f"/jobs/{job_id}")
    assert response.status_code == 200, response.text
    job: dict[str, Any] = response.json()
    return job


def when(text: str) -> datetime:
    return datetime.fromisoformat(text)
