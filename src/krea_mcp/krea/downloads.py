"""Fetching what Krea's answers point at (result images and their redirects) without letting them point anywhere.

Every outbound fetch of a URL that came from an answer (saving, previews, ``resources/read``) goes through
:class:`Downloader`. Its rules, checked on the first URL and again on every redirect hop:

* **Scheme.** https only. Plain http is allowed only for the configured ``KREA_BASE_URL``'s own origin (scheme,
  host and port), which is trusted as configured: that is how the emulator serves its images.
* **Addresses.** Any other host is resolved and refused when *any* of its addresses is loopback, private,
  link-local, multicast, reserved, unspecified, shared (CGNAT) or a cloud metadata address, IPv4 or IPv6, including
  IPv4 embedded in IPv6 (mapped, 6to4, NAT64). A result URL can never make this server read its own network.
* **Pinned connections.** On the real network the TCP connection is made, by a guarded network backend, to an
  address checked at connect time, never to a fresh DNS answer: a DNS rebinding between the check and the connect
  cannot bypass the rules. TLS still verifies the certificate against the host name (SNI unchanged), and the
  connection pool stays keyed by host name, so a pooled connection is never reused for another host.
* **Redirects** are followed by hand, at most :data:`MAX_REDIRECTS`, each hop checked like the first URL.
* **No credentials.** No ``Authorization`` header is ever sent, and user:password parts of URLs are dropped.
* **Content type.** The answer must be ``image/*`` (or another kind the caller names, e.g. ``video/``).

Refusals and failures are :class:`DownloadError`: the message names the host, the rule and the next step.
"""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Sequence
from contextlib import asynccontextmanager
from typing import TYPE_CHECKING, Any

import anyio
import httpx

from krea_mcp import __version__
from krea_mcp.errors import DownloadError

if TYPE_CHECKING:
    import httpcore

#: Redirect hops followed before giving up (each one is checked like the first URL).
MAX_REDIRECTS = 5
#: Time allowed for one whole fetch (connect, redirects and body) in :meth:`Downloader.fetch_bytes`.
FETCH_TIMEOUT_S = 30.0
IMAGE_KINDS: tuple[str, ...] = ("image/",)
#: The most of an image read to learn its size: headers (with EXIF and colour profiles) fit easily.
HEADER_LIMIT = 4 * 1024 * 1024
_REDIRECTS = frozenset({301, 302, 303, 307, 308})
_DEFAULT_PORTS = {"http": 80, "https": 443}
#: Cloud metadata services (most are link-local or private already; these are named so none slips through).
_METADATA = frozenset(
    ipaddress.ip_address(a)
    for a in ("169.254.169.254", "169.254.170.2", "fd00:ec2::254", "100.100.100.200", "168.63.129.16", "192.0.0.192")
)
_NAT64 = ipaddress.ip_network("64:ff9b::/96")
_SHARED = ipaddress.ip_network("100.64.0.0/10")

Address = ipaddress.IPv4Address | ipaddress.IPv6Address
#: Resolves (host, port) to IP address strings; replaceable in tests.
Resolver = Callable[[str, int], Awaitable[list[str]]]


async def system_resolve(host: str, port: int) -> list[str]:
    """Every address ``host`` resolves to (TCP), in the resolver's order, without duplicates."""
    infos = await anyio.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return list(dict.fromkeys(str(info[4][0]) for info in infos))


def address_problem(address: Address) -> str | None:
    """Why this server must not connect to ``address`` (e.g. "a loopback address"), or None for a public one."""
    if address in _METADATA:
        return "a cloud metadata address"
    if isinstance(address, ipaddress.IPv6Address):
        embedded = address.ipv4_mapped or address.sixtofour
        if embedded is None and address in _NAT64:
            embedded = ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
        if embedded is None and address.teredo is not None:
            embedded = address.teredo[1]
        if embedded is not None:
            problem = address_problem(embedded)
            if problem is not None:
                return f"{problem} ({embedded}, inside the IPv6 address {address})"
    for test, name in (
        ("is_loopback", "loopback"),
        ("is_link_local", "link-local"),
        ("is_multicast", "multicast"),
        ("is_unspecified", "unspecified"),
        ("is_private", "private"),
        ("is_reserved", "reserved"),
    ):
        if getattr(address, test):
            return f"{'an' if name[0] in 'aeiou' else 'a'} {name} address"
    if isinstance(address, ipaddress.IPv4Address) and address in _SHARED:
        return "a shared (carrier-grade NAT) address"
    if not address.is_global:
        return "a non-public address"
    return None


def _literal(host: str) -> Address | None:
    try:
        return ipaddress.ip_address(host)
    except ValueError:
        return None


def _shown(host: str, port: int, scheme: str) -> str:
    """``host`` or ``host:port`` (never any user:password part)."""
    host = f"[{host}]" if ":" in host else host
    return host if port in (0, _DEFAULT_PORTS.get(scheme)) else f"{host}:{port}"


def _origin(url: httpx.URL) -> tuple[str, str, int]:
    scheme = url.scheme.lower()
    return scheme, url.host.lower(), url.port or _DEFAULT_PORTS.get(scheme, 0)


async def checked_addresses(host: str, port: int, resolve: Resolver) -> list[str]:
    """The addresses of ``host``, all of them public; DownloadError naming the first one that is not."""
    shown = _shown(host, port, "https")
    literal = _literal(host)
    if literal is not None:
        addresses = [host]
    else:
        try:
            addresses = await resolve(host, port)
        except (OSError, UnicodeError) as exc:
            reason = getattr(exc, "strerror", None) or type(exc).__name__
            raise DownloadError(
                shown, f"its name could not be resolved ({reason})", "Check the URL or try again shortly."
            ) from None
        if not addresses:
            raise DownloadError(shown, "its name resolves to no address", "Check the URL or try again shortly.")
    for text in addresses:
        address = ipaddress.ip_address(text.split("%", 1)[0])
        problem = address_problem(address)
        if problem is not None:
            where = "it is" if literal is not None else f"it resolves to {address}, which is"
            raise DownloadError(
                shown,
                f"{where} {problem}, and images are fetched only from public addresses (a result URL must not "
                "make this server read its own network)",
            )
    return addresses


class Download:
    """One answer being streamed: its content type and its body in chunks (a broken-off body is a DownloadError)."""

    def __init__(self, response: httpx.Response, host: str) -> None:
        self._response, self._host = response, host
        self.content_type: str | None = response.headers.get("content-type")
        self.declared_bytes: int | None = _declared_length(response)

    async def chunks(self, size: int | None = None) -> AsyncIterator[bytes]:
        try:
            async for chunk in self._response.aiter_bytes(size):
                yield chunk
        except httpx.HTTPError as exc:
            raise _connection_failed(self._host, exc) from None


def _declared_length(response: httpx.Response) -> int | None:
    declared = response.headers.get("content-length", "")
    return int(declared) if declared.isdigit() else None


class Downloader:
    """Streams result URLs under the rules above. One per server lifetime.

    ``http`` is the client to send through when a transport was injected (tests, ``--sandbox``); with ``None``
    the downloader makes its own client whose connections are pinned to checked addresses (the real network).
    ``trusted`` adds origins treated like the base URL (the emulator's own, with an injected transport).
    """

    def __init__(
        self,
        http: httpx.AsyncClient | None,
        *,
        base_url: str,
        trusted: Iterable[str] = (),
        resolve: Resolver | None = None,
        timeout_s: float = FETCH_TIMEOUT_S,
        max_redirects: int = MAX_REDIRECTS,
    ) -> None:
        self._resolve = resolve or system_resolve
        self._trusted = {_origin(httpx.URL(u)) for u in (base_url, *trusted)}
        scheme, host, port = _origin(httpx.URL(base_url))
        self._base = f"{scheme}://{_shown(host, port, scheme)}"
        self._timeout_s = timeout_s
        self._max_redirects = max_redirects
        self._owned = http is None
        self._http = http if http is not None else self._pinned_client(timeout_s)

    async def aclose(self) -> None:
        """Close the client this downloader made (an injected one belongs to its owner)."""
        if self._owned:
            await self._http.aclose()

    @asynccontextmanager
    async def open(self, url: str, *, kinds: Sequence[str] = IMAGE_KINDS) -> AsyncIterator[Download]:
        """The streaming answer for ``url`` once it passed every rule (status 2xx, content type in ``kinds``)."""
        response = await self._get(url, kinds)
        try:
            yield Download(response, self._host_of(url))
        finally:
            with anyio.CancelScope(shield=True):
                await response.aclose()

    async def fetch_bytes(
        self, url: str, *, limit: int, kinds: Sequence[str] = IMAGE_KINDS, timeout_s: float | None = None
    ) -> bytes:
        """The whole body of ``url``, at most ``limit`` bytes, within ``timeout_s`` (default 30 s) in all."""
        seconds = timeout_s if timeout_s is not None else self._timeout_s
        host = self._host_of(url)
        try:
            with anyio.fail_after(seconds):
                async with self.open(url, kinds=kinds) as download:
                    if download.declared_bytes is not None and download.declared_bytes > limit:
                        raise _too_big(host, limit)
                    body = bytearray()
                    async for chunk in download.chunks():
                        body += chunk
                        if len(body) > limit:
                            raise _too_big(host, limit)
                    return bytes(body)
        except TimeoutError:
            raise DownloadError(
                host, f"the image did not arrive within {seconds:g} s", "Try again shortly, or open the URL directly."
            ) from None
        except httpx.HTTPError as exc:
            raise _connection_failed(host, exc) from None

    async def image_size(self, url: str, *, limit: int = HEADER_LIMIT) -> tuple[int, int, bool]:
        """An image's shown width and height (and whether EXIF turned it), from its first bytes only: the download
        stops as soon as the header is read. ``UnreadableHeader`` if the first ``limit`` bytes do not tell it."""
        from krea_mcp.files.image_types import HEAD_BYTES, UnreadableHeader, header_size, sniff

        head = bytearray()
        problem = "the answer ended before the image's size"
        async with self.open(url) as download:
            async for chunk in download.chunks():
                head += chunk
                try:
                    return header_size(bytes(head))
                except UnreadableHeader as exc:
                    problem = str(exc)
                    if len(head) >= HEAD_BYTES and sniff(bytes(head[:HEAD_BYTES])) is None:
                        break  # not an image format at all: more bytes will not help
                if len(head) > limit:
                    break
        raise UnreadableHeader(problem)

    # --- internals ------------------------------------------------------------------------------------------------

    async def _get(self, url: str, kinds: Sequence[str]) -> httpx.Response:
        current, via = self._parse(url), ""
        for _ in range(self._max_redirects + 1):
            try:
                await self._check(current)
            except DownloadError as exc:
                raise DownloadError(exc.host, exc.rule + via) from None
            response = await self._send(current, kinds)
            if response.status_code in _REDIRECTS and "location" in response.headers:
                await response.aclose()
                via = f" (reached by a redirect from {self._shown(current)})"
                current = self._parse(str(response.url.join(response.headers["location"])))
                continue
            try:
                self._check_answer(response, kinds)
            except BaseException:
                await response.aclose()
                raise
            return response
        raise DownloadError(
            self._shown(current),
            f"it redirected more than {self._max_redirects} times",
            "Nothing was fetched; open the image URL directly if you trust it.",
        )

    def _parse(self, url: str) -> httpx.URL:
        try:
            parsed = httpx.URL(url)
        except (httpx.InvalidURL, TypeError, ValueError):
            raise DownloadError("an invalid URL", "it cannot be parsed as a URL", "Check the URL.") from None
        if not parsed.is_absolute_url or not parsed.host:
            raise DownloadError("an invalid URL", "it is not an absolute http(s) URL", "Check the URL.")
        return parsed.copy_with(username=None, password=None) if parsed.userinfo else parsed

    async def _check(self, url: httpx.URL) -> None:
        origin = _origin(url)
        if origin in self._trusted:
            return
        if origin[0] != "https":
            plain = f", plain http only from KREA_BASE_URL's origin {self._base}" if self._base[:5] == "http:" else ""
            raise DownloadError(
                self._shown(url), f"its scheme is {url.scheme}:, and only https URLs are fetched{plain}"
            )
        await checked_addresses(origin[1], origin[2], self._resolve)

    async def _send(self, url: httpx.URL, kinds: Sequence[str]) -> httpx.Response:
        accept = ", ".join(k + "*" if k.endswith("/") else k for k in kinds)
        request = self._http.build_request("GET", url, headers={"Accept": accept})
        request.headers.pop("Authorization", None)  # never the Krea token, wherever a URL points
        try:
            return await self._http.send(request, stream=True, follow_redirects=False)
        except httpx.HTTPError as exc:
            raise _connection_failed(self._shown(url), exc) from None

    def _check_answer(self, response: httpx.Response, kinds: Sequence[str]) -> None:
        host = self._shown(response.url)
        if not response.is_success:
            raise DownloadError(
                host,
                f"it answered HTTP {response.status_code} {response.reason_phrase}".rstrip(),
                "Try again shortly, or open the image URL directly.",
            )
        mime = response.headers.get("content-type", "").split(";", 1)[0].strip().lower()
        if not any(mime.startswith(k) if k.endswith("/") else mime == k for k in kinds):
            wanted = " or ".join(k + "*" if k.endswith("/") else k for k in kinds)
            raise DownloadError(host, f"its answer is {mime or 'untyped'!r}, not {wanted}")

    def _shown(self, url: httpx.URL) -> str:
        scheme, host, port = _origin(url)
        return _shown(host, port, scheme)

    def _host_of(self, url: str) -> str:
        try:
            return self._shown(httpx.URL(url))
        except (httpx.InvalidURL, TypeError, ValueError):
            return "an invalid URL"

    def _pinned_client(self, timeout_s: float) -> httpx.AsyncClient:
        trusted = {(host, port) for _, host, port in self._trusted}
        return httpx.AsyncClient(
            transport=_LazyPinnedTransport(_PinnedBackend(trusted, self._resolve)),
            timeout=httpx.Timeout(timeout_s, connect=min(timeout_s, 10.0)),
            headers={"User-Agent": f"krea-mcp/{__version__}"},
            follow_redirects=False,
            trust_env=False,  # no environment proxy: the connection must go to the address that was checked
        )


def _too_big(host: str, limit: int) -> DownloadError:
    size = f"{limit / 2**20:.0f} MB" if limit >= 2**20 else f"{limit} bytes"
    return DownloadError(host, f"the body is larger than the {size} allowed here", "Open the image URL directly.")


def _connection_failed(host: str, exc: httpx.HTTPError) -> DownloadError:
    kind = "timed out" if isinstance(exc, httpx.TimeoutException) else "failed"
    return DownloadError(host, f"the connection {kind} ({type(exc).__name__})", "Try again shortly.")


# --- the real network: connections pinned to checked addresses -------------------------------------------------------


class _PinnedBackend:
    """An httpcore network backend that connects only to checked, public addresses (trusted origins excepted)."""

    def __init__(self, trusted: set[tuple[str, int]], resolve: Resolver) -> None:
        import httpcore

        self._inner = httpcore.AnyIOBackend()
        self._trusted = trusted
        self._resolve = resolve

    async def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,  # noqa: ASYNC109 (httpcore's interface)
        local_address: str | None = None,
        socket_options: Iterable[Any] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        import httpcore

        if (host.lower(), port) in self._trusted:
            return await self._inner.connect_tcp(host, port, timeout, local_address, socket_options)
        failure: Exception | None = None
        for address in await checked_addresses(host, port, self._resolve):  # connect to what was checked
            try:
                return await self._inner.connect_tcp(address, port, timeout, local_address, socket_options)
            except (httpcore.ConnectError, httpcore.ConnectTimeout) as exc:
                failure = exc
        assert failure is not None
        raise failure

    async def connect_unix_socket(
        self,
        path: str,
        timeout: float | None = None,  # noqa: ASYNC109 (httpcore's interface)
        socket_options: Iterable[Any] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        raise DownloadError("a Unix socket", "downloads use TCP only")

    async def sleep(self, seconds: float) -> None:
        await anyio.sleep(seconds)


class _LazyPinnedTransport(httpx.AsyncBaseTransport):
    """httpx's own transport over a pool using :class:`_PinnedBackend`, built on first use (its TLS context loads
    the CA bundle, ~80 ms, which stays off the start-up path)."""

    def __init__(self, backend: _PinnedBackend) -> None:
        self._backend = backend
        self._inner: httpx.AsyncHTTPTransport | None = None
        self._lock = anyio.Lock()

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        if self._inner is None:
            async with self._lock:
                if self._inner is None:
                    self._inner = await anyio.to_thread.run_sync(self._build)
        return await self._inner.handle_async_request(request)

    def _build(self) -> httpx.AsyncHTTPTransport:
        import httpcore

        context = httpx.create_ssl_context()
        transport = httpx.AsyncHTTPTransport(verify=context, trust_env=False)
        # httpx takes no network backend argument: give its transport a pool that connects through ours (the
        # request/response mapping and error translation stay httpx's own). tests/test_downloads.py checks this.
        transport._pool = httpcore.AsyncConnectionPool(
            ssl_context=context,
            max_connections=20,
            max_keepalive_connections=10,
            keepalive_expiry=5.0,
            network_backend=self._backend,  # type: ignore[arg-type]
        )
        return transport

    async def aclose(self) -> None:
        if self._inner is not None:
            await self._inner.aclose()
