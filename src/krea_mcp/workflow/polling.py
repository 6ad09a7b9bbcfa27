"""When to poll a job next: sparse early, dense around the model's typical finish, backing off after.

Krea documents polling every 2-5 s; a fixed 2 s interval costs on average 1 s of lag after a job completes
and one GET every 2 s however long the job. Durations are known per model (the catalog's ``typical_s``), so
the schedule spends its GETs where completion is likely:

* before 80 % of the typical duration: each wait covers 40 % of the time left until then (1.5-8 s), and
  jumps straight there once it is under 2 s away. A job finishing early is still seen, with a lag of at most
  40 % of the time that was left.
* from 80 % of it to 150 % of it plus 2 s: a GET every 0.5 s, so the lag after completion is at most 0.5 s.
* after that: the interval grows by 0.25 s per second overdue, up to 5 s; a job that overruns is slow anyway.

For a job that takes its typical time this is about 2 GETs for a 2 s job, 6 for 7 s, 19 for 30 s and 39 for
70 s: well under one GET per second of job time (``python -m bench`` measures it against fixed 2 s polling).
"""

from __future__ import annotations

DENSE_INTERVAL_S = 0.5
MAX_INTERVAL_S = 5.0
DENSE_FROM = 0.8  # fraction of the typical duration
JUMP_WITHIN_S = 2.0
SPARSE_SHARE = 0.4
SPARSE_MIN_S, SPARSE_MAX_S = 1.5, 8.0


def next_poll_delay(elapsed_s: float, typical_s: float, fixed_interval_s: float | None = None) -> float:
    """Seconds to sleep before the next status check of a job that has been running ``elapsed_s``."""
    if fixed_interval_s is not None:
        return fixed_interval_s
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
