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

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

import anyio

from krea_mcp.job import Job
from krea_mcp.workflow.shared import LocalState

#: A worker that does not poll a job looks this often whether its poller is still alive.
FOLLOW_CHECK_S = 1.0


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
        state.on_update = self.remote_update

    def __len__(self) -> int:
        return len(self._watches)

    def get(self, key: str) -> Watch | None:
        return self._watches.get(key)

    def join(self, key: str, job: Job, running_since: float) -> Watch:
        watch = self._watches.get(key)
        if watch is None:
            watch = self._watches[key] = Watch(key, job, running_since)
        elif job.terminal:
            watch.update(job)
        watch.waiters += 1
        return watch

    async def leave(self, watch: Watch) -> None:
        """A waiter is done; the last one gives up the job's lease so another worker's waiter takes over at once."""
        watch.waiters -= 1
        if watch.waiters > 0:
            return
        if self._watches.get(watch.key) is watch:
            del self._watches[watch.key]
        if watch.leading and not watch.job.terminal:
            with anyio.CancelScope(shield=True), anyio.move_on_after(2):
                await self.state.drop_poll(watch.key)

    def remote_update(self, key: str, job: Job) -> None:
        """Another worker's poller read the job: this process's waiters take it."""
        watch = self._watches.get(key)
        if watch is not None and job.job_id == watch.job.job_id:
            watch.update(job)

    async def first_look(self, key: str, read: Callable[[], Awaitable[Job]]) -> Job:
        """The job's current state for a wait that begins: what this process's or the deployment's poller saw last,
        else one read shared by every wait beginning at the same moment."""
        watch = self._watches.get(key)
        if watch is not None:
            return watch.job
        look = self._looks.get(key)
        if look is None:
            look = self._looks[key] = _Look()
            try:
                seen = await self.state.last_seen(key)
                look.job = seen if seen is not None else await read()
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
