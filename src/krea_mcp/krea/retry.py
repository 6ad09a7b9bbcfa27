"""When to retry a Krea request, written down in one place.

* Reads (``GET /jobs/{id}``, ``GET /jobs``) and uploads are retried on connection errors, timeouts, 429
  and 5xx, with full-jitter exponential backoff (0.25 s doubling, at most 8 s per wait), at most 4 tries,
  and never past the caller's deadline (the enclosing anyio cancel scope).
* Creating a job (``POST /generate/image/...``) and cancelling one are retried only when Krea certainly did
  not act: the connection was never established, or Krea answered 429 (concurrency limit and backlog full).
  A timeout after sending or a 5xx may have created a job: that is not retried here but reconciled by the
  service against ``GET /jobs`` (never a silent second paid job).
* ``Retry-After`` (seconds) is honoured as the minimum wait, capped at 30 s.
"""

from __future__ import annotations

import logging
import math
import random
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from typing import TypeVar

import anyio

from krea_mcp.errors import KreaConnectionError, KreaError, RateLimitError, ServerError

log = logging.getLogger(__name__)
T = TypeVar("T")
_testing = False
_budget_deadline: ContextVar[float] = ContextVar("krea_retry_deadline", default=math.inf)


@contextmanager
def retry_budget(seconds: float) -> Iterator[None]:
    """Retries started inside this block give up rather than wait past ``seconds`` from now.

    Unlike a cancel scope, this never interrupts a request in flight (which could leave a job half-created).
    """
    token = _budget_deadline.set(min(_budget_deadline.get(), anyio.current_time() + seconds))
    try:
        yield
    finally:
        _budget_deadline.reset(token)


def set_testing(enabled: bool) -> None:
    """Make every retry wait zero seconds (the tries themselves still happen): keeps test suites fast."""
    global _testing
    _testing = enabled


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """Backoff parameters. ``RetryPolicy(base_s=0)`` retries immediately (tests)."""

    attempts: int = 4
    base_s: float = 0.25
    max_s: float = 8.0
    max_retry_after_s: float = 30.0

    def delay(self, attempt: int, retry_after: float | None = None, rand: Callable[[], float] = random.random) -> float:
        """Seconds to wait before try ``attempt + 1`` (``attempt`` counts from 0)."""
        backoff = rand() * min(self.max_s, self.base_s * 2.0**attempt)
        if retry_after is not None:
            return max(min(retry_after, self.max_retry_after_s), backoff)
        return backoff


def is_transient(exc: KreaError) -> bool:
    """Worth retrying a read: no answer, a 5xx, or 429."""
    return isinstance(exc, KreaConnectionError | ServerError | RateLimitError)


def certainly_not_applied(exc: KreaError) -> bool:
    """Safe to retry a write: the request never reached Krea, or Krea refused it with 429."""
    return (isinstance(exc, KreaConnectionError) and not exc.sent) or isinstance(exc, RateLimitError)


async def with_retries(
    op: Callable[[], Awaitable[T]], *, retryable: Callable[[KreaError], bool], policy: RetryPolicy, what: str
) -> T:
    """Run ``op``; on a retryable ``KreaError`` wait per ``policy`` and try again, within the caller's deadline."""
    attempt = 0
    while True:
        try:
            return await op()
        except KreaError as exc:
            if not retryable(exc) or attempt + 1 >= policy.attempts:
                raise
            delay = (
                0.0 if _testing else policy.delay(attempt, exc.retry_after if isinstance(exc, RateLimitError) else None)
            )
            deadline = min(anyio.current_effective_deadline(), _budget_deadline.get())
            if not math.isinf(deadline) and anyio.current_time() + delay >= deadline:
                raise  # waiting would run into the caller's deadline: report now instead
            log.info("%s failed (%s); retry %d in %.2f s", what, type(exc).__name__, attempt + 1, delay)
            await anyio.sleep(delay)
            attempt += 1
