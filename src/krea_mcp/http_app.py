"""Streamable HTTP, safe by default.

* Binds 127.0.0.1 unless told otherwise; a non-loopback address needs an auth mode and ``KREA_ALLOWED_HOSTS``.
* DNS-rebinding protection always on: a foreign ``Host`` gets 421, a foreign ``Origin`` 403.
* ``KREA_HTTP_AUTH=token``: every request must carry ``Authorization: Bearer <KREA_HTTP_TOKEN>``.
* ``KREA_HTTP_AUTH=bearer-passthrough``: every request must carry a Bearer token, which is used as that caller's
  own Krea token for that request only (see ``client.as_caller``); no server token, no file saving.
* Stateless (no session affinity needed), so it scales out behind a load balancer:
  ``uvicorn --factory krea_mcp.http_app:create_app --workers 4 --host 0.0.0.0 --port 8000``.
"""

from __future__ import annotations

import hmac
import ipaddress
import json
from typing import Any

from mcp.server.transport_security import TransportSecuritySettings
from starlette.types import ASGIApp, Receive, Scope, Send

from .settings import Settings

LOCAL_HOSTS = ("127.0.0.1", "localhost", "::1")


class ConfigError(Exception):
    """The HTTP settings are unsafe or incomplete; the message says which setting to change."""


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def check(settings: Settings, host: str) -> None:
    """Refuse configurations that would expose the server without protection."""
    if settings.http_auth == "token" and settings.http_token is None:
        raise ConfigError("KREA_HTTP_AUTH=token needs KREA_HTTP_TOKEN: the Bearer token clients must send.")
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
    """ASGI middleware: every HTTP request needs a Bearer token (a specific one in token mode)."""

    def __init__(self, app: ASGIApp, *, settings: Settings) -> None:
        self.app = app
        token = settings.http_token if settings.http_auth == "token" else None
        self.expected = token.get_secret_value().encode() if token else None
        self.enabled = settings.http_auth != "none"

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        # Every HTTP request, whatever its path: behind a root path or a mount, /mcp arrives as /prefix/mcp.
        if self.enabled and scope["type"] == "http" and not self._ok(scope):
            await _unauthorized(send)
            return
        await self.app(scope, receive, send)

    def _ok(self, scope: Scope) -> bool:
        headers = dict(scope.get("headers") or [])
        scheme, _, token = headers.get(b"authorization", b"").decode("latin-1").partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            return False
        return self.expected is None or hmac.compare_digest(token.strip().encode(), self.expected)


async def _unauthorized(send: Send) -> None:
    body = json.dumps({"error": "Unauthorized: send Authorization: Bearer <token>"}).encode()
    headers = [(b"content-type", b"application/json"), (b"www-authenticate", b'Bearer realm="krea-mcp"')]
    await send({"type": "http.response.start", "status": 401, "headers": headers})
    await send({"type": "http.response.body", "body": body})


def build_app(settings: Settings, *, host: str = "127.0.0.1") -> Any:
    """The ASGI app serving MCP at /mcp."""
    from .server import create_server

    check(settings, host)
    mcp = create_server(settings)
    app = mcp.streamable_http_app(
        streamable_http_path="/mcp", stateless_http=True, transport_security=security(settings), host=host
    )
    return BearerGate(app, settings=settings)


def create_app() -> Any:
    """Factory for ``uvicorn --factory``: settings from the environment.

    The factory cannot know the address uvicorn binds, so it always applies the rules for a public one: an auth
    mode and KREA_ALLOWED_HOSTS are required.
    """
    return build_app(Settings(), host="0.0.0.0")
