"""One poller per job, however many calls wait for it.

Within a process every waiter on a job joins one ``Watch``: at any moment one of them (``polling``) sleeps on the
job's schedule and reads it; the others wait for what it saw. If the poller's call ends (its deadline, the host
cutting it) another waiter takes over at once, from where the schedule stands.

Across the workers of a deployment (``KREA_REDIS_URL``) the poller must also hold the job's lease in the shared
state (``claim_poll``), renewed at every read for the time until its next read plus a grace; it publishes what it
reads to the other workers, whose waiters take it from there (their own ``Watch`` is updated, nobody reads Krea). A
worker whose claim fails checks again every ``FOLLOW_CHECK_S``: if the poller's worker dies, its lease runs out
``LEASE_GRACE_S`` after the read it missed, and the next check takes over and reads at once.

The first look of a wait (``first_look``) is shared the same way: a job someone already polls is not read again.
"""

from __future__ import annotations

import bisect
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

import anyio

from krea_mcp.job import Job
from krea_mcp.workflow.shared import LocalState

#: A worker that does not poll a job looks this often whether its poller is still alive.
FOLLOW_CHECK_S = 1.0
#: A wait that begins takes the state its process last read if no older than this; else it reads (shared).
FRESH_S = 2.0
#: How long a wait that begins asks the shared state what the deployment's poller saw, before reading Krea itself.
SHARED_LOOK_S = 0.5
#: A job waiting in Krea's backlog is looked at again after at most this long (the sparse polling's longest wait).
BACKLOG_MAX_S = 8.0
#: How long a caller's backlog ranking is reused before it is counted again (at once after a wait on one of its jobs
#: began or ended: a job ranked against a list that lacks those ahead of it would be looked at far too early).
BACKLOG_RECOUNT_S = 0.5


@dataclass(eq=False)
class Watch:
    """One job as this process's waiters see it: its newest state and who polls it."""

    key: str
    job: Job
    #: The monotonic moment the job's run began, as far as this process knows (its polling schedule runs from it).
    running_since: float
    version: int = 0
    changed: anyio.Event = field(default_factory=anyio.Event)
    #: A waiter of this process is the poller now.
    polling: bool = False
    #: This process holds the job's poll lease (it has read the job for the deployment at least once).
    leading: bool = False
    #: The last claim failed: another worker polls; on taking over, read at once (its read is overdue).
    following: bool = False
    waiters: int = 0
    #: When the job was last read (monotonic), and when the schedule reads it next: a poller that leaves (its call
    #: ended) hands the schedule on as it stands, and a read it left unfinished is made at once by the next one.
    read_at: float = field(default_factory=time.monotonic)
    next_read_at: float | None = None
    #: The last transient error of a read, cleared by the next good one.
    poll_error: str | None = None
    #: An error that ends every wait on the job (Krea refused to read it).
    failure: BaseException | None = None

    def update(self, job: Job) -> None:
        """A newer state of the job (a terminal state is never replaced)."""
        if self.job.terminal and not job.terminal:
            return
        self.job = job
        self.version += 1
        self.notify()

    def notify(self) -> None:
        event, self.changed = self.changed, anyio.Event()
        event.set()

    async def changed_after(self, version: int, within_s: float) -> None:
        """Return when the state is newer than ``version``, the poller gives up, or ``within_s`` pass."""
        if self.version != version:
            return
        with anyio.move_on_after(within_s):
            await self.changed.wait()


class Watches:
    """The watches of this process, by job key (``shared.poll_key``), and the first looks in progress."""

    def __init__(self, state: LocalState) -> None:
        self.state = state
        self._watches: dict[str, Watch] = {}
        self._looks: dict[str, _Look] = {}
        #: Per caller: when its backlog was counted, its waiting jobs' created_at (sorted), and its running jobs.
        self._backlogs: dict[str, tuple[float, list[str], int]] = {}
        #: Per caller: set when one of its jobs ends, so its backlogged jobs look again at their place in the queue.
        self._advanced: dict[str, anyio.Event] = {}
        #: Callers whose watches changed (a wait began or ended) since their backlog was counted.
        self._changed: set[str] = set()
        state.on_update = self.remote_update

    def __len__(self) -> int:
        return len(self._watches)

    def backlog_delay(self, watch: Watch, typical: float) -> float:
        """When to look again at a job in Krea's backlog (behind the account's concurrency limit): it cannot end before
        its model's shortest run after it starts, nor start before the jobs ahead of it (this caller's backlogged jobs
        created earlier) have run, at the pace of this caller's running jobs. Half the time to its expected start, at
        least the shortest run, at most ``BACKLOG_MAX_S``: the head of the queue is looked at as often as a job could
        end, the tail rarely, so polling grows with the jobs running, not with the jobs waiting."""
        caller = watch.key.split(":", 1)[0]
        now = time.monotonic()
        counted = self._backlogs.get(caller)
        if counted is None or caller in self._changed or now - counted[0] > BACKLOG_RECOUNT_S:
            self._changed.discard(caller)
            mine = [w for w in self._watches.values() if w.key.split(":", 1)[0] == caller and not w.job.terminal]
            waiting = sorted(w.job.created_at or "" for w in mine if w.job.status == "backlogged")
            running = len(mine) - len(waiting)
            counted = self._backlogs[caller] = (now, waiting, running)
            for gone in [c for c, (at, _, _) in self._backlogs.items() if now - at > 60]:
                del self._backlogs[gone]
        _, waiting, running = counted
        ahead = bisect.bisect_left(waiting, watch.job.created_at or "")
        shortest = min(getattr(typical, "lo", 0.8 * typical), float(typical))
        start_in = ahead * float(typical) / max(running, 1)
        return min(max(shortest, start_in / 2, 0.25), BACKLOG_MAX_S)

    async def backlog_sleep(self, watch: Watch, typical: Callable[[], float]) -> None:
        """Sleep a backlogged job's ``backlog_delay``, counted again (from the same start) whenever one of the caller's
        jobs ends: the queue moved, and the head of it may now be due."""
        caller = watch.key.split(":", 1)[0]
        since = anyio.current_time()
        while (left := since + self.backlog_delay(watch, typical()) - anyio.current_time()) > 0:
            event = self._advanced.setdefault(caller, anyio.Event())
            with anyio.move_on_after(left):
                await event.wait()
                self._backlogs.pop(caller, None)  # recount: one fewer running, the queue one shorter

    def ended(self, key: str) -> None:
        """A job of this caller ended (seen here or published by another worker)."""
        caller = key.split(":", 1)[0]
        event = self._advanced.pop(caller, None)
        if event is not None:
            event.set()

    def get(self, key: str) -> Watch | None:
        return self._watches.get(key)

    def join(self, key: str, job: Job, running_since: float) -> Watch:
        watch = self._watches.get(key)
        if watch is None:
            watch = self._watches[key] = Watch(key, job, running_since)
        elif job.terminal:
            watch.update(job)
        watch.waiters += 1
        self._changed.add(key.split(":", 1)[0])
        return watch

    async def leave(self, watch: Watch) -> None:
        """A waiter is done; the last one gives up the job's lease so another worker's waiter takes over at once."""
        watch.waiters -= 1
        if watch.waiters > 0:
            return
        if self._watches.get(watch.key) is watch:
            del self._watches[watch.key]
            self._changed.add(watch.key.split(":", 1)[0])
        if watch.leading and not watch.job.terminal:
            with anyio.CancelScope(shield=True), anyio.move_on_after(2):
                await self.state.drop_poll(watch.key)

    def remote_update(self, key: str, job: Job) -> None:
        """Another worker's poller read the job: this process's waiters take it."""
        watch = self._watches.get(key)
        if watch is not None and job.job_id == watch.job.job_id:
            watch.update(job)
        if job.terminal:
            self.ended(key)

    async def first_look(self, key: str, read: Callable[[], Awaitable[Job]]) -> Job:
        """The job's current state for a wait that begins: what this process's or the deployment's poller saw last,
        else one read shared by every wait beginning at the same moment."""
        watch = self._watches.get(key)
        if watch is not None and time.monotonic() - watch.read_at <= FRESH_S:
            return watch.job
        look = self._looks.get(key)
        if look is None:
            look = self._looks[key] = _Look()
            try:
                seen = None
                with anyio.move_on_after(SHARED_LOOK_S):  # Redis slow or hung: read Krea instead
                    seen = await self.state.last_seen(key)
                look.job = seen if seen is not None else await read()
                if watch is not None and self._watches.get(key) is watch:
                    watch.update(look.job)
                    watch.read_at = time.monotonic()
            except BaseException as exc:
                look.error = exc
                raise
            finally:
                del self._looks[key]
                look.done.set()
            return look.job
        await look.done.wait()
        if look.job is None:
            if isinstance(look.error, Exception):
                raise look.error
            return await self.first_look(key, read)  # the first one was cancelled: look again
        return look.job


@dataclass(eq=False)
class _Look:
    done: anyio.Event = field(default_factory=anyio.Event)
    job: Job | None = None
    error: BaseException | None = None
