"""Configuration from ``KREA_*`` environment variables (and an optional ``.env`` file).

Nothing here runs at import time: the entry point builds ``Settings()`` once and passes it down.
"""

from __future__ import annotations

import ipaddress
import json
import os
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, Literal
from urllib.parse import urlsplit

from pydantic import AliasChoices, Field, PrivateAttr, SecretStr, ValidationError, ValidationInfo, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

if TYPE_CHECKING:
    from krea_mcp.workflow.wakeups import WebhookLink

DEFAULT_BASE_URL = "https://api.krea.ai"
#: The groups of tools ``KREA_TOOLS`` chooses from, and the tools in each.
TOOL_GROUPS = {
    "generate": ("generate_image",),
    "enhance": ("enhance_image",),
    "styles": ("list_styles",),
    "training": ("train_style",),
    "video": ("generate_video",),
    "jobs": ("get_job", "wait_for_job", "cancel_job", "list_jobs"),
    "models": ("list_models",),
}
#: Offered when KREA_TOOLS is not set: everything but training, which is slow, costly and rarely wanted unasked.
DEFAULT_TOOL_GROUPS = ("generate", "enhance", "styles", "video", "jobs", "models")
#: The groups whose tools start jobs: a job that outlives a call is picked up with wait_for_job (the jobs group).
_STARTS_JOBS = ("generate", "enhance", "training", "video")


def _checked_dir(path: Path, setting: str) -> Path:
    """``path`` with ``~`` expanded; a relative path (it would depend on the working directory the host picks) or
    a file-system root (every file on the machine) is refused."""
    shown = str(path)
    try:
        expanded = path.expanduser()
    except RuntimeError:  # "~someone" for a user this machine does not know
        raise ValueError(f"{setting}: {shown!r} names no user on this machine; use an absolute path.") from None
    if not expanded.is_absolute():
        hint = ""
        if setting == "KREA_ALLOWED_DIRS":
            hint = (
                ' Entries are separated by commas and by the path separator ("' + os.pathsep + '"); a directory whose'
                " name contains either must be given in the JSON list form, e.g. KREA_ALLOWED_DIRS='[\"/srv/my"
                + os.pathsep
                + "dir\"]'."
            )
        raise ValueError(
            f"{setting}: {shown!r} is a relative path, which would depend on the working directory the host starts "
            f"the server in. Use an absolute path (~/… is fine).{hint}"
        )
    real = Path(os.path.realpath(expanded))
    if real == Path(real.anchor):
        raise ValueError(
            f"{setting}: {shown!r} is the root of the file system, which would open every file on this machine to "
            "the agent. Name a narrower directory."
        )
    return expanded


class Settings(BaseSettings):
    """Every setting krea-mcp reads; field ``x`` is the variable ``KREA_X``."""

    model_config = SettingsConfigDict(
        env_prefix="KREA_",
        env_file=".env",
        env_file_encoding="utf-8",
        extra="ignore",
        populate_by_name=True,
        validate_default=True,
    )

    api_token: SecretStr | None = Field(
        default=None,
        validation_alias=AliasChoices("KREA_API_TOKEN", "KREA_API_KEY", "api_token"),
        description="Krea API token (Bearer). KREA_API_KEY is accepted as an alias.",
    )
    base_url: str = Field(default=DEFAULT_BASE_URL, description="Krea API base URL.")
    request_timeout_s: float = Field(default=30.0, gt=0, le=600, description="Timeout of one HTTP request.")
    default_model: str = Field(default="bfl/flux-1-dev", description="Model used when a call names none.")
    default_video_model: str = Field(
        default="bytedance/seedance-1.0-pro-fast", description="Video model used when a generate_video call names none."
    )
    wait_s: float = Field(default=45.0, gt=0, le=3600, description="How long generate_image waits for a job.")
    poll_interval_s: float | None = Field(default=None, gt=0, le=60, description="Fixed polling interval.")
    durations_file: str | None = Field(
        default=None,
        description="Where the run times learned per model are kept (an absolute path to a JSON file); unset uses "
        "durations.json in the per-user cache directory with Krea's own API, 'off' keeps them in memory only.",
    )
    allowed_dirs: Annotated[list[Path], NoDecode] = Field(
        default_factory=list,
        description="Absolute directories local input images may be read from and images saved to (os.pathsep- or "
        "comma-separated, or a JSON list for names containing either); never a file-system root. Empty means the "
        "working directory.",
    )
    output_dir: Path | None = Field(
        default=None,
        description="Where images are saved (an absolute path, never a file-system root); unset uses the user's "
        "Pictures/krea-mcp (or the app data dir).",
    )
    auto_save: bool = Field(default=False, description="Save every finished job's images without being asked.")
    preview: Literal["off", "thumbnail", "full"] = Field(
        default="thumbnail", description="Inline images the model can see: off, thumbnail (within the budget), or full."
    )
    preview_budget_bytes: int = Field(default=64_000, ge=0, le=10_000_000, description="Preview base64 per result.")
    max_jobs: int | None = Field(
        default=None,
        ge=0,
        description="Refuse to start more than this many jobs: per server process, or per deployment with "
        "KREA_REDIS_URL (per caller in bearer-passthrough mode).",
    )
    max_spend_usd: float | None = Field(
        default=None,
        ge=0,
        description="Refuse jobs once the estimated spend would pass this (USD): per process, or per deployment "
        "with KREA_REDIS_URL.",
    )
    http_auth: Literal["none", "token", "bearer-passthrough"] = Field(
        default="none",
        description="HTTP transport auth: none (loopback only), token (clients send KREA_HTTP_TOKEN), or "
        "bearer-passthrough (each request's Bearer token is the caller's own Krea token; multi-user).",
    )
    http_token: SecretStr | None = Field(
        default=None,
        description="The Bearer token clients must send (token mode): at least 32 characters, e.g. from "
        "secrets.token_urlsafe(32).",
    )
    allowed_hosts: Annotated[list[str], NoDecode] = Field(
        default_factory=list, description="Extra Host header values the HTTP transport accepts (comma-separated)."
    )
    allowed_origins: Annotated[list[str], NoDecode] = Field(
        default_factory=list, description="Extra Origin header values the HTTP transport accepts (comma-separated)."
    )
    tools: Annotated[list[str], NoDecode] = Field(
        default_factory=lambda: list(DEFAULT_TOOL_GROUPS),
        description="Tool groups to offer (comma-separated, or all): generate, enhance, styles, training, video, "
        "jobs, models. Default: all but training.",
    )
    webhook_url: str | None = Field(
        default=None,
        description="This server's public base URL (HTTP mode only): every create asks Krea to call "
        "{KREA_WEBHOOK_URL}/webhooks/krea/<secret> when the job ends. https, or http for a loopback host only.",
    )
    redis_url: SecretStr | None = Field(
        default=None,
        description="Redis (>= 7) or Valkey that every worker and replica of one deployment shares: spend limits, "
        "job records, creates in flight, uploads, learned durations, one poller per job. Unset: this process alone.",
    )
    sandbox: bool = Field(default=False, description="Use the built-in Krea emulator instead of the real API.")
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"

    @field_validator("base_url")
    @classmethod
    def _strip_slash(cls, value: str) -> str:
        value = value.strip().rstrip("/")
        if not value.startswith(("http://", "https://")):
            raise ValueError("KREA_BASE_URL must start with http:// or https://")
        return value

    #: Set by ``http_app.build_app`` when this server can take Krea's calls (HTTP mode with KREA_WEBHOOK_URL): runtime
    #: wiring the job service picks up, never read from the environment.
    _webhooks: WebhookLink | None = PrivateAttr(default=None)

    @field_validator("webhook_url", mode="before")
    @classmethod
    def _blank_url_is_unset(cls, value: Any) -> Any:
        return None if isinstance(value, str) and not value.strip() else value

    @field_validator("webhook_url")
    @classmethod
    def _public_base_url(cls, value: str | None) -> str | None:
        """An absolute https URL (http only for a loopback host: tests, a local emulator), no credentials, query or
        fragment, since the path Krea calls is appended to it. The value is never repeated in an error."""
        if value is None:
            return None
        text = value.strip().rstrip("/")
        if not text.isascii() or any(c.isspace() or not c.isprintable() for c in text):
            raise ValueError("KREA_WEBHOOK_URL must be ASCII without spaces (IDN host names in their xn-- form)")
        try:
            parts = urlsplit(text)
            host = parts.hostname or ""
            parts.port  # noqa: B018 - raises ValueError for a port that is not a number
        except ValueError:
            raise ValueError("KREA_WEBHOOK_URL is not a valid URL") from None
        if parts.scheme not in ("https", "http") or not host:
            raise ValueError("KREA_WEBHOOK_URL must be this server's public base URL, e.g. https://mcp.example.com")
        if parts.scheme == "http" and not _loopback(host):
            raise ValueError(
                "KREA_WEBHOOK_URL must use https (Krea's calls travel the internet); http is accepted only for a "
                "loopback host (127.0.0.1, localhost, ::1)"
            )
        if parts.username is not None or parts.password is not None:
            raise ValueError("KREA_WEBHOOK_URL must not contain a user name or password (it is sent to Krea)")
        if parts.query or parts.fragment or "?" in text or "#" in text:
            raise ValueError("KREA_WEBHOOK_URL must not have a query or fragment: the webhook path is appended to it")
        return text

    @property
    def webhooks(self) -> WebhookLink | None:
        """The webhook link of the HTTP server running with these settings (None: no webhooks, poll only)."""
        return self._webhooks

    def with_webhooks(self, link: WebhookLink) -> Settings:
        """A copy of these settings carrying ``link`` to the job service the server builds."""
        copy = self.model_copy()
        copy._webhooks = link
        return copy

    @field_validator("allowed_dirs", "allowed_hosts", "allowed_origins", "tools", mode="before")
    @classmethod
    def _split_list(cls, value: Any, info: ValidationInfo) -> Any:
        """A JSON list, or comma-separated; directories may also be separated by os.pathsep (":" or ";")."""
        if not isinstance(value, str):
            return value
        text = value.strip()
        if text.startswith("["):
            return json.loads(text)
        if info.field_name == "allowed_dirs":  # never for hosts: "host:port" contains ":"
            text = text.replace(os.pathsep, ",")
        return [part.strip() for part in text.split(",") if part.strip()]

    @field_validator("tools")
    @classmethod
    def _known_groups(cls, value: list[str]) -> list[str]:
        groups = list(dict.fromkeys(v.strip().lower() for v in value if v.strip()))
        if "all" in groups:
            groups = list(TOOL_GROUPS)
        unknown = [g for g in groups if g not in TOOL_GROUPS]
        if unknown:
            raise ValueError(f"unknown tool group {unknown[0]!r}; the groups are: {', '.join(TOOL_GROUPS)} (or all)")
        if not groups:
            raise ValueError(f"no tool group chosen; the groups are: {', '.join(TOOL_GROUPS)} (or all)")
        starting = [g for g in _STARTS_JOBS if g in groups]
        if starting and "jobs" not in groups:
            raise ValueError(
                f"{starting[0]} needs jobs too: a job that outlives a call is picked up with wait_for_job (add jobs)"
            )
        return groups

    @field_validator("allowed_dirs")
    @classmethod
    def _absolute_dirs(cls, value: list[Path]) -> list[Path]:
        return [_checked_dir(path, "KREA_ALLOWED_DIRS") for path in value]

    @field_validator("durations_file")
    @classmethod
    def _durations_file(cls, value: str | None) -> str | None:
        """Blank is unset; ``off`` turns the file off; anything else is an absolute path (``~`` expanded)."""
        text = (value or "").strip()
        if not text:
            return None
        if text.lower() == "off":
            return "off"
        path = Path(text).expanduser()
        if not path.is_absolute():
            raise ValueError(f"{text!r} is a relative path; use an absolute path (~/… is fine), or off.")
        return str(path)

    @field_validator("output_dir", mode="before")
    @classmethod
    def _blank_is_unset(cls, value: Any) -> Any:
        return None if isinstance(value, str) and not value.strip() else value

    @field_validator("output_dir")
    @classmethod
    def _absolute_output_dir(cls, value: Path | None) -> Path | None:
        return None if value is None else _checked_dir(value, "KREA_OUTPUT_DIR")

    @property
    def multi_user(self) -> bool:
        """Each HTTP request brings its own Krea token: nothing on this machine may be shared between callers."""
        return self.http_auth == "bearer-passthrough"

    def resolved_output_dir(self) -> Path:
        """The directory images are saved to by default (not created here)."""
        if self.output_dir is not None:
            return self.output_dir.expanduser().resolve()
        import platformdirs  # deferred: only needed once something is saved

        pictures = Path(platformdirs.user_pictures_dir())
        if pictures.is_dir():
            return (pictures / "krea-mcp").resolve()
        return (Path(platformdirs.user_data_dir("krea-mcp")) / "images").resolve()

    def project_dir(self) -> Path | None:
        """The folder the server was started in, when it is a real project folder a relative ``save_to`` should land
        in (how Claude Code and Cursor start servers): a writable directory inside the allowed ones, and neither a
        file-system root nor the home directory itself (how some hosts start servers). None otherwise."""
        try:
            cwd = Path.cwd().resolve()
        except OSError:  # the working directory was removed
            return None
        if cwd == Path(cwd.anchor) or cwd == Path.home().resolve() or not os.access(cwd, os.W_OK):
            return None
        allowed = self.input_dirs()
        return cwd if any(cwd.is_relative_to(d) for d in allowed) else None

    def input_dirs(self) -> list[Path]:
        """Directories local files may be read from and saved into: the allowed dirs, else the working directory,
        plus the output directory. A working directory of ``/`` (how some hosts start servers) is never allowed."""
        dirs = list(self.allowed_dirs)
        if not dirs and Path.cwd().resolve() != Path(Path.cwd().anchor):
            dirs.append(Path.cwd())
        dirs.append(self.resolved_output_dir())
        return list(dict.fromkeys(d.expanduser().resolve() for d in dirs))

    @field_validator("api_token", "redis_url")
    @classmethod
    def _empty_is_none(cls, value: SecretStr | None) -> SecretStr | None:
        if value is None or not value.get_secret_value().strip():
            return None
        return SecretStr(value.get_secret_value().strip())

    @field_validator("http_token")
    @classmethod
    def _strip_http_token(cls, value: SecretStr | None) -> SecretStr | None:
        """Surrounding whitespace (a ``.env`` line) is never part of the token. An empty token stays empty, not
        unset, so token mode can say exactly what is wrong (see ``http_app.check``)."""
        return None if value is None else SecretStr(value.get_secret_value().strip())


def _loopback(host: str) -> bool:
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def describe_error(exc: ValidationError) -> str:
    """A settings error for a person: one line per variable, its problem and what is allowed, and never the value
    (it may be a token, or a URL with a password in it), nor pydantic's type codes and links."""
    lines = []
    for error in exc.errors(include_url=False, include_input=False):
        field_name = str(error["loc"][0]) if error.get("loc") else ""
        variable = "KREA_API_TOKEN" if field_name == "api_token" else f"KREA_{field_name.upper()}"
        message = str(error.get("msg", "invalid value")).removeprefix("Value error, ")
        lines.append(f"{variable}: {message}")
    return "\n".join(lines)
