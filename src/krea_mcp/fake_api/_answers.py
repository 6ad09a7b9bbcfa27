"""Answers a hostile or broken Krea could give, for the fault queue: a token echoed back, a huge body, too many URLs.

Each takes one number (``Fault.size``): where the token starts in the error message, how many bytes the body has,
or how many result URLs the job lists.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from datetime import UTC, datetime

from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.types import Scope

from krea_mcp.fake_api._http import bearer_of

HOSTILE_FAULTS = ("echo_token", "huge_body", "many_urls")
DEFAULTS = {"echo_token": 495, "huge_body": 2 * 1024 * 1024, "many_urls": 20_000}
_CHUNK = 64 * 1024


def hostile_response(kind: str, size: int | None, scope: Scope) -> Response:
    """The answer of a hostile fault ``kind`` to the request in ``scope``."""
    n = DEFAULTS[kind] if size is None else size
    if kind == "echo_token":
        return _echo_token(scope, n)
    if kind == "huge_body":
        return StreamingResponse(_huge_job(n), media_type="application/json")
    return _many_urls(scope, n)


def _echo_token(scope: Scope, offset: int) -> Response:
    """A 400 whose ``error`` repeats the request's own token starting at character ``offset`` (as a careless or
    malicious server might when it quotes the request back)."""
    headers = {k.decode("latin-1"): v.decode("latin-1") for k, v in scope.get("headers") or []}
    token = bearer_of(headers.get("authorization"))
    message = ("x" * offset + f"{token} is not a valid value for this field")[: offset + len(token) + 40]
    return JSONResponse({"error": message}, status_code=400)


async def _huge_job(size: int) -> AsyncIterator[bytes]:
    """A job answer ``size`` bytes long (a padded ``processing`` job), streamed in chunks."""
    head = b'{"job_id": "00000000-0000-4000-8000-000000000000", "status": "processing", "pad": "'
    tail = b'"}'
    yield head
    left = max(0, size - len(head) - len(tail))
    while left > 0:
        step = min(left, _CHUNK)
        yield b"x" * step
        left -= step
    yield tail


def _many_urls(scope: Scope, count: int) -> Response:
    """A completed job listing ``count`` result URLs (the job id is taken from the request path)."""
    path: str = scope["path"]
    job_id = path.rsplit("/", 1)[-1] if path.startswith("/jobs/") else "00000000-0000-4000-8000-000000000000"
    now = datetime.now(UTC).isoformat().replace("+00:00", "Z")
    base = f"{scope.get('scheme', 'http')}://{_host(scope)}/_fake/images/{job_id}"
    urls = [f"{base}/{i}.png" for i in range(count)]
    body = {"job_id": job_id, "status": "completed", "created_at": now, "completed_at": now, "result": {"urls": urls}}
    return Response(json.dumps(body), media_type="application/json")


def _host(scope: Scope) -> str:
    for key, value in scope.get("headers") or []:
        if key == b"host":
            return str(value.decode("latin-1"))
    return "krea.sandbox"
