"""Paths typed by an agent: every way they can be malformed becomes an error naming the argument, never a crash."""

from __future__ import annotations

import re
from pathlib import Path
from urllib.parse import urlsplit
from urllib.request import url2pathname

from krea_mcp.errors import InvalidRequestError

#: ``scheme://`` at the start: a URL, not a path (a Windows drive, ``C:\``, has no ``//``).
_URL = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*://")
#: C0 and C1 control characters, DEL and the Unicode line and paragraph separators: each breaks a reported line.
_CONTROL = re.compile("[\x01-\x1f\x7f-\x9f\u2028\u2029]")
_LOCAL_HOSTS = ("", "localhost")


def user_path(text: str, *, field: str) -> Path:
    """``text`` as a path: a ``file://`` URI becomes its path, ``~``/``~user`` is expanded; no URL of another
    scheme, no NUL byte and no control character (newline, tab, …) is accepted."""
    if text[:5].lower() == "file:":
        text = _file_uri_path(text, field)
    elif _URL.match(text):
        raise InvalidRequestError(
            f"{field}: {text[:80]!r} is a URL, not a local path. Pass a local path (or a file:// URI).", field=field
        )
    if "\x00" in text:
        raise InvalidRequestError(f"{field}: the path contains a NUL character.", field=field)
    try:
        text.encode("utf-8")
    except UnicodeEncodeError as exc:
        raise InvalidRequestError(
            f"{field}: the path contains an unpaired surrogate ({text[exc.start]!r}) at position {exc.start}, "
            "which names no file. Pass the path as valid Unicode.",
            field=field,
        ) from None
    bad = _CONTROL.search(text)
    if bad is not None:
        raise InvalidRequestError(
            f"{field}: the path contains the control character {bad.group()!r} at position {bad.start()}; paths "
            "with control characters (newlines, tabs, …) are not accepted. Pass the path without it.",
            field=field,
        )
    try:
        return Path(text).expanduser()
    except RuntimeError:  # "~someone" for a user this machine does not know
        head = text.split("/", 1)[0]
        raise InvalidRequestError(f"{field}: {head!r} names no user on this machine.", field=field) from None


def _file_uri_path(uri: str, field: str) -> str:
    """The local path a ``file:`` URI names (percent-escapes decoded); another host, a query or a fragment is an
    error rather than something silently dropped."""
    parts = urlsplit(uri)
    if parts.netloc.lower() not in _LOCAL_HOSTS:
        raise InvalidRequestError(
            f"{field}: {uri[:80]!r} names a file on the host {parts.netloc!r}; only files on this machine can be "
            "used. Pass a local path, or a file:///… URI.",
            field=field,
        )
    if parts.query or parts.fragment:
        raise InvalidRequestError(
            f"{field}: {uri[:80]!r} has a '?' or '#' part, which a file URI cannot carry. Percent-encode them "
            "(%3F, %23) or pass a plain path.",
            field=field,
        )
    if not parts.path.startswith("/"):
        raise InvalidRequestError(
            f"{field}: {uri[:80]!r} is not an absolute file URI; write file:///absolute/path or pass a plain path.",
            field=field,
        )
    return url2pathname(parts.path)  # decodes percent-escapes (once)
