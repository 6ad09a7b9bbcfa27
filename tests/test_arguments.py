"""What the agent sends is what the server does: unknown arguments and bad values are refused before anything is
spent, in the tool's own argument names, with no library boilerplate, and hints never lead to a second refusal."""

from __future__ import annotations

from typing import Any

import pytest

from krea_mcp.fake_api import FakeKrea
from tests.helpers import TOKEN, call_once, text_of

pytestmark = pytest.mark.anyio

BOILERPLATE = ("validation error", "pydantic", "errors.pydantic.dev", "For further information", "input_value", "type=")


async def _call(fake: FakeKrea, tool: str, arguments: dict[str, Any], mode: str = "auto") -> str:
    """The error text of one call that must be refused."""
    result = await call_once(fake, tool, arguments, mode=mode, preview="off")
    assert result.is_error, text_of(result)
    return text_of(result)


@pytest.mark.parametrize(
    ("arguments", "expected"),
    [
        ({"num_images": 3}, ["'num_images' is not an argument", "one call makes one job"]),
        ({"aspectRatio": "16:9"}, ["'aspectRatio'", "use 'aspect_ratio'"]),
        ({"image_url": "https://example.com/a.png"}, ["'image_url'", "use images=[...]"]),
        ({"output_path": "out.png"}, ["'output_path'", "use save_to"]),
        ({"quality": "hd"}, ["'quality'", "bfl/flux-1-dev has no such setting", "guidance_scale_flux"]),
        ({"guidance_scale": 3}, ["'guidance_scale'", "options.guidance_scale_flux"]),
        ({"num_inference_steps": 30}, ["'num_inference_steps'", "use steps"]),
        ({"model": "gpt-image", "Quality": "high"}, ["'Quality'", "openai/gpt-image takes it as options.quality"]),
        ({"seed": -1}, ["seed=-1 is out of range", "0 to 4,294,967,295"]),
        ({"prompt": ""}, ["prompt is empty", "1–10,000 characters"]),
        ({"resolution": "4k"}, ["resolution='4k' is not allowed", "1K, 2K, 4K", "did you mean '4K'"]),
        ({"images": "https://example.com/a.png"}, ["images must be a list", '["https://example.com/a.png"]']),
        ({"width": "wide", "height": 512}, ["width must be a whole number", "'wide'"]),
        ({"strength": 3}, ["strength=3 is out of range", "-2 to 2"]),
        ({"images": ["https://example.com/a.png"] * 17}, ["images has 17 items", "at most 16"]),
        ({"options": "guidance=3"}, ["options must be an object"]),
        ({"wait": "sometimes"}, ["wait must be true or false"]),
    ],
)
async def test_bad_generate_arguments_never_reach_krea(arguments: dict[str, Any], expected: list[str]) -> None:
    fake = FakeKrea(token=TOKEN)
    text = await _call(fake, "generate_image", {"prompt": "a lighthouse", **arguments})
    for fragment in expected:
        assert fragment in text, text
    assert text.endswith("Nothing was started or charged."), text
    assert not any(b in text for b in BOILERPLATE), text
    assert fake.generate_posts == 0 and not fake.assets, "a refused call reached Krea"


@pytest.mark.parametrize(
    ("tool", "arguments", "expected"),
    [
        ("wait_for_job", {"job_id": "abc", "timeout_s": 900}, ["timeout_s=900 is out of range", "at most 600"]),
        ("wait_for_job", {"jobId": "abc"}, ["'jobId'", "use 'job_id'"]),
        ("wait_for_job", {"job_id": "abc", "timeout": 5}, ["'timeout'", "use timeout_s"]),
        ("get_job", {"job_id": "a b"}, ["job_id='a b' is not a job id"]),
        ("get_job", {}, ["job_id is required"]),
        ("cancel_job", {"id": "abc"}, ["'id'", "use job_id"]),
        ("list_models", {"name": "flux"}, ["'name' is not an argument of list_models", "its arguments are: model"]),
    ],
)
async def test_bad_arguments_of_every_tool_are_explained(
    tool: str, arguments: dict[str, Any], expected: list[str]
) -> None:
    fake = FakeKrea(token=TOKEN)
    text = await _call(fake, tool, arguments)
    for fragment in expected:
        assert fragment in text, text
    assert not any(b in text for b in BOILERPLATE), text
    assert not [r for r in fake.requests if r[1].startswith("/jobs")], "an invalid call still asked Krea"


async def test_several_problems_are_reported_together(mode: str) -> None:
    fake = FakeKrea(token=TOKEN)
    text = await _call(fake, "generate_image", {"prompt": "x", "num_images": 3, "aspectRatio": "16:9"}, mode)
    assert "2 problems" in text and "'num_images'" in text and "'aspectRatio'" in text
    assert fake.generate_posts == 0


async def test_following_a_hint_succeeds() -> None:
    """The hint for options.guidanceScale names a field flux really takes: the corrected call goes through."""
    fake = FakeKrea(token=TOKEN, job_duration_s=0)
    text = await _call(fake, "generate_image", {"prompt": "x", "options": {"guidanceScale": 3}})
    assert "options.guidance_scale_flux" in text
    result = await call_once(
        fake, "generate_image", {"prompt": "x", "options": {"guidance_scale_flux": 3}}, preview="off"
    )
    assert not result.is_error, text_of(result)
    assert fake.generate_posts == 1


@pytest.mark.parametrize(
    "arguments",
    [
        {"model": "flux", "width": 4096, "height": 4096},  # the model's range
        {"model": "z-image", "aspect_ratio": "21:9"},  # a ratio the model does not offer
        {"options": {"guidanceScale": 3}},  # a field the model does not have
    ],
)
async def test_every_refusal_before_a_request_says_nothing_was_spent(arguments: dict[str, Any]) -> None:
    """Refusals from the model's own rules read like argument errors: the agent may simply correct the call."""
    fake = FakeKrea(token=TOKEN)
    text = await _call(fake, "generate_image", {"prompt": "a lighthouse", **arguments})
    assert text.endswith("Nothing was started or charged."), text
    assert fake.generate_posts == 0


@pytest.mark.parametrize(
    ("tool", "arguments", "hint"),
    [
        ("enhance_image", {"image": "https://example.com/a.png", "scale": "4x"}, "Send the number alone: 4."),
        ("generate_video", {"prompt": "waves", "duration_s": "5s"}, "Send the number alone: 5."),
        ("generate_image", {"prompt": "a fox", "width": "1024px"}, "Send the number alone: 1024."),
    ],
)
async def test_a_number_sent_with_its_unit_is_refused_with_the_bare_number(
    tool: str, arguments: dict[str, Any], hint: str
) -> None:
    fake = FakeKrea(token=TOKEN)
    result = await call_once(fake, tool, arguments, tools="all")
    assert result.is_error and hint in text_of(result), text_of(result)
    assert fake.requests == []
