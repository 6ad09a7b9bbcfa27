"""The style-training adapter: a train_style request as the body of ``POST /styles/train``."""

from __future__ import annotations

from typing import Any

from krea_mcp.catalog.models import Operation


def build_body(operation: Operation, request: Any) -> dict[str, Any]:
    """The body for ``request`` (not yet checked against the schema)."""
    raise NotImplementedError


def body_note(operation: Operation, request: Any, body: dict[str, Any]) -> str | None:
    """What to tell the caller about the body sent (None when nothing needs saying)."""
    return None
