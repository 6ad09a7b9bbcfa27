"""The job workflow behind the tools: validate, submit, poll within a deadline. No MCP imports."""

from __future__ import annotations

import logging
import time
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

import anyio

from krea_mcp.catalog.job_kinds import JobRequest, request_body, request_note
from krea_mcp.catalog.models import Catalog
from krea_mcp.errors import (
    AmbiguousCreateError,
    BadRequestError,
    InvalidRequestError,
    JobAfterSubmitError,
    KreaAPIError,
    KreaConnectionError,
    KreaError,
    NotFoundError,
    RateLimitError,
    ServerError,
)
from krea_mcp.job import Job, JobRecord, Outcome
from krea_mcp.krea.caller import caller_key
from krea_mcp.krea.client import KreaClient
from krea_mcp.krea.job_creation import create_job, maybe_applied
from krea_mcp.krea.retry import retry_budget
from krea_mcp.settings import Settings
from krea_mcp.workflow.durations import WAITING, DurationBook
from krea_mcp.workflow.image_inputs import ImageInputs, is_remote
from krea_mcp.workflow.job_watch import FOLLOW_CHECK_S, Watch, Watches
from krea_mcp.workflow.polling import DurationEstimate, next_poll_delay
from krea_mcp.workflow.result_delivery import Delivery
from krea_mcp.workflow.shared import NOTHING, UNCLEAR, LocalState, poll_key
from krea_mcp.workflow.wakeups import FALLBACK_EVERY_S, Wakeups

if TYPE_CHECKING:
    from krea_mcp.files.image_saver import SaveTarget
    from krea_mcp.krea.downloads import Downloader
    from krea_mcp.workflow.style_book import StyleBook

log = logging.getLogger(__name__)

#: Called with (the job's run time so far, its expected run time, message), both in seconds; the MCP layer turns
#: it into progress notifications.
ProgressFn = Callable[[float, float, str], Awaitable[None]]

#: Called once with a job the moment Krea has created it (publishing it, naming it in progress).
CreatedFn = Callable[["Outcome"], Awaitable[None]]

_TRANSIENT = (KreaConnectionError, ServerError, RateLimitError)
PROGRESS_EVERY_S = 3.0
#: The deadline (anyio time) of the tool call under way in this task, for what follows the wait: a finished
#: training's style lookup uses what is left of it (set by ``wait`` and ``submit``; ``get`` passes its own).
_CALL_DEADLINE: ContextVar[float | None] = ContextVar("krea_call_deadline", default=None)


@dataclass
class JobService:
    """Generate, check and wait for jobs. One per server lifetime."""

    client: KreaClient
    settings: Settings
    catalog: Catalog
    #: Multiplies catalog durations (the sandbox runs jobs faster than real Krea).
    duration_scale: float = 1.0
    #: The longest any job is expected to run (the sandbox caps its long jobs; None: the catalog's times).
    max_expected_s: float | None = None
    inputs: ImageInputs | None = None
    delivery: Delivery | None = None
    #: Fetches URLs from Krea's answers under the download rules (downloads.py); None only in bare test setups.
    downloader: Downloader | None = None
    #: Looks up trained styles (LoRAs) for the caller; None only in bare test setups (styles then go unchecked).
    styles: StyleBook | None = None
    #: What the deployment's workers share (spend guards, records, creates in flight, polling): this process alone by
    #: default, Redis with KREA_REDIS_URL.
    shared: LocalState = field(default_factory=LocalState)
    #: Run times learned per model from the jobs seen to complete (shared by every caller; memory only by default).
    durations: DurationBook = field(default_factory=DurationBook)
    #: The sleeps between polls, which Krea's webhook call ends early (HTTP mode with KREA_WEBHOOK_URL; else plain).
    wakeups: Wakeups = field(default_factory=Wakeups)
    #: One poller per job, however many calls wait for it.
    watches: Watches = field(init=False)

    def __post_init__(self) -> None:
        self.watches = Watches(self.shared)

    @property
    def records(self) -> dict[str, JobRecord]:
        """The jobs this process knows the records of (created here, or read from the shared state): the shared
        state's own dict, so a record is kept once."""
        return self.shared.records

    async def submit(self, request: JobRequest, *, deadline: float | None = None) -> tuple[Job, str]:
        """Validate locally, then POST to the operation's path. Raises before the POST for anything Krea would reject.

        Any job kind: the request's kind chooses the operations its model is looked up in and the adapter that builds
        the body. Uploads of local inputs end by ``deadline`` (anyio time; default KREA_WAIT_S from now) or the call
        fails with nothing created and nothing reserved; the POST itself, once sent, is never cut.
        """
        operation = self.catalog.find(request.model, request.kind)
        refs = request.references()
        # Validate with stand-in URLs first, so a bad size or field never triggers an upload.
        stand_in = request_body(operation, request.with_references({k: _stand_ins(v, k) for k, v in refs.items()}))
        # URLs go to Krea as they were checked (stripped); local references stay as given until uploaded.
        refs = {k: [r.strip() if _remote(r) else r for r in v] for k, v in refs.items()}
        request = request.with_references(refs)
        if self.inputs is not None:  # every local file and data: URI checked before any is uploaded
            self.inputs.check(refs)
        styles_note = None
        _CALL_DEADLINE.set(deadline if deadline is not None else anyio.current_time() + self.settings.wait_s)
        if self.styles is not None and stand_in.get("styles"):  # each exists, is the caller's to use, fits the model
            until = deadline if deadline is not None else anyio.current_time() + self.settings.wait_s
            styles_note = await self.styles.check(operation, stand_in["styles"], deadline=until)
        caller = caller_key()
        # Priced by this call's fields, counted for the whole deployment; a refused call uploads nothing.
        reservation = await self.shared.reserve(caller, operation, stand_in)
        try:
            if self.inputs is not None and _uploads(refs):
                until = deadline if deadline is not None else anyio.current_time() + self.settings.wait_s
                request = request.with_references(await self._upload_inputs(refs, until))
            body = request_body(operation, request)
        except BaseException:
            with anyio.CancelScope(shield=True):
                await self.shared.release(reservation)
            raise
        # Once the create is sent it runs to its answer and the job is recorded even if the host cuts the call:
        # cancelling here could leave a paid job whose id nobody learns. (Bounded by the request timeout and the
        # retry budget.)
        with anyio.CancelScope(shield=True):
            try:  # registered for every worker, or refused before anything is sent
                ticket = await self.shared.create_started(caller)
            except BaseException:
                await self.shared.release(reservation)
                raise
            outcome = UNCLEAR
            try:
                job, note = await create_job(
                    self.client,
                    operation,
                    body,
                    state=self.shared,
                    ticket=ticket,
                    reservation=reservation,
                    budget_s=self.settings.wait_s,
                )
                await self.shared.commit(reservation)
                record = self.records[job.job_id] = JobRecord(job.job_id, operation.id, request.prompt, note)
                record.expected_size = _asked_size(operation.kind, body)
                record.kind = operation.kind
                # Only a job every worker can see is one the others' reconciliations leave alone.
                outcome = job.job_id if await self.shared.save_record(record) else UNCLEAR
            except BadRequestError as exc:  # a style Krea no longer lets the caller use: forgotten, said as such
                outcome = NOTHING
                if styles_note is None or self.styles is None or "style" not in str(exc).lower():
                    raise
                raise self.styles.refused(exc, stand_in["styles"]) from None
            except KreaError as exc:  # Krea certainly made nothing, or a job may exist that nobody knows
                certain = not maybe_applied(exc) and not isinstance(exc, AmbiguousCreateError)
                # A lost answer after which no new job appeared was said to have most likely made none: others'
                # reconciliations take it at its word, as the caller is told to.
                none_seen = isinstance(exc, AmbiguousCreateError) and not exc.candidates
                outcome = NOTHING if certain or none_seen else UNCLEAR
                raise
            finally:
                await self.shared.create_ended(ticket, outcome)
        try:  # recorded first: a note that cannot be built never hides the job
            extra = request_note(operation, request, body)
        except Exception:
            log.exception("could not describe the request of job %s", job.job_id)
            extra = None
        record.note = "\n".join(n for n in (styles_note, extra, note) if n) or None
        if record.note:
            await self.shared.save_record(record)
        log.info("created job %s on %s", job.job_id, operation.id)
        return job, operation.id

    async def _upload_inputs(self, refs: dict[str, list[str]], deadline: float) -> dict[str, list[str]]:
        """Upload local images (in parallel, within the bound ImageInputs sets) before ``deadline``."""
        assert self.inputs is not None
        seconds = max(0.0, deadline - anyio.current_time())
        try:
            with anyio.fail_after(seconds):
                return await self.inputs.resolve_all(refs)
        except TimeoutError:
            fields = " and ".join(name for name, items in refs.items() if _uploads({name: items}))
            raise KreaConnectionError(
                f"{fields}: uploading the input images to Krea did not finish within the {self.settings.wait_s:g} s "
                "this call may take (KREA_WAIT_S), so no job was started and nothing was charged. Try again (images "
                "already uploaded are not sent again), pass https URLs instead of local files, or raise KREA_WAIT_S.",
                sent=False,
            ) from None

    async def generate(
        self,
        params: JobRequest,
        *,
        wait: bool,
        deadline_s: float,
        progress: ProgressFn | None = None,
        save_to: str | None = None,
        on_created: CreatedFn | None = None,
        granted: Path | None = None,
    ) -> Outcome:
        """One deadline for the whole call: time spent uploading and creating the job comes out of the wait.

        A request already in flight is never cut (that could leave a job half-created); only waiting is.
        ``on_created`` runs the moment Krea returns the job (shielded: a host cutting the call cannot skip it), so
        its id is published before any waiting.
        """
        deadline = anyio.current_time() + deadline_s
        media = "video" if params.kind == "video" else "image"
        # checked before spending
        target = self.delivery.target(save_to, granted=granted, kind=media) if self.delivery else None
        with retry_budget(deadline_s), anyio.CancelScope() as scope:
            job, model = await self.submit(params, deadline=deadline)
            self.durations.created(job, model)
            scope.shield = True  # the job exists: publishing it must not be skipped by a cut call
            if on_created is not None:
                with anyio.move_on_after(2):
                    await on_created(Outcome(job, model))
        left = deadline - anyio.current_time()
        if not wait or job.terminal:
            outcome = Outcome(job, model)
        elif left <= 0:
            outcome = Outcome(job, model, timed_out=True)
        else:
            outcome = await self._wait(job, model, left, progress)
        return await self._finish(outcome, target, save_to, started=deadline - deadline_s)

    async def get(self, job_id: str) -> Outcome:
        """One look at the job; a finished training's style is looked up with what is left of the same deadline."""
        deadline = anyio.current_time() + self.settings.wait_s
        await self.load_record(job_id)
        with self._bounded(f"checking job {job_id}"):
            job = await self.client.get_job(job_id)
        self.durations.seen(job, self.model_of(job_id))
        return await self._with_trained_style(Outcome(job, self.model_of(job_id)), deadline=deadline)

    async def wait(
        self,
        job_id: str,
        timeout_s: float,
        progress: ProgressFn | None = None,
        save_to: str | None = None,
        granted: Path | None = None,
    ) -> Outcome:
        deadline = anyio.current_time() + timeout_s
        _CALL_DEADLINE.set(deadline)  # for a finished training's style lookup in _finish
        known = await self.load_record(job_id)  # a job this deployment started: its kind decides what save_to may name
        media = None if known is None else "video" if known.kind == "video" else "image"
        target = self.delivery.target(save_to, granted=granted, kind=media) if self.delivery else None
        with self._bounded(f"checking job {job_id}", timeout_s):
            # Unknown ids fail fast, before any waiting; a job someone already polls is not read again.
            job = await self.watches.first_look(poll_key(caller_key(), job_id), lambda: self.client.get_job(job_id))
        model = self.model_of(job_id)
        self.durations.seen(job, model)
        left = deadline - anyio.current_time()
        if job.terminal or left <= 0:
            outcome = Outcome(job, model, timed_out=not job.terminal)
        else:
            outcome = await self._wait(job, model, left, progress)
        return await self._finish(outcome, target, save_to, started=deadline - timeout_s)

    async def cancel(self, job_id: str) -> tuple[Outcome, bool]:
        """Cancel a running job. Returns the job and whether this call cancelled it (False: it had already ended)."""
        await self.load_record(job_id)
        with self._bounded(f"cancelling job {job_id}"):
            job = await self.client.get_job(job_id)
            if job.terminal:  # never DELETE a finished job: on Krea that deletes its record
                return Outcome(job, self.model_of(job_id)), False
            try:
                after = await self.client.cancel_job(job_id)
            except KreaError as exc:
                if not maybe_applied(exc):  # Krea refused it outright
                    raise
                # The DELETE may or may not have landed: look before sending another one.
                after = await self.client.get_job(job_id)
                if not after.terminal:
                    after = await self.client.cancel_job(job_id)
            if after is None or not after.terminal:
                after = await self.client.get_job(job_id)
        return Outcome(after, self.model_of(job_id)), after.status == "cancelled"

    @contextmanager
    def _bounded(self, what: str, seconds: float | None = None) -> Iterator[None]:
        """Requests that only read (or are safe to repeat) finish within the call's deadline, or fail clearly."""
        limit = seconds if seconds is not None else self.settings.wait_s
        try:
            with anyio.fail_after(limit), retry_budget(limit):
                yield
        except NotFoundError as exc:
            if not self.settings.sandbox:
                raise
            raise NotFoundError(  # not the token's fault: the emulator forgets its jobs when its process ends
                f"The job was not found while {what}: sandbox jobs live only in the server process that created them "
                "and vanish when it restarts (nothing is charged in the sandbox). Start a new one with generate_image.",
                status_code=exc.status_code,
                body=exc.body,
            ) from None
        except TimeoutError:
            raise KreaConnectionError(
                f"Krea did not answer while {what} within {limit:g} s. Nothing changed; try again shortly.", sent=True
            ) from None

    async def _finish(
        self, outcome: Outcome, target: SaveTarget | None, save_to: str | None, *, started: float | None = None
    ) -> Outcome:
        """Notes, then saving and previews. ``started``: when the call began (anyio time), so a video's download may
        use what is left of the host's cap on a call instead of the short budget images get."""
        outcome.save_to = save_to
        known = self.records.get(outcome.job.job_id)
        outcome.kind = known.kind if known is not None else None
        await self._with_trained_style(outcome)
        record = self.records.get(outcome.job.job_id)
        if record is not None and record.note:
            outcome.notes.append(record.note)
        if outcome.job.urls_note:
            outcome.notes.append(outcome.job.urls_note)
        if self.delivery is not None:
            elapsed = anyio.current_time() - started if started is not None else None
            await self.delivery.deliver(
                outcome,
                target,
                record.prompt if record else "image",
                expected=record.expected_size if record else None,
                kind=record.kind if record else None,
                elapsed_s=elapsed,
            )
        if record is not None and record.caller == caller_key():  # its links, for any worker to serve
            files = [*record.files, *(uri for uri in (f.as_uri() for f in outcome.files) if uri not in record.files)]
            if (list(outcome.job.urls), files) != (record.urls, record.files):
                record.urls, record.files = list(outcome.job.urls), files
                with anyio.CancelScope(shield=True):
                    await self.shared.save_record(record)
        return outcome

    async def _with_trained_style(self, outcome: Outcome, *, deadline: float | None = None) -> Outcome:
        """A completed style training says first how to apply the style it made (its details looked up within what
        is left of the call's ``deadline``, anyio time; by default the one ``wait`` or ``submit`` set).

        A training that has ended keeps only the part of its note that still matters: the estimate and the advice
        to wait for it are dropped from its record.
        """
        from krea_mcp.catalog.training_params import finished_note, is_training

        record = self.records.get(outcome.job.job_id)
        if record is not None and record.note and outcome.job.terminal and is_training(outcome.job, record.model):
            record.note = finished_note(record.note)
        if self.styles is None:
            return outcome
        note = await self.styles.trained_note(
            outcome.job,
            deadline=deadline if deadline is not None else _CALL_DEADLINE.get(),
            generate_offered="generate" in self.settings.tools,
        )
        if note is not None:
            outcome.notes.insert(0, note)
        return outcome

    async def recent(self, limit: int) -> tuple[list[tuple[Job, JobRecord | None]], str | None]:
        """The caller's newest jobs from Krea's job list, with the model and prompt this server recorded for them.

        If Krea cannot be asked, the jobs this server recorded for the caller are listed instead (status unknown),
        and the second value says so.
        """
        mine = {r.job_id: r for r in await self.shared.records_of(caller_key(), max(limit, 100))}
        try:
            with self._bounded("listing jobs"):
                jobs = await self.client.list_jobs(limit=limit)
        except KreaError as exc:
            newest = sorted(mine.values(), key=lambda r: r.recorded_at, reverse=True)[:limit]
            stand_ins: list[tuple[Job, JobRecord | None]] = [
                (Job(job_id=r.job_id, status="unknown", created_at=r.recorded_at.isoformat()), r) for r in newest
            ]
            return stand_ins, f"Krea's job list could not be read ({exc}); showing the jobs this server started."
        return [(job, mine.get(job.job_id)) for job in jobs[:limit]], None

    async def load_record(self, job_id: str) -> JobRecord | None:
        """The record of a job this deployment created (from the shared state when another worker created it), kept
        in ``records``; None for any other job, or a job another caller created."""
        record = self.records.get(job_id)
        if record is None:
            record = await self.shared.record(job_id)
            if record is None or record.caller != caller_key():
                return None
            self.records[job_id] = record
        return record if record.caller == caller_key() else None

    def model_of(self, job_id: str) -> str | None:
        record = self.records.get(job_id)
        return record.model if record else None

    def typical_s(self, model: str | None) -> DurationEstimate:
        """The expected run time of a job on ``model``: learned from its recent jobs, else the catalog's at this
        server's pace (the sandbox runs faster and caps its long jobs)."""
        prior = self.catalog.expected_s(model, scale=self.duration_scale)
        if self.max_expected_s is not None:
            prior = min(prior, self.max_expected_s)
        return self.durations.estimate(model, prior)

    async def _wait(self, job: Job, model: str | None, deadline_s: float, progress: ProgressFn | None) -> Outcome:
        """Wait until terminal or the deadline. Cancellation propagates; the Krea job is never cancelled here.

        Every wait on the job (in this process, and with shared state on every worker) joins one ``Watch``; one of
        them polls at a time (``_poll_round``), the others take what it saw (``job_watch``).

        Progress is the job's own run time (from Krea's created_at, so a resumed wait continues where the job is,
        backlog excluded) against its expected run time; the first notification names the job id.
        """
        start = time.monotonic()
        typical = self.typical_s(model)
        # Where the job is in its schedule: a job picked up by wait_for_job is already part-way through; a job in
        # Krea's backlog has not started, so its clock starts when it leaves the backlog.
        known = self.durations.run_started(job.job_id)  # a job this server saw created: no clock skew
        running_since = known if known is not None else start - (0.0 if job.status in WAITING else _age_s(job))
        watch = self.watches.join(poll_key(caller_key(), job.job_id), job, running_since)
        last_report = -PROGRESS_EVERY_S
        last_status = ""

        async def report(force: bool) -> None:
            nonlocal last_report, last_status
            now, last = time.monotonic(), watch.job
            if progress is None or not (
                force or last.status != last_status or now - start - last_report >= PROGRESS_EVERY_S
            ):
                return
            first = not last_status
            last_report, last_status = now - start, last.status
            running = max(0.0, now - watch.running_since) if last.status != "backlogged" else 0.0
            expected = max(typical, running + PROGRESS_EVERY_S) if not last.terminal else max(running, 0.001)
            named = f"Job {job.job_id}: " if first else ""
            left = f", ~{typical - running:.0f} s left" if not last.terminal and typical - running >= 1 else ""
            message = f"{named}{last.status} · {running:.0f} s of ~{typical:.0f} s expected{left}"
            await progress(running, float(expected), message)

        try:
            with anyio.move_on_after(deadline_s):
                await report(force=True)
                while not watch.job.terminal:
                    if watch.failure is not None:
                        raise watch.failure
                    if watch.polling:  # another wait on this job polls: take what it sees
                        await watch.changed_after(watch.version, FOLLOW_CHECK_S)
                    else:
                        watch.polling = True
                        try:
                            await self._poll_round(watch, model, typical)
                        finally:
                            watch.polling = False
                            watch.notify()  # the others see the news, or that nobody polls now
                    await report(force=False)
        finally:
            await self.watches.leave(watch)
        if model:
            with anyio.CancelScope(shield=True), anyio.move_on_after(2):
                await self.shared.share_durations(self.durations, model)
        last = watch.job
        waited = time.monotonic() - start
        return Outcome(last, model, waited_s=waited, timed_out=not last.terminal, poll_error=watch.poll_error)

    async def _poll_round(self, watch: Watch, model: str | None, typical: float) -> None:
        """One step of the job's poller: sleep until the next read of its schedule and read it, when this worker
        holds (or takes) the job's lease; else wait for what the worker that holds it publishes."""
        job_id = watch.job.job_id
        now = time.monotonic()
        backlogged = watch.job.status == "backlogged" and self.settings.poll_interval_s is None
        if watch.next_read_at is None:  # the schedule's next read; kept as it stands if this poller leaves
            if backlogged:  # behind the account's concurrency limit: paced by the queue, as learned by now
                delay = self.watches.backlog_delay(watch, self.typical_s(model))
            else:
                delay = next_poll_delay(now - watch.running_since, typical, self.settings.poll_interval_s)
            watch.next_read_at = now + delay
        delay = max(0.0, watch.next_read_at - now)
        webhooked = self.wakeups.webhooks and self.wakeups.trusted and self.wakeups.ours(job_id)
        hold = max(delay, FALLBACK_EVERY_S) if webhooked else delay
        if not await self.shared.claim_poll(watch.key, hold):
            watch.following = True  # another worker polls it: its reads arrive as updates
            await watch.changed_after(watch.version, FOLLOW_CHECK_S)
            return
        if not watch.leading:
            watch.leading = True
            await self.shared.publish(watch.key, watch.job)  # waits beginning elsewhere start from this
        if watch.following:  # taken over from a worker that stopped polling: its read is overdue
            watch.following = False
        elif backlogged:
            await self.watches.backlog_sleep(watch, lambda: self.typical_s(model))
        elif delay > 0:
            await self.wakeups.sleep(job_id, delay)
        try:
            last = await self.client.get_job(job_id)
        except _TRANSIENT as exc:  # keep polling until the deadline; the job is still out there
            watch.next_read_at, watch.read_at = None, time.monotonic()
            watch.poll_error = str(exc)
            log.warning("polling %s failed, will retry: %s", job_id, exc)
            if isinstance(exc, RateLimitError) and exc.retry_after:
                await anyio.sleep(exc.retry_after)
            return
        except KreaAPIError as exc:
            watch.failure = JobAfterSubmitError(job_id, exc)
            raise watch.failure from None
        watch.next_read_at, watch.read_at = None, time.monotonic()
        watch.poll_error = None
        self.durations.seen(last, model)  # a completed job teaches its model's run time
        known = self.durations.run_started(job_id)
        if known is not None or last.status in WAITING:
            watch.running_since = known if known is not None else time.monotonic()
        watch.update(last)
        if last.terminal:
            self.watches.ended(watch.key)
        with anyio.CancelScope(shield=last.terminal):  # an ending reaches the other workers even if this call ends
            await self.shared.publish(watch.key, last)


def _asked_size(kind: str, body: dict[str, object]) -> tuple[int, int] | None:
    """The output size an enhance body asks for (its width and height), to check against what Krea returns."""
    width, height = body.get("width"), body.get("height")
    if kind != "enhance" or not isinstance(width, int | float) or not isinstance(height, int | float):
        return None
    return int(width), int(height)


def _uploads(refs: dict[str, list[str]]) -> bool:
    """Whether any reference is a local file or data: URI (something this server uploads)."""
    return any(not _remote(ref) for items in refs.values() for ref in items)


def _remote(ref: str) -> bool:
    """``is_remote`` on the stripped reference, without copying a (possibly huge) data: URI to strip it."""
    return is_remote(ref[:64].lstrip())


def _stand_ins(refs: list[str], field: str = "images") -> list[str]:
    """Placeholder URLs for local references, for validating a body before uploading anything."""
    out = []
    for i, ref in enumerate(refs):
        if not isinstance(ref, str) or not ref or ref.isspace():
            raise InvalidRequestError(f"{field}: empty image reference.", field=field)
        out.append(ref.strip() if _remote(ref) else f"https://upload.invalid/{i}.png")
    return out


def _age_s(job: Job) -> float:
    """Seconds since Krea created the job, or 0 when unknown or implausible (clock skew)."""
    created = job.created()
    age = (datetime.now(UTC) - created).total_seconds() if created else 0.0
    return age if 0 <= age <= 86_400 else 0.0
