"""Building the job service: the Krea connection (real API, injected transport or sandbox emulator) and its parts.

Imported on the first tool call, not at start-up: nothing here is needed to answer ``tools/list``.
"""

from __future__ import annotations

import logging
from contextlib import AsyncExitStack
from pathlib import Path
from typing import TYPE_CHECKING

import httpx
from pydantic import SecretStr

from krea_mcp.catalog.models import load_catalog
from krea_mcp.files.image_saver import ImageSaver
from krea_mcp.krea.client import KreaClient
from krea_mcp.settings import DEFAULT_BASE_URL, Settings
from krea_mcp.workflow.durations import DurationBook, default_path
from krea_mcp.workflow.image_inputs import ImageInputs
from krea_mcp.workflow.job_service import JobService
from krea_mcp.workflow.result_delivery import Delivery
from krea_mcp.workflow.shared import relay, shared_state
from krea_mcp.workflow.style_book import StyleBook
from krea_mcp.workflow.wakeups import Wakeups

if TYPE_CHECKING:
    from anyio.abc import TaskGroup

log = logging.getLogger(__name__)

#: Sandbox jobs run at this fraction of the real model's typical duration (Flux: ~2 s instead of ~7 s).
SANDBOX_TIME_SCALE = 0.3
SANDBOX_BASE_URL = "http://krea.sandbox"
#: No sandbox job runs longer than this (a style training is ~30 minutes on Krea, a Veo video ~5): long enough to
#: show progress and a wait that returns the job id, short enough to try the whole flow.
SANDBOX_MAX_JOB_S = 40.0


def connection(
    settings: Settings, transport: httpx.AsyncBaseTransport | None = None
) -> tuple[httpx.AsyncBaseTransport | None, str, SecretStr | None, float]:
    """Transport, base URL, token and duration scale: the real API, an injected transport, or the sandbox."""
    if not settings.sandbox:
        return transport, settings.base_url, settings.api_token, 1.0
    token = settings.api_token or SecretStr("sandbox")
    if transport is not None:
        return transport, settings.base_url, token, 1.0
    from krea_mcp.fake_api import FakeKrea  # imported only when used: keeps start-up fast

    fake = FakeKrea(base_url=SANDBOX_BASE_URL, time_scale=SANDBOX_TIME_SCALE, max_duration_s=SANDBOX_MAX_JOB_S)
    link = settings.webhooks
    if link is not None and link.local_app is not None:  # the sandbox delivers its webhooks in-process
        fake.webhooks.transport = httpx.ASGITransport(app=link.local_app)
    return fake.transport(), fake.base_url, token, SANDBOX_TIME_SCALE


def duration_book(settings: Settings, *, injected: bool = False) -> DurationBook:
    """The book of learned run times, shared by every caller of this server. It is kept in KREA_DURATIONS_FILE, or
    by default in the per-user cache directory when the jobs are Krea's own (the default KREA_BASE_URL, no injected
    transport). The sandbox's emulated times never reach a file; another API (a proxy, an emulator) or an injected
    transport (tests, benchmarks) keeps them in memory unless a file is named."""
    named = settings.durations_file
    if settings.sandbox or named == "off":
        return DurationBook()
    if named:
        return DurationBook(Path(named), api=settings.base_url)
    if injected or settings.base_url != DEFAULT_BASE_URL:
        return DurationBook()
    return DurationBook(default_path(), api=settings.base_url)


async def build_service(
    settings: Settings,
    stack: AsyncExitStack,
    *,
    transport: httpx.AsyncBaseTransport | None = None,
    duration_scale: float | None = None,
    tasks: TaskGroup | None = None,
) -> JobService:
    """The service and everything it uses; the HTTP client closes with ``stack``. ``tasks`` runs what the service
    does in the background (taking other workers' news from Redis); without it nothing runs in the background."""
    http_transport, base_url, token, scale = connection(settings, transport)
    link = settings.webhooks  # HTTP mode with KREA_WEBHOOK_URL (http_app.build_app); None elsewhere
    if link is None and settings.webhook_url:
        _ignored_webhook_url()
    client = await stack.enter_async_context(
        KreaClient(
            base_url=base_url,
            token=token,
            timeout_s=settings.request_timeout_s,
            transport=http_transport,
            webhook_url=link.callback_url if link is not None else None,
        )
    )
    # Result URLs come from Krea's answers: fetched only under the download rules. With an injected transport (tests,
    # --sandbox) nothing reaches the network and the emulator's own origin is trusted like the base URL; on the real
    # network the downloader's own connections are pinned to checked addresses.
    downloader = client.downloader(trusted=[SANDBOX_BASE_URL])
    stack.push_async_callback(downloader.aclose)
    multi = settings.multi_user  # callers are strangers: no local files, no saving, no shared listings
    dirs = [] if multi else settings.input_dirs()
    saver = None
    if not multi:
        saver = ImageSaver(
            downloader, output_dir=settings.resolved_output_dir(), allowed_dirs=dirs, project_dir=settings.project_dir()
        )
    catalog = load_catalog()
    # The HTTP app made the deployment's state already when its webhook route needs it before any tool call.
    state = link.state if link is not None and link.state is not None else shared_state(settings, base_url)
    stack.push_async_callback(state.aclose)
    service = JobService(
        client,
        settings,
        catalog,
        duration_scale=duration_scale if duration_scale is not None else scale,
        max_expected_s=SANDBOX_MAX_JOB_S if settings.sandbox and transport is None else None,
        inputs=ImageInputs(client, dirs, relative_to=None if multi else settings.project_dir(), shared=state),
        delivery=Delivery(downloader, saver, settings),
        downloader=downloader,
        shared=state,
        styles=StyleBook(client, catalog),
        durations=duration_book(settings, injected=transport is not None),
        wakeups=link.wakeups if link is not None else Wakeups(),
    )
    if link is not None:
        records = service.records
        link.wakeups.ours = records.__contains__  # a call may wake only the waiter of a job this server created
        state.on_wake = link.wakeups.wake
        link.relay = relay(state)
    listen = getattr(state, "listen", None)
    if listen is not None and tasks is not None:
        tasks.start_soon(listen)
    return service


def _ignored_webhook_url() -> None:
    """KREA_WEBHOOK_URL outside the HTTP server (stdio, the commands): said once, when the service is built."""
    log.warning(
        "KREA_WEBHOOK_URL is ignored: only the HTTP server (krea-mcp --transport http) can take Krea's calls, so jobs "
        "are polled. Unset it for stdio."
    )
