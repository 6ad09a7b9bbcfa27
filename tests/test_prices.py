"""Spend estimates are upper bounds: never below Krea's published price, for any argument combination."""

from __future__ import annotations

from typing import Any

import pytest

from krea_mcp.catalog.models import load_catalog
from krea_mcp.errors import SpendLimitError
from krea_mcp.fake_api import FakeKrea
from krea_mcp.workflow.spend import UNKNOWN_PRICE_USD, SpendGuard, estimate_usd
from tests.helpers import TOKEN, connect, text_of

#: The highest USD per compute unit among Krea's own pairs (nano-banana-pro $0.15 for 60.1 CU; flux-1.1-pro $0.042
#: for 22.9 CU): what a compute-unit price is worth at most.
USD_PER_CU = 0.0025
STYLE = [{"url": "https://example.com/style.png", "strength": 1}]
MOODBOARD = ["0b5a2c1e-9d3f-4e7a-8b6c-1d2e3f4a5b6c"]

#: (model, request fields, published price in USD) from docs.krea.ai and Krea's OpenAPI descriptions.
PUBLISHED_USD: list[tuple[str, dict[str, Any], float]] = [
    ("krea/krea-2/large", {}, 0.06),
    ("krea/krea-2/large", {"image_style_references": STYLE}, 0.065),
    ("krea/krea-2/large", {"moodboards": MOODBOARD}, 0.07),
    # Not a listed tier; the catalog's own price text adds the surcharges ("+$0.005 style refs, +$0.01 moodboard").
    ("krea/krea-2/large", {"image_style_references": STYLE, "moodboards": MOODBOARD}, 0.075),
    ("krea/krea-2/medium", {}, 0.03),
    ("krea/krea-2/medium", {"image_style_references": STYLE}, 0.035),
    ("krea/krea-2/medium", {"moodboards": MOODBOARD}, 0.04),
    ("krea/krea-2/medium", {"image_style_references": STYLE, "moodboards": MOODBOARD}, 0.045),
    ("bfl/flux-1.1-pro", {"width": 1440, "height": 1440}, 0.042),
    ("google/nano-banana-pro", {"resolution": "1K"}, 0.15),
    ("google/nano-banana-pro", {"resolution": "4K"}, 0.30),
]

#: (model, request fields, compute units Krea lists for that case).
PUBLISHED_CU: list[tuple[str, dict[str, Any], float]] = [
    ("google/nano-banana-2", {"resolution": "4K"}, 86.5),
    ("google/nano-banana-pro", {"resolution": "4K"}, 120),
    ("ideogram/ideogram-3", {"character_reference_images": ["https://example.com/c.png"]}, 85.9),
    ("luma/uni-1", {"mode": "max", "style_images": [{"url": "https://e.com/s.png", "strength": 1}] * 9}, 72.7),
    ("bfl/flux-1.1-pro-ultra", {}, 34.4),
    ("google/imagen-4-ultra", {}, 34.4),
    ("bytedance/seedream-5-lite", {}, 20.0),
    ("openai/gpt-image", {}, 179),
    ("runway/gen-4-image", {}, 44),
]


@pytest.mark.parametrize(("model", "fields", "usd"), PUBLISHED_USD)
def test_the_estimate_is_never_below_a_published_usd_price(model: str, fields: dict[str, Any], usd: float) -> None:
    """Before: Krea 2 Large was estimated at $0.07 whatever the call, below $0.075 with style references and a
    moodboard (and Medium at $0.04 below $0.045)."""
    info = load_catalog().models[model]
    assert estimate_usd(info, fields) >= usd - 1e-9
    assert estimate_usd(info) >= usd - 1e-9  # without the body: the most expensive case


@pytest.mark.parametrize(("model", "fields", "cu"), PUBLISHED_CU)
def test_the_estimate_is_never_below_a_published_compute_unit_price(
    model: str, fields: dict[str, Any], cu: float
) -> None:
    info = load_catalog().models[model]
    assert estimate_usd(info, fields) >= cu * USD_PER_CU - 1e-9
    assert estimate_usd(info) >= cu * USD_PER_CU - 1e-9


def test_every_model_has_an_estimate_at_least_its_listed_compute_units() -> None:
    for info in load_catalog().models.values():
        if info.compute_units is None or info.usd is not None:  # a USD price, where given, is the price
            assert estimate_usd(info) in (UNKNOWN_PRICE_USD, info.usd_estimate)
            continue
        top = float(info.compute_units.replace("~", "").split()[0].split("-")[-1])
        assert estimate_usd(info) >= top * USD_PER_CU - 1e-9, info.id


def test_a_body_takes_off_only_surcharges_it_does_not_use() -> None:
    large = load_catalog().models["krea/krea-2/large"]
    assert estimate_usd(large, {"prompt": "p"}) == pytest.approx(0.06)
    assert estimate_usd(large, {"image_style_references": STYLE}) == pytest.approx(0.065)
    assert estimate_usd(large, {"image_style_references": [], "moodboards": MOODBOARD}) == pytest.approx(0.07)


def test_an_average_price_grows_with_steps_and_pixels() -> None:
    """Krea lists Flux Dev at ~3 CU (an average, at 25 steps and 1024x1024): four times the steps and four times
    the pixels are not priced at the average."""
    flux = load_catalog().models["bfl/flux-1-dev"]
    base = estimate_usd(flux, {})
    assert estimate_usd(flux, {"steps": 100, "width": 2048, "height": 2048}) == pytest.approx(base * 16)
    assert estimate_usd(flux, {"steps": 10, "width": 512, "height": 512}) == pytest.approx(base)  # never below
    qwen = load_catalog().models["qwen/2512"]
    assert estimate_usd(qwen, {"num_inference_steps": 60}) == pytest.approx(estimate_usd(qwen) * 2)


def test_the_guard_reserves_the_bodys_price_and_keeps_the_old_call_working() -> None:
    large = load_catalog().models["krea/krea-2/large"]
    guard = SpendGuard(max_usd=0.07)
    assert guard.reserve(large, {"moodboards": MOODBOARD}) == pytest.approx(0.07)
    guard.release(0.07)
    with pytest.raises(SpendLimitError, match=r"costs up to ~\$0\.075"):
        guard.reserve(large)  # no body: the most expensive case
    assert guard.jobs == 0


@pytest.mark.anyio
async def test_a_budget_between_the_old_and_true_price_refuses_krea_2_with_every_extra() -> None:
    fake = FakeKrea(token=TOKEN, job_duration_s=0)
    async with connect(fake, preview="off", max_spend_usd=0.072) as client:
        refused = await client.call_tool(
            "generate_image",
            {
                "prompt": "a lighthouse",
                "model": "krea-2",
                "aspect_ratio": "1:1",
                "style_images": ["https://example.com/style.png"],
                "options": {"moodboards": MOODBOARD},
                "wait": False,
            },
        )
    assert refused.is_error and "KREA_MAX_SPEND_USD" in text_of(refused), text_of(refused)
    assert fake.generate_posts == 0
