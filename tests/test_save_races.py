"""Saving under file-system races: a directory swapped for a symlink after the check never redirects a write.

Each swap happens at an exact moment: when the image host receives the download request (the same callback in
every version of the code), or when the directory is about to be opened. No sleeps, no luck.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Coroutine
from pathlib import Path
from typing import Any

import httpx
import pytest

from krea_mcp.errors import SaveError
from krea_mcp.fake_api import FakeKrea
from krea_mcp.fake_api._png import PNG_SIGNATURE, prompt_image
from krea_mcp.files import confined
from krea_mcp.files import image_saver as saving
from krea_mcp.files.image_saver import ImageSaver
from krea_mcp.krea.downloads import Downloader
from tests.helpers import TOKEN, Around, connect, is_image, text_of

pytestmark = pytest.mark.anyio

JOB_ID = "3f2a9c1e-7b4d-4e0a-9c1f-2d6e8a0b5c7d"
CDN = "https://cdn.example.com"
PNG = prompt_image("race", 8, 8)
Handler = Callable[[httpx.Request], Coroutine[Any, Any, httpx.Response]]


@pytest.fixture
def allowed(tmp_path: Path) -> Path:
    path = tmp_path / "allowed"
    (path / "shared").mkdir(parents=True)
    return path


def _saver(handler: Handler, allowed: Path, max_parallel: int = 1) -> ImageSaver:
    http = httpx.AsyncClient(transport=httpx.MockTransport(handler))
    return ImageSaver(
        Downloader(http, base_url=CDN), output_dir=allowed / "out", allowed_dirs=[allowed], max_parallel=max_parallel
    )


def _swap_on_first_request(swap: Callable[[], None]) -> Handler:
    """An image host that runs ``swap`` when the first download request arrives, then serves a PNG."""
    swapped = False

    async def handler(request: httpx.Request) -> httpx.Response:
        nonlocal swapped
        if not swapped:
            swapped = True
            swap()
        return httpx.Response(200, headers={"content-type": "image/png"}, content=PNG)

    return handler


def _files_under(directory: Path) -> list[Path]:
    return sorted(p for p in directory.rglob("*") if p.is_file())


async def test_directory_swapped_for_a_symlink_mid_save_puts_nothing_outside(allowed: Path, outside: Path) -> None:
    """Issue 10: five images, out/shared replaced by a symlink to an outside dir after the first download began.

    Before: the later images were created through the symlink (4 files outside) while the result named
    .../shared/... . Now every image lands in the directory that was checked and opened, reported where it is.
    """
    shared = allowed / "shared"

    def swap() -> None:
        shared.rename(allowed / "shared-real")
        shared.symlink_to(outside, target_is_directory=True)

    saver = _saver(_swap_on_first_request(swap), allowed)
    target = saver.target(str(shared))
    urls = [f"{CDN}/{i}.png" for i in range(5)]
    paths = await saver.save(urls, target=target, prompt="race", job_id=JOB_ID)
    assert _files_under(outside) == []
    real = (allowed / "shared-real").resolve()
    assert [p.parent for p in paths] == [real] * 5  # where the files really are, not .../shared/
    assert all(p.read_bytes() == PNG for p in paths)
    assert sorted(p.name for p in real.iterdir()) == sorted(p.name for p in paths)  # no temp file left


async def test_directory_moved_outside_mid_save_keeps_nothing_there(allowed: Path, outside: Path) -> None:
    """If the open directory itself is moved out of the allowed ones, nothing saved is left in it."""
    shared = allowed / "shared"
    saver = _saver(_swap_on_first_request(lambda: shared.rename(outside / "moved")), allowed)
    target = saver.target(str(shared))
    with pytest.raises(SaveError) as caught:
        await saver.save([f"{CDN}/{i}.png" for i in range(3)], target=target, prompt="race", job_id=JOB_ID)
    message = str(caught.value)
    assert f"was moved to {outside / 'moved'}, outside the allowed directories" in message
    assert "nothing was kept" in message and "still available" in message
    assert caught.value.saved == []
    assert _files_under(outside) == []


async def test_symlink_swapped_in_just_before_the_directory_is_opened_is_refused(
    allowed: Path, outside: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The swap lands after every path check, at the moment the directory is opened: the open refuses the link."""
    shared = allowed / "shared"
    real_open_below = confined.open_below

    def swap_then_open(root: Path, path: Path, *, create: bool) -> confined.Directory:
        shared.rename(allowed / "shared-real")
        shared.symlink_to(outside, target_is_directory=True)
        return real_open_below(root, path, create=create)

    monkeypatch.setattr(saving, "open_below", swap_then_open)
    saver = _saver(_swap_on_first_request(lambda: None), allowed)
    target = saver.target(str(shared / "deeper"))
    with pytest.raises(SaveError) as caught:
        await saver.save([f"{CDN}/1.png"], target=target, prompt="race", job_id=JOB_ID)
    assert str(caught.value).startswith(
        f"Did not save into {shared / 'deeper'}: {shared} is a symbolic link, which is never followed here."
    )
    assert "nothing was written" in str(caught.value)
    assert _files_under(outside) == [] and not (outside / "deeper").exists()


async def test_the_saved_line_names_where_the_file_really_is(tmp_path: Path, outside: Path) -> None:
    """Through MCP: the directory is swapped while the emulator serves the image; Saved: names the real place."""
    fake = FakeKrea(token=TOKEN, job_duration_s=0.05)
    shared = tmp_path / "images" / "shared"

    async def swap_on_download(request: httpx.Request, inner: httpx.AsyncBaseTransport) -> httpx.Response:
        if is_image(request) and not shared.is_symlink():
            shared.rename(shared.with_name("shared-real"))
            shared.symlink_to(outside, target_is_directory=True)
        return await inner.handle_async_request(request)

    async with connect(Around(fake, swap_on_download), preview="off") as client:
        result = await client.call_tool("generate_image", {"prompt": "a fox", "save_to": str(shared)})
    assert result.is_error is False, text_of(result)
    (saved,) = result.structured_content["files"]
    assert Path(saved).parent == shared.with_name("shared-real")
    assert Path(saved).read_bytes().startswith(PNG_SIGNATURE)
    assert f"Saved: {saved}" in text_of(result)
    assert _files_under(outside) == []


def test_opening_below_a_root_never_follows_a_symlink(allowed: Path, outside: Path) -> None:
    (allowed / "link").symlink_to(outside, target_is_directory=True)
    with pytest.raises(confined.ConfinementError) as caught:
        confined.open_below(allowed, allowed / "link" / "new", create=True)
    assert caught.value.filename == str(allowed / "link")
    assert caught.value.strerror == "a symbolic link, which is never followed here"
    assert list(outside.iterdir()) == []


def test_opening_below_a_root_refuses_a_file_where_a_directory_should_be(allowed: Path) -> None:
    (allowed / "file").write_bytes(b"x")
    with pytest.raises(confined.ConfinementError, match="not a directory"):
        confined.open_below(allowed, allowed / "file" / "new", create=True)


@pytest.mark.skipif(not confined.DIR_FD, reason="descriptor-relative calls are POSIX-only")
def test_a_missing_directory_chain_is_created_one_component_at_a_time(allowed: Path) -> None:
    with confined.open_below(allowed, allowed / "a" / "b" / "c", create=True) as directory:
        assert directory.fd is not None
        fd = directory.open("x.png", os.O_WRONLY | os.O_CREAT | os.O_EXCL)
        os.close(fd)
        assert directory.location() == (allowed / "a" / "b" / "c").resolve()
    assert (allowed / "a" / "b" / "c" / "x.png").is_file()
