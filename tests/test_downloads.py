"""Outbound fetches of URLs from Krea's answers: scheme, address, redirect, credential and content-type rules.

The Downloader is exercised through httpx transport injection (httpx.MockTransport, the emulator) and, for the
connection pinning, over real loopback sockets; the hostile-upstream cases go through MCP against the emulator.
"""

from __future__ import annotations

import http.server
import re
import threading
from collections.abc import AsyncIterator, Iterator
from typing import Any

import anyio
import httpx
import pytest
from mcp import MCPError

from krea_mcp.errors import DownloadError
from krea_mcp.fake_api import FakeKrea
from krea_mcp.fake_api._png import encode_png
from krea_mcp.fake_api._result_links import METADATA_SECRET
from krea_mcp.krea.downloads import MAX_REDIRECTS, Downloader, address_problem
from tests.helpers import TOKEN, connect, text_of

pytestmark = pytest.mark.anyio

PNG = encode_png(2, 2, [b"\x10\x20\x30" * 2] * 2)
BASE = "https://api.krea.ai"
PUBLIC = "93.184.216.34"
DNS = {
    "cdn.example": [PUBLIC],
    "internal.example": ["10.1.2.3"],
    "mixed.example": [PUBLIC, "192.168.1.20"],  # one bad answer is enough to refuse
    "meta.example": ["169.254.169.254"],
    "v6.example": ["2606:4700::1111"],
    "v6local.example": ["fd00:ec2::254"],
}


async def resolve(host: str, port: int) -> list[str]:
    if host not in DNS:
        raise OSError(-2, "Name or service not known")
    return DNS[host]


class Recorder:
    """A MockTransport handler: serves a PNG (or what ``routes`` says) and records every request it sees."""

    def __init__(self, routes: dict[str, httpx.Response] | None = None) -> None:
        self.routes = routes or {}
        self.seen: list[httpx.Request] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.seen.append(request)
        return self.routes.get(request.url.path) or httpx.Response(
            200, content=PNG, headers={"content-type": "image/png"}
        )


def downloader(handler: Any, **kwargs: Any) -> Downloader:
    # The client carries a default Authorization header: it must still never reach a result URL.
    http = httpx.AsyncClient(transport=httpx.MockTransport(handler), headers={"Authorization": f"Bearer {TOKEN}"})
    return Downloader(http, base_url=kwargs.pop("base_url", BASE), resolve=resolve, **kwargs)


async def test_public_https_url_is_fetched_without_the_token_or_url_credentials() -> None:
    handler = Recorder()
    body = await downloader(handler).fetch_bytes("https://user:secret@cdn.example/a.png", limit=1000)
    assert body == PNG
    (request,) = handler.seen
    assert "authorization" not in request.headers
    assert request.url.userinfo == b""
    assert request.headers["accept"] == "image/*"


@pytest.mark.parametrize(
    ("url", "shown", "rule"),
    [
        ("http://cdn.example/a.png", "cdn.example", "its scheme is http:, and only https URLs are fetched"),
        ("ftp://cdn.example/a.png", "cdn.example", "its scheme is ftp:"),
        ("http://127.0.0.1:8080/latest/meta-data/", "127.0.0.1:8080", "only https URLs are fetched"),
        ("https://127.0.0.1/latest/meta-data/", "127.0.0.1", "it is a loopback address"),
        ("https://[::1]/x.png", "[::1]", "it is a loopback address"),
        ("https://169.254.169.254/latest/meta-data/", "169.254.169.254", "cloud metadata address"),
        ("https://[::ffff:127.0.0.1]/x.png", "[::ffff:127.0.0.1]", "loopback address (127.0.0.1, inside the IPv6"),
        ("https://[2002:a00:1::]/x.png", "[2002:a00:1::]", "private address (10.0.0.1, inside the IPv6"),
        ("https://[64:ff9b::a9fe:a9fe]/x.png", "[64:ff9b::a9fe:a9fe]", "cloud metadata address (169.254.169.254"),
        ("https://0.0.0.0/x.png", "0.0.0.0", "it is an unspecified address"),
        ("https://224.0.0.1/x.png", "224.0.0.1", "it is a multicast address"),
        ("https://100.64.0.7/x.png", "100.64.0.7", "shared (carrier-grade NAT) address"),
        ("https://internal.example/a.png", "internal.example", "it resolves to 10.1.2.3, which is a private address"),
        ("https://mixed.example/a.png", "mixed.example", "it resolves to 192.168.1.20, which is a private address"),
        ("https://meta.example/a.png", "meta.example", "resolves to 169.254.169.254, which is a cloud metadata"),
        ("https://v6local.example/a.png", "v6local.example", "fd00:ec2::254, which is a cloud metadata address"),
        ("https://nowhere.example/a.png", "nowhere.example", "its name could not be resolved"),
        ("https://api.krea.ai:8443/a.png", "api.krea.ai:8443", "its name could not be resolved"),  # not the origin
    ],
)
async def test_refused_urls_never_reach_the_network(url: str, shown: str, rule: str) -> None:
    handler = Recorder()
    with pytest.raises(DownloadError) as info:
        await downloader(handler).fetch_bytes(url, limit=1000)
    message = str(info.value)
    assert message.startswith(f"Did not fetch the image from {shown}: "), message
    assert rule in message
    assert handler.seen == []


async def test_public_ipv6_and_the_configured_base_origin_are_fetched() -> None:
    handler = Recorder()
    fetch = downloader(handler, base_url="http://127.0.0.1:8787").fetch_bytes
    assert await fetch("https://v6.example/a.png", limit=1000) == PNG
    assert await fetch("http://127.0.0.1:8787/_fake/images/x/0.png", limit=1000) == PNG  # trusted as configured
    with pytest.raises(DownloadError, match=re.escape("127.0.0.1:8788: its scheme is http:")):  # another port is not
        await fetch("http://127.0.0.1:8788/latest/meta-data/", limit=1000)
    assert len(handler.seen) == 2


def redirect(to: str) -> httpx.Response:
    return httpx.Response(302, headers={"location": to})


async def test_every_redirect_hop_is_checked() -> None:
    handler = Recorder(
        {
            "/to-loopback": redirect("https://127.0.0.1/latest/meta-data/"),
            "/to-private-name": redirect("https://internal.example/a.png"),
            "/to-http": redirect("http://cdn.example/a.png"),
            "/relative": redirect("/a.png"),
        }
    )
    fetch = downloader(handler).fetch_bytes
    with pytest.raises(DownloadError) as info:
        await fetch("https://cdn.example/to-loopback", limit=1000)
    assert str(info.value).startswith(
        "Did not fetch the image from 127.0.0.1: it is a loopback address, and images are fetched only from public "
        "addresses (a result URL must not make this server read its own network) (reached by a redirect from "
        "cdn.example)."
    )
    with pytest.raises(DownloadError, match=re.escape("resolves to 10.1.2.3")):
        await fetch("https://cdn.example/to-private-name", limit=1000)
    with pytest.raises(DownloadError, match="its scheme is http:"):
        await fetch("https://cdn.example/to-http", limit=1000)
    assert await fetch("https://cdn.example/relative", limit=1000) == PNG
    assert [r.url.path for r in handler.seen] == ["/to-loopback", "/to-private-name", "/to-http", "/relative", "/a.png"]


async def test_redirects_are_capped() -> None:
    def chain(request: httpx.Request) -> httpx.Response:
        hop = int(request.url.path.strip("/") or 0)
        return redirect(f"/{hop + 1}") if hop < 99 else httpx.Response(200, content=PNG)

    handler = Recorder()

    def counted(request: httpx.Request) -> httpx.Response:
        handler.seen.append(request)
        return chain(request)

    with pytest.raises(DownloadError, match=f"cdn.example: it redirected more than {MAX_REDIRECTS} times"):
        await downloader(counted).fetch_bytes("https://cdn.example/0", limit=1000)
    assert len(handler.seen) == MAX_REDIRECTS + 1

    def five(request: httpx.Request) -> httpx.Response:
        hop = int(request.url.path.strip("/"))
        return (
            redirect(f"/{hop + 1}")
            if hop < MAX_REDIRECTS
            else httpx.Response(200, content=PNG, headers={"content-type": "image/png"})
        )

    assert await downloader(five).fetch_bytes("https://cdn.example/0", limit=1000) == PNG


async def test_the_answer_must_be_the_kind_asked_for() -> None:
    handler = Recorder(
        {
            "/page": httpx.Response(200, text="<html>", headers={"content-type": "text/html; charset=utf-8"}),
            "/untyped": httpx.Response(200, content=PNG),
            "/clip.mp4": httpx.Response(200, content=b"....", headers={"content-type": "video/mp4"}),
        }
    )
    fetch = downloader(handler).fetch_bytes
    with pytest.raises(DownloadError, match=re.escape("cdn.example: its answer is 'text/html', not image/*")):
        await fetch("https://cdn.example/page", limit=1000)
    with pytest.raises(DownloadError, match="its answer is 'untyped'"):
        await fetch("https://cdn.example/untyped", limit=1000)
    with pytest.raises(DownloadError, match=re.escape("not image/*")):
        await fetch("https://cdn.example/clip.mp4", limit=1000)
    assert await fetch("https://cdn.example/clip.mp4", limit=1000, kinds=("image/", "video/")) == b"...."


async def test_error_statuses_and_oversized_bodies_are_refused() -> None:
    async def chunks() -> AsyncIterator[bytes]:
        for chunk in (b"\x89PNG" + b"x" * 600, b"x" * 600):  # no Content-Length: counted while streaming
            yield chunk

    handler = Recorder(
        {
            "/gone": httpx.Response(404),
            "/declared": httpx.Response(200, content=b"x" * 2000, headers={"content-type": "image/png"}),
            "/streamed": httpx.Response(200, content=chunks(), headers={"content-type": "image/png"}),
        }
    )
    fetch = downloader(handler).fetch_bytes
    with pytest.raises(DownloadError, match=re.escape("cdn.example: it answered HTTP 404 Not Found. Try")):
        await fetch("https://cdn.example/gone", limit=1000)
    for path in ("/declared", "/streamed"):
        with pytest.raises(DownloadError, match="the body is larger than the 1000 bytes allowed here"):
            await fetch(f"https://cdn.example{path}", limit=1000)


async def test_a_trickling_body_is_bounded_in_time() -> None:
    class Trickle(httpx.AsyncByteStream):
        async def __aiter__(self) -> AsyncIterator[bytes]:
            yield b"\x89PNG"
            await anyio.sleep_forever()  # the next byte never comes

    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, stream=Trickle(), headers={"content-type": "image/png"})

    with anyio.fail_after(5), pytest.raises(DownloadError) as info:
        await downloader(handler).fetch_bytes("https://cdn.example/slow.png", limit=1000, timeout_s=0.1)
    assert str(info.value) == (
        "Did not fetch the image from cdn.example: the image did not arrive within 0.1 s. "
        "Try again shortly, or open the URL directly."
    )


def test_address_rules_cover_embedded_ipv4() -> None:
    import ipaddress

    assert address_problem(ipaddress.ip_address("8.8.8.8")) is None
    assert address_problem(ipaddress.ip_address("2002:808:808::")) is None  # 6to4 of a public address
    assert address_problem(ipaddress.ip_address("168.63.129.16")) == "a cloud metadata address"  # public range
    teredo = ipaddress.ip_address("2001:0:4136:e378:8000:63bf:3fff:fdd2")
    assert address_problem(teredo) is not None


# --- the real network: connections pinned to the checked address ----------------------------------------------------


@pytest.fixture
def local_server() -> Iterator[tuple[int, list[str]]]:
    """A plain HTTP server on 127.0.0.1 serving a PNG; yields its port and the paths it was asked for."""
    seen: list[str] = []

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            seen.append(self.path)
            self.send_response(200)
            self.send_header("Content-Type", "image/png")
            self.send_header("Content-Length", str(len(PNG)))
            self.end_headers()
            self.wfile.write(PNG)

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server.server_address[1], seen
    finally:
        server.shutdown()
        server.server_close()


async def test_dns_rebinding_between_check_and_connect_is_refused(local_server: tuple[int, list[str]]) -> None:
    """The name resolves to a public address when checked, then to loopback: the connection is made to a checked
    address or not at all (the real network transport, not a mock)."""
    port, seen = local_server
    answers = iter([[PUBLIC], ["127.0.0.1"]])

    async def rebinding(host: str, port: int) -> list[str]:
        return next(answers)

    real = Downloader(None, base_url=BASE, resolve=rebinding)
    try:
        with pytest.raises(DownloadError) as info:
            await real.fetch_bytes(f"https://rebind.test:{port}/a.png", limit=1000)
    finally:
        await real.aclose()
    expected = f"Did not fetch the image from rebind.test:{port}: it resolves to 127.0.0.1, which is a loopback"
    assert str(info.value).startswith(expected)
    assert seen == []


async def test_real_network_fetches_the_trusted_base_origin_and_refuses_localhost(
    local_server: tuple[int, list[str]],
) -> None:
    port, seen = local_server
    real = Downloader(None, base_url=f"http://127.0.0.1:{port}")  # the standalone emulator's setup
    try:
        assert await real.fetch_bytes(f"http://127.0.0.1:{port}/a.png", limit=1000) == PNG
        with pytest.raises(DownloadError, match=f"localhost:{port}: it resolves to .*loopback address"):
            await real.fetch_bytes(f"https://localhost:{port}/b.png", limit=1000)
    finally:
        await real.aclose()
    assert seen == ["/a.png"]


# --- hostile upstream, through MCP against the emulator --------------------------------------------------------------


METADATA = "http://127.0.0.1:8080/latest/meta-data/iam/security-credentials/role"


@pytest.mark.parametrize(
    ("urls", "expected"),
    [
        ([METADATA], "from 127.0.0.1:8080: its scheme is http:, and only https URLs are fetched"),
        (["https://127.0.0.1:8443/latest/meta-data/"], "from 127.0.0.1:8443: it is a loopback address"),
        (
            ["http://krea.sandbox/_fake/redirect/1?to=https://169.254.169.254/latest/meta-data/"],
            "from 169.254.169.254: it is a cloud metadata address, and images are fetched only from public "
            "addresses (a result URL must not make this server read its own network) (reached by a redirect from "
            "krea.sandbox)",
        ),
        (["http://krea.sandbox/_fake/redirect/9?to=/_fake/html"], "from krea.sandbox: it redirected more than 5 times"),
        (["http://krea.sandbox/_fake/html"], "from krea.sandbox: its answer is 'text/html', not image/*"),
    ],
)
async def test_hostile_result_urls_are_not_previewed_or_read(mode: str, urls: list[str], expected: str) -> None:
    fake = FakeKrea(token=TOKEN, job_duration_s=0.05)
    fake.result_urls = urls
    async with connect(fake, mode=mode, preview="thumbnail") as client:
        result = await client.call_tool("generate_image", {"prompt": "a fox"})
        assert result.is_error is False
        assert result.structured_content["urls"] == urls  # the result is intact; only the fetch was refused
        text = text_of(result)
        assert f"Preview unavailable: Did not fetch the image {expected}" in text, text
        assert not [b for b in result.content if b.type == "image"]
        with pytest.raises(MCPError) as info:
            await client.read_resource(urls[0])
        assert expected in str(info.value)
    assert METADATA_SECRET.decode() not in text + str(info.value)
    assert not [path for _, path in fake.requests if path.startswith("/latest/")]


async def test_the_metadata_stand_in_answers_whoever_reaches_it() -> None:
    """The control case: the emulator really serves the secret, so the refusals above are what kept it out."""
    fake = FakeKrea(token=TOKEN)
    async with httpx.AsyncClient(transport=fake.transport()) as http:
        response = await http.get(METADATA)
    assert response.content == METADATA_SECRET and response.headers["content-type"] == "image/png"


async def test_result_urls_can_be_set_over_the_control_plane() -> None:
    fake = FakeKrea(token=TOKEN)
    headers = {"Authorization": f"Bearer {TOKEN}"}
    async with httpx.AsyncClient(transport=fake.transport(), base_url=fake.base_url, headers=headers) as http:
        ok = await http.post("/_fake/control", json={"result_urls": [METADATA]})
        assert ok.status_code == 200 and fake.result_urls == [METADATA]
        bad = await http.post("/_fake/control", json={"result_urls": "http://x"})
        assert bad.status_code == 400 and "result_urls must be a list of URL strings" in bad.text
        await http.post("/_fake/control", json={"reset": True})
    assert fake.result_urls is None
