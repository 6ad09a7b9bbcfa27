"""Regenerate ``src/krea_mcp/catalog/models.json`` from Krea's OpenAPI document.

Usage::

    python scripts/gen_catalog.py [path/to/krea-openapi.json] [--kinds image,enhance,video,style-training | all]

The default input is ``../shared/krea-openapi.json`` (Krea's ``https://api.krea.ai/openapi.json``).
Every operation that starts a job is described: each ``POST /generate/{kind}/...`` path (image, enhance, video) and
``POST /styles/train``. ``--kinds`` chooses which kinds go into models.json (default: image, the kind the server
has tools for). Everything derivable (paths, request schemas, titles, compute units, average times, camelCase
aliases) comes from the spec; the few facts the spec lacks (Krea 2 endpoints, USD prices, sunset models, short
aliases, duration estimates) live in the tables below, each with its source.
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
#: The kinds the packaged catalog holds: those with a tool.
PACKAGED_KINDS = ("image", "enhance", "style-training")
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

# Short names of the other kinds' operations, by kind: enhance_image's ``enhancer`` argument takes these.
KIND_ALIASES: dict[str, dict[str, list[str]]] = {
    "enhance": {
        "topaz/generative-enhance": ["generative"],
        "topaz/standard-enhance": ["standard"],
        "topaz/bloom-enhance": ["bloom"],
    },
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
                "deprecated": bool(op.get("deprecated", False)),
                "camel_case_aliases": [a["from"] for a in op.get("x-krea-deprecated-field-aliases", [])],
            }
        )
    for extra in EXTRA_MODELS:
        if extra["kind"] in kinds:
            ops.append(
                {"compute_units": None, "typical_s": None, "deprecated": False, "camel_case_aliases": [], **extra}
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
        m["typical_s_estimated"] = m["typical_s"] is None
        if m["typical_s"] is None:
            m["typical_s"] = ESTIMATED_S.get(mid, ESTIMATED_KIND_S[kind]) if image else ESTIMATED_KIND_S[kind]
        m["inputs"] = _inputs(m["schema"])
        m["usd_estimate"] = (USD_MAX.get(mid) if image else None) or _usd_from_cu(m["compute_units"])
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
