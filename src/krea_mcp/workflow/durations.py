"""Learned run times per model: what the polling schedule expects of a job, from the jobs that finished before it.

Every job this server sees complete teaches its model's run time, measured with Krea's own timestamps:
``completed_at - created_at``, less the time the job was seen waiting (``backlogged`` behind the account's
concurrency limit, or ``queued``) after it was created. The moment it left the wait is taken halfway between
the last poll that saw it waiting and the first that saw it running; a job that was waiting at one poll and
finished at the next teaches nothing (its run time is unknown).

The estimate of a model is the median of its last ``CENTER_OF`` run times (one outlier does not move it; a
real shift moves it on the second job after it) and the window in which the recent ones ended (the smallest
and largest of the last ``SPREAD_OF``, widened by a margin that shrinks with the number of samples). The
catalog's typical time is only the prior for a model never seen.

The book is kept in a small JSON file (by default ``durations.json`` in the per-user cache directory), so a
restarted server keeps what it learned: at most ``MAX_MODELS`` models of ``MAX_SAMPLES`` run times each,
samples older than ``MAX_AGE_DAYS`` dropped, written atomically (a temporary file, then ``os.replace``) after
each learned job, merged with what another process wrote meanwhile. A file that is unreadable, too big, of
another format or version, or of another API is ignored and replaced. One book serves every caller of a
server (durations are not secrets).
"""

from __future__ import annotations

import contextlib
import json
import logging
import math
import os
import statistics
import tempfile
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from krea_mcp.job import Job
from krea_mcp.workflow.polling import DurationEstimate

log = logging.getLogger(__name__)

#: Statuses of a job that has not started running (``queued`` at creation is every job's first status and is not
#: counted as waiting; seen later it is).
WAITING = frozenset({"backlogged", "queued"})
#: The center of an estimate is the median of this many recent run times.
CENTER_OF = 3
#: The window of an estimate spans this many recent run times.
SPREAD_OF = 6
#: Relative margin around the recent run times (in log space), divided by the square root of their number:
#: wide after one job, narrower as evidence accumulates.
MARGIN = 0.4
#: Absolute margin on each side of the window, for the jitter of short jobs.
MARGIN_S = 0.15
MAX_SAMPLES = 8
MAX_MODELS = 64
MAX_AGE_DAYS = 30
#: A run time longer than this (6 hours) is not believed.
MAX_RUN_S = 6 * 3600.0
#: Jobs followed at once (waiting observations until they end); the oldest are forgotten beyond this.
MAX_TRACKED = 4096
FORMAT = "krea-mcp learned durations"
VERSION = 1
MAX_FILE_BYTES = 256 * 1024
MAX_MODEL_CHARS = 200


@dataclass(slots=True)
class Sample:
    """One learned run time: ``seconds``, learned at ``at`` (Unix time)."""

    seconds: float
    at: float


@dataclass(slots=True)
class _Track:
    """What was seen of one job until it ends, on the monotonic clock."""

    model: str
    #: The monotonic moment that corresponds to the job's ``created_at``.
    created: float
    #: The last moment it was seen waiting, and the first moment after that it was seen running.
    waiting_seen: float | None = None
    running_seen: float | None = None


def default_path() -> Path:
    """``durations.json`` in the per-user cache directory."""
    import platformdirs  # deferred: only needed when the book is kept in a file

    return Path(platformdirs.user_cache_dir("krea-mcp")) / "durations.json"


class DurationBook:
    """Learned run times per model, shared by every caller of one server; persisted to ``path`` (None: memory)."""

    def __init__(
        self,
        path: Path | None = None,
        *,
        api: str = "",
        clock: Callable[[], float] = time.monotonic,
        wall: Callable[[], float] = time.time,
    ) -> None:
        self.path, self.api = path, api
        self._clock, self._wall = clock, wall
        self._samples: dict[str, deque[Sample]] = {}
        self._tracks: dict[str, _Track] = {}
        #: Jobs already learned from (a finished job read again teaches nothing more).
        self._learned: dict[str, None] = {}
        #: Our wall clock minus Krea's, from the creates this server saw (for jobs it did not create).
        self._skew: deque[float] = deque(maxlen=5)
        self._warned = False
        #: Learned here and not yet sent to the deployment's shared state (``RedisState.share_durations``).
        self._unshared: list[tuple[str, Sample]] = []
        if path is not None:
            self._merge(self._read(path))

    # --- the estimate -------------------------------------------------------------------------------------------

    def estimate(self, model: str | None, prior_s: float) -> DurationEstimate:
        """The expected run time of a job on ``model`` and its likely window; ``prior_s`` when nothing is learned."""
        samples = [s.seconds for s in self._samples.get(model or "", ())]
        if not samples:
            return DurationEstimate(prior_s)
        center = statistics.median(samples[-CENTER_OF:])
        recent = samples[-SPREAD_OF:]
        margin = MARGIN / math.sqrt(len(recent))
        lo = min(min(recent), center) * math.exp(-margin) - MARGIN_S
        hi = max(max(recent), center) * math.exp(margin) + MARGIN_S
        return DurationEstimate(center, max(lo, 0.0), hi, learned=len(samples))

    def samples(self, model: str) -> list[float]:
        """The run times learned for ``model``, oldest first."""
        return [s.seconds for s in self._samples.get(model, ())]

    def learn(self, model: str, seconds: float) -> None:
        """Add one run time of ``model`` and save the book."""
        if not model or len(model) > MAX_MODEL_CHARS or not 0 < seconds <= MAX_RUN_S:
            return
        sample = Sample(round(seconds, 3), round(self._wall(), 3))
        self._add(model, sample, merging=False)
        self._unshared = [*self._unshared[-255:], (model, sample)]
        self.save()

    def take_unshared(self) -> list[tuple[str, Sample]]:
        """The run times learned here since the last call, for the other workers of the deployment."""
        taken, self._unshared = self._unshared, []
        return taken

    def return_unshared(self, samples: list[tuple[str, Sample]]) -> None:
        """Samples that could not be shared: tried again next time."""
        self._unshared = [*samples, *self._unshared][-256:]

    def merge_shared(self, model: str, pairs: list[tuple[float, float]]) -> None:
        """Run times of ``model`` the deployment learned, as (seconds, Unix time) pairs; each is added once."""
        good = [Sample(s, a) for s, a in pairs if 0 < s <= MAX_RUN_S and len(model) <= MAX_MODEL_CHARS]
        if good:
            self._merge({model: sorted(good, key=lambda s: s.at)[-MAX_SAMPLES:]})

    # --- what was seen of jobs ----------------------------------------------------------------------------------

    def created(self, job: Job, model: str | None) -> None:
        """A job Krea has just created (its ``created_at`` is now, on Krea's clock)."""
        if not model:
            return
        now = self._clock()
        created = job.created()
        if created is not None:
            self._skew.append(self._wall() - created.timestamp())
        track = self._track(job.job_id, _Track(model, now))
        if job.status == "backlogged":  # behind the concurrency limit from the start
            track.waiting_seen = now

    def seen(self, job: Job, model: str | None) -> None:
        """A status this server read; a completed job teaches its model's run time."""
        track = self._tracks.get(job.job_id)
        if track is None:
            if not model or job.terminal:
                self._learn_from(job, model, None)
                return
            track = self._track(job.job_id, _Track(model, self._clock() - self._age_s(job)))
        now = self._clock()
        if job.status in WAITING:
            track.waiting_seen, track.running_seen = now, None
        elif track.waiting_seen is not None and track.running_seen is None and not job.terminal:
            track.running_seen = now
        if job.terminal:
            self._tracks.pop(job.job_id, None)
            self._learn_from(job, track.model, track)

    def run_started(self, job_id: str) -> float | None:
        """The monotonic moment the job's run began, as far as this server knows (None: it never saw the job)."""
        track = self._tracks.get(job_id)
        if track is None:
            return None
        if track.waiting_seen is None:
            return track.created
        if track.running_seen is None:  # still waiting: its run has not begun
            return track.waiting_seen
        return (track.waiting_seen + track.running_seen) / 2

    def _learn_from(self, job: Job, model: str | None, track: _Track | None) -> None:
        if job.status != "completed" or not model or job.job_id in self._learned:
            return
        self._learned[job.job_id] = None
        while len(self._learned) > MAX_TRACKED:
            del self._learned[next(iter(self._learned))]
        total = _seconds_between(job.created_at, job.completed_at)
        if total is None:
            return
        waited = 0.0
        if track is not None and track.waiting_seen is not None:
            if track.running_seen is None:  # waiting at one look, finished at the next: run time unknown
                return
            waited = (track.waiting_seen + track.running_seen) / 2 - track.created
        run = total - max(waited, 0.0)
        if run > 0:
            self.learn(model, run)

    def _track(self, job_id: str, track: _Track) -> _Track:
        self._tracks[job_id] = track
        while len(self._tracks) > MAX_TRACKED:
            del self._tracks[next(iter(self._tracks))]
        return track

    def _age_s(self, job: Job) -> float:
        """Seconds since Krea created ``job``, on Krea's clock as this server knows it (0 when unknown)."""
        created = job.created()
        if created is None:
            return 0.0
        skew = statistics.median(self._skew) if self._skew else 0.0
        age = self._wall() - skew - created.timestamp()
        return age if 0 <= age <= MAX_RUN_S else 0.0

    # --- the file -----------------------------------------------------------------------------------------------

    def save(self) -> None:
        """Write the book to its file (merged with what another process wrote there since). Never raises."""
        if self.path is None:
            return
        self._merge(self._read(self.path))
        document = {
            "format": FORMAT,
            "version": VERSION,
            "api": self.api,
            "models": {m: [[s.seconds, s.at] for s in q] for m, q in self._samples.items()},
        }
        tmp: str | None = None
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(prefix=".durations-", suffix=".tmp", dir=self.path.parent)
            with os.fdopen(fd, "w", encoding="utf-8") as out:
                json.dump(document, out, separators=(",", ":"))
                out.flush()
                os.fsync(out.fileno())
            os.replace(tmp, self.path)
            tmp = None
        except OSError as exc:
            if not self._warned:
                log.warning("learned durations not saved to %s (kept in memory): %s", self.path, exc)
                self._warned = True
        finally:
            if tmp is not None:
                with contextlib.suppress(OSError):
                    os.unlink(tmp)

    def _read(self, path: Path) -> dict[str, list[Sample]]:
        """The samples of a valid, fresh file; nothing for a missing, corrupt, foreign, stale or oversized one."""
        try:
            with path.open("rb") as source:
                raw = source.read(MAX_FILE_BYTES + 1)
        except OSError:
            return {}
        if len(raw) > MAX_FILE_BYTES:
            return {}
        try:
            document = json.loads(raw)
        except ValueError:
            return {}
        if not isinstance(document, dict) or document.get("format") != FORMAT:
            return {}
        if document.get("version") != VERSION or document.get("api") != self.api:
            return {}
        models = document.get("models")
        if not isinstance(models, dict):
            return {}
        oldest, newest = self._wall() - MAX_AGE_DAYS * 86_400, self._wall() + 86_400
        out: dict[str, list[Sample]] = {}
        for model, pairs in list(models.items())[: MAX_MODELS * 4]:
            if not isinstance(model, str) or not model or len(model) > MAX_MODEL_CHARS or not isinstance(pairs, list):
                continue
            kept = [
                Sample(round(float(p[0]), 3), round(float(p[1]), 3))
                for p in pairs[-MAX_SAMPLES * 4 :]
                if _pair(p) and 0 < p[0] <= MAX_RUN_S and oldest <= p[1] <= newest
            ]
            if kept:
                out[model] = kept
        return out

    def _merge(self, other: dict[str, list[Sample]]) -> None:
        for model, samples in other.items():
            for sample in samples:
                self._add(model, sample)
        if len(self._samples) > MAX_MODELS:  # the models learned most recently stay
            newest = set(sorted(self._samples, key=lambda m: self._samples[m][-1].at, reverse=True)[:MAX_MODELS])
            self._samples = {m: q for m, q in self._samples.items() if m in newest}

    def _add(self, model: str, sample: Sample, *, merging: bool = True) -> None:
        """Add ``sample`` in the order of learning; one read back from the file is added once."""
        queue = self._samples.get(model)
        if queue is None:
            queue = self._samples[model] = deque(maxlen=MAX_SAMPLES)
        if merging and any(s.at == sample.at and s.seconds == sample.seconds for s in queue):
            return
        if queue and sample.at < queue[-1].at:  # another process's sample: keep the order of learning
            ordered = sorted([*queue, sample], key=lambda s: s.at)[-MAX_SAMPLES:]
            queue.clear()
            queue.extend(ordered)
        else:
            queue.append(sample)


def _pair(value: Any) -> bool:
    return (
        isinstance(value, list)
        and len(value) == 2
        and all(isinstance(v, int | float) and not isinstance(v, bool) and math.isfinite(v) for v in value)
    )


def _seconds_between(start: str | None, end: str | None) -> float | None:
    """``end - start`` in seconds from two of Krea's ISO timestamps (None when either is missing or unreadable)."""
    moments: list[datetime] = []
    for text in (start, end):
        try:
            moment = datetime.fromisoformat((text or "").replace("Z", "+00:00"))
        except ValueError:
            return None
        moments.append(moment if moment.tzinfo else moment.replace(tzinfo=UTC))
    return (moments[1] - moments[0]).total_seconds()
