"""enhance_image end to end through MCP clients against the emulator: every input form, each enhancer's output
size from the input's real size, limits and refusals before any POST, saving and previews (issue 13, item 1)."""

from __future__ import annotations

import base64
import io
import sys
from pathlib import Path
from typing import Any

import anyio
import pytest
from mcp import Client, StdioServerParameters

from krea_mcp.fake_api import FakeKrea
from krea_mcp.fake_api._png import png_dimensions
from tests.helpers import TOKEN, child_env, connect, open_client, text_of

pytestmark = pytest.mark.anyio

ENHANCE = "/generate/enhance/topaz/"


def png(width: int, height: int) -> bytes:
    from PIL import Image

    out = io.BytesIO()
    Image.new("RGB", (width, height), (200, 120, 40)).save(out, "PNG")
    return out.getvalue()


def enhance_posts(fake: FakeKrea) -> list[str]:
    return [path for method, path in fake.requests if method == "POST" and path.startswith(ENHANCE)]


def body_of(fake: FakeKrea, job_id: str) -> dict[str, Any]:
    return dict(fake.jobs[job_id].body)


async def result_size(fake: FakeKrea, url: str) -> tuple[int, int]:
    async with open_client(fake) as http:
        data = (await http.get(url)).content
    size = png_dimensions(data)
    assert size is not None
    return size


async def generated(client: Client, **arguments: Any) -> dict[str, Any]:
    result = await client.call_tool("generate_image", {"prompt": "a lighthouse", "model": "flux", **arguments})
    assert result.is_error is False, text_of(result)
    data: dict[str, Any] = result.structured_content
    return data


async def test_enhance_a_previous_job_doubles_its_real_size(fake: FakeKrea, client: Client) -> None:
    job = await generated(client, width=1024, height=768)
    result = await client.call_tool("enhance_image", {"image": job["job_id"]})
    assert result.is_error is False, text_of(result)
    data = result.structured_content
    assert data["status"] == "completed" and data["model"] == "topaz/standard-enhance"
    assert "Enhanced with standard (Standard V2): 1024×768 → 2048×1536 (2×)." in text_of(result)
    body = body_of(fake, data["job_id"])
    assert body["image_url"] == job["urls"][0]
    assert (body["width"], body["height"], body["model"]) == (2048, 1536, "Standard V2")
    assert (body["upscaling_activated"], body["image_scaling_factor"]) == (True, 2)
    assert await result_size(fake, data["urls"][0]) == (2048, 1536)


@pytest.mark.parametrize(
    ("arguments", "size", "model"),
    [
        ({"enhancer": "generative", "scale": 4}, (4000, 2000), "Redefine"),
        ({"enhancer": "standard", "long_side": 22_000}, (22_000, 11_000), "Standard V2"),
        ({"enhancer": "bloom", "long_side": 10_000, "model": "reimagine"}, (10_000, 5_000), "Reimagine"),
        ({"enhancer": "topaz/generative-enhance", "scale": 1.5, "model": "Recovery V2"}, (1500, 750), "Recovery V2"),
        ({"enhancer": "standard", "scale": 1}, (1000, 500), "Standard V2"),
    ],
)
async def test_each_enhancer_gets_the_output_size_computed_from_the_input(
    fake: FakeKrea, tmp_path: Path, arguments: dict[str, Any], size: tuple[int, int], model: str
) -> None:
    (tmp_path / "wide.png").write_bytes(png(1000, 500))
    async with connect(fake) as client:
        result = await client.call_tool("enhance_image", {"image": "wide.png", "wait": False, **arguments})
    assert result.is_error is False, text_of(result)
    body = body_of(fake, result.structured_content["job_id"])
    assert (body["width"], body["height"], body["model"]) == (*size, model)
    assert body["upscaling_activated"] is (size[0] > 1000)
    assert body["image_url"].startswith(fake.base_url)  # the local file was uploaded first


async def test_enhance_a_local_file_saves_the_result_and_previews_it(fake: FakeKrea, tmp_path: Path) -> None:
    (tmp_path / "cat.png").write_bytes(png(300, 200))
    async with connect(fake) as client:
        result = await client.call_tool("enhance_image", {"image": "cat.png", "long_side": 900, "save_to": "out/"})
    assert result.is_error is False, text_of(result)
    (saved,) = result.structured_content["files"]
    assert Path(saved).parent == tmp_path / "out" and Path(saved).name.startswith("enhanced-cat")
    from PIL import Image

    with Image.open(saved) as image:
        assert image.size == (900, 600)
    assert [block.type for block in result.content].count("image") == 1
    assert ("POST", "/assets") in fake.requests


async def test_enhance_a_data_uri_and_a_url(fake: FakeKrea, mode: str) -> None:
    uri = "data:image/png;base64," + base64.b64encode(png(64, 48)).decode()
    async with connect(fake, mode=mode) as client:
        first = await client.call_tool("enhance_image", {"image": uri, "scale": 3, "enhancer": "generative"})
        assert first.is_error is False, text_of(first)
        assert "64×48 → 192×144 (3×)" in text_of(first)
        url = first.structured_content["urls"][0]
        second = await client.call_tool("enhance_image", {"image": url, "scale": 2})
    assert second.is_error is False, text_of(second)
    assert "192×144 → 384×288 (2×)" in text_of(second)
    assert body_of(fake, second.structured_content["job_id"])["image_url"] == url
    assert await result_size(fake, second.structured_content["urls"][0]) == (384, 288)


async def test_a_job_with_several_images_says_which_was_enhanced(fake: FakeKrea, client: Client) -> None:
    first, second = await generated(client, width=1024, height=768), await generated(client, width=512, height=512)
    fake.result_urls = first["urls"] + second["urls"]  # jobs now answer with two images
    several = await generated(client)
    result = await client.call_tool("enhance_image", {"image": several["job_id"], "wait": False})
    assert result.is_error is False, text_of(result)
    assert f"Job {several['job_id']} has 2 images; its first was used for image." in text_of(result)
    assert "1024×768 → 2048×1536 (2×)" in text_of(result)
    assert body_of(fake, result.structured_content["job_id"])["image_url"] == first["urls"][0]


@pytest.mark.parametrize(
    ("arguments", "words"),
    [
        (
            {"enhancer": "bloom", "scale": 10},
            "scale=10: the 1024×1024 input would become 10240×10240, over the bloom enhancer's limit of 10,000 px per "
            "side. The most this image can take on bloom is scale=9.76 (long_side=10000).",
        ),
        ({"enhancer": "generative", "long_side": 16_001}, "over the generative enhancer's limit of 16,000 px"),
        (
            {"enhancer": "upscale"},
            "enhancer='upscale' is not an enhancer; the enhancers are: standard (topaz/standard-enhance, up to "
            "22,000 px), generative (topaz/generative-enhance, up to 16,000 px), bloom (topaz/bloom-enhance, up to "
            "10,000 px).",
        ),
        (
            {"model": "Redefine"},
            "model='Redefine' is not a model of the standard enhancer; its models are: Standard V2, Low Resolution V2, "
            "CGI, High Fidelity V2, Text Refine. Redefine is a model of the generative enhancer: pass "
            "enhancer='generative'.",
        ),
        ({"scale": 2, "long_side": 3000}, "give one of them, not both"),
        ({"long_side": 500}, "long_side=500 is smaller than the input's longer side (1024 px"),
        ({"options": {"creativity": 3}}, "options.creativity: the standard enhancer has no such setting"),
        ({"options": {"width": 4000}}, "options.width: set by enhance_image's scale or long_side argument"),
        ({"enhancer": "generative", "options": {"creativity": 9}}, "creativity=9 is out of range"),
    ],
)
async def test_impossible_requests_are_refused_before_any_post(
    fake: FakeKrea, client: Client, arguments: dict[str, Any], words: str
) -> None:
    job = await generated(client)
    result = await client.call_tool("enhance_image", {"image": job["job_id"], **arguments})
    assert result.is_error is True
    assert words in text_of(result), text_of(result)
    assert "Nothing was started or charged." in text_of(result)
    assert enhance_posts(fake) == []


@pytest.mark.parametrize(
    ("image", "words"),
    [
        ("missing.png", "image: file not found"),
        ("notes.txt", "is not an image whose size can be read"),
        ("3c90c3cc-0d44-4b50-8888-8dd25736052a", "image: no job 3c90c3cc-0d44-4b50-8888-8dd25736052a was found"),
        ("https://127.0.0.1/x.png", "could not read https://127.0.0.1/x.png to learn its size"),
    ],
)
async def test_an_unreadable_image_is_refused_before_any_post(
    fake: FakeKrea, tmp_path: Path, image: str, words: str
) -> None:
    (tmp_path / "notes.txt").write_text("not an image")
    async with connect(fake) as client:
        result = await client.call_tool("enhance_image", {"image": image})
    assert result.is_error is True
    assert words in text_of(result), text_of(result)
    assert enhance_posts(fake) == [] and ("POST", "/assets") not in fake.requests


async def test_a_running_job_is_refused_with_the_next_step(fake: FakeKrea) -> None:
    slow = FakeKrea(token=TOKEN, job_duration_s=30)
    async with connect(slow) as client:
        started = await client.call_tool("generate_image", {"prompt": "a fox", "wait": False})
        job_id = started.structured_content["job_id"]
        result = await client.call_tool("enhance_image", {"image": job_id})
    assert result.is_error is True
    assert f"image: job {job_id} is " in text_of(result) and "call wait_for_job with it first" in text_of(result)


async def test_the_spend_guard_counts_enhance_jobs(fake: FakeKrea, client: Client) -> None:
    async with connect(fake, max_jobs=1) as limited:
        job = await generated(limited)
        result = await limited.call_tool("enhance_image", {"image": job["job_id"]})
    assert result.is_error is True and "KREA_MAX_JOBS" in text_of(result)
    assert enhance_posts(fake) == []


async def test_stdio_subprocess_enhances_a_generated_image(tmp_path: Path) -> None:
    """A real child process in --sandbox: generate, then enhance the job by its id, saving the result."""
    env = child_env(KREA_POLL_INTERVAL_S="0.1")
    params = StdioServerParameters(
        command=sys.executable, args=["-m", "krea_mcp", "--sandbox"], env=env, cwd=str(tmp_path)
    )
    with anyio.fail_after(90):
        async with Client(params) as client:
            names = {t.name for t in (await client.list_tools()).tools}
            assert "enhance_image" in names
            job = await client.call_tool("generate_image", {"prompt": "a red fox", "width": 512, "height": 512})
            result = await client.call_tool(
                "enhance_image", {"image": job.structured_content["job_id"], "scale": 2, "save_to": "big.png"}
            )
    assert result.is_error is False, text_of(result)
    assert "512×512 → 1024×1024 (2×)" in text_of(result)
    from PIL import Image

    with Image.open(tmp_path / "big.png") as image:
        assert image.size == (1024, 1024)


def png_header(width: int, height: int) -> bytes:
    """A PNG whose header declares ``width`` x ``height`` (too big to decode: only its size is ever read)."""
    import struct
    import zlib

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(b"\x00" * 64))


async def test_a_very_large_input_is_measured_not_decoded(fake: FakeKrea, tmp_path: Path) -> None:
    """20,000 px images are routine here: past Pillow's decompression-bomb limit, but only the header is read."""
    (tmp_path / "huge.png").write_bytes(png_header(20_000, 10_000))
    (tmp_path / "giant.png").write_bytes(png_header(100_000, 100_000))
    async with connect(fake) as client:
        fits = await client.call_tool("enhance_image", {"image": "huge.png", "scale": 1.1, "wait": False})
        over = await client.call_tool("enhance_image", {"image": "giant.png", "scale": 1})
    assert fits.is_error is False, text_of(fits)
    body = body_of(fake, fits.structured_content["job_id"])
    assert (body["width"], body["height"]) == (22_000, 11_000)
    assert over.is_error is True
    assert "image: the input is already 100000×100000, over the standard enhancer's limit of 22,000 px" in text_of(over)
    assert len(enhance_posts(fake)) == 1


@pytest.mark.parametrize(
    ("size", "arguments", "words"),
    [
        (
            (12_000, 8_000),
            {"enhancer": "bloom"},
            "image: the input is already 12000×8000, over the bloom enhancer's limit of 10,000 px per side. Enhancer "
            "standard (up to 22,000 px) or generative (up to 16,000 px) can take it.",
        ),
        (
            (100, 100),
            {"long_side": 5000},
            "long_side=5000: that is 50× the 100×100 input; enhancers enlarge at most 32×",
        ),
        ((1, 1), {"long_side": 30_000}, "The most this image can take on standard is scale=32 (long_side=32)"),
        ((9000, 6000), {"enhancer": "bloom", "scale": 1.5}, "Enhancer standard (up to 22,000 px) or generative"),
    ],
)
async def test_refusals_offer_only_what_would_work(
    fake: FakeKrea, tmp_path: Path, size: tuple[int, int], arguments: dict[str, Any], words: str
) -> None:
    (tmp_path / "in.png").write_bytes(png_header(*size))
    async with connect(fake) as client:
        result = await client.call_tool("enhance_image", {"image": "in.png", **arguments})
    assert result.is_error is True
    assert words in text_of(result), text_of(result)
    assert enhance_posts(fake) == []


async def test_a_photo_turned_by_exif_is_measured_upright(fake: FakeKrea, tmp_path: Path) -> None:
    from PIL import Image

    stored = Image.new("RGB", (400, 200))
    exif = stored.getexif()
    exif[0x0112] = 6  # rotate 90° when shown: a phone's portrait photo
    stored.save(tmp_path / "portrait.jpg", exif=exif.tobytes())
    async with connect(fake) as client:
        result = await client.call_tool("enhance_image", {"image": "portrait.jpg", "wait": False})
    body = body_of(fake, result.structured_content["job_id"])
    assert (body["width"], body["height"]) == (400, 800)
    assert "measured upright (200×400)" in text_of(result)


async def test_the_bytes_measured_are_the_bytes_uploaded(
    fake: FakeKrea, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The file is read once: replacing it after it was measured cannot change what is uploaded."""
    path = tmp_path / "in.png"
    original = png(100, 50)
    path.write_bytes(original)
    async with connect(fake) as client:
        from krea_mcp.workflow import image_inputs

        real_read = image_inputs.ImageInputs.read

        async def read_then_swap(self: Any, ref: str, *, field: str) -> bytes:
            data = await real_read(self, ref, field=field)
            path.write_bytes(png(8000, 8000))  # swapped right after it was measured
            return data

        monkeypatch.setattr(image_inputs.ImageInputs, "read", read_then_swap)
        result = await client.call_tool("enhance_image", {"image": "in.png", "enhancer": "bloom", "scale": 4})
    assert result.is_error is False, text_of(result)
    (asset,) = fake.assets.values()
    assert asset.data == original


async def test_save_to_a_png_asks_krea_for_png(fake: FakeKrea, tmp_path: Path) -> None:
    (tmp_path / "cat.png").write_bytes(png(64, 64))
    async with connect(fake) as client:
        named = await client.call_tool("enhance_image", {"image": "cat.png", "save_to": "big.png", "wait": False})
        chosen = await client.call_tool(
            "enhance_image", {"image": "cat.png", "save_to": "big.webp", "options": {"output_format": "jpg"}}
        )
        folder = await client.call_tool("enhance_image", {"image": "cat.png", "save_to": "out/", "wait": False})
    assert body_of(fake, named.structured_content["job_id"])["output_format"] == "png"
    assert "Asked Krea for png, as save_to names." in text_of(named)
    assert body_of(fake, chosen.structured_content["job_id"])["output_format"] == "jpg"  # the caller's choice wins
    assert "output_format" not in body_of(fake, folder.structured_content["job_id"])


async def test_reading_a_slow_url_ends_with_the_call_deadline(fake: FakeKrea) -> None:
    from tests.helpers import Around

    async def slow_images(request: Any, inner: Any) -> Any:
        if request.url.path.startswith("/_fake/images/") and request.url.params.get("slow"):
            await anyio.sleep(30)
        return await inner.handle_async_request(request)

    async with connect(fake) as client:
        job = await generated(client)
    started = anyio.current_time()
    async with connect(Around(fake, slow_images), wait_s=1.0) as client:
        result = await client.call_tool("enhance_image", {"image": job["urls"][0] + "?slow=1"})
    assert anyio.current_time() - started < 10
    assert result.is_error is True and "did not finish within the 1 s this call had left" in text_of(result)
    assert enhance_posts(fake) == []


async def test_the_sandbox_says_it_has_no_network_for_outside_urls() -> None:
    async with connect(None, sandbox=True, api_token=None) as client:
        result = await client.call_tool("enhance_image", {"image": "https://93.184.216.34/photo.png"})
    assert result.is_error is True
    assert "the sandbox has no network, so https://93.184.216.34/photo.png cannot be read" in text_of(result)


async def test_an_upper_case_job_id_is_found(fake: FakeKrea, client: Client) -> None:
    job = await generated(client)
    result = await client.call_tool("enhance_image", {"image": job["job_id"].upper(), "wait": False})
    assert result.is_error is False, text_of(result)


@pytest.mark.parametrize(
    ("arguments", "words"),
    [
        ({"options": {"prompt": 5}}, "options.prompt=5 has the wrong type for the standard enhancer"),
        ({"enhancer": "generative", "options": {"texture": 9}}, "options.texture=9 is out of range for the generative"),
    ],
)
async def test_option_errors_use_the_tools_own_names(
    fake: FakeKrea, client: Client, arguments: dict[str, Any], words: str
) -> None:
    job = await generated(client)
    result = await client.call_tool("enhance_image", {"image": job["job_id"], **arguments})
    assert result.is_error is True and words in text_of(result), text_of(result)


async def test_a_scale_that_rounds_to_the_input_size_is_sent_as_one(fake: FakeKrea, tmp_path: Path) -> None:
    (tmp_path / "in.png").write_bytes(png(1000, 500))
    async with connect(fake) as client:
        result = await client.call_tool("enhance_image", {"image": "in.png", "scale": 1.0000001, "wait": False})
    body = body_of(fake, result.structured_content["job_id"])
    assert (body["width"], body["upscaling_activated"], body["image_scaling_factor"]) == (1000, False, 1)


async def test_the_spend_estimate_grows_with_the_output_megapixels(fake: FakeKrea, tmp_path: Path) -> None:
    """Topaz bills by output size: a 242 MP upscale is not counted like a 2 MP one."""
    from krea_mcp.catalog.models import load_catalog
    from krea_mcp.workflow.spend import estimate_usd

    standard = load_catalog().find("standard", "enhance")
    assert estimate_usd(standard, {"width": 2000, "height": 1000}) == 0.25
    assert estimate_usd(standard, {"width": 22_000, "height": 11_000}) == 0.25 * 16  # 242 MP: 16 blocks of 16 MP
    (tmp_path / "in.png").write_bytes(png(1000, 500))
    async with connect(fake, max_spend_usd=0.6) as client:
        small = await client.call_tool("enhance_image", {"image": "in.png", "scale": 2, "wait": False})
        big = await client.call_tool("enhance_image", {"image": "in.png", "scale": 22})
    assert small.is_error is False, text_of(small)
    assert big.is_error is True
    assert "costs up to ~$4.000" in text_of(big) and "A smaller scale or long_side costs less" in text_of(big)
    assert len(enhance_posts(fake)) == 1


def test_an_upscale_too_big_to_preview_is_said_to_be_so() -> None:
    """A 242 Mpx result gets 'too many Mpx' (the URL is complete), not 'not a decodable image'."""
    from krea_mcp.files.previews import build_previews

    previews, note = build_previews([png_header(22_000, 11_000)], mode="thumbnail", budget_bytes=64_000)
    assert previews == [] and note is not None
    assert "it has 242 Mpx, more than the" in note and "not a decodable image" not in note


async def test_a_result_of_another_size_than_asked_is_said(fake: FakeKrea, client: Client) -> None:
    """If Krea read width/height as the input's size, the result would not be what was asked: the result says so."""
    job = await generated(client, width=512, height=512)
    right = await client.call_tool("enhance_image", {"image": job["job_id"], "scale": 2})
    assert right.is_error is False and "Krea returned" not in text_of(right)
    fake.result_urls = job["urls"]  # Krea hands back an image of the input's size
    wrong = await client.call_tool("enhance_image", {"image": job["job_id"], "scale": 2})
    assert wrong.is_error is False, text_of(wrong)
    assert "Krea returned a 512×512 image, not the 1024×1024 asked for" in text_of(wrong)


@pytest.mark.parametrize(
    ("arguments", "words"),
    [
        ({"outputFormat": "png"}, "the standard enhancer takes it as options.output_format"),
        ({"enhancer": "generative", "faceEnhancement": True}, "takes it as options.face_enhancement"),
        ({"imageScalingFactor": 2}, "use 'scale'"),
    ],
)
async def test_a_setting_sent_at_the_top_level_is_pointed_to_options(
    fake: FakeKrea, tmp_path: Path, arguments: dict[str, Any], words: str
) -> None:
    (tmp_path / "cat.png").write_bytes(png(40, 30))
    async with connect(fake) as client:
        result = await client.call_tool("enhance_image", {"image": "cat.png", **arguments})
    assert result.is_error is True and words in text_of(result), text_of(result)
    assert enhance_posts(fake) == []
