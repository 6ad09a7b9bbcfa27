"""Every failure krea-mcp reports, as one tree. Messages are written for the agent: they say what to do next.

::

    KreaError
    ├── InvalidRequestError        rejected before any HTTP request (no credits spent)
    │   ├── UnknownModelError      model name not in the catalog; carries suggestions
    │   └── ModelSunsetError       Krea retired the model (also raised from a 410 answer)
    ├── MissingTokenError          no API token configured
    ├── AmbiguousCreateError       Krea's answer to a job creation was lost (see JobService.submit)
    ├── SpendLimitError            KREA_MAX_JOBS / KREA_MAX_SPEND_USD reached (spend.py)
    ├── KreaConnectionError        the request did not get an answer (network, timeout)
    └── KreaAPIError               Krea answered with an error status; built by ``from_response``
        ├── AuthenticationError    401
        ├── InsufficientCreditsError 402
        ├── NotFoundError          404
        ├── RateLimitError         429
        └── ServerError            5xx (and unreadable answers)

A job that *ran* and failed is not an exception: it is a job whose status is ``failed``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import httpx

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
        response: httpx.Response, *, model: str | None = None, job_id: str | None = None, secret: str | None = None
    ) -> KreaAPIError:
        """Build the right error for an error response: the one place that reads Krea's error bodies.

        ``secret`` (the token sent) is scrubbed from Krea's words, should a server ever echo it back.
        """
        status = response.status_code
        body = _json_or_none(response)
        detail = _detail(body, response)
        if secret and secret in detail:
            detail = detail.replace(secret, "[redacted]")
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
            replacement = info.get("replacement")
            message = sunset_message(
                model or "this model", replacement, info.get("sunset_date"), str(info.get("message") or detail)
            )
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


def _json_or_none(response: httpx.Response) -> Any:
    try:
        return response.json()
    except ValueError:
        return None


def _detail(body: Any, response: httpx.Response) -> str:
    """Krea's own words: ``error`` (or ``message``), else a short slice of the raw text."""
    if isinstance(body, dict):
        for key in ("message", "error", "detail"):
            value = body.get(key)
            if isinstance(value, str) and value:
                return value[:500]
            if isinstance(value, list) and value:  # 422-style detail[]{loc, msg}
                return "; ".join(str(v.get("msg", v)) if isinstance(v, dict) else str(v) for v in value)[:500]
    text = response.text.strip()
    if not text or text.startswith("<") or "html" in response.headers.get("content-type", ""):
        return response.reason_phrase or "no details"  # a gateway's HTML page says nothing useful
    return text[:200]


def _retry_after(response: httpx.Response) -> float | None:
    value = response.headers.get("retry-after")
    if value is None:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        return None
