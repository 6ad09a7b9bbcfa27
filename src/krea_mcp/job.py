"""A job three ways: as Krea sends it (``Job``), as a wait on it ended (``Outcome``), and as this server remembers
the jobs it created (``JobRecord``); plus the inline previews a result carries (``Preview``)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Self

from pydantic import BaseModel, ConfigDict, PrivateAttr, model_validator

from krea_mcp.errors import DETAIL_CHARS, safe_excerpt
from krea_mcp.krea.caller import caller_key

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


@dataclass(frozen=True, slots=True)
class Preview:
    """One inline image: base64 data and its MIME type."""

    data: str
    mime_type: str


@dataclass(slots=True)
class JobRecord:
    """What this server remembers about a job it created (the API does not return the model or prompt)."""

    job_id: str
    model: str
    prompt: str
    #: Said with every result for this job (e.g. that it was recovered after a lost answer).
    note: str | None = None
    #: Whose job it is (the caller key; "" for the server's own token): list_jobs shows a caller only its own.
    caller: str = field(default_factory=caller_key)
    #: When this server learned of the job (wall clock), for list_jobs when Krea cannot be asked.
    recorded_at: datetime = field(default_factory=lambda: datetime.now(UTC))
    #: The output size the request asked for (enhance jobs), checked against the image Krea returns.
    expected_size: tuple[int, int] | None = None
    #: The kind of job (image, enhance, video, style-training): a video's result is saved and reported as a video.
    kind: str = "image"
    #: Its result URLs and the files saved from them (``file://`` URIs), once known: any worker of the deployment
    #: serves them as resources.
    urls: list[str] = field(default_factory=list)
    files: list[str] = field(default_factory=list)

    def links(self) -> list[str]:
        """The URIs a result of this job links to (result URLs, saved files)."""
        return [*self.urls, *self.files]

    def to_json(self) -> dict[str, Any]:
        """The record as JSON (kept in the deployment's shared state)."""
        return {
            "job_id": self.job_id,
            "model": self.model,
            "prompt": self.prompt,
            "note": self.note,
            "caller": self.caller,
            "recorded_at": self.recorded_at.isoformat(),
            "expected_size": list(self.expected_size) if self.expected_size else None,
            "kind": self.kind,
            "urls": self.urls,
            "files": self.files,
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> JobRecord:
        size = data.get("expected_size")
        return cls(
            job_id=str(data["job_id"]),
            model=str(data["model"]),
            prompt=str(data.get("prompt") or ""),
            note=data.get("note"),
            caller=str(data.get("caller") or ""),
            recorded_at=datetime.fromisoformat(str(data["recorded_at"])),
            expected_size=(int(size[0]), int(size[1])) if isinstance(size, list) and len(size) == 2 else None,
            kind=str(data.get("kind") or "image"),
            urls=[str(u) for u in data.get("urls") or []],
            files=[str(f) for f in data.get("files") or []],
        )


@dataclass(slots=True)
class Outcome:
    """A job as last seen, plus how the wait ended."""

    job: Job
    model: str | None
    waited_s: float = 0.0
    timed_out: bool = False
    #: The last transient polling error, if the deadline passed while Krea was unreachable.
    poll_error: str | None = None
    #: The save_to the call asked for (repeated in the next-step hint when the job is not done yet).
    save_to: str | None = None
    files: list[Path] = field(default_factory=list)
    #: The client's folder (MCP root) the files may have been saved under, besides the configured directories.
    granted: Path | None = None
    previews: list[Preview] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    #: A video result's length in seconds and size in pixels, from its file's header (None where unknown).
    video: tuple[float | None, int | None, int | None] | None = None
    #: The job's kind when this server knows it (it started the job): image, enhance, video, style-training.
    kind: str | None = None
