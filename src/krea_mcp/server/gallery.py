"""The gallery: an MCP Apps view (``ui://krea/gallery.html``) the host shows the person beside a job tool's result.

Only a client that advertises the Apps extension (``io.modelcontextprotocol/ui`` with the app MIME type) sees any of
it: the job tools' ``_meta.ui``, the app-only ``gallery_*`` tools and the view resource are taken out of what every
other client lists (``AppsGate``), so their tools/list stays byte for byte what it was. The view reads images as
bytes through ``resources/read`` and declares no remote host in its CSP: it loads nothing from the network.
"""

from __future__ import annotations

from collections import OrderedDict
from pathlib import Path
from typing import TYPE_CHECKING, Any
from weakref import WeakKeyDictionary

from mcp.server.apps import Apps, ResourceCsp, client_supports_apps
from mcp.server.context import CallNext, HandlerResult, ServerRequestContext
from mcp.types import CallToolResult, TextContent
from mcp_types import SERVER_INFO_META_KEY
from mcp_types.version import MODERN_PROTOCOL_VERSIONS
from pydantic import BaseModel

if TYPE_CHECKING:
    from mcp.server.mcpserver.tools import Tool

    from krea_mcp.catalog.job_kinds import JobRequest
    from krea_mcp.server.state import AppState

GALLERY_URI = "ui://krea/gallery.html"
#: The tools whose result the gallery shows (those KREA_TOOLS offers).
JOB_TOOLS = ("generate_image", "enhance_image", "generate_video", "get_job", "wait_for_job")
#: Tools only the view calls (``_meta.ui.visibility = ["app"]``): never listed to the model.
APP_TOOLS = ("gallery_vary", "gallery_upscale", "gallery_animate", "gallery_save", "gallery_details")
#: Requests remembered per server for vary and details (the least recently started go first).
MAX_REQUESTS = 512
#: A request whose image references are longer than this in all (inline data: URIs) is not kept for vary.
MAX_KEPT_REFS = 256_000
#: The image references kept for vary, over all remembered requests (the oldest requests go first).
MAX_KEPT_TOTAL = 8_000_000


def gallery_html() -> str:
    """The view: one self-contained file (inline CSS and script), read when the server is built."""
    from krea_mcp import __version__

    return Path(__file__).with_name("gallery.html").read_text(encoding="utf-8").replace("__KREA_VERSION__", __version__)


def gallery_apps() -> Apps:
    """The Apps extension with the gallery resource. No CSP domains: images reach the view as bytes."""
    apps = Apps()
    apps.add_html_resource(
        GALLERY_URI,
        gallery_html(),
        name="krea-gallery",
        title="Krea gallery",
        description="The images and videos of Krea jobs, with vary, upscale, animate and save.",
        csp=ResourceCsp(),
        prefers_border=True,
    )
    return apps


def with_ui(tools: list[Tool]) -> list[Tool]:
    """The job tools carry ``_meta.ui.resourceUri`` (AppsGate removes it for clients without Apps)."""
    ui = {"ui": {"resourceUri": GALLERY_URI}}
    return [t.model_copy(update={"meta": {**(t.meta or {}), **ui}}) if t.name in JOB_TOOLS else t for t in tools]


class AppsGate:
    """Server middleware: a client that did not negotiate Apps sees the server exactly as without the gallery (no
    ``_meta.ui``, no app-only tools, no ``ui://`` resource), and cannot call the app-only tools. (Reading the view or a
    caller's result in multi-user mode is gated where resources are looked up: ``job_resources.serve_shared_links``.)

    ``stamp`` gives the ``serverInfo`` ``_meta`` of a 2026-era result, so a refusal here reads exactly as the SDK's
    own answer for a tool it does not know."""

    def __init__(self) -> None:
        self.stamp: Any = None

    async def __call__(self, ctx: ServerRequestContext[Any, Any], call_next: CallNext) -> HandlerResult:
        method = ctx.method
        if ctx.request_id is None or method not in ("tools/list", "tools/call", "resources/list"):
            return await call_next(ctx)
        if client_supports_apps(ctx):
            return await call_next(ctx)
        if method == "tools/call":
            name = (ctx.params or {}).get("name")
            if name in APP_TOOLS:
                refusal = CallToolResult(content=[TextContent(text=f"Unknown tool: {name}")], is_error=True)
                if self.stamp is not None and ctx.protocol_version in MODERN_PROTOCOL_VERSIONS:
                    refusal.meta = {SERVER_INFO_META_KEY: self.stamp()}
                return refusal
            return await call_next(ctx)
        result = await call_next(ctx)
        if isinstance(result, BaseModel):
            result = result.model_dump(by_alias=True, mode="json", exclude_none=True)
        if not isinstance(result, dict):
            return result
        if method == "tools/list" and isinstance(result.get("tools"), list):
            tools = [_plain_tool(t) for t in result["tools"] if t.get("name") not in APP_TOOLS]
            return {**result, "tools": tools}
        if method == "resources/list" and isinstance(result.get("resources"), list):
            return {
                **result,
                "resources": [r for r in result["resources"] if not str(r.get("uri")).startswith("ui://")],
            }
        return result


def _plain_tool(tool: dict[str, Any]) -> dict[str, Any]:
    """A listed tool without its ``_meta.ui`` (and without ``_meta`` when that was all of it)."""
    meta = tool.get("_meta")
    if not isinstance(meta, dict) or "ui" not in meta:
        return tool
    rest = {k: v for k, v in meta.items() if k != "ui"}
    plain = {k: v for k, v in tool.items() if k != "_meta"}
    return {**plain, "_meta": rest} if rest else plain


class Requests:
    """What each job this process started was asked for, by job id and caller: vary repeats it, details shows it."""

    def __init__(self, limit: int = MAX_REQUESTS) -> None:
        self._limit = limit
        self._items: OrderedDict[str, tuple[str, JobRequest | None]] = OrderedDict()
        self._kept = 0  # characters of image references kept, over all requests
        #: The prompt of the job an upscale was made from (an enhance job records no prompt of its own).
        self._origins: OrderedDict[str, str] = OrderedDict()

    def remember(self, job_id: str, caller: str, request: JobRequest) -> None:
        refs = _refs_size(request)
        self._items[job_id] = (caller, request if refs <= MAX_KEPT_REFS else None)
        self._items.move_to_end(job_id)
        self._kept += refs if refs <= MAX_KEPT_REFS else 0
        while len(self._items) > self._limit or self._kept > MAX_KEPT_TOTAL:
            _, (_, old) = self._items.popitem(last=False)
            self._kept -= _refs_size(old) if old is not None else 0

    def known(self, job_id: str, caller: str) -> bool:
        """Whether this process started the job for ``caller`` (even if its request was too large to keep)."""
        entry = self._items.get(job_id)
        return entry is not None and entry[0] == caller

    def made_from(self, job_id: str, prompt: str) -> None:
        """Note that job ``job_id`` (an upscale) was made from an image whose prompt is ``prompt``."""
        self._origins[job_id] = prompt
        while len(self._origins) > self._limit:
            self._origins.popitem(last=False)

    def origin_prompt(self, job_id: str) -> str | None:
        return self._origins.get(job_id)

    def get(self, job_id: str, caller: str) -> JobRequest | None:
        entry = self._items.get(job_id)
        return entry[1] if entry is not None and entry[0] == caller else None


def _refs_size(request: JobRequest) -> int:
    return sum(len(r) for items in request.references().values() for r in items)


_requests: WeakKeyDictionary[AppState, Requests] = WeakKeyDictionary()


def requests_of(app: AppState) -> Requests:
    """The requests remembered for this server (one store per server state)."""
    store = _requests.get(app)
    if store is None:
        store = _requests[app] = Requests()
    return store
