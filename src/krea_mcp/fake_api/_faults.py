"""Injected faults for the fake Krea API: the FIFO fault queue, the ASGI gate that answers them, and their bodies."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from starlette.responses import HTMLResponse, JSONResponse, Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from krea_mcp.catalog.models import SunsetModel, load_catalog
from krea_mcp.fake_api._answers import HOSTILE_FAULTS, hostile_response
from krea_mcp.fake_api._http import (
    BACKLOG_FULL,
    BAD_BODY,
    BAD_QUERY,
    BAD_UPLOAD,
    NO_CREDITS,
    UNAUTHORIZED,
    gone_response,
)

ROUTES = ("generate", "video", "get_job", "list_jobs", "delete_job", "upload", "image", "*")
STATUS_FAULTS = (400, 401, 402, 404, 410, 429, 500, 502, 503, 504)
KIND_FAULTS = ("malformed", "reset", "hang", *HOSTILE_FAULTS)
GENERATE_PREFIX = "/generate/image/"
#: POSTs that start a video job: their own fault route, so faults meant for image POSTs never hit them.
VIDEO_PREFIX = "/generate/video/"
# What a load balancer in front of the API answers: HTML, not JSON.
_GATEWAY = {502: "Bad Gateway", 503: "Service Temporarily Unavailable", 504: "Gateway Time-out"}
_NOT_FOUND = {"get_job": "Job not found", "delete_job": "Job not found", "image": "Image not found"}
_BAD_REQUEST = {"generate": BAD_BODY, "video": BAD_BODY, "list_jobs": BAD_QUERY, "upload": BAD_UPLOAD}
_MESSAGES = {500: "Internal server error", 429: BACKLOG_FULL, 401: UNAUTHORIZED, 402: NO_CREDITS}
_TRUNCATED = b'{"job_id": "3c90c3cc-0d44-4b50-8888-8dd2573'
_PROMISED_BYTES = 1024  # the Content-Length a reset announces before cutting the body short


class ConnectionReset(Exception):
    """Raised by the app mid-response to cut the connection; the in-process transport makes it an httpx.ReadError."""


@dataclass(frozen=True)
class Fault:
    """One injected fault, used by the next request to a matching route."""

    route: str
    kind: int | str
    retry_after: float | None = None
    after_create: bool = False
    #: The one number a hostile fault takes (see ``_answers``): a token offset, a body size or a URL count.
    size: int | None = None


def check_fault(route: str, fault: int | str, count: int = 1, retry_after: float | None = None) -> None:
    """Raise ValueError unless these are a valid route, fault, count and Retry-After."""
    if route not in ROUTES:
        raise ValueError(f"unknown route {route!r}; expected one of {', '.join(ROUTES)}")
    if isinstance(fault, bool) or fault not in (*STATUS_FAULTS, *KIND_FAULTS):
        raise ValueError(f"unknown fault {fault!r}; expected one of {[*STATUS_FAULTS, *KIND_FAULTS]}")
    if count < 1:
        raise ValueError("count must be at least 1")
    if retry_after is not None and retry_after < 0:
        raise ValueError("retry_after must be >= 0")


class FaultQueue:
    """Pending faults in injection order; each request takes the oldest one whose route matches."""

    def __init__(self) -> None:
        self._pending: list[Fault] = []

    def __len__(self) -> int:
        return len(self._pending)

    def add(
        self,
        route: str,
        fault: int | str,
        count: int,
        retry_after: float | None,
        after_create: bool,
        size: int | None = None,
    ) -> None:
        """Queue ``count`` copies of a fault (ValueError if any argument is invalid)."""
        check_fault(route, fault, count, retry_after)
        if size is not None and (isinstance(size, bool) or not isinstance(size, int) or size < 0):
            raise ValueError("size must be a non-negative integer")
        self._pending.extend([Fault(route, fault, retry_after, after_create, size)] * count)

    def take(self, route: str) -> Fault | None:
        """Remove and return the oldest fault for ``route`` (or for ``"*"``), if any."""
        for index, fault in enumerate(self._pending):
            if fault.route in (route, "*"):
                return self._pending.pop(index)
        return None

    def clear(self) -> None:
        """Drop every pending fault."""
        self._pending.clear()


def route_of(method: str, path: str) -> str | None:
    """The fault route a request belongs to, or None if faults never apply to it."""
    job_id = path.removeprefix("/jobs/") if path.startswith("/jobs/") else ""
    if method == "POST" and path.startswith(GENERATE_PREFIX):
        return "generate"
    if method == "POST" and path.startswith(VIDEO_PREFIX):
        return "video"
    if method == "POST" and path == "/assets":
        return "upload"
    if method == "GET" and path == "/jobs":
        return "list_jobs"
    if job_id and "/" not in job_id:
        return {"GET": "get_job", "DELETE": "delete_job"}.get(method)
    if method == "GET" and path.startswith("/_fake/images/"):
        return "image"
    return None


def _seconds(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else str(value)


def _gone(route: str, path: str) -> Response:
    if route not in ("generate", "video"):
        return JSONResponse({"error": "gone", "message": "This resource is no longer available."}, status_code=410)
    model_path = path.removeprefix(GENERATE_PREFIX).removeprefix(VIDEO_PREFIX)
    today = datetime.now(UTC).date().isoformat()
    return gone_response(load_catalog().sunset.get(model_path) or SunsetModel(model_path, today, None, None))


def _message(status: int, route: str, path: str) -> str:
    if status == 404:
        model_path = path.removeprefix(GENERATE_PREFIX).removeprefix(VIDEO_PREFIX)
        default = f"Model not found: {model_path}" if route in ("generate", "video") else "Not Found"
        return _NOT_FOUND.get(route, default)
    if status == 400:
        return _BAD_REQUEST.get(route, "Bad request")
    return _MESSAGES[status]


def fault_response(fault: Fault, route: str, path: str) -> Response:
    """The HTTP answer of a status or ``malformed`` fault, shaped like the real API or its gateway."""
    if not isinstance(fault.kind, int):
        return Response(_TRUNCATED, media_type="application/json")
    status = fault.kind
    if status in _GATEWAY:
        title = f"{status} {_GATEWAY[status]}"
        page = f"<html><head><title>{title}</title></head><body><center><h1>{title}</h1></center></body></html>\n"
        response: Response = HTMLResponse(page, status_code=status)
    elif status == 410:
        response = _gone(route, path)
    else:
        response = JSONResponse({"error": _message(status, route, path)}, status_code=status)
    if status == 401:
        response.headers["WWW-Authenticate"] = "Bearer"
    if fault.retry_after is not None:
        response.headers["Retry-After"] = _seconds(fault.retry_after)
    return response


async def _discard(message: Message) -> None:
    """An ASGI send that drops the app's own answer (for faults answered after the request took effect)."""


async def _hang(receive: Receive) -> None:
    """Never answer: wait until the client goes away (or the caller is cancelled by a client timeout)."""
    while (await receive())["type"] != "http.disconnect":
        pass


async def _reset(send: Send) -> None:
    """Start a response, send part of its body, then cut the connection."""
    headers = [(b"content-type", b"application/json"), (b"content-length", str(_PROMISED_BYTES).encode())]
    await send({"type": "http.response.start", "status": 200, "headers": headers})
    await send({"type": "http.response.body", "body": _TRUNCATED, "more_body": True})
    raise ConnectionReset("the fake Krea API dropped the connection")


class FaultGate:
    """ASGI middleware: a request whose route has a pending fault gets that fault instead of (or after) the app."""

    def __init__(self, app: ASGIApp, faults: FaultQueue) -> None:
        self.app, self.faults = app, faults

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        route = route_of(scope["method"], scope["path"]) if scope["type"] == "http" else None
        fault = self.faults.take(route) if route else None
        if route is None or fault is None:
            await self.app(scope, receive, send)
            return
        if fault.after_create:
            await self.app(scope, receive, _discard)
        if fault.kind == "hang":
            await _hang(receive)
        elif fault.kind == "reset":
            await _reset(send)
        elif fault.kind in HOSTILE_FAULTS:
            await hostile_response(str(fault.kind), fault.size, scope)(scope, receive, send)
        else:
            await fault_response(fault, route, scope["path"])(scope, receive, send)
