"""The video adapter: generate_video's common arguments mapped onto each video model's own fields and values.

Krea's 31 video models name the same ideas differently: a length is ``duration`` (an enum on Veo, constants 5 or
10 on Kling, a range on Kling 3.0, free on Seedance) or a frame count (``frame_num`` on Wan 2.1/2.2); a shape is an
``aspect_ratio`` enum (``16:9``, or Runway's pixel ratios ``1280:720``) or a required ``width``/``height``. Every
argument is mapped from the model's schema, and what cannot be mapped is refused naming what that model takes;
nothing is dropped silently. What was sent when it differs from what was asked (``duration_s=5`` as
``frame_num=81``, ``16:9`` as ``1280:720``) is said with the result.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Any, ClassVar

from krea_mcp.catalog.models import Catalog, Kind, Operation
from krea_mcp.errors import InvalidRequestError

#: Pixel height of each resolution name, for models that take width/height (Wan 2.1/2.2, Luma Ray 2).
_HEIGHTS = {"480p": 480, "512p": 512, "540p": 540, "720p": 720, "768p": 768, "1080p": 1080, "4k": 2160}
#: What a model that takes width/height gets when the call gives no size.
DEFAULT_RATIO, DEFAULT_RESOLUTION = "16:9", "720p"
#: Body fields generate_video's own arguments may set, and the argument (which of them a model's body gets from an
#: argument depends on the model: see :func:`owned_fields`).
ARGUMENTS = {
    "prompt": "prompt",
    "duration": "duration_s",
    "frame_num": "duration_s",
    "num_frames": "duration_s",
    "aspect_ratio": "aspect_ratio",
    "ratio": "aspect_ratio",
    "resolution": "resolution",
    "width": "aspect_ratio and resolution",
    "height": "aspect_ratio and resolution",
    "start_image": "start_image",
    "end_image": "end_image",
    "generate_audio": "generate_audio",
    "seed": "seed",
}


def owned_fields(operation: Operation) -> dict[str, str]:
    """The fields of ``operation``'s body that generate_video's arguments set, and the argument that sets each.

    A model has one length field (``duration``, else a frame count) and one shape field; LTX's ``num_frames``,
    beside its ``duration``, stays free for ``options``.
    """
    props = operation.properties
    owned = {name: arg for name, arg in ARGUMENTS.items() if name in props}
    if "duration" in props:
        owned.pop("frame_num", None)
        owned.pop("num_frames", None)
    else:
        frames = _frame_field(operation)
        for name in ("frame_num", "num_frames"):
            if name != frames:
                owned.pop(name, None)
    if "aspect_ratio" in props:
        owned.pop("ratio", None)
    return owned


_RATIO = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*[:x/]\s*(\d+(?:\.\d+)?)\s*$")
_HTTP_URL = re.compile(r"^https?://[^\s/?#]+[^\s]*$", re.IGNORECASE)


@dataclass(frozen=True, slots=True)
class VideoParams:
    """What generate_video asked for, before it is mapped onto a model."""

    prompt: str
    model: str
    duration_s: float | None = None
    aspect_ratio: str | None = None
    resolution: str | None = None
    #: First and last frame: URLs once resolved (local files and data: URIs are uploaded first).
    start_image: str | None = None
    end_image: str | None = None
    generate_audio: bool | None = None
    seed: int | None = None
    options: dict[str, Any] = field(default_factory=dict)

    kind: ClassVar[Kind] = "video"

    def references(self) -> dict[str, list[str]]:
        return {
            "start_image": [self.start_image] if self.start_image is not None else [],
            "end_image": [self.end_image] if self.end_image is not None else [],
        }

    def with_references(self, refs: dict[str, list[str]]) -> VideoParams:
        start, end = refs.get("start_image") or [], refs.get("end_image") or []
        return replace(self, start_image=start[0] if start else None, end_image=end[0] if end else None)


def build_body(operation: Operation, p: VideoParams) -> dict[str, Any]:
    """``p`` as ``operation``'s body; the generic step then checks it against the schema."""
    props = operation.properties
    body: dict[str, Any] = {"prompt": p.prompt}
    _map_length(operation, p, body)
    _map_shape(operation, p, body)
    given: tuple[tuple[str, object], ...] = (
        ("start_image", p.start_image),
        ("end_image", p.end_image),
        ("generate_audio", p.generate_audio),
        ("seed", p.seed),
    )
    for name, value in given:
        if value is not None:
            _require(operation, name, name, takers=_takers_of(name))
            body[name] = value
    owned = owned_fields(operation)
    for key, value in p.options.items():
        if key in owned:
            raise InvalidRequestError(
                f"options.{key}: set by generate_video's {owned[key]} argument, not by options.",
                field=f"options.{key}",
            )
        _check_url_option(operation, key, value)
        if key not in props:
            raise InvalidRequestError(
                f"options.{key}: model {operation.id} has no such setting; its other settings are: "
                f"{', '.join(option_fields(operation)) or 'none'}.",
                field=f"options.{key}",
            )
        body[key] = value
    missing = [name for name in operation.required if name not in body]
    if missing:
        raise InvalidRequestError(
            f"options.{missing[0]}: required by model {operation.id} ({_describe_field(props.get(missing[0], {}))}).",
            field=f"options.{missing[0]}",
        )
    return body


def option_fields(operation: Operation) -> list[str]:
    """The model's fields that generate_video's own arguments do not set (passed through ``options``)."""
    owned = owned_fields(operation)
    return [name for name in operation.properties if name not in owned]


def takes_frame(operation: Operation, name: str) -> None:
    """Refuse ``start_image``/``end_image`` on a model without that field (before any job id is looked up)."""
    _require(operation, name, name, takers=_takers_of(name))


def _check_url_option(operation: Operation, key: str, value: Any) -> None:
    """An option whose field is a URL (``init_video``, ``reference_images``...) must be an http(s) URL Krea can
    fetch: a local path or a malformed URL would only come back as a 400 from Krea."""
    spec = operation.properties.get(key, {})
    items = spec.get("items", {}) if isinstance(spec.get("items"), dict) else {}
    is_uri = spec.get("format") == "uri"
    if not is_uri and items.get("format") != "uri":
        return
    values = value if isinstance(value, list) and not is_uri else [value]
    for item in values:
        if item is None and "null" in str(spec.get("type")):
            continue
        if not isinstance(item, str) or not _HTTP_URL.match(item):
            shown = repr(item)[:80]
            raise InvalidRequestError(
                f"options.{key}={shown}: model {operation.id} takes an http(s) URL here (Krea fetches it), without "
                "spaces. Local files are uploaded only through start_image and end_image; put the file somewhere "
                "Krea can fetch it and pass its URL.",
                field=f"options.{key}",
            )


def body_note(operation: Operation, p: VideoParams, body: dict[str, Any]) -> str | None:
    """What was sent, when it is not literally what was asked (length as frames, a ratio in pixels, a size)."""
    parts = []
    for frames in ("frame_num", "num_frames"):
        if frames in body and p.duration_s is not None and "duration" not in body:
            parts.append(f"duration_s={p.duration_s:g} sent as {frames}={body[frames]} ({_fps(operation):g} fps)")
    if p.aspect_ratio is not None and "aspect_ratio" in body and body["aspect_ratio"] != p.aspect_ratio.strip():
        parts.append(f"aspect_ratio={p.aspect_ratio.strip()} sent as {body['aspect_ratio']}")
    if p.aspect_ratio is not None and "ratio" in body:
        parts.append(f"aspect_ratio={p.aspect_ratio.strip()} sent as ratio={body['ratio']}")
    if "width" in body and "height" in body and "width" not in p.options:
        parts.append(f"size {body['width']}×{body['height']}")
    length = seconds_of(operation, body)
    said = f"{length:g} s video" if length is not None else "video"
    if not parts:
        return None if p.duration_s is not None or length is None else f"Length: {said} (the model's default)."
    return f"Sent to {operation.id}: " + "; ".join(parts) + f" ({said})."


def seconds_of(operation: Operation, body: Mapping[str, Any]) -> float | None:
    """The length in seconds a body asks for: its duration, frames at the model's rate, or the schema default."""
    value = body.get("duration")
    if isinstance(value, int | float) and _number(value):
        return float(value)
    for frames in ("frame_num", "num_frames"):
        if _number(body.get(frames)) and operation.frame_rate:
            return float(body[frames]) / operation.frame_rate
    default = operation.properties.get("duration", {}).get("default")
    if _number(default):
        return float(default)
    for frames in ("frame_num", "num_frames"):
        default = operation.properties.get(frames, {}).get("default")
        if _number(default) and operation.frame_rate:
            return float(default) / operation.frame_rate
    return None


def durations(operation: Operation) -> tuple[list[float], tuple[float | None, float | None]] | None:
    """The lengths a model takes: (the allowed values, or []; (minimum, maximum) when it is a range); None when
    it has no length setting at all (its length is fixed)."""
    spec = operation.properties.get("duration")
    if spec is None:
        return None if not _frame_field(operation) else ([], (None, None))
    return constants(spec), (spec.get("minimum"), spec.get("maximum"))


def _map_length(operation: Operation, p: VideoParams, body: dict[str, Any]) -> None:
    if p.duration_s is None:
        return
    seconds = p.duration_s
    allowed = durations(operation)
    if allowed is None:
        raise InvalidRequestError(
            f"duration_s={seconds:g}: model {operation.id} makes videos of a fixed length and takes no duration. "
            "Drop duration_s, or pick a model that takes one (list_models with kind='video').",
            field="duration_s",
        )
    values, (low, high) = allowed
    if "duration" in operation.properties:
        if values and not any(math.isclose(seconds, v) for v in values):
            raise InvalidRequestError(
                f"duration_s={seconds:g}: model {operation.id} makes videos of {_or(values)} seconds.",
                field="duration_s",
            )
        if (low is not None and seconds < low) or (high is not None and seconds > high):
            raise InvalidRequestError(
                f"duration_s={seconds:g}: model {operation.id} takes {_span(low, high)} seconds.", field="duration_s"
            )
        spec = operation.properties["duration"]
        body["duration"] = int(seconds) if _integral(spec, values) and float(seconds).is_integer() else seconds
        if _integral(spec, values) and not float(seconds).is_integer():
            raise InvalidRequestError(
                f"duration_s={seconds:g}: model {operation.id} takes whole seconds ({_span(low, high)}).",
                field="duration_s",
            )
        return
    frames_field = _frame_field(operation)
    assert frames_field is not None
    fps = _fps(operation)
    frames = 4 * round(seconds * fps / 4) + 1  # Wan's clips are 4n+1 frames (81 at 16 fps for 5 s)
    spec = operation.properties[frames_field]
    low, high = spec.get("minimum"), spec.get("maximum")
    if (low is not None and frames < low) or (high is not None and frames > high):
        raise InvalidRequestError(
            f"duration_s={seconds:g}: model {operation.id} takes {_span(low, high)} frames at {fps:g} fps "
            f"({_span(_sec(low, fps), _sec(high, fps))} seconds).",
            field="duration_s",
        )
    body[frames_field] = frames


def _map_shape(operation: Operation, p: VideoParams, body: dict[str, Any]) -> None:
    """aspect_ratio and resolution onto an aspect-ratio enum, Runway's ``ratio``, a resolution enum, or width/height."""
    props = operation.properties
    ratio_field = "aspect_ratio" if "aspect_ratio" in props else "ratio" if "ratio" in props else None
    ratios = constants(props.get(ratio_field, {})) if ratio_field else []
    resolutions = [str(r) for r in constants(props.get("resolution", {}))]
    sized = "width" in props and "height" in props
    asked_ratio = _parsed(p.aspect_ratio) if p.aspect_ratio is not None else None
    if p.aspect_ratio is not None:
        if ratio_field is None and not sized:
            raise InvalidRequestError(
                f"aspect_ratio={p.aspect_ratio!r}: model {operation.id} takes no aspect ratio (its videos have the "
                f"shape of their start_image or a fixed one). {_takers_line('aspect_ratio')}",
                field="aspect_ratio",
            )
        if ratio_field is not None:
            body[ratio_field] = _matching_ratio(operation, ratio_field, p.aspect_ratio, [str(r) for r in ratios])
    if p.resolution is not None:
        wanted = p.resolution.strip()
        match = next((r for r in resolutions if r.casefold() == wanted.casefold()), None)
        if match is not None:
            body["resolution"] = match
        elif not sized:
            takes = f"resolutions {', '.join(resolutions)}" if resolutions else "no resolution setting"
            raise InvalidRequestError(f"resolution={wanted!r}: model {operation.id} takes {takes}.", field="resolution")
        elif wanted.casefold() not in _HEIGHTS:
            raise InvalidRequestError(
                f"resolution={wanted!r}: give one of {', '.join(_HEIGHTS)} (model {operation.id} takes a pixel "
                "size, computed from aspect_ratio and resolution).",
                field="resolution",
            )
    if sized:  # Wan 2.1/2.2, Ray 2: width and height are required pixels
        ratio = asked_ratio or _parsed(str(body.get("aspect_ratio") or DEFAULT_RATIO))
        height = _HEIGHTS[(p.resolution or DEFAULT_RESOLUTION).strip().casefold()]
        if ratio >= 1:  # the resolution names the short side: 720p 16:9 is 1280×720, 720p 9:16 is 720×1280
            body["width"], body["height"] = round(height * ratio / 2) * 2, height
        else:
            body["width"], body["height"] = height, round(height / ratio / 2) * 2


def _matching_ratio(operation: Operation, name: str, asked: str, allowed: list[str]) -> str:
    """The allowed value equal to ``asked`` (``16:9``), or the one with the same shape (Runway's ``1280:720``)."""
    text = asked.strip()
    if text in allowed:
        return text
    wanted = _parsed(text)
    shapes = [(abs(parsed / wanted - 1), value) for value in allowed if (parsed := _parsed(value, strict=False))]
    if shapes:
        gap, closest = min(shapes)
        if gap <= 0.02:  # Runway's 1584:672 is its 21:9 (2.357 against 2.333)
            return closest
    raise InvalidRequestError(
        f"aspect_ratio={text!r}: model {operation.id} takes {', '.join(allowed)}.", field="aspect_ratio"
    )


def _parsed(text: str, *, strict: bool = True) -> float:
    found = _RATIO.match(text)
    if found is None or float(found.group(2)) == 0 or float(found.group(1)) == 0:
        if not strict:
            return None  # type: ignore[return-value]
        raise InvalidRequestError(
            f"aspect_ratio={text!r} is not a ratio; write it as width:height, e.g. 16:9.", field="aspect_ratio"
        )
    return float(found.group(1)) / float(found.group(2))


def _frame_field(operation: Operation) -> str | None:
    return next((f for f in ("frame_num", "num_frames") if f in operation.properties), None)


def _fps(operation: Operation) -> float:
    return float(operation.frame_rate or 16)


def constants(spec: dict[str, Any]) -> list[Any]:
    """The values a schema allows when it is a list of them (``enum``, ``const``, or nested ``anyOf`` of those)."""
    if "enum" in spec:
        return list(spec["enum"])
    if "const" in spec:
        return [spec["const"]]
    found: list[Any] = []
    for branch in spec.get("anyOf", []) + spec.get("oneOf", []):
        inner = constants(branch)
        if not inner:
            return []  # a branch that is not a constant: the field is not a plain list of values
        found += inner
    return found


def _integral(spec: dict[str, Any], values: list[Any]) -> bool:
    return spec.get("type") == "integer" or (bool(values) and all(isinstance(v, int) for v in values))


def _require(operation: Operation, name: str, argument: str, *, takers: list[str]) -> None:
    if name in operation.properties:
        return
    some = ", ".join(takers[:8]) + (", …" if len(takers) > 8 else "")
    raise InvalidRequestError(
        f"{argument}: model {operation.id} has no {name}. Video models that take it: {some}.", field=argument
    )


def _takers_of(name: str) -> list[str]:
    from krea_mcp.catalog.models import load_catalog

    return takers(load_catalog(), name)


def takers(catalog: Catalog, name: str) -> list[str]:
    """The video models (by first alias, else id) whose body has ``name``."""
    return [
        op.aliases[0] if op.aliases else op.id
        for op in catalog.of_kind("video").values()
        if name in op.properties and not op.deprecated
    ]


def _takers_line(name: str) -> str:
    return f"Video models that take {name}: {', '.join(_takers_of(name)[:10])}."


def _describe_field(spec: dict[str, Any]) -> str:
    kind = spec.get("type", "value")
    fmt = " URL" if spec.get("format") == "uri" else ""
    return f"a {kind}{fmt}"


def _or(values: list[Any]) -> str:
    shown = [f"{v:g}" if isinstance(v, float) else str(v) for v in values]
    return ", ".join(shown[:-1]) + f" or {shown[-1]}" if len(shown) > 1 else shown[0]


def _span(low: Any, high: Any) -> str:
    if low is not None and high is not None:
        return f"{low:g}–{high:g}" if isinstance(low, float) or isinstance(high, float) else f"{low}–{high}"
    if low is not None:
        return f"at least {low}"
    return f"at most {high}"


def _sec(frames: Any, fps: float) -> float | None:
    return None if frames is None else round((float(frames) - 1) / fps, 1)


def _number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and value > 0
