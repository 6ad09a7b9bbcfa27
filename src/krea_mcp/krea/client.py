"""``KreaClient``: the only code that talks HTTP to Krea. One pooled ``httpx.AsyncClient`` per server lifetime."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from types import TracebackType
from typing import TYPE_CHECKING, Any, Self, TypeAlias
from urllib.parse import quote

import anyio
import httpx
from pydantic import SecretStr, ValidationError

from krea_mcp import __version__
from krea_mcp.errors import (
    KreaAPIError,
    KreaConnectionError,
    KreaError,
    MissingTokenError,
    RateLimitError,
    ServerError,
    safe_excerpt,
    scrub,
    shown_url,
)
from krea_mcp.job import Job
from krea_mcp.krea.caller import current_token
from krea_mcp.krea.retry import RetryPolicy, certainly_not_applied, is_transient, with_retries

if TYPE_CHECKING:
    from krea_mcp.krea.downloads import Downloader

log = logging.getLogger(__name__)

#: The most this client reads of one Krea answer (a job, an upload, an error): a job is a few hundred bytes.
MAX_ANSWER_BYTES = 1024 * 1024
#: The most it reads of one page of ``GET /jobs`` (up to 100 jobs).
MAX_LIST_BYTES = 8 * 1024 * 1024
#: Headers that describe the body as it came over the wire, not as it is kept once read.
_WIRE_HEADERS = frozenset({"content-encoding", "content-length", "transfer-encoding"})


#: What replaces the network for tests and the sandbox (the emulator's ASGI transport, a MockTransport).
Transport: TypeAlias = httpx.AsyncBaseTransport


class _LazyNetworkTransport(httpx.AsyncBaseTransport):
    """The real network transport, built on first use: its TLS context (loading the CA bundle, ~80 ms) then stays
    off the start-up path, so a host listing tools never waits for it."""

    def __init__(self, **kwargs: Any) -> None:
        self._kwargs = kwargs
        self._inner: httpx.AsyncHTTPTransport | None = None
        self._lock = anyio.Lock()  # a burst of first requests builds one transport, not one each

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        if self._inner is None:
            async with self._lock:
                if self._inner is None:
                    self._inner = await anyio.to_thread.run_sync(lambda: httpx.AsyncHTTPTransport(**self._kwargs))
        return await self._inner.handle_async_request(request)

    async def aclose(self) -> None:
        if self._inner is not None:
            await self._inner.aclose()


class KreaClient:
    """Async client for the endpoints krea-mcp uses. ``transport`` replaces the network (tests, ``--sandbox``)."""

    def __init__(
        self,
        *,
        base_url: str,
        token: SecretStr | None,
        timeout_s: float = 30.0,
        transport: httpx.AsyncBaseTransport | None = None,
        retry: RetryPolicy | None = None,
        webhook_url: str | None = None,
    ) -> None:
        self._token = token
        #: Sent as ``X-Webhook-URL`` with every create (HTTP mode with KREA_WEBHOOK_URL): Krea calls it when the job
        #: ends. Its path holds this process's secret, scrubbed from answers like a token.
        self._webhook_url = webhook_url
        self._retry = retry or RetryPolicy()
        self._injected = transport is not None
        limits = httpx.Limits(max_connections=100, max_keepalive_connections=20)
        self._http = httpx.AsyncClient(
            base_url=base_url,
            timeout=httpx.Timeout(timeout_s, connect=min(timeout_s, 10.0)),
            transport=transport or _LazyNetworkTransport(limits=limits),
            headers={"User-Agent": f"krea-mcp/{__version__}", "Accept": "application/json"},
            follow_redirects=False,
        )

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        await self._http.aclose()

    def downloader(self, *, trusted: Iterable[str] = ()) -> Downloader:
        """Fetching what Krea's answers point at, under the download rules: through this client's transport when one
        was injected (tests, ``--sandbox``: nothing reaches the network, ``trusted`` origins count as Krea's own),
        else over connections pinned to checked public addresses. Close it with ``aclose()``."""
        from krea_mcp.krea.downloads import Downloader

        base_url = str(self._http.base_url).rstrip("/")
        if not self._injected:
            return Downloader(None, base_url=base_url)
        return Downloader(self._http, base_url=base_url, trusted=trusted)

    async def create_job(self, path: str, body: dict[str, Any], *, model: str | None = None) -> Job:
        """POST ``path`` (``/generate/{kind}/{model}``, ``/styles/train``): start a job. This is the only call that
        spends credits. ``model`` names the model in error messages."""
        hook = {"X-Webhook-URL": self._webhook_url} if self._webhook_url else None
        response = await self._write("POST", path, json=body, model=model, extra_headers=hook)
        return self._job(response)

    async def get_job(self, job_id: str) -> Job:
        """GET /jobs/{id}."""
        response = await self._read("GET", f"/jobs/{quote(job_id, safe='')}", job_id=job_id)
        return self._job(response)

    async def cancel_job(self, job_id: str) -> Job | None:
        """DELETE /jobs/{id}. Returns the job when Krea sends it back."""
        response = await self._write("DELETE", f"/jobs/{quote(job_id, safe='')}", job_id=job_id)
        try:
            return self._job(response)
        except ServerError:
            return None  # the spec gives DELETE no body schema

    async def list_jobs(self, *, limit: int = 100) -> list[Job]:
        """GET /jobs: the newest jobs first (a harmless call, also used to check the token)."""
        response = await self._read("GET", "/jobs", params={"limit": limit}, max_bytes=MAX_LIST_BYTES)
        try:
            items = self._decoded(response)["items"]
            return [Job.model_validate(item) for item in items]
        except (ValueError, KeyError, TypeError, ValidationError):
            raise ServerError(
                f"Krea's job list is not in the documented shape: {self._snippet(response)}",
                status_code=response.status_code,
            ) from None

    async def list_styles(
        self,
        *,
        filter: str = "all",
        liked: bool = False,
        model: str | None = None,
        limit: int = 100,
        cursor: str | None = None,
        ids: str | None = None,
    ) -> tuple[list[dict[str, Any]], str | None]:
        """GET /styles: one page of the styles this token may see, newest first, and the next page's cursor.

        ``ids`` (comma-separated) keeps only those styles: how a style shared with the workspace is found, which
        ``GET /styles/{id}`` does not show (it answers for public styles and the caller's own).
        """
        params: dict[str, Any] = {"filter": filter, "limit": limit}
        if liked:
            params["liked"] = "true"
        if model:
            params["model"] = model
        if cursor:
            params["cursor"] = cursor
        if ids:
            params["ids"] = ids
        response = await self._read("GET", "/styles", params=params, max_bytes=MAX_LIST_BYTES)
        try:
            answer = self._decoded(response)
            items, next_cursor = answer["items"], answer["next_cursor"]
            if not isinstance(items, list) or not all(isinstance(i, dict) for i in items):
                raise TypeError("items")
            if next_cursor is not None and not isinstance(next_cursor, str):
                raise TypeError("next_cursor")
        except (ValueError, KeyError, TypeError):
            raise ServerError(
                f"Krea's style list is not in the documented shape: {self._snippet(response)}",
                status_code=response.status_code,
            ) from None
        return items[:limit], next_cursor

    async def get_style(self, style_id: str) -> dict[str, Any]:
        """GET /styles/{id}: one public style or one of this token's own (NotFoundError for any other id, including
        a style shared with the workspace: ``list_styles(ids=...)`` finds those)."""
        response = await self._read("GET", f"/styles/{quote(style_id, safe='')}", max_bytes=MAX_ANSWER_BYTES)
        try:
            style = self._decoded(response)
        except ValueError:
            style = None
        if not isinstance(style, dict) or not isinstance(style.get("id"), str):
            raise ServerError(
                f"Krea's answer for style {style_id!r} is not a style: {self._snippet(response)}",
                status_code=response.status_code,
            )
        return style

    async def upload_asset(self, data: bytes, *, filename: str, mime_type: str) -> str:
        """POST /assets (multipart): upload an input image, return the URL Krea serves it at."""
        files = {"file": (filename, data, mime_type)}
        response = await self._read("POST", "/assets", files=files)  # a duplicate upload is free
        try:
            url = self._decoded(response)["image_url"]
        except (ValueError, KeyError, TypeError):
            url = None
        if not isinstance(url, str):
            raise ServerError(
                f"Krea's upload answer has no image_url: {self._snippet(response)}", status_code=response.status_code
            )
        return url

    async def _read(self, method: str, url: str, **kwargs: Any) -> httpx.Response:
        """A request that is safe to repeat: retried on every transient failure."""
        return await self._retried(method, url, is_transient, **kwargs)

    async def _write(self, method: str, url: str, **kwargs: Any) -> httpx.Response:
        """A request that changes state: retried only when Krea certainly did not act on it."""
        return await self._retried(method, url, certainly_not_applied, **kwargs)

    async def _retried(
        self, method: str, url: str, retryable: Callable[[KreaError], bool], **kwargs: Any
    ) -> httpx.Response:
        return await with_retries(
            lambda: self._send(method, url, **kwargs), retryable=retryable, policy=self._retry, what=f"{method} {url}"
        )

    async def _send(
        self,
        method: str,
        url: str,
        *,
        model: str | None = None,
        job_id: str | None = None,
        max_bytes: int = MAX_ANSWER_BYTES,
        extra_headers: dict[str, str] | None = None,
        **kwargs: Any,
    ) -> httpx.Response:
        token = current_token() or self._token
        if token is None:
            raise MissingTokenError()
        headers = {**(extra_headers or {}), "Authorization": f"Bearer {token.get_secret_value()}"}
        try:
            request = self._http.build_request(method, url, headers=headers, **kwargs)
            streamed = await self._http.send(request, stream=True)
            try:
                body, complete = await _read_at_most(streamed, max_bytes)
            finally:
                await streamed.aclose()
        except httpx.RequestError as exc:  # transport errors, and decoding errors after the request was sent
            sent = not isinstance(exc, httpx.ConnectError | httpx.ConnectTimeout | httpx.PoolTimeout)
            what = "did not answer in time" if isinstance(exc, httpx.TimeoutException) else "could not be reached"
            message = f"Krea at {shown_url(self._http.base_url)} {what} ({type(exc).__name__} on {method} {url})."
            if method == "POST" and sent and url != "/assets":  # a create (/generate/..., /styles/train)
                message += " The request was sent, so Krea may have created the job; retrying could start a second one."
            raise KreaConnectionError(message, sent=sent) from None
        log.debug("%s %s -> %s", method, url, streamed.status_code)
        # An error answer is judged on its first max_bytes; a success must be whole to be used at all.
        response = _kept(streamed, body)
        if response.is_error:
            error = KreaAPIError.from_response(response, model=model, job_id=job_id, secret=self._secrets())
            if isinstance(error, RateLimitError) and method == "GET":  # its own words are about creating jobs
                raise _read_limited(error, url) from None
            raise error
        if not complete:
            raise ServerError(
                f"Krea's answer to {method} {url} is larger than {max_bytes // 1024:,} KiB, the most this server "
                "reads of one answer, so it was not read further. That is not a normal Krea answer: try again "
                "shortly, and if it persists check the job in Krea's web app.",
                status_code=response.status_code,
            )
        return response

    def _secrets(self) -> tuple[str, ...]:
        """Every token a request could carry: the caller's (multi-user), the server's and the webhook path's secret;
        scrubbed from answers (``errors.scrub`` leaves out values too short to be real tokens)."""
        tokens = (current_token(), self._token)
        found = tuple(t.get_secret_value() for t in tokens if t is not None and t.get_secret_value())
        return (*found, self._webhook_url.rsplit("/", 1)[-1]) if self._webhook_url else found

    def _decoded(self, response: httpx.Response) -> Any:
        """The answer's JSON with every token scrubbed from every string in it (ValueError if it is not JSON)."""
        return scrub(response.json(), self._secrets())

    def _snippet(self, response: httpx.Response) -> str:
        """The start of an unexpected body, for an error message: tokens scrubbed first, then cut to length."""
        return repr(safe_excerpt(response.text, self._secrets()))

    def _job(self, response: httpx.Response) -> Job:
        try:
            return Job.model_validate(self._decoded(response))
        except (ValueError, ValidationError):
            raise ServerError(
                f"Krea answered {response.status_code} with a body that is not a job: {self._snippet(response)}",
                status_code=response.status_code,
                body=None,
            ) from None


def _read_limited(error: RateLimitError, url: str) -> RateLimitError:
    """A 429 on a read (a job, the job list, styles), said as what it is: Krea asking this account to slow down.
    Nothing was started or charged by it."""
    body = error.body if isinstance(error.body, dict) else {}
    words = next((v for k in ("message", "error", "detail") if isinstance(v := body.get(k), str) and v), "")
    detail = safe_excerpt(words, limit=200) if words else "no details"
    later = f"after {error.retry_after:g} s" if error.retry_after is not None else "in a few seconds"
    path = url.split("?", 1)[0]
    return RateLimitError(
        f"Krea is limiting how often this account may ask (429 on GET {path}: {detail}). This was only a read: "
        f"nothing was started or charged. Try again {later}.",
        status_code=error.status_code,
        body=error.body,
        retry_after=error.retry_after,
    )


async def _read_at_most(response: httpx.Response, limit: int) -> tuple[bytes, bool]:
    """Up to ``limit`` bytes of the (decoded) body, and whether that is all of it; never reads more than one chunk
    past the limit, so an endless or huge answer costs at most ``limit`` plus a chunk of memory."""
    chunks: list[bytes] = []
    size = 0
    async for chunk in response.aiter_bytes():
        chunks.append(chunk)
        size += len(chunk)
        if size > limit:
            return b"".join(chunks)[:limit], False
    return b"".join(chunks), True


def _kept(streamed: httpx.Response, body: bytes) -> httpx.Response:
    """A complete in-memory response holding ``body`` (already decoded), in place of the streamed one."""
    headers = [(k, v) for k, v in streamed.headers.multi_items() if k.lower() not in _WIRE_HEADERS]
    return httpx.Response(
        streamed.status_code,
        headers=headers,
        content=body,
        request=streamed.request,
        extensions={k: v for k, v in streamed.extensions.items() if k != "network_stream"},
    )
