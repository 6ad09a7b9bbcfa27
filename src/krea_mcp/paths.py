"""Paths typed by an agent: every way they can be malformed becomes an error naming the argument, never a crash."""

from __future__ import annotations

from pathlib import Path

from .errors import InvalidRequestError


def user_path(text: str, *, field: str) -> Path:
    """``text`` as a path: no NUL bytes, and ``~``/``~user`` expanded (an unknown user is an error)."""
    if "\x00" in text:
        raise InvalidRequestError(f"{field}: the path contains a NUL character.", field=field)
    try:
        return Path(text).expanduser()
    except RuntimeError:  # "~someone" for a user this machine does not know
        head = text.split("/", 1)[0]
        raise InvalidRequestError(f"{field}: {head!r} names no user on this machine.", field=field) from None
