"""The emulator's own tests talk plain HTTP to it, on a clock they advance by hand.

Here ``fake`` is an emulator on ``clock`` (jobs take their catalog time), and ``client`` is an httpx client of it
(not an MCP client, as in the tests above this folder).
"""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest

from krea_mcp.fake_api import FakeKrea
from tests.helpers import TOKEN, FakeClock, open_client


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def fake(clock: FakeClock) -> FakeKrea:
    return FakeKrea(token=TOKEN, clock=clock)


@pytest.fixture
async def client(fake: FakeKrea) -> AsyncIterator[httpx.AsyncClient]:
    async with open_client(fake) as c:
        yield c
