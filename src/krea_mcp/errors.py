"""Every failure krea-mcp reports, as one tree. Messages are written for the agent: they say what to do next.

::

    KreaError
    ├── InvalidRequestError        rejected before any HTTP request (no credits spent)
    │   ├── UnknownModelError      model name not in the catalog; carries suggestions
    │   └── ModelSunsetError       the catalog knows Krea retired the model
    ├── MissingTokenError          no API token configured
    ├── ConfigError                settings that are unsafe or incomplete (the HTTP transport refuses to start)
    ├── AmbiguousCreateError       Krea's answer to a job creation was lost (see krea.job_creation)
    ├── SpendLimitError            KREA_MAX_JOBS / KREA_MAX_SPEND_USD reached (workflow.spend)
    ├── JobAfterSubmitError        a job exists but a later step failed (the message names the job)
    ├── SaveError                  saving failed after the job completed (the URLs are intact)
    ├── DownloadError              a result URL was refused or could not be fetched (krea.downloads)
    ├── KreaConnectionError        the request did not get an answer (network, timeout)
    └── KreaAPIError               Krea answered with an error status; built by ``from_response``
        ├── BadRequestError        400/422
        ├── AuthenticationError    401
        ├── InsufficientCreditsError 402
        ├── NotFoundError          404
        ├── GoneError              410: Krea retired the model (the message names the replacement)
        ├── RateLimitError         429
        └── ServerError            5xx (and unreadable answers)

A job that *ran* and failed is not an exception: it is a job whose status is ``failed``.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any, Protocol
from urllib.parse import urlsplit, urlunsplit


class Answer(Protocol):
    """What the error builder reads of an HTTP answer (an ``Answer`` is one; no HTTP library is imported)."""

    @property
    def status_code(self) -> int: ...
    @property
    def text(self) -> str: ...
    @property
    def headers(self) -> Mapping[str, str]: ...
    @property
    def reason_phrase(self) -> str: ...
    def json(self) -> Any: ...


REDACTED = "[redacted]"
#: Shorter values are never scrubbed from text (see ``_secrets``).
MIN_SECRET_CHARS = 8
#: How much of Krea's own words an error message quotes.
DETAIL_CHARS = 500
SNIPPET_CHARS = 200

TOKEN_HELP = "workspace owners and admins create tokens in Krea's API settings; see https://docs.krea.ai/developers/api-keys-and-billing"


class KreaError(Exception):
    """Base class: ``str(exc)`` is safe to show to the agent and never contains the token."""


class InvalidRequestError(KreaError):
    """The call was rejected locally before anything was sent to Krea."""

    def __init__(self, message: str, *, field: str | None = None) -> None:
        super().__init__(message)
        self.field = field


class UnknownModelError(InvalidRequestError):
    """No catalog model matches the requested name."""

    def __init__(self, name: str, suggestions: list[str]) -> None:
        hint = f" Did you mean {', '.join(repr(s) for s in suggestions)}?" if suggestions else ""
        super().__init__(f"Unknown model {name!r}.{hint} Call list_models for every model id and alias.", field="model")
        self.suggestions = suggestions


class ModelSunsetError(InvalidRequestError):
    """Krea retired the model."""

    def __init__(self, model: str, *, replacement: str | None, sunset_date: str | None) -> None:
        super().__init__(sunset_message(model, replacement, sunset_date), field="model")
        self.replacement = replacement


def sunset_message(model: str, replacement: str | None, sunset_date: str | None, detail: str = "") -> str:
    """What to tell the agent about a retired model, from the catalog or from Krea's 410 body."""
    when = f" on {sunset_date}" if sunset_date else ""
    use = f" Use model {replacement!r} instead." if replacement else " Pick another model with list_models."
    extra = f" ({detail})" if detail else ""
    return f"Model {model!r} was retired by Krea{when}{extra}.{use}"


class MissingTokenError(KreaError):
    """No API token is configured."""

    def __init__(self) -> None:
        super().__init__(
            f"No Krea API token is configured. Set KREA_API_TOKEN in the server's environment ({TOKEN_HELP}), "
            "or start the server with --sandbox to try it without one."
        )


class AmbiguousCreateError(KreaError):
    """A job may or may not have been created: its answer was lost and the job list did not settle it."""

    def __init__(self, message: str, *, candidates: list[str]) -> None:
        super().__init__(message)
        self.candidates = candidates


class KreaConnectionError(KreaError):
    """No HTTP answer arrived: connection failure or timeout."""

    def __init__(self, message: str, *, sent: bool) -> None:
        super().__init__(message)
        #: False when the request certainly never reached Krea (safe to retry a POST).
        self.sent = sent


class KreaAPIError(KreaError):
    """Krea answered with an error status."""

    status_code: int = 0

    def __init__(self, message: str, *, status_code: int, body: Any = None) -> None:
        super().__init__(message)
        self.status_code = status_code
        self.body = body

    @staticmethod
    def from_response(
        response: Answer,
        *,
        model: str | None = None,
        job_id: str | None = None,
        secret: str | Iterable[str | None] | None = None,
    ) -> KreaAPIError:
        """Build the right error for an error response: the one place that reads Krea's error bodies.

        ``secret`` (the token sent, or every token in play) is scrubbed from everything taken from the answer
        before any of it is cut to length, should a server ever echo it back.
        """
        secrets = _secrets(secret)
        status = response.status_code
        body = scrub(_json_or_none(response), secrets)
        detail = _detail(body, response, secrets)
        if status == 401:
            return AuthenticationError(
                f"Krea rejected the API token (401: {detail}). Set a valid KREA_API_TOKEN ({TOKEN_HELP}).",
                status_code=status,
                body=body,
            )
        if status == 402:
            return InsufficientCreditsError(
                f"The Krea workspace is out of credits (402: {detail}). Add balance in Krea's billing settings; "
                "jobs already running still finish. Nothing was charged for this request.",
                status_code=status,
                body=body,
            )
        if status == 404:
            what = f"Job {job_id!r} was not found" if job_id else f"Krea returned 404 for {model or 'this request'}"
            return NotFoundError(
                f"{what} (404: {detail}). Check the id; jobs are only visible to the token that created them.",
                status_code=status,
                body=body,
            )
        if status == 410:
            info = body if isinstance(body, dict) else {}
            replacement = _short(info.get("replacement"))
            extra = safe_excerpt(str(info.get("message") or detail), secrets, DETAIL_CHARS)
            message = sunset_message(model or "this model", replacement, _short(info.get("sunset_date")), extra)
            return GoneError(message, status_code=status, body=body, replacement=replacement)
        if status == 429:
            retry_after = _retry_after(response)
            later = f" Krea suggests retrying after {retry_after:g} s." if retry_after is not None else ""
            return RateLimitError(
                f"Krea is at this account's concurrency limit and its backlog is full (429: {detail}). "
                f"Wait for running jobs to finish (check them with get_job), then try again.{later}",
                status_code=status,
                body=body,
                retry_after=retry_after,
            )
        if status == 400 or status == 422:
            return BadRequestError(f"Krea rejected the request ({status}: {detail}).", status_code=status, body=body)
        if status >= 500:
            return ServerError(
                f"Krea had a server error ({status}: {detail}). This is usually temporary; try again shortly.",
                status_code=status,
                body=body,
            )
        return KreaAPIError(f"Krea answered {status}: {detail}.", status_code=status, body=body)


class AuthenticationError(KreaAPIError):
    """401: the token is missing, wrong or revoked."""


class InsufficientCreditsError(KreaAPIError):
    """402: the workspace balance is used up."""


class NotFoundError(KreaAPIError):
    """404: unknown job, asset or model path."""


class GoneError(KreaAPIError):
    """410: the model was sunset."""

    def __init__(self, message: str, *, status_code: int, body: Any, replacement: str | None) -> None:
        super().__init__(message, status_code=status_code, body=body)
        self.replacement = replacement


class BadRequestError(KreaAPIError):
    """400/422: Krea says the request is invalid."""


class RateLimitError(KreaAPIError):
    """429: concurrency limit reached and backlog full."""

    def __init__(self, message: str, *, status_code: int, body: Any, retry_after: float | None) -> None:
        super().__init__(message, status_code=status_code, body=body)
        self.retry_after = retry_after


class ServerError(KreaAPIError):
    """5xx or an unreadable answer."""


def _json_or_none(response: Answer) -> Any:
    try:
        return response.json()
    except ValueError:
        return None


def _detail(body: Any, response: Answer, secrets: tuple[str, ...] = ()) -> str:
    """Krea's own words: ``error`` (or ``message``), else a short slice of the raw text; scrubbed, then cut."""
    if isinstance(body, dict):
        for key in ("message", "error", "detail"):
            value = body.get(key)
            if isinstance(value, str) and value:
                return safe_excerpt(value, secrets, DETAIL_CHARS)
            if isinstance(value, list) and value:  # 422-style detail[]{loc, msg}
                text = "; ".join(str(v.get("msg", v)) if isinstance(v, dict) else str(v) for v in value)
                return safe_excerpt(text, secrets, DETAIL_CHARS)
    text = response.text.strip()
    if not text or text.startswith("<") or "html" in response.headers.get("content-type", ""):
        # A gateway's HTML page says nothing useful; its status line is the server's words too, so it is scrubbed.
        return safe_excerpt(response.reason_phrase, secrets, SNIPPET_CHARS) or "no details"
    return safe_excerpt(text, secrets, SNIPPET_CHARS)


def _secrets(secret: str | Iterable[str | None] | None) -> tuple[str, ...]:
    """The values worth scrubbing, longest first (a token that contains another is replaced whole).

    A value shorter than ``MIN_SECRET_CHARS`` is left alone: it is no real token, and replacing it would mangle
    ordinary text (``sandbox``, the emulator's stand-in token, is part of its own URLs; a test token ``t`` is in
    every key).
    """
    values = [secret] if isinstance(secret, str) else list(secret or ())
    return tuple(sorted({v for v in values if v and len(v) >= MIN_SECRET_CHARS}, key=len, reverse=True))


def scrub(value: Any, secrets: str | Iterable[str | None] | None) -> Any:
    """``value`` with every secret replaced by ``[redacted]`` in every string in it (keys too, at any depth).

    Used on whole answers as soon as they are decoded, so a token Krea echoes back (even JSON-escaped, where the
    raw bytes would not show it) is gone before anything is shown, logged, kept or cut to length.
    """
    found = _secrets(secrets)
    if not found:
        return value

    def walk(item: Any) -> Any:
        if isinstance(item, str):
            for secret in found:
                if secret in item:
                    item = item.replace(secret, REDACTED)
            return item
        if isinstance(item, dict):
            return {walk(k): walk(v) for k, v in item.items()}
        if isinstance(item, list):
            return [walk(v) for v in item]
        return item

    return walk(value)


def safe_excerpt(text: str, secrets: str | Iterable[str | None] | None = None, limit: int = SNIPPET_CHARS) -> str:
    """At most ``limit`` characters of ``text`` (plus an ellipsis), for a message: secrets are scrubbed *first*,
    so a token straddling the cut can never leave a fragment behind."""
    text = scrub(text, secrets)
    return text if len(text) <= limit else text[:limit] + "…"


def shown_url(url: object) -> str:
    """A URL as it may be shown or logged: any ``user:password@`` part is removed (``KREA_BASE_URL`` may carry
    one, and error messages reach every caller)."""
    text = str(url)
    try:
        parts = urlsplit(text)
    except ValueError:
        return "(unparseable URL)"
    if "@" not in parts.netloc:
        return text
    return urlunsplit(parts._replace(netloc=parts.netloc.rpartition("@")[2]))


def _short(value: Any, limit: int = 100) -> str | None:
    """A short string field of an (already scrubbed) answer, cut to ``limit``; None if absent or not a string."""
    return value[:limit] if isinstance(value, str) and value else None


def _retry_after(response: Answer) -> float | None:
    value = response.headers.get("retry-after")
    if value is None:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        return None


class JobAfterSubmitError(KreaError):
    """A job exists but a later step failed: the message always carries the job id."""

    def __init__(self, job_id: str, cause: KreaError) -> None:
        super().__init__(
            f"Job {job_id} was created, but {cause} Nothing is lost: call get_job or wait_for_job "
            f'with job_id="{job_id}".'
        )
        self.job_id = job_id


class SpendLimitError(KreaError):
    """This server process reached KREA_MAX_JOBS or KREA_MAX_SPEND_USD."""


class SaveError(KreaError):
    """Saving failed after the job completed; the job and its image URLs are unaffected."""

    def __init__(self, message: str, *, job_id: str, url: str | None = None, saved: list[Path] | None = None) -> None:
        super().__init__(message)
        self.job_id = job_id
        self.url = url
        #: Images of the same call that were saved before or despite the failure.
        self.saved: list[Path] = list(saved or [])


class ConfigError(KreaError):
    """The HTTP settings are unsafe or incomplete; the message says which setting to change."""


DOWNLOAD_NEXT_STEP = "Nothing was fetched from there; the image URL in the result is unchanged."


class DownloadError(KreaError):
    """A result URL was refused or could not be fetched; ``host`` and ``rule`` say where and why."""

    def __init__(self, host: str, rule: str, next_step: str = DOWNLOAD_NEXT_STEP) -> None:
        super().__init__(f"Did not fetch the image from {host}: {rule}. {next_step}")
        self.host = host
        self.rule = rule
