"""Regenerate ``src/krea_mcp/catalog/models.json`` from Krea's OpenAPI document.

Usage::

    python scripts/gen_catalog.py [path/to/krea-openapi.json] [--kinds image,enhance,video,style-training | all]

The default input is ``../shared/krea-openapi.json`` (Krea's ``https://api.krea.ai/openapi.json``).
Every operation that starts a job is described: each ``POST /generate/{kind}/...`` path (image, enhance, video) and
``POST /styles/train``. ``--kinds`` chooses which kinds go into models.json (default: every kind the package holds:
image, enhance, video and style-training). Everything derivable (paths, request schemas, titles, compute units,
average times, a video's compute units per second, camelCase aliases) comes from the spec; the few facts the spec
lacks (Krea 2 endpoints, USD prices, sunset models, short aliases, duration estimates, frame rates) live in the
tables below, each with its source.
"""

from __future__ import annotations

import argparse
import json
import math
import re
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "src" / "krea_mcp" / "catalog" / "models.json"
DEFAULT_SPEC = ROOT.parent / "shared" / "krea-openapi.json"
#: Every kind of job, in the order models.json lists them.
KINDS = ("image", "enhance", "video", "style-training")
#: The kinds the packaged catalog holds: those with a tool, and video (its tool builds on this data).
PACKAGED_KINDS = ("image", "enhance", "video", "style-training")
#: What the finished job of each kind carries (``result.urls`` of images or videos, or ``result.style_id``).
RESULTS = {"image": "image/*", "enhance": "image/*", "video": "video/*", "style-training": "style_id"}
#: Jobs that start at a path outside ``/generate/{kind}/``, by kind.
OTHER_PATHS = {"style-training": "/styles/train"}

# Short names agents reach for. Only unambiguous ones: "nano-banana" is the plain model, never Pro.
ALIASES: dict[str, list[str]] = {
    "bfl/flux-1-dev": ["flux", "flux-dev", "flux-1-dev"],
    "bfl/flux-1-kontext-dev": ["flux-kontext", "kontext"],
    "bfl/flux-1.1-pro": ["flux-pro", "flux-1.1-pro"],
    "bfl/flux-1.1-pro-ultra": ["flux-ultra", "flux-pro-ultra"],
    "google/nano-banana-pro": ["nano-banana-pro"],
    "google/nano-banana-2": ["nano-banana-2"],
    "google/nano-banana": ["nano-banana"],
    "google/imagen-3": ["imagen-3"],
    "google/imagen-4": ["imagen-4", "imagen"],
    "google/imagen-4-fast": ["imagen-4-fast"],
    "google/imagen-4-ultra": ["imagen-4-ultra"],
    "ideogram/ideogram-2-turbo": ["ideogram-2-turbo"],
    "ideogram/ideogram-3": ["ideogram-3", "ideogram"],
    "runway/gen-4-image": ["gen-4", "runway"],
    "openai/gpt-image": ["gpt-image", "gpt-image-1"],
    "openai/gpt-image-2": ["gpt-image-2"],
    "luma/uni-1": ["uni-1", "luma"],
    "bytedance/seedream-4": ["seedream-4"],
    "bytedance/seedream-5-lite": ["seedream-5-lite", "seedream"],
    "bytedance/seededit": ["seededit"],
    "qwen/2512": ["qwen", "qwen-2512"],
    "z-image/z-image": ["z-image"],
    "krea/krea-2/large": ["krea-2", "krea-2-large"],
    "krea/krea-2/medium": ["krea-2-medium"],
}

# Video models, by kind "video" (Catalog indexes aliases per kind; none of these is also an image alias, so "gen-4"
# stays Runway's image model and the video one is "gen-4-video"). A family name alone ("kling", "veo", "seedance") is
# never an alias: it could mean several models. "hailuo" is the model whose id ends in "hailuo", as "nano-banana" is.
VIDEO_ALIASES: dict[str, list[str]] = {
    "kling/kling-1": ["kling-1", "kling-1.0"],
    "kling/kling-1.5": ["kling-1.5"],
    "kling/kling-1.6": ["kling-1.6"],
    "kling/kling-2": ["kling-2", "kling-2.0"],
    "kling/kling-2.1": ["kling-2.1"],
    "kling/kling-2.5": ["kling-2.5"],
    "kling/kling-2.6": ["kling-2.6"],
    "kling/kling-3.0": ["kling-3", "kling-3.0"],
    "kling/kling-o1": ["kling-o1"],
    "minimax/hailuo": ["hailuo"],
    "minimax/hailuo-02": ["hailuo-02"],
    "minimax/hailuo-2.3": ["hailuo-2.3"],
    "minimax/hailuo-2.3-fast": ["hailuo-2.3-fast"],
    "alibaba/wan-2.1": ["wan-2.1"],
    "alibaba/wan-2.2": ["wan-2.2"],
    "alibaba/wan-2.5": ["wan-2.5"],
    "google/veo-2": ["veo-2"],
    "google/veo-3": ["veo-3"],
    "google/veo-3-fast": ["veo-3-fast"],
    "google/veo-3.1": ["veo-3.1"],
    "google/veo-3.1-fast": ["veo-3.1-fast"],
    "google/veo-3.1-lite": ["veo-3.1-lite"],
    "bytedance/seedance-1.0-pro": ["seedance-pro", "seedance-1.0-pro"],
    "bytedance/seedance-1.0-pro-fast": ["seedance-pro-fast", "seedance-fast", "seedance-1.0-pro-fast"],
    "lightricks/ltx-video-2.3-22b": ["ltx", "ltx-2.3", "ltx-video"],
    "luma/ray-2": ["ray-2", "ray"],
    "runway/gen-3": ["gen-3", "runway-gen-3"],
    "runway/gen-4-video": ["gen-4-video", "runway-gen-4"],
    "runway/gen-4.5": ["gen-4.5", "runway-gen-4.5"],
    "runway/aleph": ["aleph", "runway-aleph"],
    "xai/grok-video": ["grok-video", "grok-imagine", "grok"],
}

# Short names of the other kinds' operations, by kind: enhance_image's ``enhancer`` argument takes these.
KIND_ALIASES: dict[str, dict[str, list[str]]] = {
    "enhance": {
        "topaz/generative-enhance": ["generative"],
        "topaz/standard-enhance": ["standard"],
        "topaz/bloom-enhance": ["bloom"],
    },
    "video": VIDEO_ALIASES,
}

# Video run times the spec's tables do not give, from docs.krea.ai (developers/api-keys-and-billing: "Veo 3 ~5
# minutes", "Wan 2.5 ~3 minutes"). Seedance 1.0 Pro (57-133 s), Seedance Pro Fast (22-91 s), Wan 2.1 (~97 s) and
# Wan 2.2 (~113 s) come from the spec's own tables (the longest row).
VIDEO_DOCUMENTED_S: dict[str, float] = {"google/veo-3": 300, "alibaba/wan-2.5": 180}
# Every other video model: estimates (marked "typical_s_estimated"), used to pace polling and the emulator. Krea's
# text-to-video guide says "60-120 seconds"; Kling and Veo run longer, fast/lite variants and Grok shorter.
VIDEO_ESTIMATED_S: dict[str, float] = {
    "kling/kling-1": 240,
    "kling/kling-1.5": 300,
    "kling/kling-1.6": 240,
    "kling/kling-2": 300,
    "kling/kling-2.1": 240,
    "kling/kling-2.5": 180,
    "kling/kling-2.6": 180,
    "kling/kling-3.0": 240,
    "kling/kling-o1": 240,
    "minimax/hailuo": 180,
    "minimax/hailuo-02": 240,
    "minimax/hailuo-2.3": 240,
    "minimax/hailuo-2.3-fast": 120,
    "google/veo-2": 180,
    "google/veo-3-fast": 120,
    "google/veo-3.1": 300,
    "google/veo-3.1-fast": 120,
    "google/veo-3.1-lite": 90,
    "lightricks/ltx-video-2.3-22b": 60,
    "luma/ray-2": 120,
    "runway/gen-3": 90,
    "runway/gen-4-video": 120,
    "runway/gen-4.5": 150,
    "runway/aleph": 180,
    "xai/grok-video": 60,
}

# Video prices in USD from docs.krea.ai/api-reference/video/* ("Fixed API prices in USD"): what the page says, the
# top price per second of output among its rows, and the most a call can cost (top rate x longest duration, or the
# dearest row where the page prices whole clips). Krea prices these by the second of output.
VIDEO_USD: dict[str, tuple[str, float, float]] = {
    "kling/kling-1": ("$0.0221/s (std), $0.0772/s (pro)", 0.0772, 0.772),  # 10 s at most
    "kling/kling-o1": ("$0.1176/s, $0.1764/s with a video reference", 0.1764, 1.764),  # 10 s
    "kling/kling-3.0": ("$0.1764-$0.3528/s (std/pro, audio), $0.441/s (4k)", 0.441, 6.615),  # 15 s
    "google/veo-2": ("$0.50/s", 0.50, 4.0),  # 8 s
    "google/veo-3": ("$0.21/s, $0.42/s with audio", 0.42, 3.36),  # 8 s
    "google/veo-3.1-fast": ("$0.336-$2.52 a clip (4-8 s, 720p-4K, audio)", 0.315, 2.52),  # 4K with audio: $0.315/s
    "minimax/hailuo-02": ("$0.105-$0.945 a clip (6-10 s, 512p-1080p)", 0.0945, 0.945),
    "minimax/hailuo-2.3": ("$0.294-$0.588 a clip (6 or 10 s)", 0.08575, 0.588),  # 1080p 6 s: $0.5145
    "lightricks/ltx-video-2.3-22b": ("$0.1798-$0.8014 a clip (5-20 s, LoRA dearer)", 0.04044, 0.8014),
    "xai/grok-video": ("$0.05/s (480p), $0.07/s (720p)", 0.07, 1.05),  # 15 s
}

# Frames per second of the models that take their length as a frame count (Wan's frame_num: 81 frames at 16 fps is
# its 5 s clip; LTX's num_frames: 9-481 at 24 fps, so 481 frames is its 20 s maximum). Inference from the models'
# published defaults; Krea documents neither.
VIDEO_FRAME_RATES: dict[str, float] = {
    "alibaba/wan-2.1": 16,
    "alibaba/wan-2.2": 16,
    "lightricks/ltx-video-2.3-22b": 24,
}

# Style training is priced per step: docs.krea.ai gives about 2.4-8.3 CU per step depending on the base model,
# without saying which base costs what, so every base is estimated at the top of that range.
TRAINING_CU_PER_STEP = "2.4-8.3 CU per step"
TRAINING_USD_PER_STEP = 8.3

# USD prices from docs.krea.ai pages (the spec only lists compute units).
USD: dict[str, str] = {
    "bfl/flux-1.1-pro": "$0.042",
    "google/nano-banana-pro": "$0.15 (1K/2K), $0.30 (4K)",
    "krea/krea-2/large": "$0.06 (+$0.005 style refs, +$0.01 moodboard)",
    "krea/krea-2/medium": "$0.03 (+$0.005 style refs, +$0.01 moodboard)",
}

# Most expensive documented case per call, in USD, where docs.krea.ai gives a USD price.
# Krea 2 bills by tier: text to image $0.06 (Medium $0.03), with style references $0.065 ($0.035), with a moodboard
# $0.07 ($0.04). A call with both is not priced there, so the estimate adds both surcharges: an upper bound whichever
# tier Krea applies (USD_SURCHARGES lets the spend guard take off what a request does not use).
USD_MAX: dict[str, float] = {
    "bfl/flux-1.1-pro": 0.042,
    "google/nano-banana-pro": 0.30,
    "krea/krea-2/large": 0.075,
    "krea/krea-2/medium": 0.045,
}
# Part of USD_MAX owed only when the request uses a field (a non-empty value).
USD_SURCHARGES: dict[str, dict[str, float]] = {
    "krea/krea-2/large": {"image_style_references": 0.005, "moodboards": 0.01},
    "krea/krea-2/medium": {"image_style_references": 0.005, "moodboards": 0.01},
}
# Converting compute units to USD for the spend guard: nano-banana-pro is $0.15 for 60.1 CU and flux-1.1-pro
# $0.042 for 22.9 CU (0.0025 and 0.0018 $/CU). The higher rate keeps the estimate conservative.
USD_PER_CU = 0.0025

# The spec gives average times for 7 image models only. The rest are estimates used to shape polling;
# they are marked "typical_s_estimated" and never shown as facts.
ESTIMATED_S: dict[str, float] = {
    "bfl/flux-1.1-pro": 10,
    "bfl/flux-1.1-pro-ultra": 15,
    "google/nano-banana-pro": 25,
    "google/nano-banana-2": 20,
    "google/nano-banana": 12,
    "google/imagen-3": 12,
    "google/imagen-4": 12,
    "google/imagen-4-fast": 8,
    "google/imagen-4-ultra": 18,
    "ideogram/ideogram-2-turbo": 10,
    "ideogram/ideogram-3": 18,
    "luma/uni-1": 30,
    "bytedance/seedream-4": 20,
    "bytedance/seedream-5-lite": 20,
    "bytedance/seededit": 20,
    "krea/krea-2/large": 15,
    "krea/krea-2/medium": 10,
}

# Rough run time of a job of each kind when nothing better is known (estimates, marked as such): upscales take
# longer than an image, a video a few minutes (docs.krea.ai: Seedance ~57-133 s, Wan ~97-113 s), training far longer.
ESTIMATED_KIND_S: dict[str, float] = {"image": 20.0, "enhance": 30.0, "video": 120.0, "style-training": 1800.0}

_STYLE_REFS = {
    "type": "array",
    "maxItems": 10,
    "items": {
        "type": "object",
        "properties": {
            "url": {"type": "string", "format": "uri"},
            "strength": {"type": "number", "minimum": -2, "maximum": 2},
        },
        "required": ["strength"],
    },
    "description": "Style references to use for the generation",
}
_STYLES = {
    "type": "array",
    "items": {
        "type": "object",
        "properties": {"id": {"type": "string"}, "strength": {"type": "number", "minimum": -2, "maximum": 2}},
        "required": ["id", "strength"],
    },
    "description": "Styles (typically LoRAs) to use for the generation",
}


def _krea2_schema() -> dict[str, Any]:
    """Krea 2 request schema as documented on docs.krea.ai (api-reference/krea/krea-2-large)."""
    return {
        "type": "object",
        "properties": {
            "prompt": {"type": "string", "minLength": 1},
            "aspect_ratio": {"type": "string", "enum": ["1:1", "4:3", "3:2", "16:9", "2.35:1", "4:5", "2:3", "9:16"]},
            "resolution": {"type": "string", "enum": ["1K"]},
            "creativity": {"type": "string", "enum": ["raw", "low", "medium", "high"], "default": "medium"},
            "seed": {"type": ["number", "null"]},
            "styles": _STYLES,
            "image_style_references": _STYLE_REFS,
            # The item shape of moodboards is undocumented; accept objects and strings.
            "moodboards": {"type": "array", "maxItems": 1, "items": {"type": ["object", "string"]}},
        },
        "required": ["prompt", "aspect_ratio", "resolution"],
        "additionalProperties": False,
    }


EXTRA_MODELS: list[dict[str, Any]] = [
    {
        "id": "krea/krea-2/large",
        "kind": "image",
        "title": "Krea 2 Large",
        "summary": "Krea's own flagship model: aesthetic, strong style control.",
        "schema": _krea2_schema(),
        "source": "docs",
    },
    {
        "id": "krea/krea-2/medium",
        "kind": "image",
        "title": "Krea 2 Medium",
        "summary": "Cheaper, faster Krea 2.",
        "schema": _krea2_schema(),
        "source": "docs",
    },
]

# Models Krea has sunset (docs.krea.ai/developers/deprecations). They answer 410.
SUNSET: list[dict[str, Any]] = [
    {
        "id": "bytedance/seedream-3",
        "kind": "image",
        "sunset_date": "2026-05-13",
        "replacement": "bytedance/seedream-5-lite",
        "migration_url": "https://docs.krea.ai/developers/deprecations",
    }
]


def _compute_units(description: str) -> str | None:
    """Summarise the compute-unit column of the description's markdown table."""
    lines = [ln.strip() for ln in description.splitlines() if ln.strip().startswith("|")]
    if len(lines) < 3:
        return None
    header = [c.strip() for c in lines[0].strip("|").split("|")]
    if "Compute Units" not in header:
        return None
    col = header.index("Compute Units")
    values = []
    for row in lines[2:]:
        cells = [c.strip() for c in row.strip("|").split("|")]
        m = re.search(r"[\d.]+", cells[col])
        if m:
            values.append(float(m.group()))
    if not values:
        return None
    lo, hi = min(values), max(values)
    approx = "~" if "~" in lines[2] else ""
    fmt = lambda v: f"{v:g}"  # noqa: E731
    return f"{approx}{fmt(lo)} CU" if lo == hi else f"{fmt(lo)}-{fmt(hi)} CU"


def _max_side(summary: str, schema: dict[str, Any]) -> int:
    """An enhancer's largest output side: the "Max 16K" / "Up to 22K" of its summary (in thousands of pixels, so
    16K is 16,000), never above the schema's own width maximum."""
    found = re.search(r"(\d+)K\b", summary)
    schema_max = int(schema.get("properties", {}).get("width", {}).get("maximum", 32_000))
    return min(int(found.group(1)) * 1000, schema_max) if found else schema_max


def _usd_from_cu(compute_units: str | None) -> float | None:
    """Upper USD estimate from a compute-unit hint like '~3 CU' or '34.4-86.5 CU'."""
    if not compute_units:
        return None
    top = float(re.findall(r"[\d.]+", compute_units)[-1])
    return math.ceil(top * USD_PER_CU * 10_000 - 1e-6) / 10_000  # rounded up: an estimate is never below the price


def _typical_seconds(description: str) -> float | None:
    """The completion time in the description's table (the longest row's), never a video length in its prose."""
    rows = "\n".join(ln for ln in description.splitlines() if ln.strip().startswith("|"))
    found = [float(s) for s in re.findall(r"~?(\d+(?:\.\d+)?) seconds", rows)]
    return max(found) if found else None


def _cu_per_second(description: str) -> float | None:
    """The most compute units per second of output among the rows of the description's table (``| 5s | 200 |``),
    None where the table has no durations (Wan 2.1/2.2 price a whole job) or there is no table."""
    lines = [ln.strip() for ln in description.splitlines() if ln.strip().startswith("|")]
    if len(lines) < 3:
        return None
    header = [c.strip() for c in lines[0].strip("|").split("|")]
    if "Duration" not in header or "Compute Units" not in header:
        return None
    at, cu = header.index("Duration"), header.index("Compute Units")
    rates = []
    for row in lines[2:]:
        cells = [c.strip() for c in row.strip("|").split("|")]
        seconds = re.fullmatch(r"(\d+(?:\.\d+)?)s", cells[at]) if len(cells) > max(at, cu) else None
        units = re.search(r"[\d.]+", cells[cu]) if seconds else None
        if seconds and units and float(seconds.group(1)) > 0:
            rates.append(float(units.group()) / float(seconds.group(1)))
    return max(rates) if rates else None


#: A video model's USD text, USD per second of output and most expensive call.
Prices = tuple[str | None, float | None, float | None]


def _video_prices(mid: str, description: str, compute_units: str | None) -> Prices:
    """A video model's USD text, USD per second of output and most expensive call: Krea's USD page where there is
    one, else from the spec's compute units at USD_PER_CU (rounded up, so an estimate is never below the price)."""
    if mid in VIDEO_USD:
        return VIDEO_USD[mid]
    rate = _cu_per_second(description)
    per_second = None if rate is None else math.ceil(rate * USD_PER_CU * 10_000 - 1e-6) / 10_000
    return None, per_second, _usd_from_cu(compute_units)


def _inputs(schema: dict[str, Any]) -> list[str]:
    """Which kinds of image input a model takes, as the short words list_models shows."""
    props = schema.get("properties", {})
    kinds = []
    if "image_url" in props or "image_urls" in props:
        kinds.append("edit" if "image_url" in schema.get("required", []) else "image")
    if "reference_images" in props or "character_reference_images" in props:
        kinds.append("refs")
    if any(k in props for k in ("style_images", "image_style_references", "moodboards")):
        kinds.append("style")
    return kinds


def _kind_and_id(path: str) -> tuple[str, str] | None:
    """The job kind a POST path starts and the operation's id (the path after ``/generate/{kind}/``), if it does."""
    for kind, other in OTHER_PATHS.items():
        if path == other:
            return kind, other.removeprefix("/")
    parts = path.split("/", 3)  # "", "generate", kind, id
    if len(parts) == 4 and parts[1] == "generate" and parts[2] in KINDS:
        return parts[2], parts[3]
    return None


def operations(spec: dict[str, Any], kinds: tuple[str, ...] = KINDS) -> list[dict[str, Any]]:
    """Every operation of the given kinds: the spec's POST paths, then the image models only the docs describe."""
    ops: list[dict[str, Any]] = []
    for path, item in spec["paths"].items():
        found = _kind_and_id(path)
        if found is None or found[0] not in kinds or "post" not in item:
            continue
        kind, op_id = found
        op = item["post"]
        description = op.get("description", "")
        schema = op["requestBody"]["content"]["application/json"]["schema"]
        ops.append(
            {
                "id": op_id,
                "kind": kind,
                "title": op.get("summary", ""),
                "summary": description.split("\n", 1)[0].strip(),
                "schema": schema,
                "source": "openapi",
                "compute_units": _compute_units(description),
                "typical_s": _typical_seconds(description),
                "description": description,
                "deprecated": bool(op.get("deprecated", False)),
                "camel_case_aliases": [a["from"] for a in op.get("x-krea-deprecated-field-aliases", [])],
            }
        )
    for extra in EXTRA_MODELS:
        if extra["kind"] in kinds:
            ops.append(
                {
                    "compute_units": None,
                    "typical_s": None,
                    "description": "",
                    "deprecated": False,
                    "camel_case_aliases": [],
                    **extra,
                }
            )
    return ops


def build(spec: dict[str, Any], kinds: tuple[str, ...] = ("image",)) -> dict[str, Any]:
    """The catalog of the given kinds, as models.json holds it (image facts from the tables above)."""
    models = operations(spec, kinds)
    for m in models:
        mid, kind = m["id"], m["kind"]
        image = kind == "image"  # the tables below describe image models
        m["path"] = OTHER_PATHS.get(kind, f"/generate/{kind}/{mid}")
        m["result"] = RESULTS[kind]
        m["aliases"] = ALIASES.get(mid, []) if image else KIND_ALIASES.get(kind, {}).get(mid, [])
        m["usd"] = USD.get(mid) if image else None
        description = m.pop("description")
        if m["typical_s"] is None and kind == "video" and mid in VIDEO_DOCUMENTED_S:
            m["typical_s"] = VIDEO_DOCUMENTED_S[mid]
        m["typical_s_estimated"] = m["typical_s"] is None
        if m["typical_s"] is None:
            estimates = ESTIMATED_S if image else VIDEO_ESTIMATED_S if kind == "video" else {}
            m["typical_s"] = estimates.get(mid, ESTIMATED_KIND_S[kind])
        m["inputs"] = _inputs(m["schema"])
        m["usd_estimate"] = (USD_MAX.get(mid) if image else None) or _usd_from_cu(m["compute_units"])
        if kind == "video":
            m["usd"], m["usd_per_second"], m["usd_estimate"] = _video_prices(mid, description, m["compute_units"])
            if mid in VIDEO_FRAME_RATES:
                m["frame_rate"] = VIDEO_FRAME_RATES[mid]
        if image and mid in USD_SURCHARGES:
            m["usd_surcharges"] = USD_SURCHARGES[mid]
        if kind == "enhance":
            m["max_side"] = _max_side(m["summary"], m["schema"])
        if kind == "style-training":
            m["compute_units"] = TRAINING_CU_PER_STEP
            m["usd_per_step"] = math.ceil(TRAINING_USD_PER_STEP * USD_PER_CU * 100_000 - 1e-6) / 100_000
    seen: set[tuple[str, str]] = set()
    for m in models:
        if (m["kind"], m["id"]) in seen:
            raise SystemExit(f"two {m['kind']} operations have the id {m['id']!r}")
        seen.add((m["kind"], m["id"]))
    if "image" in kinds:
        missing = set(ALIASES) - {m["id"] for m in models if m["kind"] == "image"}
        if missing:
            raise SystemExit(f"aliases name models the spec no longer has: {sorted(missing)}")
    if "video" in kinds:
        videos = {m["id"] for m in models if m["kind"] == "video"}
        missing = (set(VIDEO_ALIASES) | set(VIDEO_ESTIMATED_S) | set(VIDEO_USD)) - videos
        if missing:
            raise SystemExit(f"video tables name models the spec no longer has: {sorted(missing)}")
        unnamed = videos - set(VIDEO_ALIASES)
        if unnamed:
            raise SystemExit(f"video models without a short alias: {sorted(unnamed)}")
    order = {kind: i for i, kind in enumerate(KINDS)}
    return {
        "generated_from": f"Krea OpenAPI {spec['info'].get('version', '?')} + docs.krea.ai (Krea 2, prices)",
        "models": [_ordered(m) for m in sorted(models, key=lambda m: (order[m["kind"]], m["id"]))],
        "sunset": [s for s in SUNSET if s["kind"] in kinds],
    }


def _ordered(m: dict[str, Any]) -> dict[str, Any]:
    """An entry with what it is first: id, kind, POST path and result, then the rest as built."""
    head = ("id", "kind", "path", "result")
    return {**{k: m[k] for k in head}, **{k: v for k, v in m.items() if k not in head}}


def _kinds(text: str) -> tuple[str, ...]:
    chosen = KINDS if text.strip() == "all" else tuple(k.strip() for k in text.split(",") if k.strip())
    unknown = sorted(set(chosen) - set(KINDS))
    if unknown or not chosen:
        raise argparse.ArgumentTypeError(f"kinds are {', '.join(KINDS)} or all; got {text!r}")
    return tuple(k for k in KINDS if k in chosen)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="Regenerate models.json from Krea's OpenAPI document.")
    parser.add_argument("spec", nargs="?", type=Path, default=DEFAULT_SPEC, help="Krea's openapi.json")
    parser.add_argument(
        "--kinds",
        type=_kinds,
        default=PACKAGED_KINDS,
        help=f"comma-separated, of {', '.join(KINDS)}; or all (default: {','.join(PACKAGED_KINDS)}, what the package "
        "holds: the kinds that have tools)",
    )
    parser.add_argument("--out", type=Path, default=OUT, help="where to write (default: the packaged models.json)")
    args = parser.parse_args(argv)
    catalog = build(json.loads(args.spec.read_text(encoding="utf-8")), args.kinds)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(catalog, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
    shown = args.out.relative_to(ROOT) if args.out.is_relative_to(ROOT) else args.out
    print(f"wrote {len(catalog['models'])} operations ({', '.join(args.kinds)}) to {shown}")


if __name__ == "__main__":
    main()
