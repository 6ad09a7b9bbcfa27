"""Shrink pydantic-generated JSON schemas for ``tools/list``: every byte there is paid for in the agent's context."""

from __future__ import annotations

from typing import Any

#: Validation-only keywords: still enforced (and explained) when a call arrives, but they tell a model little it
#: needs to call the tool right, and every byte of tools/list costs context in every conversation. Numeric bounds
#: and list sizes are kept: an agent cannot guess that a seed is unsigned or that images takes at most 16.
VALIDATION_ONLY = frozenset({"maxLength", "minLength", "pattern"})


def compact_schema(schema: dict[str, Any], *, drop: frozenset[str] = frozenset()) -> dict[str, Any]:
    """Drop auto titles, ``default: null`` and the ``drop`` keywords; turn ``anyOf: [T, null]`` into ``T``.

    Validation is unaffected: arguments are still validated by the tool's pydantic model, which accepts null.
    """
    out: dict[str, Any] = {}
    any_of = schema.get("anyOf")
    if isinstance(any_of, list) and len(any_of) == 2 and {"type": "null"} in any_of:
        (inner,) = [s for s in any_of if s != {"type": "null"}]
        merged = {**{k: v for k, v in schema.items() if k != "anyOf"}, **inner}
        if merged.get("default", ...) is None:
            del merged["default"]
        return compact_schema(merged, drop=drop)
    for key, value in schema.items():
        if (key == "title" and isinstance(value, str)) or key in drop:
            continue
        if (key == "default" and value is None) or (key == "additionalProperties" and value is True):
            continue
        if key in ("properties", "$defs") and isinstance(value, dict):
            out[key] = {
                name: compact_schema(sub, drop=drop) if isinstance(sub, dict) else sub for name, sub in value.items()
            }
        elif key == "items" and isinstance(value, dict):
            out[key] = compact_schema(value, drop=drop)
        else:
            out[key] = value
    return out


def compact_in_place(schema: dict[str, Any]) -> None:
    """``json_schema_extra`` hook for output models: compact the generated schema in place, descriptions too."""
    compacted = compact_schema(schema, drop=frozenset({"description"}))
    schema.clear()
    schema.update(compacted)
