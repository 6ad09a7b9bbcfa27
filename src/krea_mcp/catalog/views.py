"""Every text view of the catalog: ``list_models``' compact list and one model's full parameters, and the table
``krea-mcp models`` prints."""

from __future__ import annotations

from typing import Any

from krea_mcp.catalog.image_params import ARGUMENT_FIELDS, image_field, style_field
from krea_mcp.catalog.models import Catalog, ModelInfo

LEGEND = "inputs: image=optional input image(s), edit=input image required, refs=reference images, style=style images"


def compact_list(catalog: Catalog, default_model: str) -> str:
    """One line per model: id [aliases] ~seconds price; inputs — summary."""
    lines = [
        f"{len(catalog.models)} Krea image models (default {default_model}). {LEGEND}. "
        "Full parameters: list_models(model=...)."
    ]
    for info in catalog.models.values():
        aliases = f" [{', '.join(info.aliases[:2])}]" if info.aliases else ""
        price = f" {info.price_hint}" if info.price_hint else ""
        inputs = f"; {'/'.join(info.inputs)}" if info.inputs else ""
        flag = " DEPRECATED" if info.deprecated else ""
        lines.append(f"{info.id}{aliases} {_seconds(info)}{price}{inputs}{flag} — {info.summary}")
    if catalog.sunset:
        gone = ", ".join(f"{s.id} (use {s.replacement})" if s.replacement else s.id for s in catalog.sunset.values())
        lines.append(f"Retired: {gone}.")
    return "\n".join(lines)


def table(catalog: Catalog) -> str:
    """The catalog as a table for people: model, aliases, time, price, inputs; then what "?" means and the retired."""
    rows = [("MODEL", "ALIASES", "TIME", "PRICE", "INPUTS")]
    for info in catalog.models.values():
        rows.append(
            (info.id, ", ".join(info.aliases), _seconds(info), info.price_hint or "-", "/".join(info.inputs) or "text")
        )
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]) - 1)]
    lines = ["  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=False)) + "  " + row[-1] for row in rows]
    lines.append("\n? = estimated time. Retired: " + ", ".join(s.id for s in catalog.sunset.values()))
    return "\n".join(lines)


def _seconds(info: ModelInfo) -> str:
    """A model's typical time, short: ``~7s``, or ``~20s?`` when it is an estimate."""
    return f"~{info.typical_s:g}s" + ("?" if info.typical_s_estimated else "")


def model_detail(info: ModelInfo) -> str:
    """Everything needed to call one model right: parameters with types, ranges, defaults, and the mapping."""
    seconds = f"~{info.typical_s:g} s" + (" (estimate)" if info.typical_s_estimated else "")
    head = [
        f"{info.id} — {info.title}: {info.summary}",
        f"Typical time {seconds}; price {info.price_hint or 'unknown'}."
        + (f" Aliases: {', '.join(info.aliases)}." if info.aliases else ""),
        "Krea parameters (* = required):",
    ]
    required = set(info.required)
    params = [f"- {name}{'*' if name in required else ''}: {_describe(spec)}" for name, spec in info.properties.items()]
    return "\n".join(head + params + [_mapping(info)])


def _mapping(info: ModelInfo) -> str:
    props = info.properties
    parts = []
    if isinstance(props.get("aspect_ratio"), dict) and props["aspect_ratio"].get("enum"):  # as image_params._map_size
        parts.append("width/height → nearest aspect_ratio")
    elif "width" in props:
        parts.append("width/height/aspect_ratio/resolution → width,height")
    img = image_field(info)
    if img == "reference_images":
        parts.append("images → reference_images tagged ref1..ref3 (write @ref1 in the prompt)")
    elif img:
        parts.append(f"images → {img}")
    sty = style_field(info)
    if sty:
        parts.append(f"style_images → {sty} (strength 1)")
    if "styles" in props:
        parts.append("styles → styles (trained styles: list_styles)")
    for common, field in (("steps", "num_inference_steps"), ("strength", "denoising_strength")):
        if field in props:
            parts.append(f"{common} → {field}")
    rest = [name for name in props if name not in ARGUMENT_FIELDS]
    tail = f" Others via options: {', '.join(rest)}." if rest else ""
    return "generate_image mapping: " + "; ".join(parts) + "." + tail if parts else f"Options: {', '.join(rest)}."


def _describe(spec: dict[str, Any]) -> str:
    kind = spec.get("type", "any")
    kind = "|".join(kind) if isinstance(kind, list) else str(kind)
    bits = [kind]
    if "enum" in spec:
        bits = [" | ".join(str(v) for v in spec["enum"])]
    lo, hi = spec.get("minimum"), spec.get("maximum")
    if lo is not None or hi is not None:
        bits.append(f"{_n(lo) if lo is not None else '…'}–{_n(hi) if hi is not None else '…'}")
    if "maxLength" in spec:
        bits.append(f"≤{spec['maxLength']} chars")
    if "minItems" in spec or "maxItems" in spec:
        bits.append(f"{spec.get('minItems', 0)}–{spec.get('maxItems', '…')} items")
    items = spec.get("items")
    if isinstance(items, dict) and items.get("type") == "object":
        fields = ", ".join(f"{k}{'*' if k in items.get('required', []) else ''}" for k in items.get("properties", {}))
        bits.append(f"of {{{fields}}}")
    if "default" in spec and spec["default"] is not None and not (kind == "number" and spec["default"] > 10**6):
        bits.append(f"default {spec['default']}")
    text = ", ".join(bits)
    return f"{text} — {spec['description']}" if spec.get("description") else text


def _n(x: Any) -> str:
    return f"{x:g}" if isinstance(x, float) else str(x)
