"""HTTP plumbing for the fake Krea API: error bodies, bearer auth, pagination and the request gate."""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any

from starlette.datastructures import Headers
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.types import ASGIApp, Receive, Scope, Send

from krea_mcp.catalog.models import SunsetModel
from krea_mcp.fake_api._state import iso, parse_iso

if TYPE_CHECKING:
    from krea_mcp.fake_api._app import FakeKrea

UNAUTHORIZED = "Unauthorized: missing or invalid API token"
NO_CREDITS = "Insufficient credits: your workspace balance is too low for this generation. Add credits and retry."
BACKLOG_FULL = "Too many concurrent jobs: concurrency limit reached and backlog full. Wait for a running job to finish."
BAD_BODY = "Invalid request body: expected a JSON object"
BAD_QUERY = "Invalid query parameters"
BAD_UPLOAD = "Invalid file type or size"
#: Emulator control routes: unlike image and asset downloads under ``/_fake/``, they need the bearer token.
CONTROL_PATHS = frozenset({"/_fake/control", "/_fake/stats"})


def error_response(status: int, message: str) -> JSONResponse:
    """A Krea-style error: ``{"error": message}``."""
    return JSONResponse({"error": message}, status_code=status)


def bearer_of(authorization: str | None) -> str:
    """The token of a Bearer Authorization header, or ""."""
    scheme, _, value = (authorization or "").partition(" ")
    return value.strip() if scheme.lower() == "bearer" else ""


def bearer_ok(authorization: str | None, token: str | frozenset[str] | None) -> bool:
    """Whether an Authorization header carries an acceptable bearer token.

    ``token`` None accepts any non-empty token; a frozenset accepts any of several users' tokens.
    """
    if isinstance(token, frozenset):
        return bearer_of(authorization) in token
    scheme, _, value = (authorization or "").partition(" ")
    value = value.strip()
    return scheme.lower() == "bearer" and bool(value) and (token is None or value == token)


def gone_response(model: SunsetModel) -> JSONResponse:
    """The documented 410 body for a retired model."""
    message = f"The model '{model.id}' was deprecated on {model.sunset_date}. Provider has discontinued this model."
    body: dict[str, Any] = {"error": "model_unavailable", "reason": "deprecated", "message": message}
    body["sunset_date"] = model.sunset_date
    if model.replacement:
        body["message"] = f"{message} Use '{model.replacement}' instead."
        body["replacement"] = model.replacement
        if model.migration_url:
            body["migration_url"] = model.migration_url
    return JSONResponse(body, status_code=410)


async def json_object(request: Request) -> dict[str, Any] | None:
    """The request body parsed as a JSON object, or None if it is not one."""
    try:
        body = json.loads(await request.body())
    except ValueError:
        return None
    return body if isinstance(body, dict) else None


def page_query(request: Request) -> tuple[int, datetime | None] | None:
    """(limit, cursor) from the query string, or None if either is invalid."""
    raw_limit, raw_cursor = request.query_params.get("limit", "100"), request.query_params.get("cursor")
    if not raw_limit.strip().isdigit() or not 1 <= int(raw_limit) <= 1000:
        return None
    cursor = parse_iso(raw_cursor) if raw_cursor else None
    if raw_cursor and cursor is None:
        return None
    return int(raw_limit), cursor


def paginate(items: Sequence[Any], limit: int, cursor: datetime | None) -> tuple[list[Any], str | None]:
    """Newest-first page of items (each with ``.created``) created strictly before ``cursor``."""
    newest_first = sorted((i for i in items if cursor is None or i.created < cursor), key=lambda i: i.created)[::-1]
    page = newest_first[:limit]
    return page, iso(page[-1].created) if len(newest_first) > limit else None


class AuthGate:
    """ASGI middleware: records every request, counts generate POSTs and enforces bearer auth."""

    def __init__(self, app: ASGIApp, fake: FakeKrea) -> None:
        self.app, self.fake = app, fake

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            method, path = scope["method"], scope["path"]
            self.fake.requests.append((method, path))
            if method == "POST" and path.startswith("/generate/image/"):
                self.fake.generate_posts += 1
            authorization = Headers(scope=scope).get("authorization")
            needs_token = not path.startswith("/_fake/") or path in CONTROL_PATHS
            if needs_token and not bearer_ok(authorization, self.fake.token):
                response = error_response(401, UNAUTHORIZED)
                response.headers["WWW-Authenticate"] = "Bearer"
                await response(scope, receive, send)
                return
        await self.app(scope, receive, send)


async def http_error(request: Request, exc: Exception) -> Response:
    """Render Starlette HTTP exceptions (unknown route, bad form, ...) as Krea-style errors."""
    if not isinstance(exc, HTTPException):
        return error_response(500, "Internal server error")
    return JSONResponse({"error": exc.detail}, status_code=exc.status_code, headers=exc.headers)
