"""generate_video end to end through MCP clients against the emulator (issue 14): every video model, image to video
from a previous job, a local file or a data: URI, each model's own lengths and shapes, per-second prices, waits that
outlive the call, saving .mp4 files and cancelling."""

from __future__ import annotations

import base64
import io
from pathlib import Path
from typing import Any

import pytest
from mcp import Client

from krea_mcp.catalog.models import load_catalog
from krea_mcp.fake_api import FakeKrea
from krea_mcp.files.video_info import video_info
from tests.helpers import TOKEN, connect, text_of

pytestmark = pytest.mark.anyio

VIDEO = "/generate/video/"
CATALOG = load_catalog()
#: Fields a minimal call of a model cannot do without, beyond the prompt (Aleph edits a video).
EXTRA: dict[str, dict[str, Any]] = {"runway/aleph": {"options": {"init_video": "https://example.com/in.mp4"}}}


def png(width: int = 64, height: int = 36) -> bytes:
    from PIL import Image

    out = io.BytesIO()
    Image.new("RGB", (width, height), (90, 30, 160)).save(out, "PNG")
    return out.getvalue()


def video_posts(fake: FakeKrea) -> list[str]:
    return [path for method, path in fake.requests if method == "POST" and path.startswith(VIDEO)]


def body_of(fake: FakeKrea, job_id: str) -> dict[str, Any]:
    return dict(fake.jobs[job_id].body)


@pytest.mark.parametrize("model", sorted(CATALOG.of_kind("video")))
async def test_every_video_model_runs_end_to_end_from_a_minimal_call(model: str) -> None:
    fake = FakeKrea(token=TOKEN, job_duration_s=0.05)
    async with connect(fake) as client:
        result = await client.call_tool(
            "generate_video", {"prompt": "a fox running", "model": model, **EXTRA.get(model, {})}
        )
    assert result.is_error is False, text_of(result)
    data = result.structured_content
    assert data["status"] == "completed" and data["model"] == model
    (url,) = data["urls"]
    assert url.endswith(".mp4")
    assert data["duration_s"] > 0 and data["width"] > 0 and data["height"] > 0
    assert "1 video (" in text_of(result)
    links = [block for block in result.content if block.type == "resource_link"]
    assert [link.mime_type for link in links] == ["video/mp4"]
    assert not [block for block in result.content if block.type == "image"]  # no inline video bytes


async def test_the_default_model_and_the_reported_length_and_size(fake: FakeKrea, client: Client) -> None:
    result = await client.call_tool(
        "generate_video", {"prompt": "waves at dusk", "duration_s": 8, "aspect_ratio": "9:16", "resolution": "1080p"}
    )
    assert result.is_error is False, text_of(result)
    data = result.structured_content
    assert data["model"] == "bytedance/seedance-1.0-pro-fast"
    assert (data["duration_s"], data["width"], data["height"]) == (8, 1080, 1920)
    body = body_of(fake, data["job_id"])
    assert (body["duration"], body["aspect_ratio"], body["resolution"]) == (8, "9:16", "1080p")
    assert "Completed in" in text_of(result) and "1 video (8 s, 1080×1920)." in text_of(result)
    assert "No inline preview: videos are not shown in the chat" in text_of(result)


async def test_image_to_video_from_a_previous_image_job(fake: FakeKrea, client: Client) -> None:
    image = await client.call_tool("generate_image", {"prompt": "a red fox", "model": "flux"})
    job_id = image.structured_content["job_id"]
    result = await client.call_tool(
        "generate_video", {"prompt": "the fox turns its head", "model": "kling-2.5", "start_image": job_id}
    )
    assert result.is_error is False, text_of(result)
    body = body_of(fake, result.structured_content["job_id"])
    assert body["start_image"] == image.structured_content["urls"][0]


async def test_image_to_video_from_a_local_file_and_a_data_uri(fake: FakeKrea, tmp_path: Path) -> None:
    (tmp_path / "first.png").write_bytes(png())
    uri = "data:image/png;base64," + base64.b64encode(png(32, 32)).decode()
    async with connect(fake) as client:
        result = await client.call_tool(
            "generate_video",
            {"prompt": "a slow pan", "model": "veo-3.1", "start_image": "first.png", "end_image": uri, "wait": False},
        )
    assert result.is_error is False, text_of(result)
    body = body_of(fake, result.structured_content["job_id"])
    assert body["start_image"].startswith(fake.base_url) and body["end_image"].startswith(fake.base_url)
    assert len([1 for method, path in fake.requests if (method, path) == ("POST", "/assets")]) == 2


@pytest.mark.parametrize(
    ("arguments", "words"),
    [
        (
            {"model": "kling-2.5", "duration_s": 7},
            "duration_s=7: model kling/kling-2.5 makes videos of 5 or 10 seconds.",
        ),
        ({"model": "veo-3", "duration_s": 5}, "model google/veo-3 makes videos of 4, 6 or 8 seconds"),
        ({"model": "kling-3", "duration_s": 20}, "duration_s=20: model kling/kling-3.0 takes 3–15 seconds."),
        ({"model": "hailuo", "duration_s": 6}, "makes videos of a fixed length and takes no duration"),
        ({"model": "veo-3", "aspect_ratio": "4:3"}, "aspect_ratio='4:3': model google/veo-3 takes 16:9, 9:16, 1:1."),
        ({"model": "veo-3", "resolution": "4K"}, "resolution='4K': model google/veo-3 takes resolutions 720p, 1080p."),
        ({"model": "kling-2.5", "generate_audio": True}, "generate_audio: model kling/kling-2.5 has no generate_audio"),
        (
            {"model": "gen-3", "end_image": "https://example.com/a.png"},
            "end_image: model runway/gen-3 has no end_image",
        ),
        ({"model": "aleph"}, "options.init_video: required by model runway/aleph"),
        ({"model": "veo-3", "options": {"duration": 4}}, "options.duration: set by generate_video's duration_s"),
        ({"model": "flux"}, "model='flux' is bfl/flux-1-dev, an image model: generate_image makes images"),
        ({"model": "dall-e"}, "Unknown model 'dall-e'"),
        (
            {"model": "aleph", "options": {"init_video": "clip.mp4"}},
            "options.init_video='clip.mp4': model runway/aleph takes an http(s) URL",
        ),
        (
            {"model": "wan-2.5", "options": {"audio_url": "https://x.io/my song.mp3"}},
            "takes an http(s) URL here (Krea fetches it), without spaces",
        ),
        (
            {"model": "gen-3", "end_image": "3c90c3cc-0d44-4b50-8888-8dd25736052a"},
            "end_image: model runway/gen-3 has no end_image",
        ),
        ({"model": "kling-2.5", "start_image": "   "}, "start_image: empty image reference"),
        ({"model": "veo-3", "save_to": "clip.mov"}, "ends in .mov, a file type this server does not write"),
    ],
)
async def test_what_a_model_cannot_do_is_refused_before_any_post(
    fake: FakeKrea, client: Client, arguments: dict[str, Any], words: str
) -> None:
    result = await client.call_tool("generate_video", {"prompt": "a fox", **arguments})
    assert result.is_error is True
    assert words in text_of(result), text_of(result)
    assert "Nothing was started or charged." in text_of(result)
    assert video_posts(fake) == []


async def test_each_model_gets_the_length_and_shape_in_its_own_terms(fake: FakeKrea, client: Client) -> None:
    wan = await client.call_tool(
        "generate_video",
        {"prompt": "a fox", "model": "wan-2.1", "duration_s": 5, "aspect_ratio": "9:16", "wait": False},
    )
    body = body_of(fake, wan.structured_content["job_id"])
    assert (body["frame_num"], body["width"], body["height"], body["aspect_ratio"]) == (81, 720, 1280, "9:16")
    assert "duration_s=5 sent as frame_num=81 (16 fps)" in text_of(wan)
    runway = await client.call_tool(
        "generate_video", {"prompt": "a fox", "model": "gen-4-video", "aspect_ratio": "16:9", "wait": False}
    )
    assert body_of(fake, runway.structured_content["job_id"])["aspect_ratio"] == "1280:720"
    assert "aspect_ratio=16:9 sent as 1280:720" in text_of(runway)


async def test_the_spend_estimate_scales_with_the_length(fake: FakeKrea) -> None:
    """Seedance Pro Fast is priced per second of output: 10 s costs twice 5 s, and the guard counts it so."""
    from krea_mcp.workflow.spend import estimate_usd

    seedance = CATALOG.find("seedance-pro-fast", "video")
    five, ten = estimate_usd(seedance, {"duration": 5}), estimate_usd(seedance, {"duration": 10})
    assert ten == pytest.approx(2 * five) and five == pytest.approx(seedance.usd_per_second * 5)
    async with connect(fake, max_spend_usd=five * 1.5) as client:
        short = await client.call_tool("generate_video", {"prompt": "a fox", "duration_s": 5, "wait": False})
        long = await client.call_tool("generate_video", {"prompt": "a fox", "duration_s": 10})
    assert short.is_error is False, text_of(short)
    assert long.is_error is True and "KREA_MAX_SPEND_USD" in text_of(long)
    assert len(video_posts(fake)) == 1


async def test_a_video_that_outlives_the_call_is_picked_up_and_saved(tmp_path: Path, mode: str) -> None:
    slow = FakeKrea(token=TOKEN, job_duration_s=2.0)
    async with connect(slow, mode=mode, wait_s=0.5) as client:
        started = await client.call_tool("generate_video", {"prompt": "a fox", "save_to": "clips/fox.mp4"})
        data = started.structured_content
        assert started.is_error is False and data["status"] != "completed"
        assert data["next_step"] and data["job_id"] in text_of(started)
        done = await client.call_tool(
            "wait_for_job", {"job_id": data["job_id"], "timeout_s": 10, "save_to": "clips/fox.mp4"}
        )
    assert done.is_error is False, text_of(done)
    (saved,) = done.structured_content["files"]
    assert Path(saved) == tmp_path / "clips" / "fox.mp4"
    assert video_info(Path(saved).read_bytes())[0] == pytest.approx(5.0)


async def test_a_video_is_never_saved_under_an_image_name(fake: FakeKrea, client: Client) -> None:
    result = await client.call_tool("generate_video", {"prompt": "a fox", "save_to": "fox.png"})
    assert result.is_error is True
    assert "save_to: 'fox.png' names a .png file, but this job makes videos; name it .mp4" in text_of(result)
    assert video_posts(fake) == []


async def test_cancel_a_video_mid_way(mode: str) -> None:
    slow = FakeKrea(token=TOKEN, job_duration_s=30)
    async with connect(slow, mode=mode) as client:
        started = await client.call_tool("generate_video", {"prompt": "a fox", "wait": False})
        cancelled = await client.call_tool("cancel_job", {"job_id": started.structured_content["job_id"]})
    assert cancelled.structured_content["status"] == "cancelled"
    assert "Cancelled jobs are not charged." in text_of(cancelled)


async def test_progress_names_the_job_and_the_expected_time_left() -> None:
    slow = FakeKrea(token=TOKEN, job_duration_s=0.6)
    messages: list[str] = []

    async def on_progress(done: float, total: float | None, message: str | None) -> None:
        messages.append(message or "")

    async with connect(slow) as client:
        result = await client.call_tool(
            "generate_video", {"prompt": "a fox", "model": "kling-2.5"}, progress_callback=on_progress
        )
    assert result.is_error is False, text_of(result)
    assert messages[0].startswith(f"Job {result.structured_content['job_id']}: ")
    assert any("s of ~180 s expected, ~1" in m and "s left" in m for m in messages), messages


async def test_videos_are_saved_with_readable_names_and_never_overwrite(fake: FakeKrea, tmp_path: Path) -> None:
    async with connect(fake) as client:
        first = await client.call_tool("generate_video", {"prompt": "A fox, running!", "save_to": "clips/"})
        second = await client.call_tool("generate_video", {"prompt": "a fox", "save_to": "clips/fox.mp4"})
        third = await client.call_tool("generate_video", {"prompt": "a fox", "save_to": "clips/fox.mp4"})
    (named,) = first.structured_content["files"]
    job = first.structured_content["job_id"]
    assert Path(named) == tmp_path / "clips" / f"a-fox-running-{job[:8]}-1.mp4"
    assert [Path(p).name for p in second.structured_content["files"] + third.structured_content["files"]] == [
        "fox.mp4",
        "fox-2.mp4",
    ]
    assert all(video_info(Path(p).read_bytes())[0] for p in (named, *third.structured_content["files"]))


async def test_a_video_job_is_not_taken_as_a_frame(fake: FakeKrea, client: Client) -> None:
    clip = await client.call_tool("generate_video", {"prompt": "a fox"})
    result = await client.call_tool(
        "generate_video", {"prompt": "more", "model": "kling-2.5", "start_image": clip.structured_content["job_id"]}
    )
    assert result.is_error is True
    assert "made a video, not an image; pass an image job's id, or an image" in text_of(result)
    assert len(video_posts(fake)) == 1


async def test_the_video_url_resource_can_be_read(fake: FakeKrea, client: Client) -> None:
    clip = await client.call_tool("generate_video", {"prompt": "a fox"})
    (url,) = clip.structured_content["urls"]
    read = await client.read_resource(url)
    (content,) = read.contents
    assert content.mime_type == "video/mp4"
    assert video_info(base64.b64decode(content.blob))[0] == pytest.approx(5.0)


def _serving(fake: FakeKrea, body: bytes, content_type: str, suffix_less: bool = False) -> Any:
    """The emulator, with its video files answered by ``body`` typed ``content_type`` (and, with ``suffix_less``,
    result URLs without a file suffix, as a CDN may give)."""
    import httpx

    from tests.helpers import Around

    async def handler(request: httpx.Request, inner: httpx.AsyncBaseTransport) -> httpx.Response:
        if request.url.path.startswith("/_fake/videos/"):
            return httpx.Response(200, content=body, headers={"content-type": content_type})
        response = await inner.handle_async_request(request)
        if suffix_less and request.url.path.startswith("/jobs/"):
            await response.aread()
            text = response.content.decode().replace("/0.mp4", "/0")
            return httpx.Response(response.status_code, content=text.encode(), headers=response.headers)
        return response

    return Around(fake, handler)


async def test_a_video_answered_as_something_else_is_not_saved_as_a_video(fake: FakeKrea, tmp_path: Path) -> None:
    async with connect(_serving(fake, png(), "image/png")) as client:
        result = await client.call_tool("generate_video", {"prompt": "a fox", "save_to": "clips/fox.mp4"})
    assert "files" not in result.structured_content
    assert "its answer is 'image/png'" in text_of(result) or "not a video" in text_of(result), text_of(result)
    assert not (tmp_path / "clips" / "fox.mp4").exists() and not (tmp_path / "clips" / "fox.png").exists()


async def test_an_mp4_sent_as_octet_stream_from_a_url_without_suffix_is_still_a_video(
    fake: FakeKrea, tmp_path: Path
) -> None:
    from krea_mcp.fake_api._mp4 import placeholder_mp4

    clip = placeholder_mp4(3.0, 640, 360)
    async with connect(_serving(fake, clip, "application/octet-stream", suffix_less=True)) as client:
        result = await client.call_tool("generate_video", {"prompt": "a fox", "save_to": "clips/"})
    assert result.is_error is False, text_of(result)
    assert "1 video (3 s, 640×360)." in text_of(result)
    (saved,) = result.structured_content["files"]
    assert saved.endswith(".mp4") and Path(saved).read_bytes() == clip
    links = [block for block in result.content if block.type == "resource_link"]
    assert [link.mime_type for link in links] == ["video/mp4", "video/mp4"]  # the URL and the saved file


async def test_wait_for_job_refuses_an_image_name_for_a_video_it_started(fake: FakeKrea, client: Client) -> None:
    started = await client.call_tool("generate_video", {"prompt": "a fox", "wait": False})
    result = await client.call_tool(
        "wait_for_job", {"job_id": started.structured_content["job_id"], "save_to": "still.png"}
    )
    assert result.is_error is True and "this job makes videos; name it .mp4" in text_of(result)


def test_frame_priced_and_unpriced_video_models_are_estimated_on_the_high_side() -> None:
    """Wan's published price is for a default 81-frame clip: 961 frames is counted 961/81 times; Aleph has no
    published price and is counted above the dearest documented video call."""
    from krea_mcp.workflow.spend import UNKNOWN_VIDEO_PRICE_USD, estimate_usd

    wan = CATALOG.find("wan-2.1", "video")
    assert estimate_usd(wan, {"frame_num": 81}) == wan.usd_estimate
    assert estimate_usd(wan, {"frame_num": 961}) == pytest.approx(wan.usd_estimate * 961 / 81)
    dearest = max(op.usd_estimate or 0 for op in CATALOG.of_kind("video").values())
    assert estimate_usd(CATALOG.find("aleph", "video"), {}) == UNKNOWN_VIDEO_PRICE_USD > dearest


@pytest.mark.parametrize(
    ("arguments", "words"),
    [
        ({"durationSeconds": 5}, "'durationSeconds' is not an argument of generate_video; use 'duration_s'."),
        ({"model": "kling-1.6", "cameraControl": {}}, "model kling/kling-1.6 takes it as options.camera_control"),
        ({"duration_s": "5s"}, "duration_s must be a finite number; got '5s'."),
    ],
)
async def test_slightly_wrong_arguments_get_the_right_name(
    fake: FakeKrea, client: Client, arguments: dict[str, Any], words: str
) -> None:
    result = await client.call_tool("generate_video", {"prompt": "a fox", **arguments})
    assert result.is_error is True and words in text_of(result), text_of(result)
    assert video_posts(fake) == []


async def test_a_one_item_list_for_a_frame_says_to_pass_the_item(fake: FakeKrea, client: Client) -> None:
    result = await client.call_tool("generate_video", {"prompt": "a fox", "start_image": ["cat.png"]})
    assert result.is_error is True
    assert "start_image takes one value, not a list: pass 'cat.png'." in text_of(result)
