"""Every text view of the catalog: ``list_models``' compact list and one model's full parameters, and the table
``krea-mcp models`` prints."""

from __future__ import annotations

from collections.abc import Sequence
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


def compact_video_list(catalog: Catalog, default_model: str) -> str:
    """One line per video model: id [aliases] ~seconds price; lengths; frames and audio — summary."""
    videos = catalog.of_kind("video")
    lines = [
        f"{len(videos)} Krea video models (default {default_model}), for generate_video. Full parameters: "
        "list_models(model=...)."
    ]
    for info in videos.values():
        aliases = f" [{', '.join(info.aliases[:2])}]" if info.aliases else ""
        flag = " DEPRECATED" if info.deprecated else ""
        lines.append(
            f"{info.id}{aliases} {_seconds(info)} {_video_price(info)}; {_lengths(info)}{_frames(info)}{flag} — "
            f"{info.summary}"
        )
    return "\n".join(lines)


def table(catalog: Catalog) -> str:
    """The catalog as tables for people, image models then video models: model, aliases, time, price, inputs (or
    lengths); then what "?" means and the retired."""
    images = [("IMAGE MODEL", "ALIASES", "TIME", "PRICE", "INPUTS")]
    for info in catalog.models.values():
        images.append(
            (info.id, ", ".join(info.aliases), _seconds(info), info.price_hint or "-", "/".join(info.inputs) or "text")
        )
    videos = [("VIDEO MODEL", "ALIASES", "TIME", "PRICE", "LENGTHS")]
    for info in catalog.of_kind("video").values():
        videos.append((info.id, ", ".join(info.aliases), _seconds(info), _video_price(info), _lengths(info)))
    lines = [*_aligned(images), "", *_aligned(videos)]
    lines.append("\n? = estimated time. Retired: " + ", ".join(s.id for s in catalog.sunset.values()))
    return "\n".join(lines)


def _aligned(rows: Sequence[tuple[str, ...]]) -> list[str]:
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]) - 1)]
    return ["  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=False)) + "  " + row[-1] for row in rows]


def _video_price(info: ModelInfo) -> str:
    """A video model's price: per second when Krea prices it so, else its most expensive documented call."""
    if info.usd_per_second is not None:
        return f"≤${info.usd_per_second:.4g}/s"
    if info.usd_estimate is not None:
        return f"≤${info.usd_estimate:.3g}"
    return "price unknown"


def _lengths(info: ModelInfo) -> str:
    """The lengths a video model makes, in seconds: "5 or 10 s", "3–15 s", "frames", "fixed"."""
    from krea_mcp.catalog.video_params import durations

    found = durations(info)
    if found is None:
        return "fixed length"
    values, (low, high) = found
    if values:
        shown = [f"{v:g}" for v in values]
        return (", ".join(shown[:-1]) + " or " + shown[-1] if len(shown) > 1 else shown[0]) + " s"
    if "duration" not in info.properties:
        return f"length in frames ({info.frame_rate or 16:g} fps)"
    if low is not None or high is not None:
        return f"{_n(low) if low is not None else '…'}–{_n(high) if high is not None else '…'} s"
    default = info.properties["duration"].get("default")
    return f"any length (default {default} s)" if default is not None else "any length"


def _frames(info: ModelInfo) -> str:
    """Which frame inputs and audio a video model takes."""
    props = info.properties
    takes: list[str] = [name for name in ("start_image", "end_image") if name in props]
    if "generate_audio" in props:
        takes.append("audio")
    return f"; {'/'.join(takes)}" if takes else ""


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
    return "\n".join(head + params + [_video_mapping(info) if info.kind == "video" else _mapping(info)])


def _video_mapping(info: ModelInfo) -> str:
    """How generate_video's arguments reach a video model's fields."""
    from krea_mcp.catalog.video_params import option_fields

    props = info.properties
    parts = [f"duration_s → {_length_field(info)} ({_lengths(info)})"]
    ratio = "aspect_ratio" if "aspect_ratio" in props else "ratio" if "ratio" in props else None
    if ratio:
        parts.append(f"aspect_ratio → {ratio}")
    if "resolution" in props:
        parts.append("resolution → resolution")
    if "width" in props:
        parts.append("aspect_ratio/resolution → width,height (720p 16:9 = 1280×720)")
    parts += [f"{name} → {name}" for name in ("start_image", "end_image", "generate_audio", "seed") if name in props]
    rest = option_fields(info)
    tail = f" Others via options: {', '.join(rest)}." if rest else ""
    return "generate_video mapping: " + "; ".join(parts) + "." + tail


def _length_field(info: ModelInfo) -> str:
    props = info.properties
    if "duration" in props:
        return "duration"
    return next((f for f in ("frame_num", "num_frames") if f in props), "none")


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
    elif "const" in spec:
        bits = [f"always {spec['const']}"]
    elif spec.get("anyOf") or spec.get("oneOf"):
        from krea_mcp.catalog.video_params import constants  # a list of allowed values written as anyOf

        values = constants(spec)
        if values:
            bits = [" | ".join(str(v) for v in values)]
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
