"""What the server's lifespan hands every call: the settings, the job service (built on the first call that needs
it, off the start-up path) and the publisher of job resources."""

from __future__ import annotations

from contextlib import AsyncExitStack
from typing import TYPE_CHECKING

import anyio
from mcp.server import MCPServer

from krea_mcp.server.job_resources import Publisher
from krea_mcp.settings import Settings

if TYPE_CHECKING:
    from anyio.abc import TaskGroup

    from krea_mcp.krea.client import Transport
    from krea_mcp.workflow.job_service import JobService


class AppState:
    """What the lifespan hands to every tool call. The job service is built on the first call that needs it."""

    def __init__(
        self,
        settings: Settings,
        server: MCPServer,
        stack: AsyncExitStack,
        transport: Transport | None,
        duration_scale: float | None,
        tasks: TaskGroup | None = None,
    ) -> None:
        self.settings = settings
        #: None in multi-user mode: one caller's jobs and files must not be listed to another.
        self.publisher: Publisher | None = None
        self._server, self._stack = server, stack
        self._transport, self._duration_scale = transport, duration_scale
        self._service: JobService | None = None
        self._tasks = tasks
        self._lock = anyio.Lock()

    async def service(self) -> JobService:
        if self._service is None:
            async with self._lock:
                if self._service is None:
                    from krea_mcp.workflow.assembly import build_service

                    service = await build_service(
                        self.settings,
                        self._stack,
                        transport=self._transport,
                        duration_scale=self._duration_scale,
                        tasks=self._tasks,
                    )
                    self.publisher = None if self.settings.multi_user else Publisher(self._server, service)
                    self._service = service
        return self._service
