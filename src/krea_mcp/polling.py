"""When to poll a job next: sparse early, dense around the model's typical finish, backing off after.

Krea documents polling every 2-5 s. A fixed 2 s interval costs on average 1 s of lag after a job
completes and many GETs for long jobs. Job durations are known per model (the catalog's ``typical_s``),
so the schedule spends its GETs where completion is likely:

* until 60 % of the typical duration: wait a quarter of the typical duration (1-8 s) — the job cannot be done yet;
* from 60 % to 150 % of it (plus 2 s): poll every 0.5 s — lag after completion stays ≤ 0.5 s;
* after that: back off by 0.25 s per second overdue, up to 5 s — a job that overruns is running long anyway.
"""

from __future__ import annotations

DENSE_INTERVAL_S = 0.5
MAX_INTERVAL_S = 5.0


def next_poll_delay(elapsed_s: float, typical_s: float, fixed_interval_s: float | None = None) -> float:
    """Seconds to sleep before the next status check of a job that has been running ``elapsed_s``."""
    if fixed_interval_s is not None:
        return fixed_interval_s
    typical_s = max(typical_s, 0.5)
    dense_from = 0.6 * typical_s
    dense_until = 1.5 * typical_s + 2.0
    if elapsed_s < dense_from:
        step = min(max(0.25 * typical_s, 1.0), 8.0)
        return max(min(step, dense_from - elapsed_s), DENSE_INTERVAL_S)
    if elapsed_s < dense_until:
        return DENSE_INTERVAL_S
    return min(DENSE_INTERVAL_S + 0.25 * (elapsed_s - dense_until), MAX_INTERVAL_S)
