"""Every catalog model is callable through the tool, with common parameters mapped onto its real fields."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from mcp import Client

from krea_mcp.catalog.models import load_catalog
from krea_mcp.fake_api import FakeKrea
from tests.helpers import TOKEN, call_once, text_of

pytestmark = pytest.mark.anyio

CATALOG = load_catalog()
SPEC = Path(__file__).resolve().parent.parent.parent / "shared" / "krea-openapi.json"
IMG = "https://images.example.com/cat.png"


async def generate(fake: FakeKrea, arguments: dict[str, Any], **settings: Any) -> Any:
    return await call_once(fake, "generate_image", {"wait": False, **arguments}, **settings)


def minimal_arguments(model_id: str) -> dict[str, Any]:
    """The least an agent must pass: a prompt, plus an image where the model requires one."""
    info = CATALOG.models[model_id]
    arguments: dict[str, Any] = {"prompt": "a small red fox", "model": model_id}
    if {"image_url", "reference_images"} & set(info.required):
        arguments["images"] = [IMG]
    return arguments


def test_catalog_covers_the_spec_and_krea_2() -> None:
    assert len(CATALOG.models) == 24
    assert {"krea/krea-2/large", "krea/krea-2/medium"} <= set(CATALOG.models)
    if SPEC.exists():  # the spec ships beside the repo, not inside the package
        spec = json.loads(SPEC.read_text())
        paths = {p.removeprefix("/generate/image/") for p in spec["paths"] if p.startswith("/generate/image/")}
        assert paths <= set(CATALOG.models)


def test_catalog_never_sends_camel_case_fields() -> None:
    for info in CATALOG.models.values():
        assert not any(c.isupper() for c in "".join(info.properties)), info.id


def test_aliases_are_unique_and_never_shadow_ids() -> None:
    seen: dict[str, str] = {}
    for info in CATALOG.models.values():
        for alias in info.aliases:
            assert alias not in seen, (alias, seen.get(alias), info.id)
            assert alias not in CATALOG.models
            seen[alias] = info.id
    assert CATALOG.find("nano-banana").id == "google/nano-banana"  # never silently the Pro model


@pytest.mark.parametrize("model_id", sorted(CATALOG.models))
async def test_every_model_is_callable_with_a_minimal_call(model_id: str) -> None:
    """The body built from a minimal call passes the emulator's validation with that model's spec schema."""
    fake = FakeKrea(token=TOKEN)
    result = await generate(fake, minimal_arguments(model_id))
    assert result.is_error is False, text_of(result)
    assert fake.jobs_created == 1
    (job,) = fake.jobs.values()
    assert job.model == model_id


@pytest.mark.parametrize("model_id", sorted(CATALOG.models))
async def test_every_model_accepts_a_landscape_size(model_id: str) -> None:
    """width/height 1344x768 works everywhere: exact pixels or the nearest aspect ratio."""
    fake = FakeKrea(token=TOKEN)
    result = await generate(fake, {**minimal_arguments(model_id), "width": 1344, "height": 768})
    info = CATALOG.models[model_id]
    if not {"width", "aspect_ratio"} & set(info.properties):  # SeedEdit keeps the input image's size
        assert "takes no size parameters" in text_of(result)
        return
    assert result.is_error is False, text_of(result)
    (job,) = fake.jobs.values()
    if "width" in info.properties and "aspect_ratio" not in info.properties:
        assert (job.body["width"], job.body["height"]) == (1344, 768)
    elif "aspect_ratio" in info.properties:
        assert job.body["aspect_ratio"] == "16:9"


@pytest.mark.parametrize(
    ("model", "arguments", "expected"),
    [
        ("z-image", {"width": 768, "height": 1024}, {"aspect_ratio": "2:3"}),
        ("krea-2", {"aspect_ratio": "2.35:1"}, {"aspect_ratio": "2.35:1", "resolution": "1K"}),
        (
            "nano-banana-pro",
            {"width": 2048, "height": 1024, "resolution": "2K"},
            {"aspect_ratio": "16:9", "resolution": "2K"},
        ),
        ("flux", {"aspect_ratio": "3:2"}, {"width": 1024, "height": 688}),
        ("flux", {"aspect_ratio": "21:9"}, {"width": 1200, "height": 512}),  # grown so the short side fits 512+
        ("flux-pro", {}, {"width": 1024, "height": 1024}),
        ("qwen", {"steps": 12, "negative_prompt": "blurry"}, {"num_inference_steps": 12, "negative_prompt": "blurry"}),
        ("z-image", {"strength": 0.4}, {"denoising_strength": 0.4}),
        ("flux", {"images": [IMG], "strength": 0.7}, {"image_url": IMG, "strength": 0.7}),
        ("nano-banana-2", {"images": [IMG, IMG]}, {"image_urls": [IMG, IMG]}),
        ("gpt-image", {"images": [IMG]}, {"image_urls": [IMG]}),
        (
            "runway",
            {"images": [IMG, IMG]},
            {"reference_images": [{"url": IMG, "tag": "ref1"}, {"url": IMG, "tag": "ref2"}]},
        ),
        ("ideogram-3", {"images": [IMG]}, {"character_reference_images": [IMG]}),
        ("seededit", {"images": [IMG]}, {"image_url": IMG}),
        ("krea-2", {"style_images": [IMG]}, {"image_style_references": [{"url": IMG, "strength": 1.0}]}),
        ("seedream", {"style_images": [IMG]}, {"style_images": [{"url": IMG, "strength": 1.0}]}),
        ("flux", {"options": {"guidance_scale_flux": 5}}, {"guidance_scale_flux": 5}),
        ("uni-1", {"options": {"mode": "max", "output_format": "png"}}, {"mode": "max", "output_format": "png"}),
    ],
)
async def test_common_parameters_map_to_each_models_fields(
    model: str, arguments: dict[str, Any], expected: dict[str, Any]
) -> None:
    fake = FakeKrea(token=TOKEN)
    result = await generate(fake, {"prompt": "a fox", "model": model, **arguments})
    assert result.is_error is False, text_of(result)
    (job,) = fake.jobs.values()
    for key, value in expected.items():
        assert job.body[key] == value, (key, job.body)


@pytest.mark.parametrize(
    ("model", "arguments", "fragments"),
    [
        ("imagen-4", {"images": [IMG]}, ["images", "google/imagen-4", "takes no input images"]),
        ("flux", {"images": [IMG, IMG]}, ["exactly one input image"]),
        ("runway", {"images": [IMG] * 4}, ["reference_images has 4 items", "1–3"]),
        ("qwen", {"style_images": [IMG]}, ["style_images", "qwen/2512"]),
        ("runway", {}, ["reference_images", "required"]),
        ("z-image", {"resolution": "2K"}, ["resolution", "1K"]),
        ("flux", {"width": 1024}, ["width and height"]),
        ("flux", {"aspect_ratio": "wide"}, ["aspect_ratio", "16:9"]),
        ("luma", {"options": {"mode": "turbo"}}, ["mode='turbo'", "standard, max"]),
    ],
)
async def test_mapping_errors_are_caught_before_any_post(
    model: str, arguments: dict[str, Any], fragments: list[str]
) -> None:
    fake = FakeKrea(token=TOKEN)
    result = await generate(fake, {"prompt": "a fox", "model": model, **arguments})
    assert result.is_error is True
    for fragment in fragments:
        assert fragment in text_of(result)
    assert fake.generate_posts == 0


async def test_list_models_is_compact_and_complete(client: Client) -> None:
    result = await client.call_tool("list_models", {})
    text = text_of(result)
    assert result.structured_content is None  # text only: no duplicate JSON copy in context
    for model_id in CATALOG.models:
        assert model_id in text
    assert "bytedance/seedream-3" in text and "Retired" in text
    assert len(result.model_dump_json(by_alias=True, exclude_none=True)) < 3500


@pytest.mark.parametrize("model_id", sorted(CATALOG.models))
async def test_list_models_details_every_model(client: Client, model_id: str) -> None:
    text = text_of(await client.call_tool("list_models", {"model": model_id}))
    assert text.startswith(model_id)
    for field in CATALOG.models[model_id].properties:
        assert f"- {field}" in text


async def test_list_models_suggests_on_unknown_model(client: Client) -> None:
    result = await client.call_tool("list_models", {"model": "imagen5"})
    assert result.is_error is True
    assert "google/imagen-4" in text_of(result)


@pytest.mark.parametrize(
    ("arguments", "fragment"),
    [
        ({"model": "nano-banana", "resolution": "4K"}, "resolution: model google/nano-banana has no resolution"),
        ({"model": "flux", "seed": 5, "options": {"seed": 7}}, "options.seed repeats an argument"),
        ({"model": "flux", "options": {"prompt": "other"}}, "options.prompt repeats an argument"),
    ],
)
async def test_nothing_an_agent_passes_is_silently_dropped_or_overridden(
    arguments: dict[str, Any], fragment: str
) -> None:
    fake = FakeKrea(token=TOKEN)
    result = await generate(fake, {"prompt": "a fox", **arguments})
    assert result.is_error is True
    assert fragment in text_of(result)
    assert fake.generate_posts == 0


async def test_list_models_describes_the_mapping_params_applies(client: Client) -> None:
    text = text_of(await client.call_tool("list_models", {"model": "nano-banana-pro"}))
    assert "width/height → nearest aspect_ratio" in text
