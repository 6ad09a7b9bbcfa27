"""The Krea image model catalog, generated from Krea's OpenAPI spec by ``scripts/gen_catalog.py``."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from functools import cache
from importlib import resources
from typing import Any


@dataclass(frozen=True, slots=True)
class ModelInfo:
    """One Krea image model: its id is the path after ``/generate/image/``."""

    id: str
    title: str
    summary: str
    schema: dict[str, Any]
    aliases: tuple[str, ...] = ()
    typical_s: float = 20.0
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


@dataclass(frozen=True, slots=True)
class SunsetModel:
    """A model Krea has retired; its endpoint answers 410."""

    id: str
    sunset_date: str
    replacement: str | None
    migration_url: str | None


@dataclass(frozen=True, slots=True)
class Catalog:
    models: dict[str, ModelInfo]
    sunset: dict[str, SunsetModel]
    aliases: dict[str, str]

    @staticmethod
    def key(name: str) -> str:
        """A model name as the catalog indexes it: lower case, without a leading ``/generate/image/``."""
        return name.strip().lower().removeprefix("/").removeprefix("generate/image/")

    def resolve(self, name: str) -> ModelInfo | None:
        """Find a model by full id or alias (case-insensitive, tolerant of a leading path prefix)."""
        key = self.key(name)
        if key in self.models:
            return self.models[key]
        target = self.aliases.get(key)
        return self.models[target] if target else None


@cache
def load_catalog() -> Catalog:
    """Load the packaged catalog once per process."""
    raw = json.loads(resources.files("krea_mcp.catalog").joinpath("models.json").read_text(encoding="utf-8"))
    models: dict[str, ModelInfo] = {}
    aliases: dict[str, str] = {}
    for m in raw["models"]:
        info = ModelInfo(
            id=m["id"],
            title=m["title"],
            summary=m["summary"],
            schema=m["schema"],
            aliases=tuple(m["aliases"]),
            typical_s=float(m["typical_s"]),
            typical_s_estimated=bool(m["typical_s_estimated"]),
            compute_units=m.get("compute_units"),
            usd=m.get("usd"),
            deprecated=bool(m.get("deprecated")),
            inputs=tuple(m.get("inputs", ())),
            usd_estimate=m.get("usd_estimate"),
            usd_surcharges=dict(m.get("usd_surcharges") or {}),
        )
        models[info.id] = info
        for alias in info.aliases:
            aliases[alias] = info.id
    sunset = {
        s["id"]: SunsetModel(s["id"], s["sunset_date"], s.get("replacement"), s.get("migration_url"))
        for s in raw["sunset"]
    }
    return Catalog(models=models, sunset=sunset, aliases=aliases)
