"""Validation of generate bodies against each model's JSON schema, with readable error messages."""

from __future__ import annotations

import re
from collections.abc import Iterable
from functools import cache
from typing import Any

from jsonschema import Draft202012Validator, FormatChecker
from jsonschema.exceptions import ValidationError

from krea_mcp.catalog.models import load_catalog
from krea_mcp.fake_api._operations import operations

_MAX_ERRORS = 5
_MAX_MESSAGE = 200
_SCHEME = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*:\S+$")

# Only "uri" is checked, by a self-contained rule, so behaviour does not depend on optional packages.
_FORMATS = FormatChecker(formats=())


@_FORMATS.checks("uri")
def _is_uri(value: object) -> bool:
    return not isinstance(value, str) or bool(_SCHEME.match(value))


@cache
def validator_for(model_id: str) -> Draft202012Validator:
    """The (cached) Draft 2020-12 validator for one catalog model."""
    schema = load_catalog().models[model_id].schema
    return Draft202012Validator(schema, format_checker=_FORMATS)


def _field_path(error: ValidationError) -> str:
    out = ""
    for part in error.absolute_path:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


def _constants(schema: Any) -> list[Any] | None:
    """The values an ``anyOf`` of constants allows (nested, as LTX's durations), or None if it is anything else."""
    if isinstance(schema, dict) and "const" in schema:
        return [schema["const"]]
    if isinstance(schema, dict) and "enum" in schema:
        return list(schema["enum"])
    if isinstance(schema, dict) and isinstance(schema.get("anyOf"), list):
        found: list[Any] = []
        for branch in schema["anyOf"]:
            values = _constants(branch)
            if values is None:
                return None
            found += values
        return found
    return None


def _message(error: ValidationError) -> str:
    instance: Any = error.instance
    allowed = _constants(error.schema) if error.validator == "anyOf" else None
    if allowed:  # Kling's "5 or 10 seconds": say so, not "not valid under any of the given schemas"
        return f"{instance!r} is not one of {', '.join(repr(v) for v in allowed)}"
    if error.validator in ("maxLength", "minLength") and isinstance(instance, str):
        bound = "at most" if error.validator == "maxLength" else "at least"
        return f"must be {bound} {error.validator_value} characters long (got {len(instance)})"
    if len(error.message) > _MAX_MESSAGE:
        return error.message[: _MAX_MESSAGE - 3] + "..."
    return error.message


def _describe(errors: Iterable[ValidationError]) -> list[str]:
    described = []
    for error in errors:
        path = _field_path(error)
        described.append(f"{path}: {_message(error)}" if path else _message(error))
    return sorted(described)


def body_error(model_id: str, body: dict[str, Any]) -> str | None:
    """None if ``body`` is valid for the model, else a message naming every failing field."""
    return _report(_describe(validator_for(model_id).iter_errors(body)))


@cache
def _operation_validator(path: str) -> Draft202012Validator:
    return Draft202012Validator(operations()[path].schema, format_checker=_FORMATS)


def operation_error(path: str, body: dict[str, Any]) -> str | None:
    """Like ``body_error``, for an enhance or training operation of ``fake_api/operations.json`` (by POST path).

    A schema of several bodies (``oneOf``, as ``/styles/train``) is explained by the variant the body's ``model``
    selects (the first variant whose ``model`` enum holds it, else the first), not by "not valid under any".
    """
    validator = _operation_validator(path)
    if validator.is_valid(body):
        return None
    variants: list[dict[str, Any]] = operations()[path].schema.get("oneOf", [])
    if not variants:
        return _report(_describe(validator.iter_errors(body)))
    chosen = variants[0]
    for variant in variants:
        if body.get("model") in variant.get("properties", {}).get("model", {}).get("enum", []):
            chosen = variant
            break
    messages = _describe(Draft202012Validator(chosen, format_checker=_FORMATS).iter_errors(body))
    return _report(messages or ["matches more than one body variant"])


def _report(messages: list[str]) -> str | None:
    if not messages:
        return None
    return "Invalid request body: " + "; ".join(messages[:_MAX_ERRORS])
