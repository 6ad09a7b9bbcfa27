"""The MCP layer: ``create_server`` builds an ``MCPServer`` whose tools are thin adapters over ``JobService``."""

import logging
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import AsyncExitStack, asynccontextmanager, contextmanager
from typing import TYPE_CHECKING, Annotated, Any, Literal

import anyio
from mcp.server import MCPServer
from mcp.server.mcpserver import Context
from mcp.server.mcpserver.exceptions import ToolError
from mcp.server.mcpserver.tools import Tool
from mcp.types import CallToolResult, ToolAnnotations
from pydantic import Field

from krea_mcp import __version__
from krea_mcp.errors import KreaError
from krea_mcp.krea.caller import as_caller, bearer_from
from krea_mcp.server.arguments import StrictTool
from krea_mcp.server.job_resources import Publisher, register_job_template
from krea_mcp.server.schemas import VALIDATION_ONLY, compact_schema
from krea_mcp.server.tool_results import JobResult, job_result
from krea_mcp.settings import Settings

if TYPE_CHECKING:  # the rest loads on the first tool call (see AppState.service): start-up stays fast
    from pathlib import Path

    from krea_mcp.job import Outcome
    from krea_mcp.krea.client import Transport
    from krea_mcp.workflow.job_service import JobService

log = logging.getLogger(__name__)


INSTRUCTIONS = (
    "Generate images with Krea AI. generate_image validates parameters (no credits spent on a bad call), "
    "starts the job and waits up to ~45 s; if the job is not done it returns job_id: call wait_for_job with it. "
    "Results are image URLs."
)

JobId = Annotated[
    str,
    Field(min_length=1, max_length=100, pattern=r"^[A-Za-z0-9_-]+$"),
]
JobToolResult = Annotated[CallToolResult, JobResult]
SaveTo = Annotated[
    str | None,
    Field(
        max_length=1000,
        description="Directory, or .png/.jpg/.webp file. Relative: from the project folder the server runs in, "
        "else KREA_OUTPUT_DIR",
    ),
]


class AppState:
    """What the lifespan hands to every tool call. The job service is built on the first call that needs it."""

    def __init__(
        self,
        settings: Settings,
        server: MCPServer,
        stack: AsyncExitStack,
        transport: "Transport | None",
        duration_scale: float | None,
    ) -> None:
        self.settings = settings
        #: None in multi-user mode: one caller's jobs and files must not be listed to another.
        self.publisher: Publisher | None = None
        self._server, self._stack = server, stack
        self._transport, self._duration_scale = transport, duration_scale
        self._service: JobService | None = None
        self._lock = anyio.Lock()

    async def service(self) -> "JobService":
        if self._service is None:
            async with self._lock:
                if self._service is None:
                    from krea_mcp.workflow.assembly import build_service

                    service = await build_service(
                        self.settings, self._stack, transport=self._transport, duration_scale=self._duration_scale
                    )
                    self.publisher = None if self.settings.multi_user else Publisher(self._server, service)
                    self._service = service
        return self._service


@contextmanager
def _tool_errors(ctx: Context[AppState, Any] | None = None, *, job_id: str | None = None) -> Iterator[None]:
    """The one boundary where krea-mcp errors become text the model reads; anything else stays masked.

    Errors about an existing job always name it. In multi-user mode this also makes the request's own Bearer
    token the Krea token for this call.
    """
    token = bearer_from(ctx.headers) if ctx is not None and _state(ctx).settings.multi_user else None
    try:
        with as_caller(token):
            yield
    except KreaError as exc:
        message = str(exc)
        if job_id and job_id not in message:
            message = f"Job {job_id}: {message} The job itself is not affected by this error."
        raise ToolError(message) from exc


def _state(ctx: Context[AppState, Any]) -> AppState:
    return ctx.request_context.lifespan_context


async def _reply(ctx: Context[AppState, Any], outcome: "Outcome", *, cancel_request: bool = False) -> CallToolResult:
    """The tool result, after publishing the job and any saved files as resources."""
    publisher = _state(ctx).publisher
    if publisher is not None and publisher.publish(outcome):
        await ctx.notify_resources_changed()
    return job_result(outcome, cancel_request=cancel_request, link_urls=publisher is not None)


def _progress(ctx: Context[AppState, Any]) -> Any:
    """Progress notifications for this request; values strictly increase, as the protocol requires."""
    last = -1.0

    async def report(done: float, total: float, message: str) -> None:
        nonlocal last
        last = max(round(done, 3), round(last + 0.001, 3))
        await ctx.report_progress(last, max(round(total, 3), last), message)

    return report


async def _client_folder(ctx: Context[AppState, Any], save_to: str | None) -> "Path | None":
    """The client's first ``file://`` MCP root, where a relative ``save_to`` lands (asked only when one is given).

    Roots exist in the legacy protocol era only (deprecated in 2026-07-28, where hosts pass absolute paths or the
    server's working directory serves); any failure simply means no root.
    """
    caps = ctx.client_capabilities
    if save_to is None or caps is None or caps.roots is None or _state(ctx).settings.multi_user:
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


def _on_created(ctx: Context[AppState, Any]) -> Any:
    """Publish a job the moment Krea returns it, so even a call the host cuts leaves a findable job resource."""

    async def created(outcome: "Outcome") -> None:
        publisher = _state(ctx).publisher
        if publisher is not None and publisher.publish(outcome):
            await ctx.notify_resources_changed()

    return created


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
        async with AsyncExitStack() as stack:  # the job service is built on first use, off the start-up path
            yield AppState(settings, server, stack, transport, duration_scale)

    mcp = MCPServer(
        "krea",
        version=__version__,
        instructions=INSTRUCTIONS,
        lifespan=lifespan,
        log_level=settings.log_level,
        tools=_tools(settings),
    )
    register_job_template(mcp)
    return mcp


def _tool(
    fn: Callable[..., Any], description: str, *, read_only: bool, destructive: bool = False, structured: bool = True
) -> Tool:
    """Register ``fn`` with a compact input schema and its annotations (only where they differ from the defaults).

    The spec's defaults are readOnlyHint=false, destructiveHint=true, idempotentHint=false, openWorldHint=true.
    """
    if read_only:
        hints = ToolAnnotations(read_only_hint=True)
    elif destructive:
        hints = ToolAnnotations(idempotent_hint=True)
    else:
        hints = ToolAnnotations(destructive_hint=False)
    # structured=False: plain text only, no {"result": ...} copy of it in structuredContent.
    tool = StrictTool.from_function(
        fn, description=description, annotations=hints, structured_output=None if structured else False
    )
    return tool.model_copy(update={"parameters": compact_schema(tool.parameters, drop=VALIDATION_ONLY)})


def _tools(settings: Settings) -> list[Tool]:
    async def generate_image(
        prompt: Annotated[str, Field(min_length=1, max_length=10_000)],
        ctx: Context[AppState, Any],
        model: Annotated[
            str | None,
            Field(min_length=1, max_length=100, description=f"Model id or alias; default {settings.default_model}"),
        ] = None,
        width: Annotated[int | None, Field(ge=16, le=8192)] = None,
        height: Annotated[int | None, Field(ge=16, le=8192)] = None,
        aspect_ratio: Annotated[str | None, Field(max_length=12, description="e.g. 16:9")] = None,
        resolution: Literal["1K", "2K", "4K"] | None = None,
        seed: Annotated[int | None, Field(ge=0, le=2**32 - 1)] = None,
        steps: Annotated[int | None, Field(ge=1, le=200)] = None,
        negative_prompt: Annotated[str | None, Field(max_length=5_000)] = None,
        strength: Annotated[float | None, Field(ge=-2, le=2, allow_inf_nan=False, description="Edit strength")] = None,
        images: Annotated[
            list[Annotated[str, Field(min_length=1, max_length=14_000_000)]] | None,
            Field(max_length=16, description="Input/reference images: URLs, local paths or data: URIs"),
        ] = None,
        style_images: Annotated[
            list[Annotated[str, Field(min_length=1, max_length=14_000_000)]] | None,
            Field(max_length=16, description="Style references, same forms"),
        ] = None,
        options: Annotated[dict[str, Any] | None, Field(description="Other fields of the model (list_models)")] = None,
        wait: Annotated[bool, Field(description="false: return job_id at once")] = True,
        save_to: SaveTo = None,
    ) -> JobToolResult:
        from krea_mcp.catalog.image_params import GenerateParams

        state = _state(ctx)
        params = GenerateParams(
            prompt=prompt,
            model=model or state.settings.default_model,
            width=width,
            height=height,
            aspect_ratio=aspect_ratio,
            resolution=resolution,
            seed=seed,
            steps=steps,
            negative_prompt=negative_prompt,
            strength=strength,
            images=images or [],
            style_images=style_images or [],
            options=options or {},
        )
        with _tool_errors(ctx):
            outcome = await (await state.service()).generate(
                params,
                wait=wait,
                deadline_s=state.settings.wait_s,
                progress=_progress(ctx),
                save_to=save_to,
                on_created=_on_created(ctx),
                granted=await _client_folder(ctx, save_to),
            )
        return await _reply(ctx, outcome)

    async def get_job(job_id: JobId, ctx: Context[AppState, Any]) -> JobToolResult:
        with _tool_errors(ctx, job_id=job_id):
            outcome = await (await _state(ctx).service()).get(job_id)
        return await _reply(ctx, outcome)

    async def wait_for_job(
        job_id: JobId,
        ctx: Context[AppState, Any],
        timeout_s: Annotated[float | None, Field(gt=0, le=600, allow_inf_nan=False)] = None,
        save_to: SaveTo = None,
    ) -> JobToolResult:
        state = _state(ctx)
        with _tool_errors(ctx, job_id=job_id):
            outcome = await (await state.service()).wait(
                job_id,
                timeout_s or state.settings.wait_s,
                progress=_progress(ctx),
                save_to=save_to,
                granted=await _client_folder(ctx, save_to),
            )
        return await _reply(ctx, outcome)

    # No outputSchema (its structuredContent is the same job object): the bytes go to what agents need to know.
    async def cancel_job(job_id: JobId, ctx: Context[AppState, Any]) -> CallToolResult:
        with _tool_errors(ctx, job_id=job_id):
            outcome, _ = await (await _state(ctx).service()).cancel(job_id)
        return await _reply(ctx, outcome, cancel_request=True)

    async def list_jobs(
        ctx: Context[AppState, Any],
        limit: Annotated[int, Field(ge=1, le=50)] = 10,
    ) -> CallToolResult:
        from krea_mcp.server.tool_results import jobs_list_result

        with _tool_errors(ctx):
            items, note = await (await _state(ctx).service()).recent(limit)
        return jobs_list_result(items, note)

    async def list_models(
        model: Annotated[str | None, Field(max_length=100, description="Id or alias: show its full parameters")] = None,
    ) -> str:
        from krea_mcp.catalog.image_params import resolve_model
        from krea_mcp.catalog.models import load_catalog
        from krea_mcp.catalog.views import compact_list, model_detail

        catalog = load_catalog()
        if model is None:
            return compact_list(catalog, settings.default_model)
        with _tool_errors():
            return model_detail(resolve_model(catalog, model))

    def model_field_hint(name: str, arguments: dict[str, Any]) -> str | None:
        """Where the chosen model takes a setting sent at the top level (only a field it really has)."""
        from krea_mcp.catalog.image_params import argument_for, option_fields, resolve_model, suggest_field
        from krea_mcp.catalog.models import load_catalog

        try:
            info = resolve_model(load_catalog(), str(arguments.get("model") or settings.default_model))
        except KreaError:
            return None
        found = suggest_field(info, name)
        argument = argument_for(found) if found else None
        if argument is not None:
            return f"use {argument!r}"
        if found is not None:
            return f"model {info.id} takes it as options.{found}: pass options={{{found!r}: ...}}"
        own = ", ".join(option_fields(info)) or "none"
        return f"model {info.id} has no such setting either (its other fields, for options: {own})"

    wait_s = f"{settings.wait_s:g}"
    return [
        _tool(
            generate_image,
            f"Generate an image with Krea; returns its URLs. Checked first: a bad call costs nothing. Waits up to "
            f"{wait_s} s, else returns job_id: then call wait_for_job.",
            read_only=False,
        ).model_copy(update={"field_hint": model_field_hint}),
        _tool(get_job, "Check a job once: status, and image URLs when completed.", read_only=True),
        _tool(
            wait_for_job,
            f"Wait up to timeout_s (default {wait_s}) for a job, with progress; returns URLs or the status (call "
            "again). Never cancels the job.",
            read_only=False,  # with save_to it writes files
        ),
        _tool(
            cancel_job,
            "Cancel a running job (not charged). A finished job is left alone.",
            read_only=False,
            destructive=True,
        ),
        _tool(
            list_jobs,
            "Recent jobs (id, status, model, age, prompt), newest first: finds a job whose call was cut off.",
            read_only=True,
        ),
        _tool(
            list_models,
            "Krea image models: id, aliases, time, price, inputs. With model: its parameters and mapping.",
            read_only=True,
            structured=False,  # the catalog as text: a JSON copy would double it
        ),
    ]
