"""What the workers of one deployment share, and where it is kept.

``LocalState`` (the default, embedded) keeps it in this process: one process is the whole deployment.
``redis_state.RedisState`` (``KREA_REDIS_URL``) keeps it in Redis, so every worker and replica sees the same:

* **spend guards**: the jobs and estimated USD counted against ``KREA_MAX_JOBS``/``KREA_MAX_SPEND_USD`` (per caller in
  multi-user mode), reserved atomically before a create and given back only when Krea certainly made nothing;
* **job records**: the model, prompt, kind, note, result URLs and saved files of each job the deployment created, so
  any worker serves its result links and ``list_jobs`` shows a caller its own jobs (and only those);
* **creates in flight** per Krea token: a create whose answer was lost adopts the one new job only when no other
  create on that token, on any worker, overlapped it;
* **uploads** per caller (a file already uploaded is not sent again), and **learned durations** per model;
* **who polls which job** (``claim_poll``, a lease) and what it last saw (``publish``/``last_seen``), so a job is
  polled once however many calls on however many workers wait for it (``job_watch.Watches``).

The methods are async and never block on the event loop; the local ones never fail.
"""

from __future__ import annotations

import secrets
import time
from collections.abc import Awaitable, Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from krea_mcp.workflow.spend import SpendGuards

if TYPE_CHECKING:
    from krea_mcp.catalog.models import ModelInfo
    from krea_mcp.job import Job, JobRecord
    from krea_mcp.settings import Settings
    from krea_mcp.workflow.durations import DurationBook

#: A create still counts as overlapping others this long after it began (longer than any create's retries).
CREATE_MEMORY_S = 300.0
#: A create that ended this long before another began cannot have made a job the other's reconciliation considers
#: (it looks at jobs created from 2 s before its own send; worker clocks may differ a little).
CLOCK_MARGIN_S = 5.0
#: The outcome of a create still in flight, and of one whose answer was lost and not matched to a job.
IN_FLIGHT, UNCLEAR, NOTHING = "-", "?", "0"
#: Uploads remembered per caller (local state; Redis keeps them UPLOAD_TTL_S).
MAX_UPLOADS = 4096
#: Job records kept in this process's memory (local state: the whole deployment's; with Redis, a cache).
MAX_RECORDS = 20_000

#: Called with a job's key and its newest state when another worker publishes it.
UpdateFn = Callable[[str, "Job"], None]
#: Called with a job id when a webhook for it reached any worker.
WakeFn = Callable[[str], object]


@dataclass(slots=True)
class Reservation:
    """A job slot and its estimated price, reserved for ``caller`` before a create (``ident``: exactly-once release)."""

    caller: str
    price: float
    ident: str = field(default_factory=lambda: secrets.token_hex(8))


@dataclass(slots=True)
class CreateTicket:
    """One create request in flight: whose token (its caller key), and when it began (Unix time)."""

    caller: str
    ident: str
    started: float


class LocalState:
    """The embedded default: everything in this process (``KREA_MAX_JOBS`` then counts per process)."""

    #: How refusals name what the limits count.
    scope = "this server process"
    shared = False

    def __init__(self, max_jobs: int | None = None, max_usd: float | None = None) -> None:
        self.spend = SpendGuards(max_jobs, max_usd)
        #: Per caller: create id -> (started, outcome, ended or None), Unix times.
        self._creates: dict[str, dict[str, tuple[float, str, float | None]]] = {}
        self._pruned = 0.0
        self._uploads: dict[tuple[str, str], str] = {}
        #: The job records this process knows: with Redis, those it made or read there (a cache); alone, all of them.
        #: The job service reads and fills this same dict (``JobService.records``).
        self.records: dict[str, JobRecord] = {}
        self._links: dict[str, str] = {}

    @property
    def limited(self) -> bool:
        return self.spend.max_jobs is not None or self.spend.max_usd is not None

    # --- spend ----------------------------------------------------------------------------------------------------

    async def reserve(self, caller: str, info: ModelInfo, body: Mapping[str, Any] | None) -> Reservation:
        """Claim a job slot and this call's estimated price for ``caller``, or raise ``SpendLimitError``."""
        return Reservation(caller, self.spend.get(caller).reserve(info, body, scope=self.scope))

    async def release(self, reservation: Reservation) -> None:
        """Give the slot back: Krea certainly made no job for it (at most once per reservation)."""
        if reservation.ident:
            reservation.ident = ""
            self.spend.get(reservation.caller).release(reservation.price)

    async def commit(self, reservation: Reservation) -> None:
        """The job exists: the slot stays counted for good."""
        reservation.ident = ""

    # --- job records ----------------------------------------------------------------------------------------------

    async def save_record(self, record: JobRecord) -> bool:
        """Keep the record; True when every worker of the deployment can now see it."""
        self.records[record.job_id] = record
        while len(self.records) > MAX_RECORDS:
            del self.records[next(iter(self.records))]
        for uri in record.links():
            self._links[uri] = record.job_id
        while len(self._links) > 4 * MAX_RECORDS:
            del self._links[next(iter(self._links))]
        return True

    async def record(self, job_id: str) -> JobRecord | None:
        return self.records.get(job_id)

    async def records_of(self, caller: str, limit: int) -> list[JobRecord]:
        """The caller's newest records first."""
        mine = [r for r in self.records.values() if r.caller == caller]
        return sorted(mine, key=lambda r: r.recorded_at, reverse=True)[:limit]

    async def known(self, job_ids: Iterable[str]) -> set[str]:
        """Which of ``job_ids`` this deployment created."""
        return {j for j in job_ids if j in self.records}

    async def job_of_link(self, uri: str) -> str | None:
        """The job whose result URL or saved file ``uri`` is."""
        return self._links.get(uri)

    # --- creates in flight ----------------------------------------------------------------------------------------

    async def create_started(self, caller: str) -> CreateTicket:
        """Register a create about to be sent (raises ``SpendLimitError`` when the deployment cannot register it)."""
        now = time.time()
        ticket = CreateTicket(caller, secrets.token_hex(8), now)
        if now - self._pruned > 10:  # every caller's old creates go, and callers left with none
            self._pruned = now
            for who in list(self._creates):
                kept = {i: c for i, c in self._creates[who].items() if now - c[0] <= CREATE_MEMORY_S}
                if kept:
                    self._creates[who] = kept
                else:
                    del self._creates[who]
        self._creates.setdefault(caller, {})[ticket.ident] = (now, IN_FLIGHT, None)
        return ticket

    async def create_ended(self, ticket: CreateTicket, outcome: str) -> None:
        """The create ended: ``outcome`` is the job it made (recorded for every worker by now), ``NOTHING`` when Krea
        certainly made none, or ``UNCLEAR`` when a job may exist that nobody knows."""
        creates = self._creates.get(ticket.caller, {})
        if ticket.ident in creates:
            creates[ticket.ident] = (ticket.started, outcome, time.time())

    async def alone(self, ticket: CreateTicket) -> bool:
        """Whether every other create on the same token that overlapped this one (on any worker) has ended with a
        known outcome: then the one new job that is not theirs is this one's."""
        return _alone(ticket, self._creates.get(ticket.caller, {}))

    # --- uploads and durations ------------------------------------------------------------------------------------

    async def upload(self, caller: str, digest: str) -> str | None:
        return self._uploads.get((caller, digest))

    async def remember_upload(self, caller: str, digest: str, url: str) -> None:
        self._uploads[(caller, digest)] = url
        while len(self._uploads) > MAX_UPLOADS:
            del self._uploads[next(iter(self._uploads))]

    async def share_durations(self, book: DurationBook, model: str | None) -> None:
        """Send what ``book`` learned and take what other workers learned of ``model`` (nothing to do here)."""

    # --- polling --------------------------------------------------------------------------------------------------

    async def claim_poll(self, key: str, hold_s: float) -> bool:
        """Whether this worker polls the job ``key`` for the next ``hold_s`` seconds (always, alone)."""
        return True

    async def drop_poll(self, key: str) -> None:
        """This worker stops polling ``key`` (another may take over at once)."""

    async def publish(self, key: str, job: Job) -> None:
        """Tell the other workers' waiters what the poller just saw."""

    async def last_seen(self, key: str) -> Job | None:
        """What the deployment's poller of ``key`` saw last (None: nobody polls it, or not recently)."""
        return None

    async def wake(self, job_id: str) -> None:
        """A webhook for ``job_id`` reached this worker: wake its waiters on every worker (here: only this one)."""
        if self.on_wake is not None:
            self.on_wake(job_id)

    on_update: UpdateFn | None = None
    on_wake: WakeFn | None = None

    async def start(self) -> None:
        """Begin taking other workers' updates (nothing to take here)."""

    async def aclose(self) -> None:
        """Release connections."""


def _alone(ticket: CreateTicket, creates: Mapping[str, tuple[float, str, float | None]]) -> bool:
    """No other create in ``creates`` (ident -> (started, outcome, ended)) that overlapped ``ticket``'s is in flight or
    ended unclear: each one made a known (recorded) job or certainly none. One that ended well before this one began
    (``CLOCK_MARGIN_S``, more than the reconciliation's allowance for clock skew) made no job it looks at."""
    for ident, (_started, outcome, ended) in creates.items():
        if ident == ticket.ident or (ended is not None and ended < ticket.started - CLOCK_MARGIN_S):
            continue
        if outcome in (IN_FLIGHT, UNCLEAR):
            return False
    return True


def poll_key(caller: str, job_id: str) -> str:
    """One job as seen with one caller's token: the unit of polling (another token may not read that job)."""
    return f"{caller}:{job_id}"


def shared_state(settings: Settings, base_url: str) -> LocalState:
    """Where the deployment's shared state lives: Redis with KREA_REDIS_URL, else this process."""
    if settings.redis_url is None:
        return LocalState(settings.max_jobs, settings.max_spend_usd)
    from krea_mcp.workflow.redis_state import RedisState, account_of

    token = settings.api_token.get_secret_value() if settings.api_token else None
    return RedisState(
        settings.redis_url.get_secret_value(),
        api=base_url,
        account=account_of(token),  # two deployments on two Krea accounts never share a count or a record
        max_jobs=settings.max_jobs,
        max_usd=settings.max_spend_usd,
    )


def relay(state: LocalState) -> Callable[[str], Awaitable[bool]]:
    """What a webhook for a job does: wake its waiters on every worker, if the deployment created the job."""

    async def relay(job_id: str) -> bool:
        if not await state.known([job_id]):
            return False
        await state.wake(job_id)
        return True

    return relay
