"""The enhance and style-training operations the emulator accepts, from ``operations.json`` next to this file.

That file is generated from Krea's OpenAPI (``python scripts/gen_catalog.py --kinds enhance,style-training --out
src/krea_mcp/fake_api/operations.json``); the packaged catalog (``catalog/models.json``) keeps image models only.
"""

from __future__ import annotations

import json
from functools import cache
from importlib import resources

from krea_mcp.catalog.models import Operation, catalog_from

TRAIN_PATH = "/styles/train"


@cache
def operations() -> dict[str, Operation]:
    """Every enhance and training operation, by POST path."""
    text = resources.files("krea_mcp.fake_api").joinpath("operations.json").read_text("utf-8")
    return catalog_from(json.loads(text)).operations
