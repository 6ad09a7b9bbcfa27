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
"""

from __future__ import annotations

import hmac
import ipaddress
import json
from typing import Any

from mcp.server.transport_security import TransportSecuritySettings
from pydantic import SecretStr
from starlette.types import ASGIApp, Receive, Scope, Send

from krea_mcp.errors import ConfigError
from krea_mcp.krea.caller import parse_bearer
from krea_mcp.server.edge import MAX_BODY_BYTES, EdgeGuard
from krea_mcp.settings import Settings

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


def build_app(settings: Settings, *, host: str = "127.0.0.1") -> Any:
    """The ASGI app serving MCP at /mcp."""
    from krea_mcp.server.app import create_server

    check(settings, host)
    mcp = create_server(settings)
    rules = security(settings)
    app = mcp.streamable_http_app(
        streamable_http_path="/mcp",
        stateless_http=True,
        transport_security=rules,
        host=host,
        max_request_body_size=MAX_BODY_BYTES,
    )
    # The gate first (a stranger's body is never read), then the edge: Host/Origin, one body limit, clear errors.
    return BearerGate(EdgeGuard(app, security=rules), settings=settings)


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
