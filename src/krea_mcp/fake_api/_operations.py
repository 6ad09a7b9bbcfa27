"""The non-image operations the emulator accepts: enhance, style training and video, by POST path.

Enhance and training come from ``operations.json`` next to this file, generated from Krea's OpenAPI
(``python scripts/gen_catalog.py --kinds enhance,style-training --out src/krea_mcp/fake_api/operations.json``).
Video operations come from the packaged catalog (``catalog/models.json``), which holds all 31 of them: one source
for the schemas the emulator validates and the durations and sizes its videos have.
"""

from __future__ import annotations

import json
from functools import cache
from importlib import resources

from krea_mcp.catalog.models import Operation, catalog_from, load_catalog

TRAIN_PATH = "/styles/train"


@cache
def operations() -> dict[str, Operation]:
    """Every enhance, training and video operation, by POST path."""
    text = resources.files("krea_mcp.fake_api").joinpath("operations.json").read_text("utf-8")
    found = dict(catalog_from(json.loads(text)).operations)
    found.update({op.path: op for op in load_catalog().of_kind("video").values()})
    return found
