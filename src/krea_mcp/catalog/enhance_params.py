"""The enhance adapter: an upscale request (an input of known size and a target) as a Topaz enhancer's body.

**What ``width`` and ``height`` mean.** Krea's spec does not say whether an enhancer's ``width``/``height`` are the
input's size or the output's. This server sends the *output* size: the enhancers' documented limits ("Max 16K",
"up to 22K", bloom's schema maximum of 10,000) are limits on what they produce, which only makes sense if those
fields are the size produced; Topaz's own API takes the output size the same way. The factor is sent too
(``image_scaling_factor``, with ``upscaling_activated`` when it is above 1), consistent with that size. That choice
lives here and only here (:func:`body_size`).

**Default enhancer: standard.** Most "make it bigger/sharper" requests want the same picture with more pixels;
``standard-enhance`` is Topaz's faithful upscaler (up to 22K, "best for photos") and invents nothing.
``generative`` (Redefine by default) and ``bloom`` (Reimagine) add new detail and can change faces and text, so
they are chosen explicitly.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field, replace
from pathlib import PurePosixPath
from typing import Any, ClassVar
from urllib.parse import urlsplit

from krea_mcp.catalog.models import Catalog, Kind, Operation
from krea_mcp.catalog.schema_check import validate_body
from krea_mcp.errors import InvalidRequestError, KreaError

#: The enhancers by the short name enhance_image takes (their catalog aliases), default first.
ENHANCERS = ("standard", "generative", "bloom")
#: Each enhancer's Topaz model when the call names none (the schema's default; standard and bloom require one).
DEFAULT_MODELS = {
    "topaz/standard-enhance": "Standard V2",
    "topaz/generative-enhance": "Redefine",
    "topaz/bloom-enhance": "Reimagine",
}
#: The scale used when the call gives neither ``scale`` nor ``long_side``.
DEFAULT_SCALE = 2.0
#: Body fields set from enhance_image's own arguments; ``options`` may not set them.
OWN_FIELDS = {
    "image_url": "image",
    "width": "scale or long_side",
    "height": "scale or long_side",
    "image_scaling_factor": "scale or long_side",
    "upscaling_activated": "scale or long_side",
    "model": "model",
}


@dataclass(frozen=True, slots=True)
class EnhanceParams:
    """What enhance_image asked for, with the input's real size (read from the image, never guessed)."""

    #: The image: a URL, or a local file / data: URI the workflow uploads before the POST.
    image: str
    #: The input's width and height in pixels.
    input_size: tuple[int, int]
    #: Enhancer: a short name (standard, generative, bloom) or an operation id.
    enhancer: str = ENHANCERS[0]
    scale: float | None = None
    long_side: int | None = None
    #: The enhancer's Topaz model (``Standard V2``, ``Redefine``...); None: the enhancer's default.
    topaz_model: str | None = None
    #: The enhancer's other fields (prompt, output_format, creativity...), checked against its schema.
    options: dict[str, Any] = field(default_factory=dict)
    #: How the input is named to the agent (a job's image, a file name, a URL).
    source: str = "the image"
    #: Said with the result about the input (which of a job's images was enhanced).
    source_note: str | None = None
    #: ``options.output_format`` was chosen from save_to's file name (Krea's default is jpg).
    format_from_save_to: bool = False

    kind: ClassVar[Kind] = "enhance"

    @property
    def model(self) -> str:
        return self.enhancer

    @property
    def prompt(self) -> str:
        """Recorded with the job and used to name saved files: the prompt, else what was enhanced."""
        text = self.options.get("prompt")
        return text if isinstance(text, str) and text.strip() else f"enhanced {self.source}"

    def references(self) -> dict[str, list[str]]:
        return {"image": [self.image]}

    def with_references(self, refs: dict[str, list[str]]) -> EnhanceParams:
        return replace(self, image=refs["image"][0])


def find_enhancer(catalog: Catalog, name: str) -> Operation:
    """The enhancer ``name`` means (short name or id, any case); anything else is refused naming the enhancers."""
    try:
        return catalog.find(name, "enhance")
    except KreaError:
        described = ", ".join(f"{_name(op)} ({op.id}, up to {op.max_side or 32_000:,} px)" for op in _in_order(catalog))
        raise InvalidRequestError(
            f"enhancer={name!r} is not an enhancer; the enhancers are: {described}. standard keeps the picture as "
            "it is; generative and bloom add new detail.",
            field="enhancer",
        ) from None


def _in_order(catalog: Catalog) -> list[Operation]:
    """The enhancers in ENHANCERS order (standard first)."""
    return [catalog.find(name, "enhance") for name in ENHANCERS]


#: The largest factor an enhancer takes (``image_scaling_factor``'s maximum in every enhancer's schema).
MAX_FACTOR = 32


def output_size(operation: Operation, request: EnhanceParams) -> tuple[int, int, float]:
    """The output width, height and scale factor, checked against the enhancer's limit (before anything is sent).

    The factor returned is the one the output size really has (a scale of 1.00001 on a 1000-pixel side is 1).
    """
    width, height = request.input_size
    long_in = max(width, height)
    limit = operation.max_side or 32_000
    if request.scale is not None and request.long_side is not None:
        raise InvalidRequestError(
            f"scale={request.scale:g} and long_side={request.long_side}: give one of them, not both (scale multiplies "
            f"the {width}×{height} input; long_side sets its longer side in pixels).",
            field="scale",
        )
    if long_in > limit:
        raise InvalidRequestError(
            f"image: the input is already {width}×{height}, over the {_name(operation)} enhancer's limit of "
            f"{limit:,} px per side. {_fits_elsewhere(operation, long_in)}",
            field="image",
        )
    top = min(limit, long_in * MAX_FACTOR)  # the longest side this input can reach on this enhancer
    if request.long_side is not None:
        if request.long_side < long_in:
            raise InvalidRequestError(
                f"long_side={request.long_side} is smaller than the input's longer side ({long_in} px, the image is "
                f"{width}×{height}); enhancers do not shrink images. Use long_side from {long_in} to {top}, or "
                "scale=1 to enhance without enlarging.",
                field="long_side",
            )
        factor = request.long_side / long_in
    else:
        factor = request.scale if request.scale is not None else DEFAULT_SCALE
    out_w, out_h = max(1, round(width * factor)), max(1, round(height * factor))
    asked = f"long_side={request.long_side}" if request.long_side is not None else f"scale={factor:g}"
    field = "long_side" if request.long_side is not None else "scale"
    if max(out_w, out_h) > limit:
        most = math.floor(top / long_in * 100) / 100
        raise InvalidRequestError(
            f"{asked}: the {width}×{height} input would become {out_w}×{out_h}, over the {_name(operation)} "
            f"enhancer's limit of {limit:,} px per side. The most this image can take on {_name(operation)} is "
            f"scale={most:g} (long_side={top}). {_fits_elsewhere(operation, long_in, factor)}",
            field=field,
        )
    if factor > MAX_FACTOR:
        raise InvalidRequestError(
            f"{asked}: that is {factor:g}× the {width}×{height} input; enhancers enlarge at most {MAX_FACTOR}× "
            f"(long_side={top} for this image). Enhance twice for more.",
            field=field,
        )
    return out_w, out_h, max(out_w / width, out_h / height)


def _fits_elsewhere(operation: Operation, long_in: int, factor: float = 1.0) -> str:
    """Where a request too big for ``operation`` would fit, from the enhancers' documented limits."""
    from krea_mcp.catalog.models import load_catalog

    needed = math.ceil(long_in * factor)
    roomier = [
        f"{_name(op)} (up to {op.max_side:,} px)"
        for op in _in_order(load_catalog())
        if op.id != operation.id and op.max_side is not None and op.max_side >= needed
    ]
    if roomier:
        return f"Enhancer {' or '.join(roomier)} can take it."
    return "Enhancer limits: standard 22,000, generative 16,000, bloom 10,000 px per side."


def body_size(out_w: int, out_h: int, factor: float) -> dict[str, Any]:
    """The size fields of an enhancer body: ``width``/``height`` are the output size (see the module docstring)."""
    return {
        "width": out_w,
        "height": out_h,
        "upscaling_activated": round(factor, 4) > 1,
        "image_scaling_factor": round(factor, 4),
    }


def topaz_model(operation: Operation, asked: str | None) -> str:
    """The enhancer's Topaz model: the one asked for (any case), or the enhancer's default."""
    spec = operation.properties.get("model", {})
    allowed = _models_of(operation)
    if asked is None:
        return DEFAULT_MODELS.get(operation.id, str(spec.get("default", allowed[0] if allowed else "")))
    for name in allowed:
        if name.casefold() == asked.strip().casefold():
            return name
    from krea_mcp.catalog.models import load_catalog

    elsewhere = [
        _name(op)
        for op in _in_order(load_catalog())
        if op.id != operation.id and asked.strip().casefold() in (m.casefold() for m in _models_of(op))
    ]
    hint = (
        f" {asked.strip()} is a model of the {' and '.join(elsewhere)} enhancer: pass enhancer={elsewhere[0]!r}."
        if elsewhere
        else ""
    )
    raise InvalidRequestError(
        f"model={asked!r} is not a model of the {_name(operation)} enhancer; its models are: "
        f"{', '.join(allowed)}.{hint}",
        field="model",
    )


def _models_of(operation: Operation) -> list[str]:
    """An enhancer's Topaz models, from its schema's ``model`` enum (or const)."""
    spec = operation.properties.get("model", {})
    return [str(m) for m in spec.get("enum", [spec["const"]] if "const" in spec else [])]


def build_body(operation: Operation, request: EnhanceParams) -> dict[str, Any]:
    """The enhancer's body for ``request``; the generic step then checks it against the schema."""
    out_w, out_h, factor = output_size(operation, request)
    props = operation.properties
    for name in request.options:
        if name in OWN_FIELDS:
            raise InvalidRequestError(
                f"options.{name}: set by enhance_image's {OWN_FIELDS[name]} argument, not by options.",
                field=f"options.{name}",
            )
        if name not in props:
            others = ", ".join(sorted(set(props) - set(OWN_FIELDS) - {"seed"})) + ", seed"
            raise InvalidRequestError(
                f"options.{name}: the {_name(operation)} enhancer has no such setting; its settings are: {others}.",
                field=f"options.{name}",
            )
    body: dict[str, Any] = {
        "image_url": request.image,
        **body_size(out_w, out_h, factor),
        "model": topaz_model(operation, request.topaz_model),
    }
    body.update(request.options)
    try:  # checked here too, so a problem in options is named as the caller wrote it
        validate_body(operation, body)
    except InvalidRequestError as exc:
        raise _in_own_names(operation, exc, request.options) from None
    return body


def _in_own_names(operation: Operation, exc: InvalidRequestError, options: dict[str, Any]) -> InvalidRequestError:
    """A schema error about the body, reworded in enhance_image's terms: ``options.creativity``, "the generative
    enhancer" (enhance_image's ``model`` is the enhancer's Topaz model, not the Krea operation)."""
    text = str(exc).replace(f"model {operation.id}", f"the {_name(operation)} enhancer")
    field = exc.field
    for name in options:
        text, count = re.subn(rf"(?<![\w.]){re.escape(name)}(?==|: | has )", f"options.{name}", text)
        if count and (field is None or field == name):
            field = f"options.{name}"
    return InvalidRequestError(text, field=field)


def size_note(operation: Operation, request: EnhanceParams, body: dict[str, Any]) -> str:
    """What was sent, said with every result: the enhancer, its model, and input → output size."""
    width, height = request.input_size
    factor = body.get("image_scaling_factor", 1)
    said = (
        f"Enhanced with {_name(operation)} ({body.get('model')}): {width}×{height} → {body['width']}×{body['height']} "
        f"({factor:g}×)."
    )
    if request.format_from_save_to:
        said += f" Asked Krea for {body['output_format']}, as save_to names."
    return f"{said} {request.source_note}" if request.source_note else said


def source_name(ref: str) -> str:
    """A short name for an input, for notes and saved file names: a file's or URL's stem, or "pasted image"."""
    text = ref.strip()
    if text.startswith("data:"):
        return "pasted image"
    path = urlsplit(text).path if "://" in text else text
    stem = PurePosixPath(path.replace("\\", "/")).stem
    return stem[:60] or "image"


def _name(operation: Operation) -> str:
    """An enhancer's short name (its alias), else its id."""
    return operation.aliases[0] if operation.aliases else operation.id
