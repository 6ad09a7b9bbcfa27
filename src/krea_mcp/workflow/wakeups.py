"""Wake-able sleeps for job waiters, and the webhook link that wakes them (issue 15, item 3).

A waiter (``JobService._wait``) sleeps between two looks at its job with ``await wakeups.sleep(job_id, seconds)``;
``wake(job_id)`` (the webhook route of the HTTP app, when Krea says the job ended) ends that sleep early. A wake-up is
only a hint: the waiter then reads the job with ``GET /jobs/{id}`` like after any other sleep, and believes only that.

Without webhooks (stdio, or no ``KREA_WEBHOOK_URL``) ``sleep`` is ``anyio.sleep`` and nothing is kept.

With webhooks, for a job this server created (so Krea was asked to call back):

* polling is only the fallback for a lost call: a sleep lasts at least ``FALLBACK_EVERY_S`` (10 s: the normal
  schedule stretched), so a job of up to 10 s costs one GET after its webhook, and one of 20 s two;
* a wake-up ends the sleep at once, but never within ``MIN_GAP_S`` (0.5 s) of the waiter's previous sleep ending (its
  previous GET): however many calls arrive, forged or duplicated, its GETs stay at most 2 per second per job;
* for ``CONFIRM_S`` after a wake-up the waiter looks again every ``MIN_GAP_S`` instead of every 10 s, in case Krea's
  call arrived before its job reads as ended (and never faster, whatever the normal schedule);
* a wake that arrives while the waiter is not sleeping (it is in the middle of its GET) is kept, and the next sleep
  returns at once: a call is never lost to that race;
* if Krea's calls stop arriving (``MISSES_BEFORE_DOUBT`` waits in a row ended without one: the public URL is not
  reachable from Krea, say) the normal polling schedule comes back, with one warning, until a call arrives again.

Memory: an entry exists only while a job is being waited for, and ``LINGER_S`` after (to catch a call racing the last
GET); wakes for jobs nobody waits for cost a dict lookup and keep nothing.
"""

from __future__ import annotations

import logging
import secrets
from collections import OrderedDict
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import anyio

log = logging.getLogger(__name__)

#: With webhooks on, a waiter still looks at its job at least this often (its normal schedule, stretched).
FALLBACK_EVERY_S = 10.0
#: A waiter returns early from its sleeps at most once per this many seconds (a cap on GETs a flood can cause).
MIN_GAP_S = 0.5
#: After a wake-up, sleeps are at most ``MIN_GAP_S`` for this long (a webhook may precede what GET shows).
CONFIRM_S = 2.0
#: How long an entry outlives the last sleep on its job.
LINGER_S = 30.0
#: This many waits in a row without any call from Krea: the normal polling schedule comes back.
MISSES_BEFORE_DOUBT = 3
#: Where the HTTP app takes Krea's calls: ``{KREA_WEBHOOK_URL}{WEBHOOK_PATH}{token}``.
WEBHOOK_PATH = "/webhooks/krea/"


@dataclass(eq=False)
class _Entry:
    event: anyio.Event = field(default_factory=anyio.Event)
    wakes: int = 0  # wake-ups received
    consumed: int = 0  # wake-ups a sleep has returned for
    last_wake: float = float("-inf")
    sleepers: int = 0
    touched: float = float("-inf")  # when a sleep last ended (the waiter then reads the job)


class Wakeups:
    """Per-job wake-able sleeps. ``webhooks=False``: plain sleeps, nothing kept (the default)."""

    def __init__(self, *, webhooks: bool = False) -> None:
        self.webhooks = webhooks
        #: Whether a job id is one this server created (set once the job service exists: ``id in records``).
        self.ours: Callable[[str], bool] = lambda _job_id: False
        #: False once Krea's calls stopped arriving (then the normal polling schedule is used).
        self.trusted = True
        self._misses = 0
        self._entries: OrderedDict[str, _Entry] = OrderedDict()

    def __len__(self) -> int:
        return len(self._entries)

    async def sleep(self, job_id: str, seconds: float) -> None:
        """Sleep ``seconds`` (stretched to the fallback rate for a job Krea will call back about), or until woken."""
        if not self.webhooks or not self.ours(job_id):
            await anyio.sleep(seconds)
            return
        now = anyio.current_time()
        self._prune(now)
        entry = self._entries.get(job_id)
        if entry is None:
            entry = self._entries[job_id] = _Entry()
        self._entries.move_to_end(job_id)
        if now - entry.last_wake < CONFIRM_S:  # Krea said it ended: look again soon, though never faster than this
            seconds = MIN_GAP_S
        elif self.trusted:
            seconds = max(seconds, FALLBACK_EVERY_S)
        entry.sleepers += 1
        try:
            await self._sleep(entry, now + seconds)
        finally:
            entry.sleepers -= 1
            entry.touched = anyio.current_time()

    async def _sleep(self, entry: _Entry, deadline: float) -> None:
        while (now := anyio.current_time()) < deadline:
            if entry.wakes > entry.consumed:  # woken now, or while the waiter was reading the job
                earliest = entry.touched + MIN_GAP_S  # a wake never brings a read within MIN_GAP_S of the last one
                if now >= earliest:
                    entry.consumed = entry.wakes
                    return
                await anyio.sleep(min(earliest, deadline) - now)
            else:
                with anyio.move_on_after(deadline - now):
                    await entry.event.wait()

    def wake(self, job_id: str) -> bool:
        """Krea says ``job_id`` ended: wake its waiter. True when the job is one this server created (whether or not
        anyone waits for it); anything else is ignored at the cost of a lookup."""
        if not self.webhooks or not self.ours(job_id):
            return False
        if not self.trusted:
            self.trusted = True
            log.info("a webhook from Krea arrived again: polling is back to its sparse fallback rate")
        self._misses = 0
        entry = self._entries.get(job_id)
        if entry is not None:
            entry.wakes += 1
            entry.last_wake = anyio.current_time()
            event, entry.event = entry.event, anyio.Event()
            event.set()
        return True

    def _prune(self, now: float) -> None:
        """Drop entries idle for ``LINGER_S`` (oldest first); a wait that ended without a call counts as a miss."""
        while self._entries:
            job_id, entry = next(iter(self._entries.items()))
            if entry.sleepers or now - entry.touched < LINGER_S:
                return
            del self._entries[job_id]
            if entry.wakes:
                continue
            self._misses += 1
            if self._misses >= MISSES_BEFORE_DOUBT and self.trusted:
                self.trusted = False
                log.warning(
                    "no webhook from Krea arrived for the last %d waits: check that KREA_WEBHOOK_URL reaches this "
                    "server from the internet. Polling on the normal schedule until one arrives.",
                    self._misses,
                )


@dataclass(eq=False)
class WebhookLink:
    """What ties one HTTP server to Krea's calls: the public base URL, this process's secret path token, the
    waiters it wakes. Built by ``http_app.build_app`` when ``KREA_WEBHOOK_URL`` is set; None on stdio."""

    base_url: str
    #: Unguessable, per process: the only thing that lets a call reach ``wake`` (Krea documents no signature).
    token: str = field(default_factory=lambda: secrets.token_urlsafe(32))
    wakeups: Wakeups = field(default_factory=lambda: Wakeups(webhooks=True))
    #: The HTTP app itself, once built: the sandbox emulator delivers its calls to it in-process.
    local_app: Any = None
    #: Set by the job service: what a call for a job id does (wake its waiters on every worker of the deployment,
    #: when the deployment created it); True when it did. Until then, ``wakeups.wake`` in this process.
    relay: Callable[[str], Awaitable[bool]] | None = None
    #: The deployment's shared state (``KREA_REDIS_URL``), made with the app so that a worker that has served no tool
    #: call yet still relays Krea's calls to the workers whose waits they are for; the job service then uses it too.
    state: Any = None

    @property
    def callback_url(self) -> str:
        """The ``X-Webhook-URL`` every create sends."""
        return f"{self.base_url.rstrip('/')}{WEBHOOK_PATH}{self.token}"
