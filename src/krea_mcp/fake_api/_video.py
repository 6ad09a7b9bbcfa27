"""What a video body asks for: how long the video is and its presentation size, as the emulator's MP4 states them.

Krea's 31 video models say it in different words: ``duration`` in seconds (most), a frame count (Wan's
``frame_num``, LTX's ``num_frames``) at the model's frame rate, or nothing (Hailuo, Ray 2, Aleph: then the schema's
default, else 5 s). The size is ``width``/``height`` where a model takes them (Wan 2.1/2.2, Ray 2), else the aspect
ratio (``aspect_ratio``, Aleph's ``ratio``; Runway's ``1280:720`` is already a size) at the ``resolution``
(``720p``: a 720-pixel short side), with the schema's defaults, else 16:9 at 720p: 1280x720.
"""

from __future__ import annotations

import math
from typing import Any

from krea_mcp.catalog.models import Operation

#: Seconds of a video whose body and schema name no length.
DEFAULT_SECONDS = 5.0
#: Short side in pixels of each resolution a video schema offers.
_SHORT_SIDE = {"480p": 480, "512p": 512, "720p": 720, "768p": 768, "1080p": 1080, "4k": 2160}
_DEFAULT_RESOLUTION = "720p"
_DEFAULT_RATIO = "16:9"
#: A ratio whose sides are both at least this is a size in pixels (Runway: ``1280:720``, ``960:960``).
_PIXEL_RATIO = 100


def _number(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value) if math.isfinite(value) and value > 0 else None


def _default(op: Operation, name: str) -> Any:
    return op.properties.get(name, {}).get("default")


def requested_seconds(op: Operation, body: dict[str, Any]) -> float:
    """The video length ``body`` asks of ``op``: its duration, else its frame count at the model's frame rate, else
    the schema's default duration, else ``DEFAULT_SECONDS``."""
    seconds = _number(body.get("duration"))
    if seconds is not None:
        return seconds
    frames = _number(body.get("frame_num", body.get("num_frames")))
    if frames is not None and op.frame_rate:
        return frames / op.frame_rate
    return _number(_default(op, "duration")) or DEFAULT_SECONDS


def requested_size(op: Operation, body: dict[str, Any]) -> tuple[float, float]:
    """The presentation size ``body`` asks of ``op`` (width, height), as the MP4's track header states it."""
    width, height = _number(body.get("width")), _number(body.get("height"))
    if width is not None and height is not None:
        return width, height
    ratio = body.get("aspect_ratio", body.get("ratio")) or _default(op, "aspect_ratio") or _default(op, "ratio")
    wide, tall = _ratio(str(ratio or _DEFAULT_RATIO))
    if min(wide, tall) >= _PIXEL_RATIO:
        return wide, tall
    resolution = str(body.get("resolution") or _default(op, "resolution") or _DEFAULT_RESOLUTION).lower()
    short = _SHORT_SIDE.get(resolution, _SHORT_SIDE[_DEFAULT_RESOLUTION])
    if wide >= tall:
        return _even(short * wide / tall), float(short)
    return float(short), _even(short * tall / wide)


def _ratio(text: str) -> tuple[float, float]:
    parts = text.split(":")
    try:
        wide, tall = float(parts[0]), float(parts[1])
    except (IndexError, ValueError):
        return 16.0, 9.0
    if not (math.isfinite(wide) and math.isfinite(tall)) or wide <= 0 or tall <= 0:
        return 16.0, 9.0
    return wide, tall


def _even(value: float) -> float:
    """A long side rounded to an even number of pixels, as encoders size frames (480p 16:9: 854x480)."""
    return float(2 * round(value / 2))
