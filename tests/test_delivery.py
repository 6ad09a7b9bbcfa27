"""Results delivered the way agents use them: saved files, previews within budget, resources, cancel_job."""

from __future__ import annotations

import base64
import json
from pathlib import Path
from typing import Any

import httpx
import pytest

from krea_mcp.fake_api import FakeKrea
from tests.helpers import TOKEN, UNKNOWN_JOB, Around, connect, is_image, text_of

pytestmark = pytest.mark.anyio


def size_of(result: Any) -> int:
    return len(json.dumps(result.model_dump(mode="json", by_alias=True, exclude_none=True), separators=(",", ":")))


@pytest.fixture
def out(tmp_path: Path) -> Path:
    return tmp_path / "images"  # KREA_OUTPUT_DIR, set by the autouse fixture


async def test_save_to_directory_returns_absolute_paths_everywhere(mode: str, out: Path) -> None:
    fake = FakeKrea(token=TOKEN, job_duration_s=0.05)
    async with connect(fake, mode=mode, preview="off") as client:
        result = await client.call_tool("generate_image", {"prompt": "A red fox, in snow!", "save_to": "assets"})
    assert result.is_error is False, text_of(result)
    (saved,) = result.structured_content["files"]
    path = Path(saved)
    assert path.is_absolute() and path.parent == Path.cwd() / "assets"  # relative: in the project the server runs in
    assert path.name.startswith("a-red-fox-in-snow-") and path.suffix == ".png"
    assert path.read_bytes().startswith(b"\x89PNG")
    assert f"Saved: {path}" in text_of(result)
    links = [str(b.uri) for b in result.content if b.type == "resource_link"]
    assert path.as_uri() in links


async def test_save_to_a_file_path_in_the_working_directory(tmp_path: Path) -> None:
    fake = FakeKrea(token=TOKEN, job_duration_s=0.05)
    async with connect(fake, preview="off") as client:
        result = await client.call_tool("generate_image", {"prompt": "logo", "save_to": str(tmp_path / "logo.png")})
    assert result.structured_content["files"] == [str(tmp_path / "logo.png")]


async def test_save_to_outside_allowed_dirs_is_refused_before_any_job(tmp_path_factory: pytest.TempPathFactory) -> None:
    elsewhere = tmp_path_factory.mktemp("elsewhere")
    fake = FakeKrea(token=TOKEN)
    async with connect(fake) as client:
        for bad in (str(elsewhere), "../../x", "/etc/cron.d/x.png"):
            result = await client.call_tool("generate_image", {"prompt": "a fox", "save_to": bad})
            assert result.is_error is True, bad
            assert "save_to" in text_of(result)
    assert fake.generate_posts == 0


async def test_auto_save_saves_without_being_asked(out: Path) -> None:
    fake = FakeKrea(token=TOKEN, job_duration_s=0.05)
    async with connect(fake, auto_save=True, preview="off") as client:
        result = await client.call_tool("generate_image", {"prompt": "a fox"})
    (saved,) = result.structured_content["files"]
    assert Path(saved).parent == out


async def test_deadline_hint_repeats_save_to_and_wait_for_job_saves(out: Path) -> None:
    fake = FakeKrea(token=TOKEN, job_duration_s=0.5)
    async with connect(fake, wait_s=0.1, preview="off") as client:
        first = await client.call_tool("generate_image", {"prompt": "a fox", "save_to": "later"})
        assert "files" not in first.structured_content
        assert 'save_to="later"' in first.structured_content["next_step"]
        done = await client.call_tool(
            "wait_for_job", {"job_id": first.structured_content["job_id"], "timeout_s": 5, "save_to": "later"}
        )
    (saved,) = done.structured_content["files"]
    assert Path(saved).parent == Path.cwd() / "later"  # the project folder (the test's working directory)


async def test_thumbnail_preview_is_image_content_within_budget_and_never_structured() -> None:
    fake = FakeKrea(token=TOKEN, job_duration_s=0.05, image_size=(1024, 1024))
    async with connect(fake, preview="thumbnail", preview_budget_bytes=20_000) as client:
        result = await client.call_tool("generate_image", {"prompt": "a fox"})
    images = [b for b in result.content if b.type == "image"]
    assert len(images) == 1
    assert sum(len(i.data) for i in images) <= 20_000
    base64.b64decode(images[0].data, validate=True)
    assert images[0].data not in json.dumps(result.structured_content)


async def test_preview_off_keeps_a_one_image_result_small() -> None:
    fake = FakeKrea(token=TOKEN, job_duration_s=0.05)
    async with connect(fake, preview="off") as client:
        result = await client.call_tool("generate_image", {"prompt": "a red fox in the snow"})
    assert [b.type for b in result.content] == ["text", "resource_link"]
    assert size_of(result) < 1000


async def test_broken_image_bytes_still_return_urls_with_a_note() -> None:
    """Bytes labelled image/png that are no image (the emulator's ``malformed`` fault is JSON, so not this case)."""
    fake = FakeKrea(token=TOKEN, job_duration_s=0.05)

    async def garbled(request: httpx.Request, inner: httpx.AsyncBaseTransport) -> httpx.Response:
        if is_image(request):
            return httpx.Response(200, content=b"definitely not a png", headers={"content-type": "image/png"})
        return await inner.handle_async_request(request)

    async with connect(Around(fake, garbled), preview="thumbnail") as client:
        result = await client.call_tool("generate_image", {"prompt": "a fox"})
    assert result.is_error is False
    assert result.structured_content["urls"]
    assert not [b for b in result.content if b.type == "image"]
    assert "preview" in text_of(result).lower()


async def test_failed_download_for_saving_is_a_note_not_a_lost_job(out: Path) -> None:
    fake = FakeKrea(token=TOKEN, job_duration_s=0.05)
    fake.inject("image", 503, count=10)  # the image host is down for good
    async with connect(fake, preview="off") as client:
        result = await client.call_tool("generate_image", {"prompt": "a fox", "save_to": "x"})
    assert result.is_error is False
    assert result.structured_content["status"] == "completed" and result.structured_content["urls"]
    assert "Saving failed" in text_of(result)
    assert not list(out.rglob("*.png")) and not list(out.rglob("*.part"))
    assert ("GET", f"/_fake/images/{result.structured_content['job_id']}/0.png") in fake.requests


async def test_jobs_and_saved_files_are_listed_and_readable_as_resources(mode: str) -> None:
    fake = FakeKrea(token=TOKEN, job_duration_s=0.05)
    async with connect(fake, mode=mode, preview="off") as client:
        result = await client.call_tool("generate_image", {"prompt": "a fox", "save_to": "res"})
        job_id = result.structured_content["job_id"]
        (saved,) = result.structured_content["files"]
        uris = {str(r.uri) for r in (await client.list_resources()).resources}
        assert f"krea://jobs/{job_id}" in uris and Path(saved).as_uri() in uris
        templates = {t.uri_template for t in (await client.list_resource_templates()).resource_templates}
        assert "krea://jobs/{job_id}" in templates
        job = await client.read_resource(f"krea://jobs/{job_id}")
        assert json.loads(job.contents[0].text)["status"] == "completed"
        image = await client.read_resource(Path(saved).as_uri())
        assert base64.b64decode(image.contents[0].blob).startswith(b"\x89PNG")


async def test_cancel_job_cancels_a_running_job(mode: str) -> None:
    fake = FakeKrea(token=TOKEN, job_duration_s=30)
    async with connect(fake, mode=mode) as client:
        started = await client.call_tool("generate_image", {"prompt": "a fox", "wait": False})
        job_id = started.structured_content["job_id"]
        result = await client.call_tool("cancel_job", {"job_id": job_id})
    assert result.is_error is False
    assert result.structured_content["status"] == "cancelled"
    assert "not charged" in text_of(result)
    assert ("DELETE", f"/jobs/{job_id}") in fake.requests


async def test_cancel_job_leaves_a_finished_job_alone() -> None:
    fake = FakeKrea(token=TOKEN, job_duration_s=0.05)
    async with connect(fake, preview="off") as client:
        done = await client.call_tool("generate_image", {"prompt": "a fox"})
        job_id = done.structured_content["job_id"]
        result = await client.call_tool("cancel_job", {"job_id": job_id})
    assert result.is_error is False
    assert result.structured_content["status"] == "completed"
    assert "nothing to cancel" in text_of(result)
    assert not [r for r in fake.requests if r[0] == "DELETE"]


async def test_cancel_unknown_job_is_a_404() -> None:
    fake = FakeKrea(token=TOKEN)
    async with connect(fake) as client:
        result = await client.call_tool("cancel_job", {"job_id": UNKNOWN_JOB})
    assert result.is_error is True and "not found" in text_of(result)


async def test_every_resource_link_in_a_result_can_be_read_from_the_server(mode: str) -> None:
    """MCP: a resource link names a resource the server can read, so clients that follow links never fail."""
    fake = FakeKrea(token=TOKEN, job_duration_s=0.05)
    async with connect(fake, mode=mode, preview="off", auto_save=True) as client:
        result = await client.call_tool("generate_image", {"prompt": "a fox"})
        links = [str(b.uri) for b in result.content if b.type == "resource_link"]
        assert len(links) == 2  # the image URL and the saved file
        for uri in links:
            read = await client.read_resource(uri)
            assert base64.b64decode(read.contents[0].blob).startswith(b"\x89PNG")
