"""Honest results: the run time is the job's own, sizes mapped onto a model are reported, contradictions refused."""

from __future__ import annotations

from typing import Any

import pytest

from krea_mcp.catalog.image_params import GenerateParams, build_body, size_note
from krea_mcp.catalog.models import load_catalog
from krea_mcp.errors import InvalidRequestError
from krea_mcp.fake_api import FakeKrea
from tests.helpers import TOKEN, UNKNOWN_JOB, FakeClock, call_once, connect, text_of

pytestmark = pytest.mark.anyio


async def test_run_time_after_a_resumed_wait_is_the_jobs_own(mode: str) -> None:
    """A 72 s job picked up by wait_for_job after it finished reports 72 s, not the length of this wait."""
    clock = FakeClock()
    fake = FakeKrea(token=TOKEN, job_duration_s=72, clock=clock)
    async with connect(fake, mode=mode, preview="off") as client:
        started = await client.call_tool("generate_image", {"prompt": "a slow fox", "wait": False})
        job_id = started.structured_content["job_id"]
        clock.advance(80)
        done = await client.call_tool("wait_for_job", {"job_id": job_id})
    assert done.structured_content["status"] == "completed"
    assert text_of(done).startswith("Completed in 72 s"), text_of(done)


def _body(model: str, **asked: Any) -> tuple[dict[str, Any], str | None]:
    info = load_catalog().find(model)
    assert info is not None
    params = GenerateParams(prompt="x", model=info.id, **asked)
    body = build_body(info, params)
    return body, size_note(info, params, body)


def test_pixels_on_a_ratio_model_are_mapped_and_said() -> None:
    body, note = _body("nano-banana", width=1000, height=700)
    assert body["aspect_ratio"] == "3:2" and "width" not in body
    assert note is not None and "aspect_ratio=3:2" in note and "1000x700" in note and "closest" in note


def test_a_ratio_on_a_pixel_model_is_converted_and_said() -> None:
    body, note = _body("flux", aspect_ratio="16:9")
    assert note == f"Size: sent width={body['width']}, height={body['height']} for 16:9 (bfl/flux-1-dev takes pixels)."


def test_exact_pixels_need_no_note() -> None:
    assert _body("flux", width=1024, height=768)[1] is None


def test_resolution_and_pixels_together_are_refused_not_dropped() -> None:
    with pytest.raises(InvalidRequestError, match=r"resolution=2K and width/height=1000x700 both set the size"):
        _body("imagen-4", width=1000, height=700, resolution="2K")


def test_a_ratio_contradicting_the_pixels_is_refused() -> None:
    with pytest.raises(InvalidRequestError, match="does not match width/height"):
        _body("flux", width=1024, height=1024, aspect_ratio="16:9")
    assert _body("flux", width=1920, height=1080, aspect_ratio="16:9")[0]["width"] == 1920


async def test_a_sandbox_job_from_another_process_is_explained_not_blamed_on_the_token() -> None:
    result = await call_once(None, "get_job", {"job_id": UNKNOWN_JOB}, sandbox=True, api_token=None)
    assert result.is_error
    text = text_of(result)
    assert "sandbox jobs live only in the server process that created them" in text
    assert "token" not in text


async def test_sandbox_images_have_the_size_that_was_sent(tmp_path: Any) -> None:
    from krea_mcp.fake_api._png import png_dimensions

    async with connect(None, sandbox=True, api_token=None, preview="off", output_dir=tmp_path) as client:
        result = await client.call_tool(
            "generate_image", {"prompt": "a wide lighthouse", "width": 1344, "height": 768, "save_to": "."}
        )
    assert not result.is_error, text_of(result)
    (saved,) = result.structured_content["files"]
    with open(saved, "rb") as f:
        assert png_dimensions(f.read(64)) == (1344, 768)
