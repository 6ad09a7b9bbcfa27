"""The MCP server: ``create_server`` builds an ``MCPServer`` from the tools, the job resources and the state its
lifespan hands every call; the caller's Krea token is bound here, once per request, for tools and resources alike."""

import logging
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from typing import TYPE_CHECKING, Any

import anyio
from mcp.server import MCPServer
from mcp.server.context import CallNext, HandlerResult, ServerRequestContext

from krea_mcp import __version__
from krea_mcp.krea.caller import as_caller, bearer_from
from krea_mcp.server.gallery import AppsGate, gallery_apps, with_ui
from krea_mcp.server.job_resources import register_job_template, serve_shared_links
from krea_mcp.server.state import AppState
from krea_mcp.server.tools import build_tools
from krea_mcp.settings import Settings

if TYPE_CHECKING:  # the rest loads on the first tool call (see AppState.service): start-up stays fast
    from krea_mcp.krea.client import Transport

log = logging.getLogger(__name__)


def instructions(settings: Settings) -> str:
    """What the server tells the host about itself, with the configured wait."""
    return (
        "Generate images with Krea AI. generate_image validates parameters (no credits spent on a bad call), "
        f"starts the job and waits up to {settings.wait_s:g} s; if the job is not done it returns job_id: call "
        "wait_for_job with it (list_jobs finds a job whose call was cut off). Results are image URLs."
    )


class BindCaller:
    """Server middleware: in multi-user mode, each request's own Bearer token is the Krea token for everything that
    request does (tools and resources alike); otherwise the server's own token is used."""

    def __init__(self, multi_user: bool) -> None:
        self.multi_user = multi_user

    async def __call__(self, ctx: ServerRequestContext[Any, Any], call_next: CallNext) -> HandlerResult:
        token = bearer_from(getattr(ctx.request, "headers", None)) if self.multi_user else None
        with as_caller(token):
            return await call_next(ctx)


def gallery_tools(settings: Settings) -> list[Any]:
    """The tools, the job tools marked for the gallery view, and the view's own tools when a job tool is offered
    (MCP Apps; a client without Apps sees none of it: ``gallery.AppsGate``)."""
    from krea_mcp.server import gallery_tools as app_only
    from krea_mcp.server.gallery import JOB_TOOLS

    tools = build_tools(settings)
    if not any(t.name in JOB_TOOLS for t in tools):
        return tools
    return with_ui(tools) + app_only.build(settings)


def create_server(
    settings: Settings | None = None,
    *,
    transport: "Transport | None" = None,
    duration_scale: float | None = None,
) -> MCPServer:
    """Build the server. ``transport`` replaces the network; ``settings.sandbox`` wires the built-in emulator.

    ``duration_scale`` tells the polling schedule that jobs run faster or slower than the catalog says (the
    sandbox and benchmarks use it; the real API needs none).
    """
    settings = settings if settings is not None else Settings()

    @asynccontextmanager
    async def lifespan(server: MCPServer) -> AsyncIterator[AppState]:
        # The job service is built on first use, off the start-up path; what it runs in the background (taking other
        # workers' news from Redis) runs in ``tasks``, cancelled when the server stops.
        async with AsyncExitStack() as stack, anyio.create_task_group() as tasks:
            try:
                yield AppState(settings, server, stack, transport, duration_scale, tasks)
            finally:
                tasks.cancel_scope.cancel()

    mcp = MCPServer(
        "krea",
        version=__version__,
        instructions=instructions(settings),
        lifespan=lifespan,
        log_level=settings.log_level,
        tools=gallery_tools(settings),
        middleware=[BindCaller(settings.multi_user), gate := AppsGate()],
        extensions=[gallery_apps()],
    )
    gate.stamp = lambda: mcp._lowlevel_server.server_info_stamp
    register_job_template(mcp)
    serve_shared_links(mcp)
    return mcp
