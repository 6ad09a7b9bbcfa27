"""Streamable HTTP, safe by default.

* Binds 127.0.0.1 unless told otherwise; a non-loopback address needs an auth mode and ``KREA_ALLOWED_HOSTS``.
* DNS-rebinding protection always on: a foreign ``Host`` gets 421, a foreign ``Origin`` 403.
* ``KREA_HTTP_AUTH=token``: every request must carry ``Authorization: Bearer <KREA_HTTP_TOKEN>`` (at least 32
  characters; an empty or short token refuses to start).
* ``KREA_HTTP_AUTH=bearer-passthrough``: every request must carry a Bearer token, which is used as that caller's
  own Krea token for that request only (bound per request by ``server.app.BindCaller``); no server token, no
  file saving.
* Request bodies up to 16 MiB (``edge.MAX_BODY_BYTES``, then 413 saying how to send images); malformed JSON-RPC gets
  a JSON-RPC error naming the problem (``edge.check_message``).
* Stateless (no session affinity needed), so it scales out behind a load balancer:
  ``uvicorn --factory krea_mcp.http_app:create_app --workers 4 --host 0.0.0.0 --port 8000``.
* ``KREA_WEBHOOK_URL`` (this server's public base URL): every create asks Krea to POST to
  ``{KREA_WEBHOOK_URL}/webhooks/krea/{secret}`` when the job ends, and ``WebhookRoute`` takes that call in front of
  the gate (Krea sends no token). See ``WebhookRoute`` for what a call can and cannot make the server do.
"""

from __future__ import annotations

import hmac
import ipaddress
import json
import logging
import re
import time
from typing import Any

import anyio
from mcp.server.transport_security import TransportSecuritySettings
from pydantic import SecretStr
from starlette.types import ASGIApp, Receive, Scope, Send

from krea_mcp.errors import ConfigError
from krea_mcp.krea.caller import parse_bearer
from krea_mcp.server.edge import MAX_BODY_BYTES, EdgeGuard
from krea_mcp.settings import Settings
from krea_mcp.workflow.wakeups import WEBHOOK_PATH, WebhookLink

log = logging.getLogger(__name__)

LOCAL_HOSTS = ("127.0.0.1", "localhost", "::1")
#: Shortest KREA_HTTP_TOKEN token mode accepts (see ``token_problem``).
MIN_HTTP_TOKEN_CHARS = 32
_TOKEN_HOWTO = (
    f"Set it to at least {MIN_HTTP_TOKEN_CHARS} random characters, e.g. the output of "
    'python -c "import secrets; print(secrets.token_urlsafe(32))", and give clients the same value.'
)


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def token_problem(settings: Settings) -> str | None:
    """Why token mode cannot run with this ``KREA_HTTP_TOKEN`` (None when it can, or when not in token mode).

    At least ``MIN_HTTP_TOKEN_CHARS`` characters: the token guards the operator's Krea credits and, in token mode,
    local file reads and saving, so it must be a random secret (32 URL-safe characters carry ~190 bits), never a
    word or a placeholder. The value itself is never shown, only its length.
    """
    if not _token_mode(settings):
        return None
    value = _token_text(settings)
    if value is None:
        return f"KREA_HTTP_AUTH=token needs KREA_HTTP_TOKEN: the Bearer token clients must send. {_TOKEN_HOWTO}"
    if not value.strip():
        return (
            "KREA_HTTP_TOKEN is empty (or only whitespace), so token mode would have no secret to check. "
            f"{_TOKEN_HOWTO}"
        )
    if len(value.strip()) < MIN_HTTP_TOKEN_CHARS:
        return (
            f"KREA_HTTP_TOKEN is {len(value.strip())} characters; token mode needs at least {MIN_HTTP_TOKEN_CHARS} "
            f"so it cannot be guessed. {_TOKEN_HOWTO}"
        )
    return None


def _token_mode(settings: Settings) -> bool:
    """Token mode, and also any auth value other than the two known others: an odd value fails closed."""
    return settings.http_auth not in ("none", "bearer-passthrough")


def _token_text(settings: Settings) -> str | None:
    raw: object = settings.http_token
    return raw.get_secret_value() if isinstance(raw, SecretStr) else raw if isinstance(raw, str) else None


def check(settings: Settings, host: str) -> None:
    """Refuse configurations that would expose the server without protection."""
    problem = token_problem(settings)
    if problem:
        raise ConfigError(problem)
    if settings.multi_user and settings.api_token is not None:
        raise ConfigError(
            "KREA_HTTP_AUTH=bearer-passthrough uses each caller's own token: unset KREA_API_TOKEN so no request "
            "can fall back to the operator's credits."
        )
    if is_loopback(host):
        return
    if settings.http_auth == "none":
        raise ConfigError(
            f"Refusing to serve on {host} without authentication: anyone who can reach it could spend your Krea "
            "credits. Set KREA_HTTP_AUTH=token (with KREA_HTTP_TOKEN) or KREA_HTTP_AUTH=bearer-passthrough "
            "(each user sends their own Krea token), or bind 127.0.0.1."
        )
    if not settings.allowed_hosts:
        raise ConfigError(
            f"Serving on {host} needs KREA_ALLOWED_HOSTS: the host names clients use (e.g. mcp.example.com), "
            "checked against the Host header to block DNS rebinding."
        )


def security(settings: Settings) -> TransportSecuritySettings:
    """Loopback names on any port, plus the configured hosts and origins."""
    hosts = [f"{h}:*" if h != "::1" else "[::1]:*" for h in LOCAL_HOSTS] + list(LOCAL_HOSTS[:2])
    origins = [f"http://{h}:*" for h in ("127.0.0.1", "localhost", "[::1]")]
    return TransportSecuritySettings(
        enable_dns_rebinding_protection=True,
        allowed_hosts=hosts + settings.allowed_hosts,
        allowed_origins=origins + settings.allowed_origins,
    )


class BearerGate:
    """ASGI middleware: every HTTP request needs a Bearer token (a specific one in token mode).

    Fails closed: token mode without a usable token is refused when the gate is built, whatever the settings
    object holds, and an empty expected token never matches. A request with more than one ``Authorization``
    header is refused, so the header the gate authorises is the only one a tool can read (``caller.bearer_from``).
    """

    def __init__(self, app: ASGIApp, *, settings: Settings) -> None:
        self.app = app
        self.token_mode = _token_mode(settings)
        problem = token_problem(settings)
        if problem:
            raise ConfigError(problem)
        self.expected = (_token_text(settings) or "").strip().encode() if self.token_mode else b""
        self.enabled = settings.http_auth != "none"

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        # Every HTTP request, whatever its path: behind a root path or a mount, /mcp arrives as /prefix/mcp.
        if self.enabled and scope["type"] == "http":
            values = [v for k, v in scope.get("headers") or [] if k.lower() == b"authorization"]
            if len(values) > 1:
                await _refuse(send, 400, f"Bad request: {len(values)} Authorization headers; send exactly one.")
                return
            if not self._ok(values[0].decode("latin-1") if values else ""):
                await _refuse(send, 401, "Unauthorized: send Authorization: Bearer <token>")
                return
        await self.app(scope, receive, send)

    def _ok(self, authorization: str) -> bool:
        token = parse_bearer(authorization)
        if token is None:
            return False
        if not self.token_mode:
            return True  # bearer-passthrough: the token is the caller's own Krea token, checked by Krea
        # Constant time, on exactly the header a tool would read; an empty expected token matches nothing.
        return bool(self.expected) and hmac.compare_digest(token.encode(), self.expected)


async def _refuse(send: Send, status: int, message: str) -> None:
    body = json.dumps({"error": message}).encode()
    headers = [(b"content-type", b"application/json"), (b"www-authenticate", b'Bearer realm="krea-mcp"')]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


#: The most of a webhook call's body that is read (Krea's job JSON is a few hundred bytes).
MAX_WEBHOOK_BYTES = 64 * 1024
#: Webhook calls bearing the right token, per second over all jobs (a token bucket: this rate, this burst).
WEBHOOK_RATE_PER_S = 20.0
WEBHOOK_BURST = 100
#: A webhook call's body must arrive within this many seconds.
WEBHOOK_READ_S = 5.0
#: What a job id looks like (Krea's are UUIDs); anything else in a call is ignored without a lookup.
_JOB_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]{0,127}")


class TokenBucket:
    """``rate`` events per second on average, ``burst`` at once."""

    def __init__(self, rate: float, burst: int) -> None:
        self.rate, self.burst = rate, float(burst)
        self._tokens, self._at = float(burst), time.monotonic()

    def take(self) -> bool:
        now = time.monotonic()
        self._tokens = min(self.burst, self._tokens + (now - self._at) * self.rate)
        self._at = now
        if self._tokens < 1:
            return False
        self._tokens -= 1
        return True


class WebhookRoute:
    """ASGI middleware in front of the gate: ``POST /webhooks/krea/{token}`` takes Krea's call when a job ends.

    Krea documents no signature, so a call is treated as a hint that can be forged, never as news:

    * the path's token (``secrets.token_urlsafe(32)`` per process, sent to Krea only in ``X-Webhook-URL``) is compared
      in constant time; a wrong one gets an empty 404 before the body is read;
    * calls with the right token share a token bucket (``WEBHOOK_RATE_PER_S``, burst ``WEBHOOK_BURST``; then 429), and
      their bodies are read up to ``MAX_WEBHOOK_BYTES`` (then 413) within ``WEBHOOK_READ_S`` (then 408);
    * the answer, an empty 202, goes before the body is even parsed; the body is parsed defensively and only its
      ``job_id`` is used, to wake the waiter of a job this server created (``Wakeups.wake``: a dict lookup, and
      nothing at all for any other id);
    * the woken waiter reads the job with ``GET /jobs/{id}`` (with its own caller's token) and believes only that,
      at most twice a second per job however many calls arrive.

    Every answer is empty; logs name at most a job id, never the token (``uvicorn.access`` lines are redacted).
    """

    def __init__(
        self, app: ASGIApp, *, link: WebhookLink, rate: float = WEBHOOK_RATE_PER_S, burst: int = WEBHOOK_BURST
    ) -> None:
        self.app = app
        self.link = link
        self._expected = link.token.encode()
        self._bucket = TokenBucket(rate, burst)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path = _app_path(scope) if scope["type"] == "http" else ""
        if not path.startswith(WEBHOOK_PATH):
            await self.app(scope, receive, send)
            return
        given = path[len(WEBHOOK_PATH) :].encode("utf-8", "replace")
        if not hmac.compare_digest(given, self._expected):
            await _empty(send, 404)
            return
        if scope.get("method") != "POST":
            await _empty(send, 405, [(b"allow", b"POST")])
            return
        if not self._bucket.take():
            await _empty(send, 429)
            return
        body, status = await _read_capped(scope, receive, MAX_WEBHOOK_BYTES)
        if body is None:
            await _empty(send, status)
            return
        await _empty(send, 202)  # Krea asks for a quick 2xx: answered before any work
        job_id = _job_id_of(body)
        if job_id is None:
            log.debug("ignored a webhook call without a usable job_id")
        elif await self.link.relay(job_id) if self.link.relay is not None else self.link.wakeups.wake(job_id):
            log.debug("webhook from Krea for job %s", job_id)
        else:
            log.debug("ignored a webhook call for job %s: not a job this server started", job_id)


def _app_path(scope: Scope) -> str:
    """The request's path inside the app (without a ``root_path`` the server was mounted under)."""
    path = str(scope.get("path") or "")
    root = str(scope.get("root_path") or "")
    return path[len(root) :] if root and path.startswith(root) else path


async def _read_capped(scope: Scope, receive: Receive, limit: int) -> tuple[bytes | None, int]:
    """The request body if it is at most ``limit`` bytes and arrives in time; else None and the status to answer."""
    for key, value in scope.get("headers") or []:
        if key.lower() == b"content-length":
            try:
                if int(value) > limit:
                    return None, 413
            except ValueError:
                return None, 400
    chunks: list[bytes] = []
    size = 0
    with anyio.move_on_after(WEBHOOK_READ_S):
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                return None, 400
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > limit:
                return None, 413
            chunks.append(chunk)
            if not message.get("more_body", False):
                return b"".join(chunks), 202
    return None, 408


def _job_id_of(body: bytes) -> str | None:
    """The ``job_id`` of a call's JSON body, if it has the shape of one; nothing else in the body is used."""
    try:
        data = json.loads(body)
    except (ValueError, RecursionError):  # not JSON, not UTF-8, or nested too deep
        return None
    job_id = data.get("job_id") if isinstance(data, dict) else None
    return job_id if isinstance(job_id, str) and _JOB_ID.fullmatch(job_id) else None


async def _empty(send: Send, status: int, headers: list[tuple[bytes, bytes]] | None = None) -> None:
    await send(
        {"type": "http.response.start", "status": status, "headers": [(b"content-length", b"0"), *(headers or [])]}
    )
    await send({"type": "http.response.body", "body": b""})


class _RedactSecrets(logging.Filter):
    """Takes webhook path tokens out of log lines (uvicorn's access log writes every request's path)."""

    def __init__(self) -> None:
        super().__init__()
        self.secrets: set[str] = set()

    def filter(self, record: logging.LogRecord) -> bool:
        if self.secrets:  # argument by argument: uvicorn's access formatter unpacks record.args
            record.msg = self._clean(record.msg)
            if isinstance(record.args, tuple):
                record.args = tuple(self._clean(arg) for arg in record.args)
            elif isinstance(record.args, dict):
                record.args = {key: self._clean(arg) for key, arg in record.args.items()}
        return True

    def _clean(self, value: Any) -> Any:
        if not isinstance(value, str):
            text = str(value) if value is not None and not isinstance(value, int | float) else ""
            return self._clean(text) if any(secret in text for secret in self.secrets) else value
        for secret in self.secrets:
            value = value.replace(secret, "[redacted]")
        return value


_REDACT = _RedactSecrets()
for _name in ("uvicorn.access", "uvicorn.error", "httpx"):
    logging.getLogger(_name).addFilter(_REDACT)


def build_app(
    settings: Settings,
    *,
    host: str = "127.0.0.1",
    transport: Any = None,
    duration_scale: float | None = None,
) -> Any:
    """The ASGI app serving MCP at /mcp, and Krea's webhook calls when ``KREA_WEBHOOK_URL`` is set.

    ``transport`` and ``duration_scale`` go to ``create_server`` (tests and benchmarks: an emulator in-process).
    """
    from krea_mcp.server.app import create_server

    check(settings, host)
    if settings.redis_url is not None:  # refuse to start without the shared state the deployment asked for
        from krea_mcp.workflow.redis_state import check as check_redis

        check_redis(settings.redis_url.get_secret_value())
    link = None
    if settings.webhook_url:
        link = WebhookLink(settings.webhook_url)
        if settings.redis_url is not None:  # every worker takes the calls any worker asked for
            from krea_mcp.workflow.redis_state import account_of, prefix_for, shared_secret

            url = settings.redis_url.get_secret_value()
            token = settings.api_token.get_secret_value() if settings.api_token else None
            key = prefix_for(settings.base_url, account_of(token)) + "webhook-token"
            link.token = shared_secret(url, key, link.token)
            from krea_mcp.workflow.shared import relay, shared_state

            link.state = shared_state(settings, settings.base_url)
            link.relay = relay(link.state)
        _REDACT.secrets.add(link.token)
        settings = settings.with_webhooks(link)
        log.info(
            "taking Krea's webhooks at %s%s… (the path's secret is not logged)", settings.webhook_url, WEBHOOK_PATH
        )
    mcp = create_server(settings, transport=transport, duration_scale=duration_scale)
    rules = security(settings)
    app = mcp.streamable_http_app(
        streamable_http_path="/mcp",
        stateless_http=True,
        transport_security=rules,
        host=host,
        max_request_body_size=MAX_BODY_BYTES,
    )
    # The gate first (a stranger's body is never read), then the edge: Host/Origin, one body limit, clear errors.
    gated = BearerGate(EdgeGuard(app, security=rules), settings=settings)
    if link is None:
        return gated
    # Krea's calls come without a token or a known Host (a tunnel, a proxy): their route stands before the gate.
    link.local_app = WebhookRoute(gated, link=link)
    return link.local_app


def create_app() -> Any:
    """Factory for ``uvicorn --factory``: settings from the environment.

    The factory cannot know the address uvicorn binds, so it always applies the rules for a public one: an auth
    mode and KREA_ALLOWED_HOSTS are required.
    """
    from pydantic import ValidationError

    from krea_mcp.settings import describe_error

    try:
        settings = Settings()
    except ValidationError as exc:  # say which variable is wrong, never its value
        raise ConfigError(f"invalid configuration:\n{describe_error(exc)}") from None
    return build_app(settings, host="0.0.0.0")
