"""Work with bounds: parallel uploads within the call's deadline, the per-call input total, data: URI decoding,
and previews that decode a bounded number of pixels and stop at their deadline."""

from __future__ import annotations

import base64
import io
import itertools
from pathlib import Path

import anyio
import httpx
import pytest
from PIL import Image

from krea_mcp.fake_api import FakeKrea
from krea_mcp.fake_api._png import prompt_image
from krea_mcp.files import previews as preview
from krea_mcp.files.previews import build_previews
from krea_mcp.workflow import image_inputs as inputs
from tests.helpers import TOKEN, Around, connect, text_of

pytestmark = pytest.mark.anyio

PNG = prompt_image("input", 32, 32)


def uploads(fake: FakeKrea) -> int:
    return sum(1 for method, path in fake.requests if method == "POST" and path == "/assets")


@pytest.fixture
def six_files(tmp_path: Path) -> list[str]:
    names = []
    for i in range(6):
        (tmp_path / f"in{i}.png").write_bytes(prompt_image(f"input {i}", 32, 32))  # six distinct files
        names.append(f"in{i}.png")
    return names


# --- uploads ----------------------------------------------------------------------------------------------------------


async def test_uploads_run_in_parallel_four_at_a_time(six_files: list[str]) -> None:
    """Each upload is held until four are in flight together: sequential uploads would never get there."""
    fake = FakeKrea(token=TOKEN)
    in_flight, most = 0, 0
    four = anyio.Event()

    async def gathering(request: httpx.Request, inner: httpx.AsyncBaseTransport) -> httpx.Response:
        nonlocal in_flight, most
        if request.url.path != "/assets":
            return await inner.handle_async_request(request)
        in_flight += 1
        most = max(most, in_flight)
        if in_flight == 4:
            four.set()
        await four.wait()
        try:
            return await inner.handle_async_request(request)
        finally:
            in_flight -= 1

    async with connect(Around(fake, gathering), wait_s=5) as client:
        with anyio.fail_after(10):
            result = await client.call_tool(
                "generate_image", {"prompt": "a fox", "model": "nano-banana", "images": six_files, "wait": False}
            )
    assert result.is_error is False, text_of(result)
    assert most == 4 and uploads(fake) == 6
    (job,) = fake.jobs.values()
    assert len(job.body["image_urls"]) == 6


async def test_uploads_past_the_deadline_start_no_job_and_release_the_spend(six_files: list[str]) -> None:
    fake = FakeKrea(token=TOKEN)
    fake.inject("upload", "hang", count=6)  # Krea never answers the uploads
    async with connect(fake, wait_s=0.3, max_jobs=1) as client:
        with anyio.fail_after(5):
            result = await client.call_tool(
                "generate_image", {"prompt": "a fox", "model": "nano-banana", "images": six_files}
            )
        assert result.is_error is True
        assert text_of(result) == (
            "Error executing tool generate_image: images: uploading the input images to Krea did not finish within "
            "the 0.3 s this call may take (KREA_WAIT_S), so no job was started and nothing was charged. Try again "
            "(images already uploaded are not sent again), pass https URLs instead of local files, or raise "
            "KREA_WAIT_S."
        )
        assert fake.generate_posts == 0
        again = await client.call_tool("generate_image", {"prompt": "a fox", "wait": False})  # max_jobs=1: released
        assert again.is_error is False, text_of(again)


# --- the per-call total and data: URIs ---------------------------------------------------------------------------


def data_uri(data: bytes) -> str:
    return "data:image/png;base64," + base64.b64encode(data).decode()


async def test_the_inputs_of_one_call_are_limited_in_total_before_anything_is_uploaded(
    six_files: list[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(inputs, "MAX_CALL_INPUT_BYTES", 3 * 2**20)
    big = PNG + b"\0" * (2 * 2**20)  # 2 MB each: two of them are over 3 MB
    fake = FakeKrea(token=TOKEN)
    async with connect(fake) as client:
        result = await client.call_tool(
            "generate_image",
            {"prompt": "a fox", "model": "flux", "images": [six_files[0]], "style_images": [data_uri(big)] * 2},
        )
    assert result.is_error is True
    assert text_of(result) == (
        "Error executing tool generate_image: images and style_images: the local files and data: URIs of this call "
        "add up to 4 MB; at most 3 MB are uploaded per call. Pass large images as https URLs (Krea fetches those "
        "itself), or split the images over several calls. Nothing was started or charged."
    )
    assert fake.requests == []


@pytest.mark.parametrize(
    ("uri", "expected"),
    [
        ("data:image/png;base64," + base64.b64encode(PNG).decode()[:-1], "the data: URI is not valid base64."),
        ("data:image/png;base64,iVBO RwoK", "the data: URI is not valid base64."),
        ("data:image/png;base64,iVBORwé=", "the data: URI is not valid base64."),
        ("data:image/png;base64,iV==BORw", "the data: URI is not valid base64."),
        ("data:image/png," + "x" * 20, "only base64 data: URIs are supported (data:image/png;base64,...)."),
    ],
)
async def test_bad_data_uris_are_refused_before_anything_is_uploaded(uri: str, expected: str) -> None:
    fake = FakeKrea(token=TOKEN)
    async with connect(fake) as client:
        result = await client.call_tool("generate_image", {"prompt": "a fox", "model": "flux", "images": [uri]})
    assert result.is_error is True
    assert text_of(result).endswith(f"images: {expected} Nothing was started or charged.")
    assert uploads(fake) == 0 and fake.generate_posts == 0


async def test_data_uris_decode_in_chunks_to_the_same_bytes(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(inputs, "_DECODE_CHUNK", 8)  # many chunk boundaries, the last one padded
    image = prompt_image("chunked", 40, 30)
    assert len(base64.b64encode(image)) % 8 and base64.b64encode(image).endswith(b"=")
    fake = FakeKrea(token=TOKEN)
    async with connect(fake) as client:
        result = await client.call_tool(
            "generate_image", {"prompt": "a fox", "model": "flux", "images": [data_uri(image)], "wait": False}
        )
    assert result.is_error is False, text_of(result)
    (asset,) = fake.assets.values()
    assert asset.data == image


# --- previews ---------------------------------------------------------------------------------------------------------


async def test_a_huge_pixel_result_image_is_not_decoded_for_its_preview() -> None:
    """81 Mpx (the emulator's /_fake/huge PNG, 0.2 MB compressed) used to be decoded: ~320 MB for one preview.
    (Over Pillow's own 89 Mpx bound its warning, an error under pytest, would hide what this test is about.)"""
    fake = FakeKrea(token=TOKEN, job_duration_s=0.05)
    fake.result_urls = [f"{fake.base_url}/_fake/huge/9000x9000.png"]
    async with connect(fake, preview="thumbnail") as client:
        result = await client.call_tool("generate_image", {"prompt": "a fox"})
    assert result.is_error is False
    assert not [b for b in result.content if b.type == "image"]
    assert text_of(result).endswith(
        "No preview for image 1: it has 81 Mpx, more than the 40 Mpx a preview decodes (the image URL is complete)."
    )


def _encoded(image: Image.Image, fmt: str) -> bytes:
    out = io.BytesIO()
    image.save(out, format=fmt)
    return out.getvalue()


def test_a_large_jpeg_is_decoded_at_a_reduced_scale_and_previewed() -> None:
    """Over the pixel cap, but a JPEG decodes at 1/8 scale first: it gets its preview, a PNG of that size does not."""
    big = Image.new("L", (7200, 6000), 128)  # 43 Mpx
    (thumb,), note = build_previews([_encoded(big, "JPEG")], mode="thumbnail", budget_bytes=64_000)
    assert note is None
    assert Image.open(io.BytesIO(base64.b64decode(thumb.data))).size == (512, 427)
    previews, note = build_previews([_encoded(big, "PNG")], mode="thumbnail", budget_bytes=64_000)
    assert previews == [] and note is not None and "it has 43 Mpx, more than the 40 Mpx" in note


def test_previews_stop_at_their_deadline_between_images(monkeypatch: pytest.MonkeyPatch) -> None:
    clock = itertools.count(0.0, 1.0)  # every look at the clock is one second later
    monkeypatch.setattr(preview.time, "monotonic", lambda: next(clock))
    images = [prompt_image(f"image {i}", 64, 64) for i in range(4)]
    previews, note = build_previews(images, mode="thumbnail", budget_bytes=64_000, deadline=0.5)
    assert len(previews) == 1
    assert note == "No preview for images 2, 3, 4: the time for previews ran out (the URLs are complete)."


def test_decoding_waits_for_a_free_slot_only_until_the_deadline() -> None:
    for _ in range(preview.DECODE_SLOTS):  # other calls are decoding images
        assert preview._decoding.acquire(blocking=False)
    try:
        deadline = preview.time.monotonic() + 0.05
        previews, note = build_previews([PNG], mode="thumbnail", budget_bytes=64_000, deadline=deadline)
    finally:
        for _ in range(preview.DECODE_SLOTS):
            preview._decoding.release()
    assert previews == []
    assert note == "No preview for image 1: the time for previews ran out (the URLs are complete)."
    assert len(build_previews([PNG], mode="thumbnail", budget_bytes=64_000)[0]) == 1


# --- spend ------------------------------------------------------------------------------------------------------------


async def test_the_reservation_is_priced_by_the_call_s_own_fields() -> None:
    """Krea 2 Large is $0.06 without style references or a moodboard: a $0.06 budget fits that call (the model's
    dearest case, $0.075, is reserved only when the request could use the surcharges)."""
    fake = FakeKrea(token=TOKEN)
    async with connect(fake, max_spend_usd=0.06) as client:
        plain = await client.call_tool("generate_image", {"prompt": "a fox", "model": "krea-2", "wait": False})
        assert plain.is_error is False, text_of(plain)
        styled = await client.call_tool(
            "generate_image",
            {"prompt": "a fox", "model": "krea-2", "style_images": ["https://cdn.example/s.png"], "wait": False},
        )
    assert styled.is_error is True and "KREA_MAX_SPEND_USD" in text_of(styled)
    assert fake.generate_posts == 1
