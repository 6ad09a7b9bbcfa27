"""Job kinds as data: what the workflow needs of any request, and the one adapter per kind that builds its body.

The workflow (find the operation, build and check the body, reserve spend, upload inputs, create, wait, deliver)
is the same for every kind. A kind contributes a request type (``JobRequest``) and an adapter mapping it onto the
operation's fields; the body is then checked against the operation's schema, whatever the kind. Adding a kind is
a catalog entry and one entry in ``ADAPTERS``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, ClassVar, Protocol, Self

from krea_mcp.catalog import enhance_params, image_params, training_params, video_params
from krea_mcp.catalog.models import Kind, Operation
from krea_mcp.catalog.schema_check import validate_body


class JobRequest(Protocol):
    """What a tool asked for, as the workflow sees it whatever the job kind."""

    kind: ClassVar[Kind]

    @property
    def model(self) -> str:
        """The operation's id or alias, as the caller wrote it."""
        ...

    @property
    def prompt(self) -> str:
        """What the job is about: recorded with the job, and the start of saved files' names."""
        ...

    def references(self) -> dict[str, list[str]]:
        """Inputs by argument name: URLs, or local files and data: URIs the workflow uploads before the POST."""
        ...

    def with_references(self, refs: dict[str, list[str]]) -> Self:
        """The same request with its references replaced (stand-ins while checking, then the uploaded URLs)."""
        ...


@dataclass(frozen=True, slots=True)
class BodyAdapter:
    """How one kind's request becomes an operation's request body, and what to tell the caller about it."""

    #: The body for the operation (raising ``InvalidRequestError`` for what cannot be mapped); not yet checked
    #: against the schema.
    build: Callable[[Operation, Any], dict[str, Any]]
    #: A sentence on what was sent when it is not literally what was asked (None when it is).
    note: Callable[[Operation, Any, dict[str, Any]], str | None]


#: The adapter of each kind that has a tool.
ADAPTERS: dict[Kind, BodyAdapter] = {
    "image": BodyAdapter(build=image_params.build_body, note=image_params.size_note),
    "enhance": BodyAdapter(build=enhance_params.build_body, note=enhance_params.size_note),
    "video": BodyAdapter(build=video_params.build_body, note=video_params.body_note),
    "style-training": BodyAdapter(build=training_params.build_body, note=training_params.body_note),
}


def adapter_for(kind: Kind) -> BodyAdapter:
    """The adapter for ``kind`` (a programming error for a kind no tool offers yet)."""
    try:
        return ADAPTERS[kind]
    except KeyError:
        raise LookupError(f"no request adapter for {kind} jobs") from None


def request_body(operation: Operation, request: JobRequest) -> dict[str, Any]:
    """The body to POST for ``request``: built by its kind's adapter, then checked against the operation's schema."""
    body = adapter_for(operation.kind).build(operation, request)
    validate_body(operation, body)
    return body


def request_note(operation: Operation, request: JobRequest, body: dict[str, Any]) -> str | None:
    """What the kind's adapter says about the body it built for ``request`` (None when nothing needs saying)."""
    return adapter_for(operation.kind).note(operation, request, body)
