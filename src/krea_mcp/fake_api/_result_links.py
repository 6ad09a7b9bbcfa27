"""Where a hostile or compromised upstream's result URLs point, for testing what the server fetches.

With ``FakeKrea.result_urls`` set, completed jobs report those URLs instead of their own image; these endpoints give
them somewhere to point:

* ``/latest/meta-data/...`` — a stand-in for a cloud metadata service (answered without a token, typed
  ``image/png`` so that only the address rules can stop a server from reading it; its body is
  :data:`METADATA_SECRET`).
* ``/_fake/redirect/{hops}?to=URL`` — a redirect chain: ``hops`` redirects through the emulator, then to ``to``.
* ``/_fake/html`` — a ``text/html`` answer where an image was expected.
* ``/_fake/huge/{width}x{height}.png`` — a valid, highly compressed PNG of any size (a decompression bomb).
"""

from __future__ import annotations

import struct
import zlib
from functools import lru_cache
from typing import TYPE_CHECKING
from urllib.parse import quote

from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response
from starlette.routing import Route
from starlette.types import ASGIApp, Receive, Scope, Send

from krea_mcp.fake_api._png import PNG_SIGNATURE

if TYPE_CHECKING:
    from krea_mcp.fake_api._app import FakeKrea

METADATA_PATH = "/latest/meta-data/"
METADATA_SECRET = b"AKIA-FAKE-METADATA-CREDENTIALS-7f3e"
#: Largest side /_fake/huge serves (a 20000 x 20000 PNG compresses to about 1 MB).
MAX_HUGE_SIDE = 20_000


class MetadataStandIn:
    """ASGI middleware: answers the metadata stand-in's paths before any token check (it is not Krea's)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["path"].startswith(METADATA_PATH):
            await Response(METADATA_SECRET, media_type="image/png")(scope, receive, send)
            return
        await self.app(scope, receive, send)


@lru_cache(maxsize=4)
def huge_png(width: int, height: int) -> bytes:
    """A black 8-bit RGB PNG of ``width`` x ``height``, compressed row by row (never all in memory)."""
    compressor = zlib.compressobj(9)
    row = b"\x00" * (width * 3 + 1)  # filter byte + black pixels
    parts = [compressor.compress(row) for _ in range(height)]
    data = b"".join(parts) + compressor.flush()
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return PNG_SIGNATURE + _chunk(b"IHDR", header) + _chunk(b"IDAT", data) + _chunk(b"IEND", b"")


def _chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)


def result_link_routes(fake: FakeKrea) -> list[Route]:
    """The redirect-chain, wrong-type and huge-image endpoints of one emulator."""

    async def redirect(request: Request) -> Response:
        hops, target = request.path_params["hops"], request.query_params.get("to", "")
        if hops > 0:
            return RedirectResponse(f"{fake.base_url}/_fake/redirect/{hops - 1}?to={quote(target, safe='')}", 302)
        return RedirectResponse(target or f"{fake.base_url}/_fake/html", 302)

    async def html(request: Request) -> Response:
        return HTMLResponse("<html><body>Not an image</body></html>")

    async def huge(request: Request) -> Response:
        width, height = request.path_params["width"], request.path_params["height"]
        if not (0 < width <= MAX_HUGE_SIDE and 0 < height <= MAX_HUGE_SIDE):
            return Response(status_code=404)
        return Response(huge_png(width, height), media_type="image/png")

    return [
        Route("/_fake/redirect/{hops:int}", redirect, methods=["GET"]),
        Route("/_fake/html", html, methods=["GET"]),
        Route("/_fake/huge/{width:int}x{height:int}.png", huge, methods=["GET"]),
    ]
