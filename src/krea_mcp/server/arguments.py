"""Tool arguments exactly as the agent sent them: an unknown name or a bad value is one clear error, before anything
runs (no upload, no job, no credits).

The SDK ignores arguments a tool does not declare and reports bad values as raw pydantic text with a link. Both
cost the user: ``num_images=3`` or ``image_url=...`` would be dropped silently and the job still charged. Every
tool here is a :class:`StrictTool`, which checks names first (suggesting the real argument, or ``options``) and
rewrites value errors for the agent: the argument, the value, what is allowed, what to do.
"""

from __future__ import annotations

import difflib
import json
import re
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from mcp.server.mcpserver.exceptions import ToolError
from mcp.server.mcpserver.tools import Tool
from pydantic import Field, ValidationError

if TYPE_CHECKING:
    from mcp.server.mcpserver import Context

#: Names agents send for which the tool has another argument (or a route), keyed by the normalized name.
#: A hint only applies when the tool really has the argument it names (see :func:`_hint`).
_SYNONYMS: dict[str, tuple[str, str]] = {
    # normalized name: (argument it maps to, how to say it)
    "imageurl": ("images", "use images=[...] (a list of URLs, local paths or data: URIs)"),
    "imageurls": ("images", "use images=[...]"),
    "image": ("images", "use images=[...] (a list, even for one image)"),
    "inputimage": ("images", "use images=[...]"),
    "initimage": ("images", "use images=[...]"),
    "referenceimages": ("images", "use images=[...]"),
    "sourceimage": ("image", "use image=..."),
    "styleimage": ("style_images", "use style_images=[...]"),
    "styleimageurls": ("style_images", "use style_images=[...]"),
    "outputpath": ("save_to", "use save_to (a directory, or a file path ending in .png/.jpg/.webp)"),
    "output": ("save_to", "use save_to"),
    "outputdir": ("save_to", "use save_to"),
    "outputfile": ("save_to", "use save_to"),
    "outdir": ("save_to", "use save_to"),
    "path": ("save_to", "use save_to"),
    "filename": ("save_to", "use save_to"),
    "file": ("save_to", "use save_to"),
    "savepath": ("save_to", "use save_to"),
    "size": ("width", "use width and height, or aspect_ratio"),
    "dimensions": ("width", "use width and height, or aspect_ratio"),
    "ratio": ("aspect_ratio", "use aspect_ratio, e.g. '16:9'"),
    "ar": ("aspect_ratio", "use aspect_ratio, e.g. '16:9'"),
    "negative": ("negative_prompt", "use negative_prompt"),
    "numinferencesteps": ("steps", "use steps"),
    "inferencesteps": ("steps", "use steps"),
    "timeout": ("timeout_s", "use timeout_s (seconds)"),
    "timeoutseconds": ("timeout_s", "use timeout_s (seconds)"),
    "wait": ("timeout_s", "use timeout_s (seconds) to bound the wait"),
    "id": ("job_id", "use job_id"),
    "jobid": ("job_id", "use job_id"),
    "modelid": ("model", "use model"),
    "modelname": ("model", "use model"),
    "text": ("prompt", "use prompt"),
    "description": ("prompt", "use prompt"),
}
#: Asking for several images: one call makes one job (most models return one image).
_COUNT_NAMES = frozenset({"numimages", "n", "count", "numoutputs", "batchsize", "samples", "numberofimages"})
#: Model settings agents expect at the top level: they go in ``options`` when the model has them.
_MODEL_SETTING_HINT = (
    "if it is a setting of the model, pass it inside options (list_models with model=<id> shows the model's own fields)"
)


def _normalize(name: str) -> str:
    return re.sub(r"[^a-z0-9]", "", name.lower())


#: For tools with ``options``: given an unknown name and the call's arguments, where the chosen model takes it.
FieldHint = Callable[[str, dict[str, Any]], str | None]


class StrictTool(Tool):
    """A tool that refuses arguments it does not declare and explains bad values in its own argument names."""

    field_hint: FieldHint | None = Field(default=None, exclude=True)

    async def run(self, arguments: dict[str, Any], context: Context[Any, Any], convert_result: bool = False) -> Any:
        model = self.fn_metadata.arg_model
        known = [field.alias or name for name, field in model.model_fields.items()]
        _refuse(self, [_unknown(self, name, known, arguments) for name in arguments if name not in known])
        try:
            return await super().run(arguments, context, convert_result)
        except ToolError as exc:
            cause = exc.__cause__
            if not isinstance(cause, ValidationError):  # the tool ran: its own error, already written for the agent
                raise
            # The SDK's validation of the arguments (once, as before): nothing ran. Said in the tool's own words.
            schema = model.model_json_schema(by_alias=True)
            _refuse(self, list(dict.fromkeys(_describe(e, schema) for e in cause.errors(include_url=False))), cause)
            raise


#: Said after every argument error: the agent may simply correct the call.
NOTHING_SPENT = "Nothing was started or charged."


def _refuse(tool: Tool, problems: list[str], cause: BaseException | None = None) -> None:
    """Raise one ``ToolError`` for every problem, worded like the tool's other errors (the SDK's prefix)."""
    if problems:
        many = f"{len(problems)} problems. " if len(problems) > 1 else ""
        raise ToolError(f"Error executing tool {tool.name}: {many}{' '.join(problems)} {NOTHING_SPENT}") from cause


def _unknown(tool: Tool, name: str, known: list[str], arguments: dict[str, Any]) -> str:
    return f"{name!r} is not an argument of {tool.name}; {_hint(tool, name, known, arguments)}."


def _hint(tool: Tool, name: str, known: list[str], arguments: dict[str, Any]) -> str:
    key = _normalize(name)
    takes_options = "options" in known
    for real in known:  # aspectRatio, Aspect-Ratio, jobId ...
        if _normalize(real) == key:
            return f"use {real!r}"
    if key in _COUNT_NAMES and tool.name.startswith("generate"):
        return "one call makes one job (one image on most models); call it again, with another seed, for more"
    synonym = _SYNONYMS.get(key)
    if synonym is not None and synonym[0] in known:
        return synonym[1]
    field_hint: FieldHint | None = getattr(tool, "field_hint", None)
    model_hint = field_hint(name, arguments) if field_hint is not None else None
    if model_hint is not None:
        return model_hint
    close = difflib.get_close_matches(name, known, n=1, cutoff=0.75)
    if close:
        return f"use {close[0]!r}"
    allowed = ", ".join(known)
    if takes_options:
        snake = re.sub(r"([a-z0-9])([A-Z])", r"\1_\2", name).lower()
        return f"{_MODEL_SETTING_HINT.replace('it is', f'{snake!r} is')}. Arguments: {allowed}"
    return f"its arguments are: {allowed}"


# --- value errors ---------------------------------------------------------------------------------------------------


def _describe(error: Any, schema: dict[str, Any]) -> str:
    """One sentence for one pydantic error: the argument, the value, what is allowed, what to do."""
    loc = [str(part) for part in error.get("loc", ())]
    where = _where(loc)
    kind = str(error.get("type", ""))
    value = error.get("input")
    ctx = error.get("ctx") or {}
    spec = _spec(schema, loc)
    if kind == "missing":
        return f"{where} is required."
    if kind in ("greater_than_equal", "less_than_equal", "greater_than", "less_than"):
        return f"{where}={_show(value)} is out of range; allowed: {_range(spec, ctx)}."
    if kind == "string_too_short":
        if not value:
            return f"{where} is empty; give {_length(spec)}."
        return f"{where} is too short; give {_length(spec)}."
    if kind == "string_too_long":
        return f"{where} is {len(value)} characters; at most {ctx.get('max_length')} are accepted."
    if kind == "too_long":
        return f"{where} has {len(value)} items; at most {ctx.get('max_length')} are accepted."
    if kind == "too_short":
        return f"{where} has {len(value)} items; at least {ctx.get('min_length')} are needed."
    if kind in ("literal_error", "enum"):
        allowed = _choices(spec)
        near = [c for c in allowed if isinstance(value, str) and c.lower() == value.strip().lower()]
        extra = f" (did you mean {near[0]!r}?)" if near else ""
        return f"{where}={_show(value)} is not allowed; allowed: {', '.join(allowed)}{extra}."
    if kind == "list_type":
        got = "a string" if isinstance(value, str) else f"{type(value).__name__} {_show(value)}"
        example = f'["{value[:40]}"]' if isinstance(value, str) else '["..."]'
        return f"{where} must be a list, even for one item: {example}; got {got}."
    if kind in ("dict_type", "model_type"):
        fields = list(spec.get("properties", {}))
        if fields:  # an object of known fields (a style: {"id": ..., "strength": 1})
            shape = f"the fields {', '.join(fields)}, e.g. {_example(spec)}"
            return f"{where} must be an object with {shape}; got {_show(value)}."
        return f'{where} must be an object, e.g. {{"guidance_scale": 3}}; got {_show(value)}.'
    if kind == "extra_forbidden":
        fields = list(_spec(schema, loc[:-1]).get("properties", {}))
        return f"{where} is not a field here; the fields are: {', '.join(fields)}."
    if kind in ("int_parsing", "int_type", "int_from_float"):
        return f"{where} must be a whole number; got {_show(value)}.{_bare_number(value)}"
    if kind in ("float_parsing", "float_type", "finite_number"):
        return f"{where} must be a finite number; got {_show(value)}.{_bare_number(value)}"
    if kind in ("bool_parsing", "bool_type"):
        return f"{where} must be true or false; got {_show(value)}."
    if kind in ("string_type",):
        if isinstance(value, list) and len(value) == 1 and isinstance(value[0], str):
            return f"{where} takes one value, not a list: pass {_show(value[0])}."
        return f"{where} must be a string; got {_show(value)}."
    if kind == "string_pattern_mismatch":
        if loc and loc[-1] == "job_id":
            return f"job_id={_show(value)} is not a job id (letters, digits, '-' and '_'): pass the job_id of a result."
        return f"{where}={_show(value)} does not have the expected form."
    return f"{where}: {error.get('msg', 'invalid value')}."


def _example(spec: dict[str, Any]) -> str:
    """A JSON example of an object argument from its schema: each field with its default, or a stand-in."""
    parts = []
    for name, field in spec.get("properties", {}).items():
        field = _unwrap(field)
        sample = field.get("default", 1 if field.get("type") in ("number", "integer") else "...")
        parts.append(f'"{name}": {json.dumps(sample)}')
    return "{" + ", ".join(parts) + "}"


def _where(loc: list[str]) -> str:
    if not loc:
        return "arguments"
    head, *rest = loc
    return head + "".join(f"[{part}]" if part.isdigit() else f".{part}" for part in rest)


def _spec(schema: dict[str, Any], loc: list[str]) -> dict[str, Any]:
    """The JSON schema of the argument (or list item) at ``loc``, with ``anyOf: [T, null]`` unwrapped."""
    node: Any = schema.get("properties", {}).get(loc[0], {}) if loc else {}
    for part in loc[1:]:
        node = _unwrap(node)
        node = node.get("items", {}) if part.isdigit() else node.get("properties", {}).get(part, {})
    return _unwrap(node)


def _unwrap(node: Any) -> dict[str, Any]:
    if not isinstance(node, dict):
        return {}
    for option in node.get("anyOf", ()):
        if isinstance(option, dict) and option.get("type") != "null":
            return {**{k: v for k, v in node.items() if k != "anyOf"}, **option}
    return node


def _range(spec: dict[str, Any], ctx: dict[str, Any]) -> str:
    lo = spec.get("minimum", spec.get("exclusiveMinimum", ctx.get("ge", ctx.get("gt"))))
    hi = spec.get("maximum", spec.get("exclusiveMaximum", ctx.get("le", ctx.get("lt"))))
    low = f"over {_num(lo)}" if "exclusiveMinimum" in spec or "gt" in ctx else f"at least {_num(lo)}"
    if lo is not None and hi is not None:
        return f"{_num(lo)} to {_num(hi)}" if low.startswith("at") else f"{low} and at most {_num(hi)}"
    return low if lo is not None else f"at most {_num(hi)}"


def _length(spec: dict[str, Any]) -> str:
    lo, hi = spec.get("minLength", 1), spec.get("maxLength")
    return f"{lo:,}–{hi:,} characters" if hi is not None else f"at least {lo:,} characters"


def _choices(spec: dict[str, Any]) -> list[str]:
    values = spec.get("enum") or ([spec["const"]] if "const" in spec else [])
    return [str(v) for v in values]


def _num(x: Any) -> str:
    return f"{x:g}" if isinstance(x, float) else f"{x:,}" if isinstance(x, int) and abs(x) >= 10_000 else str(x)


def _show(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def _bare_number(value: Any) -> str:
    """For a number written with its unit ("4x", "5s", "1024px"): the number to send instead."""
    found = re.fullmatch(r"\s*(-?\d+(?:\.\d+)?)\s*([a-zA-Z%×]{1,3})\s*", value) if isinstance(value, str) else None
    return f" Send the number alone: {found.group(1)}." if found else ""
