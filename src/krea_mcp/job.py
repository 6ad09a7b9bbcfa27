"""Krea's job object as it comes over the wire, and which statuses are final."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, Self

from pydantic import BaseModel, ConfigDict, PrivateAttr, model_validator

from krea_mcp.errors import DETAIL_CHARS, safe_excerpt

#: Of the nine statuses Krea documents, the ones after which a job never changes again.
TERMINAL = frozenset({"completed", "failed", "cancelled"})
#: Result URLs kept per job. An image job has one to a few; a longer list is not a normal answer, and every URL
#: kept becomes text in a tool result and a resource the server serves.
MAX_URLS = 64
#: A result URL longer than this is not used (Krea's are a few hundred characters).
MAX_URL_CHARS = 4096


class Job(BaseModel):
    """A Krea job. Unknown fields are kept; ``result`` may be null, ``{}`` or hold ``urls``/``error``.

    ``result.urls`` is trimmed on arrival to the first ``MAX_URLS`` usable URLs (strings of at most
    ``MAX_URL_CHARS`` characters); ``urls_note`` says how many were left out, for the result to show.
    """

    model_config = ConfigDict(extra="allow")

    job_id: str
    status: str
    created_at: str | None = None
    completed_at: str | None = None
    result: dict[str, Any] | None = None

    _urls: list[str] = PrivateAttr(default_factory=list)
    _urls_listed: int = PrivateAttr(default=0)

    @model_validator(mode="after")
    def _keep_usable_urls(self) -> Self:
        raw = (self.result or {}).get("urls")
        listed = raw if isinstance(raw, list) else []
        usable = [u for u in listed if isinstance(u, str) and 0 < len(u) <= MAX_URL_CHARS]
        self._urls, self._urls_listed = usable[:MAX_URLS], len(listed)
        if self.result is not None and isinstance(raw, list) and len(self._urls) < len(raw):
            self.result = {**self.result, "urls": list(self._urls)}  # nothing beyond the cap is kept in memory
        return self

    @property
    def terminal(self) -> bool:
        return self.status in TERMINAL

    @property
    def urls(self) -> list[str]:
        return list(self._urls)

    @property
    def urls_note(self) -> str | None:
        """Said with the result when Krea listed URLs this server does not use (None when it used them all)."""
        left_out = self._urls_listed - len(self._urls)
        if left_out <= 0:
            return None
        return (
            f"Krea listed {self._urls_listed:,} result URLs for this job; {left_out:,} were left out (this server "
            f"keeps at most {MAX_URLS} per job, each at most {MAX_URL_CHARS:,} characters long)."
        )

    @property
    def error(self) -> str | None:
        """Krea's failure reason (``result.error`` may be a string or an object), at most ``DETAIL_CHARS`` long."""
        raw = (self.result or {}).get("error")
        if raw is None:
            return None
        if isinstance(raw, dict):
            raw = raw.get("message") or raw.get("error") or raw
        return safe_excerpt(str(raw), limit=DETAIL_CHARS)

    def created(self) -> datetime | None:
        """``created_at`` as an aware datetime, or None when missing or unreadable."""
        try:
            when = datetime.fromisoformat((self.created_at or "").replace("Z", "+00:00"))
        except ValueError:
            return None
        return when if when.tzinfo else when.replace(tzinfo=UTC)
