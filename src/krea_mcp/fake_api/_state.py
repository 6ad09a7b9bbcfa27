"""In-memory state of the fake Krea API: clock mapping, jobs, assets and the concurrency scheduler."""

from __future__ import annotations

import heapq
import math
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

JOB_STATUSES = (
    "backlogged",
    "queued",
    "scheduled",
    "processing",
    "sampling",
    "intermediate-complete",
    "completed",
    "failed",
    "cancelled",
)
TERMINAL = frozenset({"completed", "failed", "cancelled"})
# (upper bound of the elapsed fraction of the job's duration, status shown below it)
_STAGES = ((0.1, "queued"), (0.2, "scheduled"), (0.6, "processing"), (1.0, "sampling"))
_STALL_AT = 0.2
# With ``walk``: every non-terminal status in order, each for an equal share of the duration.
_WALK = ("backlogged", "queued", "scheduled", "processing", "sampling", "intermediate-complete")
_WALK_STAGES = tuple(((i + 1) / len(_WALK), name) for i, name in enumerate(_WALK))
_WALK_STALL_AT = _WALK.index("processing") / len(_WALK)
_CANCEL_AT = 0.5  # jobs the system cancels stop half-way


def iso(moment: datetime) -> str:
    """ISO 8601 UTC with millisecond precision and a ``Z`` suffix."""
    moment = moment.astimezone(UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def parse_iso(text: str) -> datetime | None:
    """Parse an ISO 8601 date-time (naive means UTC); None if malformed."""
    try:
        moment = datetime.fromisoformat(text.strip().replace("z", "Z"))
    except ValueError:
        return None
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment


def _to_ms(moment: datetime) -> datetime:
    return moment.replace(microsecond=moment.microsecond // 1000 * 1000)


class Timebase:
    """Maps the injected (usually monotonic) clock onto UTC wall-clock timestamps."""

    def __init__(self, clock: Callable[[], float]) -> None:
        self.clock = clock
        self._origin = clock()
        self._wall_origin = datetime.now(UTC)
        self._last_stamp: datetime | None = None

    def now(self) -> float:
        """The current clock reading."""
        return self.clock()

    def at(self, instant: float) -> datetime:
        """The wall-clock time of a clock reading, truncated to milliseconds."""
        return _to_ms(self._wall_origin + timedelta(seconds=instant - self._origin))

    def stamp(self) -> datetime:
        """A creation timestamp for now, strictly after every earlier stamp (so date cursors never tie)."""
        moment = self.at(self.now())
        if self._last_stamp is not None and moment <= self._last_stamp:
            moment = self._last_stamp + timedelta(milliseconds=1)
        self._last_stamp = moment
        return moment


@dataclass(eq=False)
class FakeJob:
    """One emulated generation job; its status is derived lazily from the clock."""

    job_id: str
    model: str
    body: dict[str, Any]
    created: datetime
    start: float
    duration: float
    fail_reason: str | None = None
    stalled: bool = False
    cancelled_at: float | None = None
    type: str = "externalImage"
    system_cancel: bool = False
    walk: bool = False
    #: The token that created the job (only checked when the emulator knows several users).
    owner: str = ""

    @property
    def prompt(self) -> str:
        """The request's prompt (empty if absent)."""
        return str(self.body.get("prompt", ""))

    @property
    def slot_end(self) -> float:
        """When this job frees its concurrency slot (never, for stalled jobs)."""
        end = self.finished_at()
        return math.inf if end is None else end

    def status(self, now: float) -> str:
        """The job's status at clock reading ``now``."""
        if self.cancelled_at is not None:
            return "cancelled"
        if now < self.start:
            return "backlogged"
        fraction = (now - self.start) / self.duration if self.duration > 0 else math.inf
        if self.stalled and fraction >= (_WALK_STALL_AT if self.walk else _STALL_AT):
            return "processing"
        if self.system_cancel and fraction >= _CANCEL_AT:
            return "cancelled"
        for bound, name in _WALK_STAGES if self.walk else _STAGES:
            if fraction < bound:
                return name
        return "failed" if self.fail_reason is not None else "completed"

    def finished_at(self) -> float | None:
        """The clock reading at which the job ends (None if it never ends by itself)."""
        if self.cancelled_at is not None:
            return self.cancelled_at
        if self.stalled:
            return None
        return self.start + self.duration * (_CANCEL_AT if self.system_cancel else 1.0)


@dataclass(eq=False)
class FakeAsset:
    """One uploaded file."""

    asset_id: str
    data: bytes
    mime_type: str
    created: datetime
    description: str | None = None
    width: int | None = None
    height: int | None = None


class Scheduler:
    """Assigns job start times under an optional concurrency limit; excess jobs wait in FIFO order."""

    def __init__(self, concurrency: int | None) -> None:
        if concurrency is not None and concurrency < 1:
            raise ValueError("concurrency must be at least 1")
        self.concurrency = concurrency
        self._free_at: list[float] = [-math.inf] * (concurrency or 0)  # min-heap of slot-free times

    def next_start(self, now: float) -> float:
        """When a job submitted now would start."""
        return now if self.concurrency is None else max(now, self._free_at[0])

    def add(self, job: FakeJob) -> None:
        """Occupy the earliest free slot with ``job`` (whose start came from ``next_start``)."""
        if self.concurrency is not None:
            heapq.heapreplace(self._free_at, job.slot_end)

    def rebuild(self, jobs: Iterable[FakeJob], now: float) -> None:
        """Recompute slots after a cancellation; waiting jobs move up into freed slots, in order."""
        if self.concurrency is None:
            return
        waiting: list[FakeJob] = []
        busy: list[float] = []
        for job in jobs:  # jobs come in creation order
            if job.cancelled_at is not None:
                continue
            if job.start > now:
                waiting.append(job)
            elif job.slot_end > now:
                busy.append(job.slot_end)
        self._free_at = busy + [now] * (self.concurrency - len(busy))
        heapq.heapify(self._free_at)
        for job in waiting:
            job.start = self.next_start(now)
            self.add(job)
