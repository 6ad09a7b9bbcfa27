"""The image adapter: turn the common parameters agents use into one image model's real request body.

All model-specific knowledge comes from the catalog's JSON schemas, so this module has no per-model tables. The
body is then checked against the model's schema by the generic step (``catalog.schema_check``).
"""

from __future__ import annotations

import difflib
import math
import re
from dataclasses import dataclass, field, replace
from typing import Any, ClassVar

from krea_mcp.catalog.models import Kind, ModelInfo, load_catalog, takes
from krea_mcp.catalog.training_params import styled_models
from krea_mcp.errors import InvalidRequestError

_RATIO = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*[:x/]\s*(\d+(?:\.\d+)?)\s*$")
_LONG_SIDE = {"1K": 1024, "2K": 2048, "4K": 4096}


@dataclass(slots=True)
class GenerateParams:
    """What an agent asked for, before it is mapped onto a model."""

    prompt: str
    model: str
    width: int | None = None
    height: int | None = None
    aspect_ratio: str | None = None
    resolution: str | None = None
    seed: int | None = None
    steps: int | None = None
    negative_prompt: str | None = None
    strength: float | None = None
    #: Input / reference images (URLs once resolved); mapped to the model's image field.
    images: list[str] = field(default_factory=list)
    #: Style references (URLs once resolved); mapped to style_images or image_style_references.
    style_images: list[str] = field(default_factory=list)
    options: dict[str, Any] = field(default_factory=dict)
    #: Trained styles (LoRAs) to apply: ``{"id": ..., "strength": ...}`` each, as Krea's ``styles`` field takes them.
    styles: list[dict[str, Any]] = field(default_factory=list)

    kind: ClassVar[Kind] = "image"

    def references(self) -> dict[str, list[str]]:
        """The images this request refers to, by argument (local files and data: URIs are uploaded first)."""
        return {"images": self.images, "style_images": self.style_images}

    def with_references(self, refs: dict[str, list[str]]) -> GenerateParams:
        """This request with its image references replaced (by stand-ins, or by the URLs they were uploaded to)."""
        return replace(self, images=refs["images"], style_images=refs["style_images"])


def suggest_field(info: ModelInfo, name: str) -> str | None:
    """The model's own field an agent most likely meant by ``name`` (``guidanceScale`` -> ``guidance_scale_flux``).

    Only ever a field the model really has, so following the hint cannot hit a second rejection.
    """
    snake = re.sub(r"([a-z0-9])([A-Z])", r"\1_\2", name.strip()).lower().replace("-", "_")
    props = list(info.properties)
    if snake in props:
        return snake
    flat = snake.replace("_", "")
    for field_name in props:
        if field_name.replace("_", "") == flat:
            return field_name
    prefixed = [f for f in props if f.startswith(snake + "_") or snake.startswith(f + "_")]
    if len(prefixed) == 1:
        return prefixed[0]
    close = difflib.get_close_matches(snake, props, n=1, cutoff=0.7)
    return close[0] if close else None


def build_body(info: ModelInfo, p: GenerateParams) -> dict[str, Any]:
    """Map ``p`` onto ``info``'s request fields (the workflow then checks the body against the model's schema)."""
    props = info.properties
    body: dict[str, Any] = {"prompt": p.prompt}
    _map_size(info, p, body)
    _put(info, body, "seed", p.seed, ("seed",))
    _put(info, body, "steps", p.steps, ("steps", "num_inference_steps"))
    _put(info, body, "negative_prompt", p.negative_prompt, ("negative_prompt",))
    _put(info, body, "strength", p.strength, ("strength", "denoising_strength"))
    _map_images(info, p.images, body)
    _map_style_images(info, p.style_images, body)
    _map_styles(info, p.styles, body)
    for key, value in p.options.items():
        if key in body:
            raise InvalidRequestError(
                f"options.{key} repeats an argument generate_image already sets; pass it once, as the argument.",
                field=f"options.{key}",
            )
        argument = argument_for(key)
        if argument is not None:  # set through the argument, so it is uploaded, checked and mapped like one
            why = " (local files and data: URIs are uploaded only from there)" if argument.endswith("images") else ""
            raise InvalidRequestError(
                f"options.{key} is set through generate_image's own argument {argument!r}; pass it there{why}.",
                field=f"options.{key}",
            )
        if key not in props:
            near = suggest_field(info, key)
            hint = f"use options.{near}" if near else f"it takes: {', '.join(sorted(props))}"
            raise InvalidRequestError(f"options.{key} is not a parameter of {info.id}; {hint}.", field=f"options.{key}")
        body[key] = value
    return body


def _put(info: ModelInfo, body: dict[str, Any], name: str, value: Any, fields: tuple[str, ...]) -> None:
    if value is None:
        return
    for f in fields:
        if f in info.properties:
            body[f] = value
            return
    raise InvalidRequestError(f"{name}: model {info.id} has no such parameter. {takes(info)}", field=name)


def _map_size(info: ModelInfo, p: GenerateParams, body: dict[str, Any]) -> None:
    """Size in whatever form the model takes: width/height, an aspect_ratio enum, and/or a resolution enum."""
    props = info.properties
    takes_wh = "width" in props and "height" in props
    ratios = _enum(props.get("aspect_ratio"))
    resolutions = _enum(props.get("resolution"))
    if (p.width is None) != (p.height is None):
        raise InvalidRequestError("width and height must be given together (or use aspect_ratio).", field="width")
    ratio = _parse_ratio(p.aspect_ratio) if p.aspect_ratio else None

    if ratios:  # the model speaks aspect ratios (z-image, Krea 2, Nano Banana): width/height map to the nearest one
        if _contradicts(ratio, p.width, p.height):
            raise InvalidRequestError(
                f"aspect_ratio {p.aspect_ratio!r} does not match width/height {p.width}x{p.height}; pass "
                "width and height, or aspect_ratio, not both.",
                field="aspect_ratio",
            )
        if p.aspect_ratio is not None:
            body["aspect_ratio"] = _nearest_ratio(p.aspect_ratio, ratios, info, exact=True)
        elif p.width is not None and p.height is not None:
            body["aspect_ratio"] = _nearest_ratio(f"{p.width}:{p.height}", ratios, info, exact=False)
        elif "aspect_ratio" in info.required:
            body["aspect_ratio"] = "1:1" if "1:1" in ratios else ratios[0]
    elif takes_wh:
        if p.width is not None and p.height is not None:
            if p.resolution is not None:  # two different sizes asked for: never drop one silently
                raise InvalidRequestError(
                    f"resolution={p.resolution} and width/height={p.width}x{p.height} both set the size of "
                    f"{info.id}'s image; pass only one of them.",
                    field="resolution",
                )
            if _contradicts(ratio, p.width, p.height):
                raise InvalidRequestError(
                    f"aspect_ratio {p.aspect_ratio!r} does not match width/height {p.width}x{p.height}; pass "
                    "width and height, or aspect_ratio (with resolution), not both.",
                    field="aspect_ratio",
                )
            body["width"], body["height"] = p.width, p.height
        elif ratio is not None or p.resolution is not None or "width" in info.required:
            long_side = _LONG_SIDE.get(p.resolution or "1K", 1024)
            bounds = _bounds(props["width"])
            if p.resolution is not None and long_side > bounds[1]:  # asked for explicitly: never shrink it silently
                raise InvalidRequestError(
                    f"resolution={p.resolution} needs {long_side} px, but model {info.id} allows at most "
                    f"{bounds[1]:g} px per side; use a lower resolution or width/height.",
                    field="resolution",
                )
            body["width"], body["height"] = _size_for(ratio or 1.0, long_side, bounds)
    elif p.width is not None or p.aspect_ratio is not None:
        raise InvalidRequestError(
            f"model {info.id} takes no size parameters; drop width/height/aspect_ratio.", field="width"
        )

    if resolutions:
        if p.resolution is not None:
            body["resolution"] = p.resolution  # validated against the enum below
        elif "resolution" in info.required:
            body["resolution"] = resolutions[0]
    elif p.resolution is not None and (ratios or not takes_wh):  # nothing would carry it: say so
        raise InvalidRequestError(
            f"resolution: model {info.id} has no resolution setting. {takes(info)}", field="resolution"
        )


def size_note(info: ModelInfo, p: GenerateParams, body: dict[str, Any]) -> str | None:
    """What was sent to Krea for the size, when it is not literally what the agent asked (None when it is)."""
    if "aspect_ratio" in body and p.width is not None and p.height is not None:
        asked = p.width / p.height
        if abs(math.log(_parse_ratio(str(body["aspect_ratio"])) / asked)) > 0.01:
            return (
                f"Size: sent aspect_ratio={body['aspect_ratio']}, the closest {info.id} offers to {p.width}x{p.height} "
                "(it takes aspect ratios, not pixel sizes)."
            )
        return f"Size: sent aspect_ratio={body['aspect_ratio']} for {p.width}x{p.height} ({info.id} takes ratios)."
    if "width" in body and p.width is None and (p.aspect_ratio is not None or p.resolution is not None):
        asked_for = " ".join(x for x in (p.aspect_ratio, p.resolution) if x)
        return f"Size: sent width={body['width']}, height={body['height']} for {asked_for} ({info.id} takes pixels)."
    return None


#: Where each model takes input/reference images, in order of preference.
IMAGE_FIELDS = ("image_url", "image_urls", "reference_images", "character_reference_images")
STYLE_FIELDS = ("style_images", "image_style_references")


def image_field(info: ModelInfo) -> str | None:
    return next((f for f in IMAGE_FIELDS if f in info.properties), None)


def style_field(info: ModelInfo) -> str | None:
    return next((f for f in STYLE_FIELDS if f in info.properties), None)


#: Model fields that generate_image's own arguments fill in (everything else of a model goes through ``options``).
ARGUMENT_FIELDS = frozenset(
    {"prompt", "width", "height", "aspect_ratio", "resolution", "seed", "steps", "num_inference_steps"}
    | {"negative_prompt", "strength", "denoising_strength", "styles", *IMAGE_FIELDS, *STYLE_FIELDS}
)


def argument_for(field_name: str) -> str | None:
    """The generate_image argument that fills a model field, if one does (``denoising_strength`` -> ``strength``)."""
    if field_name in IMAGE_FIELDS:
        return "images"
    if field_name in STYLE_FIELDS:
        return "style_images"
    renamed = {"num_inference_steps": "steps", "denoising_strength": "strength"}
    return renamed.get(field_name, field_name if field_name in ARGUMENT_FIELDS else None)


def option_fields(info: ModelInfo) -> list[str]:
    """The model's fields that only ``options`` can set."""
    return sorted(f for f in info.properties if f not in ARGUMENT_FIELDS)


def _map_images(info: ModelInfo, images: list[str], body: dict[str, Any]) -> None:
    if not images:
        return
    target = image_field(info)
    if target is None:
        alt = " It takes style references: use style_images." if style_field(info) else ""
        raise InvalidRequestError(
            f"images: model {info.id} takes no input images.{alt} Models that do: list_models shows 'image'/'edit'.",
            field="images",
        )
    if target == "image_url":
        if len(images) > 1:
            raise InvalidRequestError(f"images: model {info.id} takes exactly one input image.", field="images")
        body["image_url"] = images[0]
    elif target == "reference_images":  # Runway: refer to them in the prompt as @ref1, @ref2, @ref3
        body["reference_images"] = [{"url": url, "tag": f"ref{i}"} for i, url in enumerate(images, 1)]
    else:
        body[target] = list(images)


def _map_style_images(info: ModelInfo, urls: list[str], body: dict[str, Any]) -> None:
    if not urls:
        return
    target = style_field(info)
    if target is None:
        raise InvalidRequestError(
            f"style_images: model {info.id} takes no style images. {takes(info)}", field="style_images"
        )
    body[target] = [{"url": url, "strength": 1.0} for url in urls]


def _map_styles(info: ModelInfo, styles: list[dict[str, Any]], body: dict[str, Any]) -> None:
    """Trained styles go to the model's own ``styles`` field; whether each one exists and fits is checked later,
    against Krea (``workflow.style_book``), once the rest of the request is known to be valid."""
    if not styles:
        return
    if "styles" not in info.properties:
        instead = " (its style_images argument takes reference images instead)" if style_field(info) else ""
        raise InvalidRequestError(
            f"styles: model {info.id} takes no trained styles (LoRAs). Models that do: "
            f"{', '.join(styled_models(load_catalog()))}. Pass one of them as model, or drop styles{instead}.",
            field="styles",
        )
    body["styles"] = [{"id": s["id"], "strength": s.get("strength", 1.0)} for s in styles]


def _contradicts(ratio: float | None, width: int | None, height: int | None) -> bool:
    """Whether an aspect ratio and a pixel size were both given and disagree (by more than 1%)."""
    if ratio is None or width is None or height is None:
        return False
    return abs(math.log(ratio / (width / height))) > 0.01


def _enum(schema: Any) -> list[str]:
    return list(schema.get("enum", [])) if isinstance(schema, dict) else []


def _parse_ratio(text: str) -> float:
    m = _RATIO.match(text)
    if not m or float(m.group(2)) == 0 or float(m.group(1)) == 0:
        raise InvalidRequestError(f"aspect_ratio {text!r} is not a ratio like '16:9'.", field="aspect_ratio")
    return float(m.group(1)) / float(m.group(2))


def _nearest_ratio(text: str, allowed: list[str], info: ModelInfo, *, exact: bool) -> str:
    """Exact match when the agent gave a ratio the model lists; otherwise the closest one (log distance)."""
    wanted = _parse_ratio(text)
    best = min(allowed, key=lambda r: abs(math.log(_parse_ratio(r) / wanted)))
    if exact and abs(math.log(_parse_ratio(best) / wanted)) > 0.01:
        raise InvalidRequestError(
            f"aspect_ratio {text!r} is not offered by {info.id}; allowed: {', '.join(allowed)} (closest: {best}).",
            field="aspect_ratio",
        )
    return best


def _size_for(ratio: float, long_side: int, bounds: tuple[float, float]) -> tuple[int, int]:
    """Width and height with the given ratio, the long side ``long_side`` where the model's range allows.

    A wide ratio on a model with a minimum side (Flux: 512) grows until the short side fits, and the long side
    is capped at the maximum; both are multiples of 16. Sizes we chose never fail the model's range; sizes the
    agent gave are checked as given.
    """
    lo, hi = bounds
    long_f = float(long_side)
    short = long_f / ratio if ratio >= 1 else long_f * ratio
    if short < lo:
        long_f *= lo / short
    long_f = min(long_f, hi)
    short = max(long_f / ratio if ratio >= 1 else long_f * ratio, lo)
    w, h = (long_f, short) if ratio >= 1 else (short, long_f)

    def snap(x: float) -> int:
        v = round(x / 16) * 16
        return int(min(max(v, -(-lo // 16) * 16), hi // 16 * 16)) if hi >= 16 else max(16, v)

    return snap(w), snap(h)


def _bounds(spec: object) -> tuple[float, float]:
    """A size field's (minimum, maximum), with open ends as 16 and 8192."""
    d = spec if isinstance(spec, dict) else {}
    return float(d.get("minimum", 16)), float(d.get("maximum", 8192))
