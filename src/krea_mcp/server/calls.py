"""What one tool call takes from its MCP request and gives back: errors as text the model reads, progress
notifications, the client's folder, jobs published as resources, and the result."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from types import EllipsisType
from typing import TYPE_CHECKING, Any

import anyio
from mcp.server.mcpserver import Context
from mcp.server.mcpserver.exceptions import ToolError
from mcp.types import CallToolResult

from krea_mcp.errors import InvalidRequestError, KreaError
from krea_mcp.server.arguments import NOTHING_SPENT
from krea_mcp.server.tool_results import job_result

if TYPE_CHECKING:
    from pathlib import Path

    from krea_mcp.catalog.job_kinds import JobRequest
    from krea_mcp.job import Outcome
    from krea_mcp.server.state import AppState

log = logging.getLogger(__name__)


@contextmanager
def tool_errors(*, job_id: str | None = None) -> Iterator[None]:
    """The one boundary where krea-mcp errors become text the model reads; anything else stays masked.

    Errors about an existing job always name it.
    """
    try:
        yield
    except KreaError as exc:
        message = str(exc)
        if isinstance(exc, InvalidRequestError) and NOTHING_SPENT not in message:  # refused before any request
            message = f"{message} {NOTHING_SPENT}"
        if job_id and job_id not in message:
            message = f"Job {job_id}: {message} The job itself is not affected by this error."
        raise ToolError(message) from exc


def state(ctx: Context[AppState, Any]) -> AppState:
    return ctx.request_context.lifespan_context


async def reply(ctx: Context[AppState, Any], outcome: Outcome, *, cancel_request: bool = False) -> CallToolResult:
    """The tool result, after publishing the job and any saved files as resources.

    A client that renders the gallery (MCP Apps) gets no inline previews: the person sees the images there.
    """
    from mcp.server.apps import client_supports_apps

    app = state(ctx)
    publisher = app.publisher
    if publisher is not None and publisher.publish(outcome):
        await ctx.notify_resources_changed()
    apps = client_supports_apps(ctx)
    if apps and app.settings.multi_user:  # no listing: the gallery reads result URLs through the job's record
        from krea_mcp.server.job_resources import keep_links

        await keep_links(await app.service(), outcome)
    return job_result(outcome, cancel_request=cancel_request, link_urls=publisher is not None, previews=not apps)


def progress(ctx: Context[AppState, Any]) -> Any:
    """Progress notifications for this request; values strictly increase, as the protocol requires."""
    last = -1.0

    async def report(done: float, total: float, message: str) -> None:
        nonlocal last
        last = max(round(done, 3), round(last + 0.001, 3))
        await ctx.report_progress(last, max(round(total, 3), last), message)

    return report


async def client_folder(ctx: Context[AppState, Any], save_to: str | None) -> Path | None:
    """The client's first ``file://`` MCP root, where a relative ``save_to`` lands (asked only when one is given).

    Roots exist in the legacy protocol era only (deprecated in 2026-07-28, where hosts pass absolute paths or the
    server's working directory serves); any failure simply means no root.
    """
    caps = ctx.client_capabilities
    if save_to is None or caps is None or caps.roots is None or state(ctx).settings.multi_user:
        return None
    import warnings
    from pathlib import Path
    from urllib.parse import unquote, urlparse

    from mcp.shared.exceptions import MCPDeprecationWarning

    try:
        with warnings.catch_warnings(), anyio.fail_after(5):
            warnings.simplefilter("ignore", MCPDeprecationWarning)
            listed = await ctx.session.list_roots()
    except Exception:  # a client that does not answer, or answers badly: no root
        log.debug("the client offered roots but listing them failed", exc_info=True)
        return None
    for root in listed.roots:
        uri = urlparse(str(root.uri))
        if uri.scheme == "file" and uri.netloc in ("", "localhost"):
            return Path(unquote(uri.path))
    return None


def on_created(ctx: Context[AppState, Any], request: JobRequest | None = None) -> Any:
    """Publish a job the moment Krea returns it, so even a call the host cuts leaves a findable job resource; its
    ``request`` is remembered for the gallery (vary repeats it, details shows it)."""

    async def created(outcome: Outcome) -> None:
        if request is not None:  # only a client that shows the gallery can ever vary it
            from mcp.server.apps import client_supports_apps

            from krea_mcp.krea.caller import caller_key
            from krea_mcp.server.gallery import requests_of

            if client_supports_apps(ctx):
                requests_of(state(ctx)).remember(outcome.job.job_id, caller_key(), request)
        publisher = state(ctx).publisher
        if publisher is not None and publisher.publish(outcome):
            await ctx.notify_resources_changed()

    return created


async def start_job(
    ctx: Context[AppState, Any],
    params: JobRequest,
    *,
    wait: bool,
    save_to: str | None = None,
    deadline: float | None = None,
    granted: Path | EllipsisType | None = ...,
) -> Outcome:
    """Start a job of any kind as every job tool does: within the call's deadline (``deadline``, anyio time; default
    KREA_WAIT_S from now), with progress, the job published the moment it exists, and the client's folder for a
    relative ``save_to`` (``granted``, when the tool already asked for it)."""
    app = state(ctx)
    service = await app.service()
    left = app.settings.wait_s if deadline is None else max(0.0, deadline - anyio.current_time())
    folder = await client_folder(ctx, save_to) if isinstance(granted, EllipsisType) else granted
    return await service.generate(
        params,
        wait=wait,
        deadline_s=left,
        progress=progress(ctx),
        save_to=save_to,
        on_created=on_created(ctx, params),
        granted=folder,
    )
