"""Checking a request body against its operation's JSON schema, in sentences an agent can act on.

The generic step of every job kind: whatever adapter built the body, it is checked here before the POST.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from krea_mcp.catalog.models import Operation, takes
from krea_mcp.errors import InvalidRequestError

if TYPE_CHECKING:
    from jsonschema import Draft202012Validator
    from jsonschema.exceptions import ValidationError as SchemaError


def validate_body(info: Operation, body: dict[str, Any]) -> None:
    """Raise ``InvalidRequestError`` naming the field, the model and the allowed values."""
    order = {key: i for i, key in enumerate(body)}
    errors = sorted(
        _validator(info).iter_errors(body),
        key=lambda e: (order.get(str(e.path[0]), len(order)) if e.path else -1, [str(x) for x in e.path]),
    )
    if errors:
        messages = list(dict.fromkeys(_describe(info, e) for e in errors[:4]))
        raise InvalidRequestError(" ".join(messages), field=_path(errors[0]) or None)


def _validator(info: Operation) -> Draft202012Validator:
    cached = _VALIDATORS.get(info.path)
    if cached is None:
        from jsonschema import Draft202012Validator  # deferred: not needed to list tools

        cached = _VALIDATORS[info.path] = Draft202012Validator(info.schema)
    return cached


#: One compiled validator per operation, by POST path (unique across kinds, unlike ids).
_VALIDATORS: dict[str, Draft202012Validator] = {}


def _path(err: SchemaError) -> str:
    return ".".join(str(x) for x in err.absolute_path)


def _describe(info: Operation, err: SchemaError) -> str:
    """One sentence for a schema violation: field, model, what is allowed."""
    where = _path(err)
    instance: Any = err.instance
    schema = err.schema if isinstance(err.schema, dict) else {}
    v = err.validator
    if v == "required":
        missing = str(err.message).split("'")[1] if "'" in str(err.message) else str(err.message)
        return f"{missing}: required by model {info.id}. {takes(info)}"
    if v == "additionalProperties":
        return f"{err.message!s} — model {info.id} rejects unknown fields. {takes(info)}"
    if v == "enum":
        allowed = ", ".join(str(x) for x in schema.get("enum", []))
        return f"{where}={instance!r} is not allowed by model {info.id}; allowed: {allowed}."
    if v in ("minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum"):
        lo, hi = (
            schema.get("minimum", schema.get("exclusiveMinimum")),
            schema.get("maximum", schema.get("exclusiveMaximum")),
        )
        span = f"{_num(lo) if lo is not None else '…'}–{_num(hi) if hi is not None else '…'}"
        return f"{where}={_num(instance)} is out of range for model {info.id}; allowed: {span}."
    if v in ("maxLength", "minLength"):
        lo, hi = schema.get("minLength", 0), schema.get("maxLength")
        span = f"{lo}–{hi}" if hi is not None else f"at least {lo}"
        return f"{where} has {len(instance)} characters; model {info.id} allows {span}."
    if v in ("maxItems", "minItems"):
        lo, hi = schema.get("minItems", 0), schema.get("maxItems")
        span = f"{lo}–{hi}" if hi is not None else f"at least {lo}"
        return f"{where} has {len(instance)} items; model {info.id} allows {span}."
    if v == "type":
        return f"{where}={instance!r} has the wrong type for model {info.id}; expected {schema.get('type')}."
    return f"{where or 'body'}: {err.message} (model {info.id})."


def _num(x: Any) -> str:
    return f"{x:g}" if isinstance(x, float) else str(x)
