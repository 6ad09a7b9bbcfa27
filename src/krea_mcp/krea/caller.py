"""Whose Krea token a request uses: the server's own, or (multi-user HTTP) the caller's for this request only.

A ``ContextVar`` is copied into each task, so concurrent requests never see each other's token.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from contextvars import ContextVar

from pydantic import SecretStr

#: The caller's own Krea token for the current request (multi-user HTTP mode); contextvars never cross tasks.
_caller_token: ContextVar[SecretStr | None] = ContextVar("krea_caller_token", default=None)


@contextmanager
def as_caller(token: SecretStr | None) -> Iterator[None]:
    """Within this block, requests use ``token`` instead of the server's configured one."""
    reset = _caller_token.set(token)
    try:
        yield
    finally:
        _caller_token.reset(reset)


def parse_bearer(value: str) -> str | None:
    """The token of one ``Authorization`` header value ``Bearer <token>``, or None. The HTTP gate and the tools
    both read the header through this, so what the gate authorises is exactly what a tool uses."""
    scheme, _, token = value.partition(" ")
    return token.strip() if scheme.lower() == "bearer" and token.strip() else None


def bearer_from(headers: Mapping[str, str] | None) -> SecretStr | None:
    """The token of the request's one ``Authorization: Bearer ...`` header; None without one, or with several
    (the HTTP gate refuses those: which one counts would be ambiguous)."""
    if headers is None:
        return None
    getlist = getattr(headers, "getlist", None)  # starlette's Headers keeps every value of a repeated header
    if callable(getlist):
        values = list(getlist("authorization"))
    else:
        values = [v for k, v in headers.items() if k.lower() == "authorization"]
    token = parse_bearer(values[0]) if len(values) == 1 else None
    return SecretStr(token) if token else None


def caller_key() -> str:
    """A short, non-reversible key for the current caller's token ("" when the server's own token is used)."""
    token = current_token()
    return hashlib.sha256(token.get_secret_value().encode()).hexdigest()[:16] if token else ""


def current_token() -> SecretStr | None:
    """The caller's token for the current request, or None (use the server's)."""
    return _caller_token.get()
