"""Krea's job object as it comes over the wire, and which statuses are final."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from pydantic import BaseModel, ConfigDict

#: Of the nine statuses Krea documents, the ones after which a job never changes again.
TERMINAL = frozenset({"completed", "failed", "cancelled"})


class Job(BaseModel):
    """A Krea job. Unknown fields are kept; ``result`` may be null, ``{}`` or hold ``urls``/``error``."""

    model_config = ConfigDict(extra="allow")

    job_id: str
    status: str
    created_at: str | None = None
    completed_at: str | None = None
    result: dict[str, Any] | None = None

    @property
    def terminal(self) -> bool:
        return self.status in TERMINAL

    @property
    def urls(self) -> list[str]:
        urls = (self.result or {}).get("urls") or []
        return [u for u in urls if isinstance(u, str)]

    @property
    def error(self) -> str | None:
        """Krea's failure reason (``result.error`` may be a string or an object)."""
        raw = (self.result or {}).get("error")
        if raw is None:
            return None
        if isinstance(raw, dict):
            return str(raw.get("message") or raw.get("error") or raw)
        return str(raw)

    def created(self) -> datetime | None:
        """``created_at`` as an aware datetime, or None when missing or unreadable."""
        try:
            when = datetime.fromisoformat((self.created_at or "").replace("Z", "+00:00"))
        except ValueError:
            return None
        return when if when.tzinfo else when.replace(tzinfo=UTC)
