"""The in-process httpx transport: calls the app directly and surfaces emulated network faults as httpx errors."""

from __future__ import annotations

import anyio
import httpx

from krea_mcp.fake_api._faults import ConnectionReset


class FakeTransport(httpx.ASGITransport):
    """An ``httpx.ASGITransport`` that honours the read timeout and turns a dropped connection into ReadError."""

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        """Run the app for one request, as a real connection would fail if it hangs or is cut."""
        read_timeout = request.extensions.get("timeout", {}).get("read")
        with anyio.move_on_after(read_timeout):
            try:
                return await super().handle_async_request(request)
            except ConnectionReset as exc:
                raise httpx.ReadError(
                    "Server disconnected without sending a complete response", request=request
                ) from exc
        raise httpx.ReadTimeout("Timed out waiting for the fake Krea API to answer", request=request)
