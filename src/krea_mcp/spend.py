"""A per-process guard against runaway agents: a cap on jobs started and on estimated spend.

A slot is reserved before the POST (so 100 concurrent calls cannot all slip under the cap), kept when a job
may exist, and released only when Krea certainly did not create one.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from .catalog import ModelInfo
from .errors import KreaError

#: Used for models whose price Krea does not publish; deliberately on the high side.
UNKNOWN_PRICE_USD = 0.25


class SpendLimitError(KreaError):
    """This server process reached KREA_MAX_JOBS or KREA_MAX_SPEND_USD."""


@dataclass(slots=True)
class SpendGuard:
    """Counts jobs and estimated USD for one server process (or one user, in multi-user mode)."""

    max_jobs: int | None = None
    max_usd: float | None = None
    jobs: int = 0
    usd: float = 0.0

    def reserve(self, info: ModelInfo) -> float:
        """Claim a job slot and its estimated price, or raise ``SpendLimitError``; returns the amount reserved."""
        price = info.usd_estimate if info.usd_estimate is not None else UNKNOWN_PRICE_USD
        if self.max_jobs is not None and self.jobs + 1 > self.max_jobs:
            raise SpendLimitError(
                f"Not submitted: this server already started {self.jobs} jobs, the limit set by KREA_MAX_JOBS "
                f"({self.max_jobs}). Nothing was charged. If more images are really wanted, ask the user to raise "
                "the limit and restart the server."
            )
        if self.max_usd is not None and self.usd + price > self.max_usd + 1e-9:
            raise SpendLimitError(
                f"Not submitted: {info.id} costs up to ~${price:.3f}, and this server has already spent an estimated "
                f"${self.usd:.2f} of its KREA_MAX_SPEND_USD budget (${self.max_usd:.2f}). Nothing was charged. "
                "A cheaper model (see list_models) may still fit; otherwise ask the user to raise the limit."
            )
        self.jobs += 1
        self.usd += price
        return price

    def release(self, price: float) -> None:
        """Give back a reservation for a request Krea certainly did not act on."""
        self.jobs -= 1
        self.usd -= price


@dataclass(slots=True)
class SpendGuards:
    """One guard per caller: the whole process normally, each token in multi-user mode."""

    max_jobs: int | None = None
    max_usd: float | None = None
    _guards: dict[str, SpendGuard] = field(default_factory=dict)

    def get(self, caller: str) -> SpendGuard:
        guard = self._guards.get(caller)
        if guard is None:
            guard = self._guards[caller] = SpendGuard(self.max_jobs, self.max_usd)
        return guard
