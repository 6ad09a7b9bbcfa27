"""Creating a job, the one call that spends credits: spend guard, safe retries, and lost-answer reconciliation."""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta
from typing import Any

import anyio

from krea_mcp.catalog.models import Operation
from krea_mcp.errors import AmbiguousCreateError, KreaConnectionError, KreaError, ServerError
from krea_mcp.job import Job
from krea_mcp.krea.client import KreaClient
from krea_mcp.krea.retry import retry_budget
from krea_mcp.workflow.shared import CreateTicket, LocalState, Reservation

log = logging.getLogger(__name__)

#: How far before our send time a job's created_at may be (clock skew between us and Krea).
RECONCILE_SKEW = timedelta(seconds=2)
RECOVERED_NOTE = (
    "Krea's answer to the create request was lost; this job was identified as the only new job since the "
    "request. Krea's job list does not say which model or prompt made it: if the image looks unrelated, say so."
)


#: Pauses before each look at GET /jobs: a new job can take a moment to appear in the list.
RECONCILE_PAUSES_S = (0.0, 0.5, 1.5)


async def create_job(
    client: KreaClient,
    operation: Operation,
    body: dict[str, Any],
    *,
    state: LocalState,
    ticket: CreateTicket,
    reservation: Reservation,
    budget_s: float,
) -> tuple[Job, str | None]:
    """POST the job to the operation's path (``reservation`` holds its slot in ``state``'s spend guard, given back
    here if Krea certainly made nothing; ``ticket`` is this create, registered with ``state``).

    When the answer is lost after sending, find the job in GET /jobs instead of sending again: the one new job that
    no create of the deployment knows, and only when no other create on the same token, on any worker, may have
    made it (``state.alone``).

    Returns the job and, when it was recovered from the job list, a note saying so.
    """
    sent_at = datetime.now(UTC)
    try:
        with retry_budget(budget_s):
            return await client.create_job(operation.path, body, model=operation.id), None
    except KreaError as exc:
        if not maybe_applied(exc):
            await state.release(reservation)
            raise
        job = await _reconcile(client, operation.id, sent_at, exc, state, ticket)
        return job, RECOVERED_NOTE


def maybe_applied(exc: KreaError) -> bool:
    """After this failure, could Krea have acted on the request? (A timeout after sending, a 5xx, a garbled 200.)"""
    return (isinstance(exc, KreaConnectionError) and exc.sent) or isinstance(exc, ServerError)


async def _reconcile(
    client: KreaClient, model: str, sent_at: datetime, cause: KreaError, state: LocalState, ticket: CreateTicket
) -> Job:
    """The create request was sent but its answer was lost: find the job it made, or say it is unclear."""
    log.warning("creating a %s job may have succeeded despite %s; checking GET /jobs", model, type(cause).__name__)
    since = sent_at - RECONCILE_SKEW
    candidates: list[Job] = []
    for pause in RECONCILE_PAUSES_S:  # a new job can take a moment to appear in the list
        await anyio.sleep(pause)
        try:
            recent = await client.list_jobs(limit=50)
        except KreaError:
            continue
        fresh = [j for j in recent if (j.created() or datetime.min.replace(tzinfo=UTC)) >= since]
        known = await state.known(j.job_id for j in fresh)
        candidates = [j for j in fresh if j.job_id not in known]
        if candidates:
            break
    # Then whether another create on the token may have made one of them. Any such create registered before its
    # POST, so before its job could be listed: it is seen here in flight, or ended with its job recorded (looked up
    # again now, as it may have been recorded since the list was read).
    alone = await state.alone(ticket)
    if candidates:
        known = await state.known(j.job_id for j in candidates)
        candidates = [j for j in candidates if j.job_id not in known]
    if len(candidates) == 1 and alone:
        log.warning("recovered job %s after a lost answer", candidates[0].job_id)
        return candidates[0]
    if candidates:
        ids = ", ".join(j.job_id for j in candidates)
        raise AmbiguousCreateError(
            f"Krea's answer to the request was lost ({cause}) and new jobs appeared since ({ids}) while other "
            "requests on the same Krea token (on any worker) were also starting jobs, so which one is this image "
            "cannot be told. Check them with get_job before calling generate_image again, which could start another "
            "paid job.",
            candidates=[j.job_id for j in candidates],
        )
    raise AmbiguousCreateError(
        f"Krea's answer to the request was lost ({cause}), and no new job appeared in the job list, so most "
        "likely none was created. Calling generate_image again is most likely safe.",
        candidates=[],
    )
