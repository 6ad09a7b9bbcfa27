"""A guard against runaway agents: a cap on jobs started and on estimated spend.

A slot is reserved before the POST (so 100 concurrent calls cannot all slip under the cap), kept when a job
may exist, and released only when Krea certainly did not create one. ``SpendGuard`` counts in this process; with
``KREA_REDIS_URL`` the same counts are kept in Redis for the whole deployment (``redis_state``), with the same
refusals (``jobs_refusal``, ``usd_refusal``).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from krea_mcp.catalog.models import ModelInfo
from krea_mcp.errors import SpendLimitError

#: Used for models whose price Krea does not publish; deliberately on the high side.
UNKNOWN_PRICE_USD = 0.25
#: The same for a video model (Runway Aleph): the dearest documented video call is $6.87 (Veo 3.1, 8 s).
UNKNOWN_VIDEO_PRICE_USD = 7.0
#: The frames of a default clip of a model whose length is a frame count (Wan: 81 frames, 5 s at 16 fps): its
#: published price is for such a clip, and a longer one is assumed to cost proportionally more.
DEFAULT_CLIP_FRAMES = 81
#: Enhancers: Krea publishes no price, and Topaz bills by output megapixels; each started block of this many output
#: megapixels is counted at UNKNOWN_PRICE_USD (Topaz's own list price is $0.08 per 24 MP block before any margin).
ENHANCE_MP_PER_BLOCK = 16
#: Body fields that multiply the work of a model whose published price is only an average (``~3 CU``).
_STEP_FIELDS = ("steps", "num_inference_steps")


def estimate_usd(info: ModelInfo, body: Mapping[str, Any] | None = None) -> float:
    """An upper bound of what one call to ``info`` costs in USD, never below Krea's published price.

    * Style training: the price per step (top of Krea's documented range) times the steps asked for, or the most
      steps Krea may choose when none are.
    * A video model priced per second of output: its top per-second rate times the length the body asks for (or
      the model's default length); its most expensive documented call when the length cannot be told.
    * A video model priced per job (Wan 2.1/2.2, whose length is a frame count): its price times the frames asked
      for over a default 81-frame clip (never less); a video model without any price: ``UNKNOWN_VIDEO_PRICE_USD``.
    * An enhancer (no published price): ``UNKNOWN_PRICE_USD`` per started block of ``ENHANCE_MP_PER_BLOCK`` output
      megapixels, so a 242 MP upscale is not counted like a 4 MP one.
    * Without a published price: ``UNKNOWN_PRICE_USD``.
    * The catalog's estimate is the most expensive documented case. With the request ``body``, a surcharge for a
      field the body does not use comes off (a Krea 2 call without style references or moodboard).
    * Where Krea publishes only an average (``~3 CU``, at the model's defaults), the estimate grows in proportion
      to steps and to pixels above those defaults: more work is assumed to cost at least proportionally more.
    """
    if info.usd_per_step is not None:  # style training: billed per step; Krea picks the steps when none are given
        return info.usd_per_step * training_steps(info, body)
    if info.usd_per_second is not None and body is not None:  # video priced per second of output
        from krea_mcp.catalog.video_params import seconds_of

        seconds = seconds_of(info, body)
        if seconds is not None:
            return info.usd_per_second * seconds
    if info.kind == "video":
        if info.usd_estimate is None:
            return UNKNOWN_VIDEO_PRICE_USD
        frames = max((_positive((body or {}).get(f)) or 0 for f in ("frame_num", "num_frames")), default=0)
        return info.usd_estimate * max(1.0, frames / DEFAULT_CLIP_FRAMES)
    if info.kind == "enhance" and info.usd_estimate is None:
        return UNKNOWN_PRICE_USD * _enhance_blocks(body)
    if info.usd_estimate is None:
        return UNKNOWN_PRICE_USD
    price = info.usd_estimate
    if body is None:
        return price
    price -= sum(charge for name, charge in info.usd_surcharges.items() if not body.get(name))
    if (info.compute_units or "").startswith("~"):
        price *= _work_factor(info, body)
    return price


def _enhance_blocks(body: Mapping[str, Any] | None) -> int:
    """Started blocks of ENHANCE_MP_PER_BLOCK megapixels in an enhancer body's output (1 when unknown)."""
    width, height = _positive((body or {}).get("width")), _positive((body or {}).get("height"))
    if width is None or height is None:
        return 1
    return max(1, math.ceil(width * height / 1e6 / ENHANCE_MP_PER_BLOCK))


def training_steps(info: ModelInfo, body: Mapping[str, Any] | None) -> int:
    """The steps a training body asks for, or the most it may take (the schema's maximum) when Krea chooses."""
    asked = _positive((body or {}).get("max_train_steps"))
    if asked is not None:
        return int(asked)
    return max(_schema_maxima(info.schema, "max_train_steps") or [2000])


def _schema_maxima(schema: Mapping[str, Any], name: str) -> list[int]:
    """The ``maximum`` of property ``name`` in ``schema`` and in each of its ``oneOf`` branches."""
    found = [int(m) for m in [schema.get("properties", {}).get(name, {}).get("maximum")] if m is not None]
    for branch in schema.get("oneOf", []):
        found += _schema_maxima(branch, name)
    return found


def _work_factor(info: ModelInfo, body: Mapping[str, Any]) -> float:
    """How many times the default work ``body`` asks for (never below 1)."""
    factor = 1.0
    for name in _STEP_FIELDS:
        default, value = _positive(info.properties.get(name, {}).get("default")), _positive(body.get(name))
        if default is not None and value is not None:
            factor *= max(1.0, value / default)
    width, height = _positive(body.get("width")), _positive(body.get("height"))
    if width is not None and height is not None:
        reference = _side(info, "width") * _side(info, "height")
        factor *= max(1.0, width * height / reference)
    return factor


def _side(info: ModelInfo, name: str) -> float:
    """The model's default width or height, or 1024 where it has none."""
    return _positive(info.properties.get(name, {}).get("default")) or 1024.0


def _positive(value: Any) -> float | None:
    """``value`` as a float when it is a positive number (not a bool), else None."""
    if isinstance(value, int | float) and not isinstance(value, bool) and value > 0:
        return float(value)
    return None


def _cheaper(info: ModelInfo) -> str:
    """What might still fit under the budget, for the kind of job refused."""
    if info.kind == "enhance":
        return "A smaller scale or long_side costs less (enhancers are priced by output megapixels)."
    if info.kind == "style-training":
        return "Fewer steps cost less (training is priced per step)."
    return "A cheaper model (see list_models) may still fit."


@dataclass(slots=True)
class SpendGuard:
    """Counts jobs and estimated USD for one server process (or one user, in multi-user mode)."""

    max_jobs: int | None = None
    max_usd: float | None = None
    jobs: int = 0
    usd: float = 0.0

    def reserve(
        self, info: ModelInfo, body: Mapping[str, Any] | None = None, *, scope: str = "this server process"
    ) -> float:
        """Claim a job slot and its estimated price, or raise ``SpendLimitError``; returns the amount reserved.

        ``body`` (the request as it will be sent; stand-in URLs are fine) prices this call's arguments; without it
        the most expensive case of the model is reserved. ``scope`` names what the counts cover, in refusals.
        """
        price = estimate_usd(info, body)
        if self.max_jobs is not None and self.jobs + 1 > self.max_jobs:
            raise SpendLimitError(jobs_refusal(self.jobs, self.max_jobs, scope))
        if self.max_usd is not None and self.usd + price > self.max_usd + 1e-9:
            raise SpendLimitError(usd_refusal(info, price, self.usd, self.max_usd, scope))
        self.jobs += 1
        self.usd += price
        return price

    def release(self, price: float) -> None:
        """Give back a reservation for a request Krea certainly did not act on."""
        self.jobs -= 1
        self.usd -= price


def jobs_refusal(jobs: int, limit: int, scope: str) -> str:
    """Why a job is refused by KREA_MAX_JOBS; ``scope`` names what is counted (this process, the deployment)."""
    return (
        f"Not submitted: {scope} already started {jobs} jobs, the limit set by KREA_MAX_JOBS ({limit}). Nothing "
        f"was charged. If more jobs are really wanted, ask the operator to raise the limit{_reset_hint(scope)}."
    )


def usd_refusal(info: ModelInfo, price: float, usd: float, limit: float, scope: str) -> str:
    """Why a job is refused by KREA_MAX_SPEND_USD."""
    return (
        f"Not submitted: {info.id} costs up to ~${price:.3f}, and {scope} has already spent an estimated "
        f"${usd:.2f} of its KREA_MAX_SPEND_USD budget (${limit:.2f}). Nothing was charged. {_cheaper(info)} "
        "Otherwise ask the operator to raise the limit."
    )


def _reset_hint(scope: str) -> str:
    return " and restart the server" if scope.endswith("process") else ""


#: Guards kept before those that never counted a job are dropped (a guard at zero holds nothing to remember).
IDLE_GUARDS_KEPT = 1024


@dataclass(slots=True)
class SpendGuards:
    """One guard per caller: the whole process normally, each token in multi-user mode."""

    max_jobs: int | None = None
    max_usd: float | None = None
    _guards: dict[str, SpendGuard] = field(default_factory=dict)

    def get(self, caller: str) -> SpendGuard:
        guard = self._guards.get(caller)
        if guard is None:
            if len(self._guards) >= IDLE_GUARDS_KEPT:  # callers that never started a job (a rejected token...)
                self._guards = {k: g for k, g in self._guards.items() if g.jobs or g.usd}  # hold nothing to forget
            guard = self._guards[caller] = SpendGuard(self.max_jobs, self.max_usd)
        return guard
