"""Webhook delivery, as Krea describes it: a create that carries ``X-Webhook-URL`` gets a POST of the job's JSON to
that URL once the job ends (completed, failed or cancelled).

Krea documents no signature, retry schedule or timeout; the emulator sends one call per job after ``delay_s`` and,
only when ``retries`` is set, tries again after a failed call (a status that is not 2xx, a timeout, an error).
``fail_next`` makes calls fail the ways a real path to a server does:

* ``"drop"``: nothing is sent (Krea never called, or the call was lost on the way);
* ``500``: the call does not reach the server: the emulator records the 500 a broken proxy in front of it would give;
* ``"timeout"``: the call hangs for ``timeout_s`` and is given up, never reaching the server.

Calls go through an httpx client on ``transport``: tests inject the server's own ASGI app there (in-process, same
clock); by default (the standalone emulator) they go over the network to the URL given. Every attempt is recorded in
``deliveries``.

Nothing in the emulator's request path sleeps: each delivery is a background task (asyncio) that
waits for its job to end on the emulator's clock, started by the create and nudged by a cancel. ``aclose()`` ends
them all.
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

import anyio
import httpx

from krea_mcp.fake_api._state import TERMINAL, FakeJob

if TYPE_CHECKING:
    from collections.abc import Callable, Coroutine

log = logging.getLogger(__name__)

FAULTS = ("drop", 500, "timeout")
#: A job that never ends by itself (a stalled one) is watched this long, then forgotten.
MAX_WATCH_S = 3600.0
#: How often a watch re-reads the emulator's clock (an injected clock may jump; a real one does not need it).
_RECHECK_S = 1.0
#: The longest URL accepted in ``X-Webhook-URL``.
MAX_URL_CHARS = 2048


@dataclass
class Delivery:
    """One attempt to call a webhook: ``outcome`` is the HTTP status, or "dropped", "timeout", an error's name, or
    "sending" while under way."""

    job_id: str
    url: str
    status: str
    outcome: int | str
    attempt: int = 1


def url_problem(url: str) -> str | None:
    """Why an ``X-Webhook-URL`` value is refused (the spec says ``format: uri``), or None."""
    if len(url) > MAX_URL_CHARS or not url.isascii() or any(c.isspace() for c in url):
        return "Invalid X-Webhook-URL header: expected an absolute http(s) URL"
    try:
        parts = urlsplit(url)
    except ValueError:
        parts = None
    if parts is None or parts.scheme not in ("http", "https") or not parts.hostname:
        return "Invalid X-Webhook-URL header: expected an absolute http(s) URL"
    return None


class WebhookSender:
    """Calls the ``X-Webhook-URL`` of jobs when they end. One per emulator (``FakeKrea.webhooks``)."""

    def __init__(
        self,
        job_json: Callable[[FakeJob], dict[str, Any]],
        now: Callable[[], float],
        *,
        delay_s: float = 0.0,
        transport: httpx.AsyncBaseTransport | None = None,
        timeout_s: float = 10.0,
        retries: int = 0,
        retry_delay_s: float = 5.0,
    ) -> None:
        self._job_json, self._now = job_json, now
        #: Seconds between a job's end and its call.
        self.delay_s = delay_s
        #: Where calls go (None: the network).
        self.transport = transport
        self.timeout_s = timeout_s
        #: Further attempts after a failed one (0: one call per job, all Krea documents), ``retry_delay_s`` apart.
        self.retries, self.retry_delay_s = retries, retry_delay_s
        #: Every attempt so far, in order.
        self.deliveries: list[Delivery] = []
        #: Applied to every call when set (the standalone emulator's ``--webhook-failure``); ``fail_next`` wins.
        self.failure: int | str | None = None
        self._faults: list[int | str] = []
        self._nudges: dict[str, anyio.Event] = {}
        self._tasks: set[Any] = set()
        self._client: httpx.AsyncClient | None = None
        self._closing = False

    def fail_next(self, fault: int | str, count: int = 1) -> None:
        """Make the next ``count`` calls fail with ``fault``: "drop", 500 or "timeout"."""
        if fault not in FAULTS:
            raise ValueError(f"webhook fault must be one of {FAULTS}")
        self._faults.extend([fault] * count)

    def clear_faults(self) -> None:
        """Forget the faults ``fail_next`` queued (``failure`` stays)."""
        self._faults.clear()

    @property
    def pending(self) -> int:
        """Calls not yet made (their jobs still running, or their delay not over)."""
        return len(self._tasks)

    def watch(self, job: FakeJob, url: str) -> None:
        """Call ``url`` once ``job`` ends."""
        self._nudges[job.job_id] = anyio.Event()
        self._spawn(self._deliver(job, url))

    def nudge(self, job_id: str) -> None:
        """The job's end may have moved (a cancel): its watch looks again now."""
        event = self._nudges.get(job_id)
        if event is not None:
            self._nudges[job_id] = anyio.Event()
            event.set()

    async def aclose(self) -> None:
        """Stop every watch and close the client."""
        import asyncio

        self._closing = True
        tasks = list(self._tasks)
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        if self._client is not None:
            await self._client.aclose()
            self._client = None

    def _spawn(self, work: Coroutine[Any, Any, None]) -> None:
        """A task that outlives the create request (asyncio: what uvicorn, the sandbox and the tests run on)."""
        import asyncio

        task = asyncio.get_running_loop().create_task(work)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _deliver(self, job: FakeJob, url: str) -> None:
        try:
            if not await self._ended(job):
                return
            await anyio.sleep(self.delay_s)
            attempt = 1
            while not await self._attempt(job, url, attempt) and attempt <= self.retries and not self._closing:
                await anyio.sleep(self.retry_delay_s)
                attempt += 1
        finally:
            self._nudges.pop(job.job_id, None)

    async def _ended(self, job: FakeJob) -> bool:
        """Wait until ``job`` is terminal on the emulator's clock (False: it never ended within ``MAX_WATCH_S``)."""
        give_up = anyio.current_time() + MAX_WATCH_S
        while job.status(self._now()) not in TERMINAL:
            if anyio.current_time() > give_up:
                return False
            end = job.finished_at()
            wait = _RECHECK_S if end is None else min(max(end - self._now(), 0.0), _RECHECK_S)
            nudge = self._nudges.get(job.job_id)
            with anyio.move_on_after(wait):
                if nudge is not None:
                    await nudge.wait()
                else:  # pragma: no cover - a watch always has its nudge
                    await anyio.sleep(math.inf)
        return True

    async def _attempt(self, job: FakeJob, url: str, attempt: int) -> bool:
        """One call; True when it was answered 2xx, or when there is nothing to retry (dropped)."""
        body = self._job_json(job)
        fault = self._faults.pop(0) if self._faults else self.failure
        record = Delivery(job.job_id, url, str(body.get("status")), "sending", attempt)
        self.deliveries.append(record)
        if fault == "drop":
            record.outcome = "dropped"
            return True
        if fault == 500:
            record.outcome = 500
            return False
        if fault == "timeout":
            await anyio.sleep(self.timeout_s)
            record.outcome = "timeout"
            return False
        if self._client is None:
            self._client = httpx.AsyncClient(transport=self.transport, timeout=self.timeout_s, follow_redirects=False)
        try:
            headers = {"User-Agent": "krea-webhooks (krea-mcp emulator)"}
            response = await self._client.post(url, json=body, headers=headers)
        except httpx.TimeoutException:
            record.outcome = "timeout"
            return False
        except httpx.HTTPError as exc:
            record.outcome = type(exc).__name__
            return False
        record.outcome = response.status_code
        log.debug("webhook for job %s answered %s", job.job_id, response.status_code)
        return response.is_success
