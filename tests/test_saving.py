"""Tests for saving result images: confinement of save_to, names, collisions, streaming, cleanup on failure."""

from __future__ import annotations

import os
import tracemalloc
from collections.abc import AsyncIterator, Callable, Coroutine
from pathlib import Path
from typing import Any

import anyio
import httpx
import pytest

from krea_mcp.errors import InvalidRequestError, SaveError
from krea_mcp.fake_api import FakeKrea
from krea_mcp.fake_api._png import PNG_SIGNATURE, prompt_image
from krea_mcp.files import image_saver as saving
from krea_mcp.files.confined import open_below
from krea_mcp.files.image_saver import ImageSaver, SaveTarget, slugify
from krea_mcp.krea.downloads import Downloader
from tests.helpers import TOKEN

pytestmark = pytest.mark.anyio

JOB_ID = "3f2a9c1e-7b4d-4e0a-9c1f-2d6e8a0b5c7d"
PNG = prompt_image("a test image", 16, 16)
JPEG = b"\xff\xd8\xff\xe0" + b"\x00" * 64
CDN = "https://cdn.example.com"

Handler = Callable[[httpx.Request], Coroutine[Any, Any, httpx.Response]]


@pytest.fixture
def out(tmp_path: Path) -> Path:
    return tmp_path / "out"


@pytest.fixture
def allowed(tmp_path: Path) -> Path:
    path = tmp_path / "allowed"
    path.mkdir()
    return path


def _saver(handler: Handler, out: Path, allowed: Path, **kwargs: int) -> ImageSaver:
    http = httpx.AsyncClient(transport=httpx.MockTransport(handler))
    return ImageSaver(Downloader(http, base_url=CDN), output_dir=out, allowed_dirs=[allowed], **kwargs)


def _serve(body: bytes = PNG, content_type: str | None = "image/png", status: int = 200) -> Handler:
    async def handler(request: httpx.Request) -> httpx.Response:
        headers = {"content-type": content_type} if content_type else {}
        return httpx.Response(status, headers=headers, content=body)

    return handler


def _everything(directory: Path) -> list[str]:
    """Every entry, hidden ones included."""
    return sorted(p.name for p in directory.iterdir()) if directory.exists() else []


# --- target(): where files may go -----------------------------------------------------------------------------------


def test_target_defaults_to_the_output_dir_without_creating_it(out: Path, allowed: Path) -> None:
    saver = _saver(_serve(), out, allowed)
    assert saver.target(None) == SaveTarget(out.resolve(), None)
    assert saver.target("  ") == SaveTarget(out.resolve(), None)
    assert not out.exists()


def test_target_relative_dirs_start_at_the_output_dir(out: Path, allowed: Path) -> None:
    saver = _saver(_serve(), out, allowed)
    assert saver.target("logos/v2") == SaveTarget(out.resolve() / "logos" / "v2", None)
    assert saver.target("a/../b") == SaveTarget(out.resolve() / "b", None)


def test_target_absolute_dir_inside_an_allowed_dir(out: Path, allowed: Path) -> None:
    saver = _saver(_serve(), out, allowed)
    assert saver.target(str(allowed)) == SaveTarget(allowed.resolve(), None)
    assert saver.target(str(allowed / "new" / "deeper")) == SaveTarget(allowed.resolve() / "new" / "deeper", None)


def test_target_image_suffix_names_a_file(out: Path, allowed: Path) -> None:
    saver = _saver(_serve(), out, allowed)
    assert saver.target("logo.png") == SaveTarget(out.resolve(), "logo.png")
    assert saver.target(str(allowed / "brand" / "Logo.JPEG")) == SaveTarget(allowed.resolve() / "brand", "Logo.JPEG")
    assert saver.target("shots.v2") == SaveTarget(out.resolve() / "shots.v2", None)  # not an image suffix
    assert saver.target("folder.png/") == SaveTarget(out.resolve() / "folder.png", None)  # trailing slash: a dir


def test_target_expands_the_home_directory(
    out: Path, allowed: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HOME", str(allowed))
    saver = _saver(_serve(), out, allowed)
    assert saver.target("~/pics/cat.webp") == SaveTarget(allowed.resolve() / "pics", "cat.webp")


@pytest.mark.parametrize("save_to", ["../escape", "../outside/x.png", "logos/../../../outside"])
def test_target_refuses_dotdot_escapes(out: Path, allowed: Path, save_to: str) -> None:
    saver = _saver(_serve(), out, allowed)
    with pytest.raises(InvalidRequestError) as caught:
        saver.target(save_to)
    assert caught.value.field == "save_to"
    message = str(caught.value)
    assert "outside the directories" in message
    assert str(allowed.resolve()) in message and str(out.resolve()) in message
    assert "KREA_ALLOWED_DIRS" in message and "KREA_OUTPUT_DIR" in message


def test_target_refuses_absolute_paths_outside(out: Path, allowed: Path, outside: Path) -> None:
    saver = _saver(_serve(), out, allowed)
    for save_to in (str(outside), str(outside / "a.png"), "/etc", "~/../../tmp"):
        with pytest.raises(InvalidRequestError, match="outside the directories"):
            saver.target(save_to)


def test_target_refuses_a_symlinked_dir_pointing_outside(out: Path, allowed: Path, outside: Path) -> None:
    (allowed / "sneaky").symlink_to(outside, target_is_directory=True)
    saver = _saver(_serve(), out, allowed)
    for save_to in ("sneaky", "sneaky/deeper", "sneaky/cat.png"):
        with pytest.raises(InvalidRequestError, match="outside the directories"):
            saver.target(str(allowed / save_to))


def test_target_accepts_a_symlink_that_stays_inside(out: Path, allowed: Path) -> None:
    (allowed / "real").mkdir()
    (allowed / "alias").symlink_to(allowed / "real", target_is_directory=True)
    saver = _saver(_serve(), out, allowed)
    assert saver.target(str(allowed / "alias")) == SaveTarget(allowed.resolve() / "real", None)


def test_target_file_where_a_directory_is_meant_and_vice_versa(out: Path, allowed: Path) -> None:
    (allowed / "notes").write_text("a file")
    (allowed / "taken.png").mkdir()
    saver = _saver(_serve(), out, allowed)
    with pytest.raises(InvalidRequestError, match="is an existing file"):
        saver.target(str(allowed / "notes"))
    with pytest.raises(InvalidRequestError, match=r"notes is a file"):
        saver.target(str(allowed / "notes" / "sub"))
    with pytest.raises(InvalidRequestError, match="is an existing directory"):
        saver.target(str(allowed / "taken.png"))


# --- save(): against the emulator -----------------------------------------------------------------------------------


class Recording(httpx.AsyncBaseTransport):
    """Records every request's headers, then delegates."""

    def __init__(self, inner: httpx.AsyncBaseTransport) -> None:
        self.inner = inner
        self.seen: list[httpx.Headers] = []

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        self.seen.append(request.headers.copy())
        return await self.inner.handle_async_request(request)


async def _finished_job(fake: FakeKrea, prompt: str) -> tuple[str, list[str]]:
    headers = {"Authorization": f"Bearer {TOKEN}"}
    async with httpx.AsyncClient(transport=fake.transport(), base_url=fake.base_url, headers=headers) as api:
        job = (await api.post("/generate/image/bfl/flux-1-dev", json={"prompt": prompt})).json()
        done = (await api.get(f"/jobs/{job['job_id']}")).json()
    assert done["status"] == "completed"
    return str(done["job_id"]), list(done["result"]["urls"])


async def test_save_from_the_emulator_to_the_default_dir(out: Path, allowed: Path) -> None:
    fake = FakeKrea(token=TOKEN, job_duration_s=0, image_size=(64, 48))
    job_id, urls = await _finished_job(fake, "A red fox, in the snow!")
    recording = Recording(fake.transport())
    # Even a client that carries the API token must not send it to the image host.
    async with httpx.AsyncClient(transport=recording, headers={"Authorization": f"Bearer {TOKEN}"}) as http:
        saver = ImageSaver(Downloader(http, base_url=fake.base_url), output_dir=out, allowed_dirs=[allowed])
        paths = await saver.save(urls, target=saver.target(None), prompt="A red fox, in the snow!", job_id=job_id)
    assert paths == [out.resolve() / f"a-red-fox-in-the-snow-{job_id[:8]}-1.png"]
    assert paths[0].is_absolute()
    assert paths[0].read_bytes() == prompt_image("A red fox, in the snow!", 64, 48)
    assert _everything(out) == [paths[0].name]  # no temp file left behind
    assert recording.seen and all("authorization" not in h for h in recording.seen)


async def test_save_to_an_explicit_file_and_never_overwrite(out: Path, allowed: Path) -> None:
    fake = FakeKrea(token=TOKEN, job_duration_s=0)
    job_id, urls = await _finished_job(fake, "a logo")
    (allowed / "brand").mkdir()
    (allowed / "brand" / "logo.png").write_bytes(b"precious")
    async with httpx.AsyncClient(transport=fake.transport()) as http:
        saver = ImageSaver(Downloader(http, base_url=fake.base_url), output_dir=out, allowed_dirs=[allowed])
        target = saver.target(str(allowed / "brand" / "logo.png"))
        first = await saver.save(urls, target=target, prompt="a logo", job_id=job_id)
        second = await saver.save(urls, target=target, prompt="a logo", job_id=job_id)
    brand = allowed.resolve() / "brand"
    assert first == [brand / "logo-2.png"]
    assert second == [brand / "logo-3.png"]
    assert (brand / "logo.png").read_bytes() == b"precious"
    assert (brand / "logo-3.png").read_bytes().startswith(PNG_SIGNATURE)
    assert _everything(brand) == ["logo-2.png", "logo-3.png", "logo.png"]


async def test_default_names_get_a_suffix_on_collision(out: Path, allowed: Path) -> None:
    saver = _saver(_serve(), out, allowed)
    target = saver.target("runs")
    first = await saver.save([f"{CDN}/a"], target=target, prompt="cat", job_id=JOB_ID)
    second = await saver.save([f"{CDN}/a"], target=target, prompt="cat", job_id=JOB_ID)
    assert [p.name for p in first + second] == ["cat-3f2a9c1e-1.png", "cat-3f2a9c1e-1-2.png"]


async def test_explicit_file_extension_follows_the_real_type(out: Path, allowed: Path) -> None:
    saver = _saver(_serve(PNG, "image/png"), out, allowed)
    notes: list[str] = []
    (converted,) = await saver.save(
        [f"{CDN}/x"], target=saver.target("pic.jpg"), prompt="p", job_id=JOB_ID, notes=notes
    )
    assert converted.name == "pic.jpg" and converted.read_bytes().startswith(b"\xff\xd8\xff")  # the name's type
    assert notes == ["Krea delivered PNG; converted to JPEG as save_to asked (.jpg)."]
    jpeg_saver = _saver(_serve(JPEG, "image/jpeg"), out, allowed)
    paths = await jpeg_saver.save([f"{CDN}/x"], target=jpeg_saver.target("Photo.JPEG"), prompt="p", job_id=JOB_ID)
    assert paths[0].name == "Photo.JPEG"  # same type, the user's spelling is kept


async def test_several_urls_keep_order_and_respect_max_parallel(out: Path, allowed: Path) -> None:
    active = peak = 0

    async def handler(request: httpx.Request) -> httpx.Response:
        nonlocal active, peak
        index = int(request.url.path.strip("/"))
        active += 1
        peak = max(peak, active)
        await anyio.sleep(0.01 * (6 - index))  # earlier URLs finish later
        active -= 1
        return httpx.Response(200, headers={"content-type": "image/png"}, content=PNG + bytes([index]))

    saver = _saver(handler, out, allowed, max_parallel=2)
    urls = [f"{CDN}/{i}" for i in range(1, 6)]
    paths = await saver.save(urls, target=saver.target(None), prompt="five cats", job_id=JOB_ID)
    assert [p.name for p in paths] == [f"five-cats-3f2a9c1e-{i}.png" for i in range(1, 6)]
    assert [p.read_bytes()[-1] for p in paths] == [1, 2, 3, 4, 5]
    assert peak == 2

    named = await saver.save(urls[:2], target=saver.target("set.png"), prompt="x", job_id=JOB_ID)
    assert [p.name for p in named] == ["set-1.png", "set-2.png"]


@pytest.mark.parametrize(
    ("content_type", "url", "body", "name"),
    [
        ("image/jpeg", f"{CDN}/r/abc", JPEG, "x-3f2a9c1e-1.jpg"),
        ("image/webp; charset=binary", f"{CDN}/r/abc", b"RIFF....WEBPVP8 ", "x-3f2a9c1e-1.webp"),
        ("image/gif", f"{CDN}/r/abc", b"GIF89a....", "x-3f2a9c1e-1.gif"),
        # An image type this module has no suffix for: the URL's suffix, else the bytes, else .bin. (Untyped and
        # application/octet-stream answers used to be saved the same way; they are now refused, see below.)
        ("image/x-unknown", f"{CDN}/r/abc.webp?sig=1", PNG, "x-3f2a9c1e-1.webp"),
        ("image/x-unknown", f"{CDN}/r/abc.jpeg", PNG, "x-3f2a9c1e-1.jpg"),
        ("image/x-unknown", f"{CDN}/r/abc", PNG, "x-3f2a9c1e-1.png"),
        ("image/x-unknown", f"{CDN}/r/abc", b"\x00\x01 not an image", "x-3f2a9c1e-1.bin"),
    ],
)
async def test_extension_from_type_then_url_then_bytes(
    out: Path, allowed: Path, content_type: str | None, url: str, body: bytes, name: str
) -> None:
    saver = _saver(_serve(body, content_type), out, allowed)
    (path,) = await saver.save([url], target=saver.target(None), prompt="x", job_id=JOB_ID)
    assert path.name == name
    assert path.read_bytes() == body


@pytest.mark.parametrize("content_type", [None, "application/octet-stream", "text/html"])
async def test_an_answer_that_is_not_typed_as_an_image_is_not_saved(
    out: Path, allowed: Path, content_type: str | None
) -> None:
    saver = _saver(_serve(PNG, content_type), out, allowed)
    with pytest.raises(SaveError, match="not image/") as caught:
        await saver.save([f"{CDN}/r/abc.png"], target=saver.target(None), prompt="x", job_id=JOB_ID)
    assert "cdn.example.com" in str(caught.value) and "still available" in str(caught.value)
    assert _everything(out) == []


# --- failures leave nothing behind ----------------------------------------------------------------------------------


async def test_error_status_becomes_a_save_error_naming_host_job_and_url(out: Path, allowed: Path) -> None:
    saver = _saver(_serve(b"gone", "text/plain", status=403), out, allowed)
    url = f"{CDN}/images/1.png?token=abc"
    with pytest.raises(SaveError) as caught:
        await saver.save([url], target=saver.target(None), prompt="x", job_id=JOB_ID)
    message = str(caught.value)
    assert "cdn.example.com" in message and JOB_ID in message and "403" in message
    assert url in message and "not lost" in message
    assert caught.value.job_id == JOB_ID and caught.value.url == url and caught.value.saved == []
    assert _everything(out) == []


async def test_transport_error_becomes_a_save_error(out: Path, allowed: Path) -> None:
    async def handler(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("name resolution failed")

    saver = _saver(handler, out, allowed)
    with pytest.raises(SaveError, match="ConnectError"):
        await saver.save([f"{CDN}/1.png"], target=saver.target(None), prompt="x", job_id=JOB_ID)
    assert _everything(out) == []


async def test_interrupted_download_leaves_no_final_and_no_part_file(out: Path, allowed: Path) -> None:
    async def body() -> AsyncIterator[bytes]:
        for _ in range(3):
            yield PNG + b"\x00" * 300_000
        raise httpx.ReadError("connection reset by peer")

    async def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, headers={"content-type": "image/png"}, content=body())

    saver = _saver(handler, out, allowed)
    with pytest.raises(SaveError, match="ReadError") as caught:
        await saver.save([f"{CDN}/1.png"], target=saver.target(None), prompt="x", job_id=JOB_ID)
    assert "still available" in str(caught.value)
    assert out.is_dir() and _everything(out) == []


async def test_cancellation_mid_download_leaves_no_files(out: Path, allowed: Path) -> None:
    flowing = anyio.Event()

    async def body() -> AsyncIterator[bytes]:
        yield PNG + b"\x00" * 400_000
        flowing.set()
        await anyio.sleep_forever()
        yield b""  # pragma: no cover

    async def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, headers={"content-type": "image/png"}, content=body())

    saver = _saver(handler, out, allowed)
    target = saver.target(None)
    async with anyio.create_task_group() as group:
        group.start_soon(lambda: saver.save([f"{CDN}/1.png"], target=target, prompt="x", job_id=JOB_ID))
        await flowing.wait()
        (part,) = out.iterdir()
        assert part.name.startswith(".") and part.name.endswith(".part")
        assert part.stat().st_size > 0  # the download really was under way
        group.cancel_scope.cancel()
    assert _everything(out) == []


@pytest.mark.parametrize("delay", [0, 0.001, 0.003, 0.006, 0.01, 0.03])
async def test_cancellation_at_any_point_never_leaves_a_part_file(out: Path, allowed: Path, delay: float) -> None:
    async def body() -> AsyncIterator[bytes]:
        for _ in range(4):
            await anyio.sleep(0.002)
            yield PNG + b"\x00" * 300_000

    async def handler(request: httpx.Request) -> httpx.Response:
        await anyio.sleep(0.002)
        return httpx.Response(200, headers={"content-type": "image/png"}, content=body())

    saver = _saver(handler, out, allowed)
    urls = [f"{CDN}/{i}.png" for i in range(3)]
    with anyio.move_on_after(delay):
        await saver.save(urls, target=saver.target(None), prompt="x", job_id=JOB_ID)
    leftovers = _everything(out)
    assert not [name for name in leftovers if name.startswith(".")]
    for name in leftovers:  # anything published is complete
        assert (out / name).stat().st_size == 4 * (len(PNG) + 300_000)


async def test_one_failed_url_reports_the_others_that_were_saved(out: Path, allowed: Path) -> None:
    async def handler(request: httpx.Request) -> httpx.Response:
        if request.url.path == "/2":
            return httpx.Response(404)
        return httpx.Response(200, headers={"content-type": "image/png"}, content=PNG)

    saver = _saver(handler, out, allowed)
    with pytest.raises(SaveError) as caught:
        await saver.save([f"{CDN}/1", f"{CDN}/2"], target=saver.target(None), prompt="x", job_id=JOB_ID)
    assert "image 2 of 2" in str(caught.value) and "404" in str(caught.value)
    assert caught.value.saved == [out.resolve() / "x-3f2a9c1e-1.png"]
    assert _everything(out) == ["x-3f2a9c1e-1.png"]


async def test_oversized_body_is_abandoned(out: Path, allowed: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(saving, "MAX_IMAGE_BYTES", 1000)
    saver = _saver(_serve(PNG + b"\x00" * 5000), out, allowed)
    with pytest.raises(SaveError, match="larger than"):
        await saver.save([f"{CDN}/1.png"], target=saver.target(None), prompt="x", job_id=JOB_ID)
    assert _everything(out) == []


async def test_disk_error_becomes_a_save_error(out: Path, allowed: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def full_disk(path: object, flags: int, mode: int = 0o777, **kwargs: object) -> int:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr("krea_mcp.files.image_saver.os.open", full_disk)
    saver = _saver(_serve(), out, allowed)
    with pytest.raises(SaveError, match="No space left on device") as caught:
        await saver.save([f"{CDN}/1.png"], target=saver.target(None), prompt="x", job_id=JOB_ID)
    assert f"{CDN}/1.png" in str(caught.value)


async def test_symlink_swapped_in_after_target_is_refused(out: Path, allowed: Path, outside: Path) -> None:
    saver = _saver(_serve(), out, allowed)
    target = saver.target(str(allowed / "later"))
    (allowed / "later").symlink_to(outside, target_is_directory=True)
    with pytest.raises(SaveError, match="outside the directories"):
        await saver.save([f"{CDN}/1.png"], target=target, prompt="x", job_id=JOB_ID)
    assert _everything(outside) == []


async def test_rename_fallback_without_hard_links_still_never_overwrites(
    out: Path, allowed: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def no_links(src: object, dst: object, **kwargs: object) -> None:
        raise PermissionError(1, "Operation not permitted")

    monkeypatch.setattr("krea_mcp.files.image_saver.os.link", no_links)
    out.mkdir()
    (out / "logo.png").write_bytes(b"precious")
    saver = _saver(_serve(), out, allowed)
    paths = await saver.save([f"{CDN}/1.png"], target=saver.target("logo.png"), prompt="x", job_id=JOB_ID)
    assert paths == [out.resolve() / "logo-2.png"]
    assert (out / "logo.png").read_bytes() == b"precious"
    assert _everything(out) == ["logo-2.png", "logo.png"]


async def test_memory_stays_bounded_for_a_large_image(out: Path, allowed: Path) -> None:
    size, chunk = 40 * 1024 * 1024, b"\x5a" * 65536

    async def body() -> AsyncIterator[bytes]:
        yield PNG
        for _ in range((size - len(PNG)) // len(chunk)):
            yield chunk

    async def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, headers={"content-type": "image/png"}, content=body())

    saver = _saver(handler, out, allowed)
    target = saver.target(None)
    tracemalloc.start()
    try:
        (path,) = await saver.save([f"{CDN}/big.png"], target=target, prompt="big", job_id=JOB_ID)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    expected = len(PNG) + (size - len(PNG)) // len(chunk) * len(chunk)
    assert path.stat().st_size == expected
    print(f"peak traced memory while saving {expected / 2**20:.0f} MB: {peak / 2**20:.2f} MB")
    assert peak < 8 * 1024 * 1024


# --- names ----------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("prompt", "slug"),
    [
        ("A red fox, in the snow!", "a-red-fox-in-the-snow"),
        ("Café crème — naïve façade", "cafe-creme-naive-facade"),
        ("  ---  ", "image"),
        ("🦊🌲", "image"),
        ("東京の夜", "image"),
        (
            "a very detailed photograph of a lighthouse at dusk with dramatic clouds",
            "a-very-detailed-photograph-of-a",
        ),
        ("x" * 60, "x" * 40),  # no word boundary: a hard cut
    ],
)
def test_slugify(prompt: str, slug: str) -> None:
    assert slugify(prompt) == slug
    assert len(slugify(prompt)) <= 40


def test_explicit_file_name_length_is_checked(out: Path, allowed: Path) -> None:
    saver = _saver(_serve(), out, allowed)
    with pytest.raises(InvalidRequestError, match="shorter"):
        saver.target("a" * 250 + ".png")


def test_max_parallel_must_be_positive(out: Path, allowed: Path) -> None:
    with pytest.raises(ValueError, match="max_parallel"):
        _saver(_serve(), out, allowed, max_parallel=0)


def test_temp_files_are_hidden_unique_and_follow_the_umask(out: Path) -> None:
    out.mkdir()
    with open_below(out, out, create=False) as directory:
        (first, file_1), (second, file_2) = saving._create_temp(directory, "x"), saving._create_temp(directory, "x")
    file_1.close()
    file_2.close()
    umask = os.umask(0)
    os.umask(umask)
    assert first != second
    for tmp in (out / first, out / second):
        assert tmp.name.startswith(".x.") and tmp.name.endswith(".part")
        assert tmp.stat().st_mode & 0o777 == 0o666 & ~umask
