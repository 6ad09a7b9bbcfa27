"""Paths where what was asked and what was done could still differ, each closed (found in review)."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest

from krea_mcp.fake_api import FakeKrea
from tests.helpers import TOKEN, call_once, connect, run_cli, text_of

pytestmark = pytest.mark.anyio


@pytest.mark.parametrize(
    ("options", "expected"),
    [
        ({"image_url": "./ref.png"}, "options.image_url is set through generate_image's own argument 'images'"),
        ({"style_images": [{"url": "https://example.com/s.png"}]}, "argument 'style_images'"),
        ({"width": 1000}, "options.width is set through generate_image's own argument 'width'"),
        ({"steps": 20}, "argument 'steps'"),
    ],
)
async def test_options_cannot_bypass_the_arguments_that_upload_check_and_map(
    options: dict[str, object], expected: str
) -> None:
    fake = FakeKrea(token=TOKEN)
    result = await call_once(fake, "generate_image", {"prompt": "x", "options": options})
    assert result.is_error and expected in text_of(result), text_of(result)
    assert fake.generate_posts == 0


async def test_a_ratio_contradicting_the_pixels_is_refused_on_ratio_models_too() -> None:
    fake = FakeKrea(token=TOKEN)
    arguments = {"prompt": "x", "model": "nano-banana", "aspect_ratio": "16:9", "width": 1024, "height": 1024}
    result = await call_once(fake, "generate_image", arguments)
    assert result.is_error and "does not match width/height 1024x1024" in text_of(result)
    assert fake.generate_posts == 0


async def test_a_url_with_spaces_around_it_is_sent_as_checked() -> None:
    fake = FakeKrea(token=TOKEN, job_duration_s=0)
    arguments = {"prompt": "x", "model": "flux-kontext", "images": ["  https://example.com/a.png \n"]}
    result = await call_once(fake, "generate_image", arguments, preview="off")
    assert not result.is_error, text_of(result)
    (job,) = fake.jobs.values()
    assert job.body["image_url"] == "https://example.com/a.png"


async def test_a_token_in_the_status_line_of_an_empty_error_answer_is_scrubbed() -> None:
    secret = TOKEN

    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(500, extensions={"reason_phrase": f"oops {secret}".encode()})

    result = await call_once(httpx.MockTransport(handler), "get_job", {"job_id": "abc"})
    assert result.is_error and secret not in text_of(result) and "[redacted]" in text_of(result)


async def test_heic_names_are_refused_before_the_job(tmp_path: Path) -> None:
    fake = FakeKrea(token=TOKEN)
    result = await call_once(fake, "generate_image", {"prompt": "x", "save_to": "hero.heic"}, output_dir=tmp_path)
    assert result.is_error and "ends in .heic" in text_of(result)
    assert fake.generate_posts == 0


async def test_a_relative_input_path_starts_in_the_project_like_save_to(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from krea_mcp.fake_api._png import prompt_image

    first, project = tmp_path / "first", tmp_path / "project"
    first.mkdir()
    project.mkdir()
    (first / "ref.png").write_bytes(prompt_image("wrong", 8, 8))
    (project / "ref.png").write_bytes(prompt_image("right", 8, 8))
    monkeypatch.chdir(project)
    fake = FakeKrea(token=TOKEN, job_duration_s=0)
    arguments = {"prompt": "x", "model": "flux-kontext", "images": ["ref.png"]}
    result = await call_once(fake, "generate_image", arguments, preview="off", allowed_dirs=[first, project])
    assert not result.is_error, text_of(result)
    (asset,) = fake.assets.values()
    assert asset.data == prompt_image("right", 8, 8)


async def test_previews_are_bounded_to_the_first_images(monkeypatch: pytest.MonkeyPatch) -> None:
    from krea_mcp.workflow import result_delivery

    monkeypatch.setattr(result_delivery, "MAX_PREVIEWED", 1)
    fake = FakeKrea(token=TOKEN, job_duration_s=0)
    fake.result_urls = [f"{fake.base_url}/_fake/huge/64x64.png?n={i}" for i in range(3)]
    async with connect(fake) as client:
        result = await client.call_tool("generate_image", {"prompt": "x"})
    assert len([b for b in result.content if b.type == "image"]) == 1
    assert "Previews show the first 1 of 3 images" in text_of(result)


def test_cli_refuses_an_unusable_out_before_creating_a_job(tmp_path: Path) -> None:
    proc = run_cli("generate", "a fox", "--sandbox", "--out", str(tmp_path / "hero.gif"), cwd=tmp_path)
    assert proc.returncode == 1
    assert "ends in .gif" in proc.stderr and "Job " not in proc.stderr, proc.stderr


async def test_files_saved_before_the_delivery_deadline_are_reported(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import anyio

    from krea_mcp.workflow import result_delivery
    from tests.helpers import Around

    monkeypatch.setattr(result_delivery, "DELIVERY_TIMEOUT_S", 1.0)
    fake = FakeKrea(token=TOKEN, job_duration_s=0)
    fake.result_urls = [f"{fake.base_url}/_fake/huge/32x32.png?n={i}" for i in range(2)]

    async def slow_second(request: httpx.Request, inner: httpx.AsyncBaseTransport) -> httpx.Response:
        if request.url.params.get("n") == "1":
            await anyio.sleep(5)
        return await inner.handle_async_request(request)

    arguments = {"prompt": "two", "save_to": "shots"}
    async with connect(Around(fake, slow_second), preview="off", output_dir=tmp_path) as client:
        result = await client.call_tool("generate_image", arguments)
    files = result.structured_content.get("files", [])
    assert len(files) == 1 and Path(files[0]).exists(), text_of(result)
    assert "(1 of 2 images saved before it)" in text_of(result)


async def test_a_file_saved_under_a_client_root_is_readable_as_a_resource(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from mcp.types import ListRootsResult, Root

    monkeypatch.chdir("/")
    workspace = tmp_path / "workspace"
    workspace.mkdir()

    async def roots(context: object) -> ListRootsResult:
        return ListRootsResult(roots=[Root(uri=workspace.as_uri(), name="workspace")])

    fake = FakeKrea(token=TOKEN, job_duration_s=0)
    options = {"list_roots_callback": roots}
    async with connect(fake, mode="legacy", client_options=options, preview="off") as client:
        result = await client.call_tool("generate_image", {"prompt": "x", "save_to": "art/hero.png"})
        (saved,) = result.structured_content["files"]
        read = await client.read_resource(Path(saved).as_uri())
    assert read.contents and saved.startswith(str(workspace))
