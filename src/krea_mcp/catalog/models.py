"""The catalog of Krea operations (image models today), generated from Krea's OpenAPI by ``scripts/gen_catalog.py``.

Krea's API is uniform: ``POST /generate/{kind}/{provider}/{model}`` (and ``POST /styles/train``) returns a job,
``GET /jobs/{id}`` is polled, and the finished job carries ``result.urls`` (or ``result.style_id``). So an operation
is data: its kind, its POST path, its request schema, its typical duration, its price and what its result is.
"""

from __future__ import annotations

import difflib
import json
from dataclasses import dataclass, field
from functools import cache
from importlib import resources
from typing import Any, Literal

from krea_mcp.errors import KreaError, ModelSunsetError, UnknownModelError

#: The kinds of job Krea runs; the packaged catalog holds image, enhance, video and style-training operations.
Kind = Literal["image", "enhance", "video", "style-training"]
#: What a finished job of each kind carries: ``result.urls`` of images or videos, or ``result.style_id``.
Result = Literal["image/*", "video/*", "style_id"]

#: Expected run time of a job whose model the catalog cannot name (a job another process started, say).
UNKNOWN_TYPICAL_S = 20.0


@dataclass(frozen=True, slots=True)
class Operation:
    """One Krea operation: a POST path that starts a job. Its id is the path after ``/generate/{kind}/``."""

    id: str
    title: str
    summary: str
    schema: dict[str, Any]
    kind: Kind
    #: The POST path that starts the job (``/generate/image/bfl/flux-1-dev``, ``/styles/train``).
    path: str
    #: What the finished job's result holds.
    result: Result
    aliases: tuple[str, ...] = ()
    typical_s: float = UNKNOWN_TYPICAL_S
    typical_s_estimated: bool = True
    compute_units: str | None = None
    usd: str | None = None
    deprecated: bool = False
    inputs: tuple[str, ...] = ()
    #: Conservative upper estimate of one call's price in USD (None when Krea publishes nothing): the most
    #: expensive documented case, whatever the arguments.
    usd_estimate: float | None = None
    #: Parts of ``usd_estimate`` owed only when the request uses a field (Krea 2: style references, moodboard).
    usd_surcharges: dict[str, float] = field(default_factory=dict)
    #: An enhancer's largest output side in pixels (its documented limit: generative 16K, standard 22K, bloom 10K).
    max_side: int | None = None
    #: Price per training step in USD, top of the documented range (style training is billed per step).
    usd_per_step: float | None = None
    #: A video model's price per second of output in USD: the top rate among its documented cases (Krea's USD page,
    #: else its compute units per second), so ``usd_per_second * seconds`` bounds a call of that length.
    usd_per_second: float | None = None
    #: Frames per second of a video model that takes its length as a frame count (``frame_num``, ``num_frames``).
    frame_rate: float | None = None

    @property
    def properties(self) -> dict[str, Any]:
        props: dict[str, Any] = self.schema.get("properties", {})
        return props

    @property
    def required(self) -> tuple[str, ...]:
        return tuple(self.schema.get("required", ()))

    @property
    def price_hint(self) -> str | None:
        return self.usd or self.compute_units

    def expected_s(self, scale: float = 1.0) -> float:
        """How long a job of this operation is expected to run, in seconds (``scale``: the sandbox runs faster)."""
        return self.typical_s * scale


#: The name most of the code knows an operation by: today every operation in the packaged catalog is a model.
ModelInfo = Operation


@dataclass(frozen=True, slots=True)
class SunsetModel:
    """A model Krea has retired; its endpoint answers 410."""

    id: str
    sunset_date: str
    replacement: str | None
    migration_url: str | None
    kind: Kind = "image"


@dataclass(frozen=True, slots=True)
class Catalog:
    """Every operation by POST path, indexed by kind for lookups by id or alias."""

    operations: dict[str, Operation]
    sunset: dict[str, SunsetModel]
    by_kind: dict[str, dict[str, Operation]]
    aliases: dict[str, dict[str, str]]

    @classmethod
    def of(cls, operations: list[Operation], sunset: list[SunsetModel]) -> Catalog:
        """A catalog of ``operations`` (ids unique within a kind) and the models Krea retired."""
        by_kind: dict[str, dict[str, Operation]] = {}
        aliases: dict[str, dict[str, str]] = {}
        for op in operations:
            by_kind.setdefault(op.kind, {})[op.id] = op
            for alias in op.aliases:
                aliases.setdefault(op.kind, {})[alias] = op.id
        return cls({op.path: op for op in operations}, {s.id: s for s in sunset}, by_kind, aliases)

    @property
    def models(self) -> dict[str, Operation]:
        """The image models by id: what ``generate_image`` and ``list_models`` offer."""
        return self.of_kind("image")

    def of_kind(self, kind: Kind) -> dict[str, Operation]:
        """The operations of one kind, by id."""
        return self.by_kind.get(kind, {})

    def find(self, name: str, kind: Kind = "image") -> Operation:
        """The operation ``name`` means: an id or alias, any case, with or without its ``/generate/{kind}/`` path.

        Raises ``ModelSunsetError`` for a model Krea retired and ``UnknownModelError`` (with the closest names) for
        anything else: a wrong name never falls back to a default.
        """
        key = name.strip().lower().removeprefix("/").removeprefix(f"generate/{kind}/")
        for gone in self.sunset.values():
            if gone.kind == kind and key in (gone.id, gone.id.split("/", 1)[-1]):
                raise ModelSunsetError(key, replacement=gone.replacement, sunset_date=gone.sunset_date)
        ops = self.of_kind(kind)
        found = ops.get(key) or ops.get(self.aliases.get(kind, {}).get(key, ""))
        if found is None:
            raise UnknownModelError(name, self.suggest(name, kind))
        return found

    def suggest(self, name: str, kind: Kind = "image", n: int = 3) -> list[str]:
        """Closest ids to a wrong name, matching ids, aliases and the part after the provider."""
        key = name.strip().lower()
        candidates: dict[str, str] = {}
        for op in self.of_kind(kind).values():
            candidates[op.id] = op.id
            candidates[op.id.split("/", 1)[-1]] = op.id
            for alias in op.aliases:
                candidates[alias] = op.id
        found: list[str] = []
        for match in difflib.get_close_matches(key, candidates, n=n * 3, cutoff=0.5):
            if candidates[match] not in found:
                found.append(candidates[match])
        if not found:  # substring match catches "banana" or "imagen"
            found = sorted({mid for cand, mid in candidates.items() if key and (key in cand or cand in key)})
        return found[:n]

    def expected_s(self, model: str | None, *, scale: float = 1.0, kind: Kind = "image") -> float:
        """How long a job on ``model`` is expected to run, in seconds: its typical time (``UNKNOWN_TYPICAL_S`` for a
        name the catalog cannot resolve), times ``scale`` (the sandbox runs jobs faster than Krea).

        ``model`` is looked up in ``kind`` first, then by exact id in every other kind: a job record names its
        operation by id (``topaz/standard-enhance``, ``styles/train``) whatever tool started it.
        """
        if not model:
            return UNKNOWN_TYPICAL_S * scale
        try:
            return self.find(model, kind).expected_s(scale)
        except KreaError:
            pass
        for ops in self.by_kind.values():
            if model in ops:
                return ops[model].expected_s(scale)
        return UNKNOWN_TYPICAL_S * scale


@cache
def load_catalog() -> Catalog:
    """Load the packaged catalog once per process."""
    return catalog_from(json.loads(resources.files("krea_mcp.catalog").joinpath("models.json").read_text("utf-8")))


def catalog_from(raw: dict[str, Any]) -> Catalog:
    """A catalog from models.json's content (as ``scripts/gen_catalog.py`` writes it, for any choice of kinds)."""
    operations = [
        Operation(
            id=m["id"],
            title=m["title"],
            summary=m["summary"],
            schema=m["schema"],
            kind=m["kind"],
            path=m["path"],
            result=m["result"],
            aliases=tuple(m["aliases"]),
            typical_s=float(m["typical_s"]),
            typical_s_estimated=bool(m["typical_s_estimated"]),
            compute_units=m.get("compute_units"),
            usd=m.get("usd"),
            deprecated=bool(m.get("deprecated")),
            inputs=tuple(m.get("inputs", ())),
            usd_estimate=m.get("usd_estimate"),
            usd_surcharges=dict(m.get("usd_surcharges") or {}),
            max_side=m.get("max_side"),
            usd_per_step=m.get("usd_per_step"),
            usd_per_second=m.get("usd_per_second"),
            frame_rate=m.get("frame_rate"),
        )
        for m in raw["models"]
    ]
    sunset = [
        SunsetModel(s["id"], s["sunset_date"], s.get("replacement"), s.get("migration_url"), s.get("kind", "image"))
        for s in raw["sunset"]
    ]
    return Catalog.of(operations, sunset)


def takes(info: Operation) -> str:
    """The sentence that lists an operation's fields."""
    return f"It takes: {', '.join(sorted(info.properties))}."
