"""When to poll a job next: sparse early, dense where the job most likely ends, backing off after.

Krea documents polling every 2-5 s; a fixed 2 s interval costs on average 1 s of lag after a job completes
and one GET every 2 s however long the job. The schedule spends its GETs where completion is likely, from
an estimate of the job's run time (``DurationEstimate``):

* **Learned** (``durations.DurationBook``: the median of the model's last run times, and the window
  ``lo..hi`` in which the recent ones ended): one GET lands just after the expected finish (+0.05 s), the
  others ``step`` apart before it back to ``lo`` and after it up to ``hi``. A model that always takes the
  same time is seen 0.05 s after it finishes. ``step`` is the larger of ``sqrt(GET_COST_S x window width)``
  (the step that minimizes the lag plus GET_COST_S per GET for a finish spread over the window: a narrow
  window needs few GETs) and the step that keeps a job ending when expected (and its share of the late ones)
  within the GETs fixed 2 s polling would make on it; 0.1-1.25 s (longer only where 1.25 s would cost more
  than 1.5x those GETs and 2 more: a very wide window). With a wide spread the GETs fixed polling would spend
  before the window are spent inside it instead.
* **Catalog prior only** (a model never seen): dense every 0.5 s from 80 % of the typical duration to 150 %
  of it plus 2 s, as the catalog's times are rough. Before that, each wait covers 40 % of the time left
  (1.5-8 s), jumping straight there once under 2 s away; after it, the interval grows by 0.25 s per second
  overdue, up to 5 s.

Before a learned window, each wait covers half the time left until it (1.5-8 s) and jumps straight there once
under 7 s away: a job finishing early is still seen, at the window's first GET at the latest. After the window
the interval grows by 0.1 s per second overdue, up to 5 s (a job that overruns by far is slow anyway; one that
overruns a little is still seen soon). ``python -m bench --only lag`` measures the schedule against fixed 2 s
polling on the same jobs.
"""

from __future__ import annotations

import math
from typing import Self

DENSE_INTERVAL_S = 0.5
MAX_INTERVAL_S = 5.0
DENSE_FROM = 0.8  # fraction of the typical duration (catalog prior)
JUMP_WITHIN_S = 2.0  # catalog prior
SPARSE_SHARE = 0.4  # catalog prior
SPARSE_MIN_S, SPARSE_MAX_S = 1.5, 8.0

#: What one GET is worth in seconds of lag, to a learned schedule (a floor on its step for a narrow window).
GET_COST_S = 0.1
#: A job that ends when expected never costs more GETs than polling every this many seconds would (Krea's
#: documented advice is every 2-5 s).
BUDGET_INTERVAL_S = 2.0
#: The share of a learned window after the expected finish that the GET budget also pays for (late jobs).
LATE_SHARE = 0.3
#: The GET aimed at the expected finish comes this long after it.
AFTER_FINISH_S = 0.05
#: The step of a learned window stays within these bounds...
STEP_MIN_S, STEP_MAX_S = 0.1, 1.25
#: ...unless keeping it under STEP_MAX_S would cost more than this many times the GET budget (and 2 GETs more):
#: a very wide window.
MAX_OVERSPEND = 1.5
#: Before a learned window: each wait covers this share of the time left until it, jumping there within JUMP_S.
LEARNED_SHARE, LEARNED_JUMP_S = 0.5, 7.0
#: Past a learned window the interval grows by this many seconds per second overdue (up to MAX_INTERVAL_S).
OVERDUE_GROWTH = 0.1
#: No sleep is shorter than this (a window GET just passed is skipped, not made twice).
MIN_SLEEP_S = 0.05


class DurationEstimate(float):
    """A job's expected run time in seconds (a float, usable wherever a duration is), and the window ``lo..hi``
    in which it most likely ends. ``learned``: how many finished jobs the estimate rests on (0: the catalog's)."""

    lo: float
    hi: float
    learned: int

    def __new__(cls, seconds: float, lo: float | None = None, hi: float | None = None, learned: int = 0) -> Self:
        seconds = max(float(seconds), 0.0)
        estimate = super().__new__(cls, seconds)
        estimate.lo = min(seconds, seconds * DENSE_FROM if lo is None else lo)
        estimate.hi = max(seconds, 1.5 * seconds + 2.0 if hi is None else hi)
        estimate.learned = learned
        return estimate

    def __reduce__(self) -> tuple[type[DurationEstimate], tuple[float, float, float, int]]:
        return (type(self), (float(self), self.lo, self.hi, self.learned))

    def __repr__(self) -> str:
        return f"DurationEstimate({float(self):.3f}, lo={self.lo:.3f}, hi={self.hi:.3f}, learned={self.learned})"

    def step(self) -> float:
        """Seconds between the GETs of a learned window (see the module's docstring)."""
        center = float(self)
        worth = math.sqrt(GET_COST_S * (self.hi - self.lo))
        budget = max(0.5, center / BUDGET_INTERVAL_S + 0.5 - _sparse_gets(self.lo) - 1.0)
        span = center - self.lo + LATE_SHARE * (self.hi - center)
        at_most = span / max(budget * MAX_OVERSPEND, budget + 2.0)  # never far over budget for a very wide window
        return max(min(max(worth, span / budget), STEP_MAX_S), at_most, STEP_MIN_S)


def next_poll_delay(elapsed_s: float, typical_s: float, fixed_interval_s: float | None = None) -> float:
    """Seconds to sleep before the next status check of a job that has been running ``elapsed_s``.

    ``typical_s`` is a ``DurationEstimate`` (learned or not) or a plain number (the catalog's typical time).
    """
    if fixed_interval_s is not None:
        return fixed_interval_s
    if isinstance(typical_s, DurationEstimate) and typical_s.learned > 0:
        return _learned_delay(elapsed_s, typical_s)
    return _prior_delay(elapsed_s, float(typical_s))


def _prior_delay(elapsed_s: float, typical_s: float) -> float:
    """The schedule for a model known only from the catalog."""
    typical_s = max(typical_s, 0.5)
    dense_from = DENSE_FROM * typical_s
    dense_until = 1.5 * typical_s + 2.0
    if elapsed_s < dense_from:
        left = dense_from - elapsed_s
        if left <= JUMP_WITHIN_S:
            return max(left, 0.05)
        return min(max(SPARSE_SHARE * left, SPARSE_MIN_S), SPARSE_MAX_S, left)
    if elapsed_s < dense_until:
        return DENSE_INTERVAL_S
    return min(DENSE_INTERVAL_S + 0.25 * (elapsed_s - dense_until), MAX_INTERVAL_S)


def _learned_delay(elapsed_s: float, estimate: DurationEstimate) -> float:
    """The schedule for a model whose run times were learned: GETs at the window's points, sparse before them."""
    points = _window(estimate)
    if elapsed_s < points[0] - MIN_SLEEP_S:
        return _sparse_wait(points[0] - elapsed_s)
    for point in points:
        if point > elapsed_s + MIN_SLEEP_S:
            return point - elapsed_s
    return min(estimate.step() + OVERDUE_GROWTH * max(0.0, elapsed_s - points[-1]), MAX_INTERVAL_S)


def _window(estimate: DurationEstimate) -> list[float]:
    """The GETs of a learned window, in seconds of run time: one just after the expected finish, the others
    ``step`` apart, back to ``lo`` and on to ``hi``."""
    step = estimate.step()
    aim = float(estimate) + AFTER_FINISH_S
    before = min(256, math.floor((aim - estimate.lo) / step))
    after = min(256, max(0, math.floor((estimate.hi - aim) / step)))
    return [aim + k * step for k in range(-before, after + 1)]


def _sparse_wait(left: float) -> float:
    """Before a learned window: half the time left (1.5-8 s), or all of it once under ``LEARNED_JUMP_S``."""
    if left <= LEARNED_JUMP_S:
        return max(left, MIN_SLEEP_S)
    return min(max(LEARNED_SHARE * left, SPARSE_MIN_S), SPARSE_MAX_S, left)


def _sparse_gets(until_s: float) -> int:
    """How many GETs the sparse waits make before reaching ``until_s`` (the GET at ``until_s`` not counted)."""
    t, gets = 0.0, 0
    while until_s - t > MIN_SLEEP_S and gets < 64:
        t += _sparse_wait(until_s - t)
        gets += 1
    return max(gets - 1, 0)
