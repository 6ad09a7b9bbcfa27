"""Local input images changed between their check and their read: swapped for a symlink, a FIFO, or grown.

``ImageInputs.before_open`` runs in the reading thread right after the path was checked and right before the file
is opened, so each swap happens at exactly that moment (no sleeps, no luck). Uploads go to the emulator through
the real KreaClient.
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from pathlib import Path

import anyio
import pytest
from pydantic import SecretStr

from krea_mcp.errors import InvalidRequestError
from krea_mcp.fake_api import FakeKrea
from krea_mcp.fake_api._png import prompt_image
from krea_mcp.krea.client import KreaClient
from krea_mcp.workflow import image_inputs as inputs
from krea_mcp.workflow.image_inputs import ImageInputs
from tests.helpers import TOKEN

pytestmark = pytest.mark.anyio

PNG = prompt_image("input", 32, 32)
SECRET = prompt_image("outside the allowed directories", 32, 32)


@pytest.fixture
def fake() -> FakeKrea:
    return FakeKrea(token=TOKEN)


@pytest.fixture
async def client(fake: FakeKrea) -> AsyncIterator[KreaClient]:
    async with KreaClient(base_url=fake.base_url, token=SecretStr(TOKEN), transport=fake.transport()) as c:
        yield c


@pytest.fixture
def allowed(tmp_path: Path) -> Path:
    (tmp_path / "allowed" / "sub").mkdir(parents=True)
    (tmp_path / "allowed" / "sub" / "cat.png").write_bytes(PNG)
    (tmp_path / "outside").mkdir()
    (tmp_path / "outside" / "cat.png").write_bytes(SECRET)
    return (tmp_path / "allowed").resolve()


def swap(path: Path, replacement: Path | None = None, *, fifo: bool = False) -> None:
    """Replace ``path`` by a symlink to ``replacement`` (or by a FIFO)."""
    if path.is_dir() and not path.is_symlink():
        path.rename(path.with_name(path.name + ".moved"))
    else:
        path.unlink()
    if fifo:
        os.mkfifo(path)
    else:
        assert replacement is not None
        path.symlink_to(replacement)


async def resolve_with(inputs_: ImageInputs, ref: str) -> str:
    inputs_.check({"images": [ref]})  # passes: nothing has changed yet
    return await inputs_.resolve(ref, field="images")


async def test_the_file_swapped_for_a_symlink_after_the_check_is_not_followed(
    client: KreaClient, fake: FakeKrea, allowed: Path
) -> None:
    target = allowed / "sub" / "cat.png"
    images = ImageInputs(client, [allowed])
    images.before_open = lambda path: swap(path, allowed.parent / "outside" / "cat.png")
    with pytest.raises(InvalidRequestError) as info:
        await resolve_with(images, str(target))
    assert str(info.value) == (
        f"images: {target} changed after it was checked (it is now a symbolic link, which is never followed "
        "here), so it was not read. Nothing was uploaded; check the file and try again."
    )
    assert fake.assets == {}


async def test_a_directory_swapped_for_a_symlink_after_the_check_is_not_followed(
    client: KreaClient, fake: FakeKrea, allowed: Path
) -> None:
    target = allowed / "sub" / "cat.png"
    images = ImageInputs(client, [allowed])
    images.before_open = lambda path: swap(allowed / "sub", allowed.parent / "outside")
    with pytest.raises(InvalidRequestError) as info:
        await resolve_with(images, str(target))
    message = str(info.value)
    assert message.startswith(
        f"images: {target} changed after it was checked ({allowed / 'sub'} is now a symbolic link"
    )
    assert "so it was not read. Nothing was uploaded" in message
    assert fake.assets == {}


async def test_a_fifo_swapped_in_after_the_check_does_not_hang(
    client: KreaClient, fake: FakeKrea, allowed: Path
) -> None:
    target = allowed / "sub" / "cat.png"
    images = ImageInputs(client, [allowed])
    images.before_open = lambda path: swap(path, fifo=True)
    with anyio.fail_after(5), pytest.raises(InvalidRequestError) as info:
        await resolve_with(images, str(target))
    assert f"images: {target} changed after it was checked" in str(info.value)
    assert "(it is now something other than a regular file)" in str(info.value)
    assert fake.assets == {}


async def test_a_file_grown_past_the_limit_after_the_check_is_not_uploaded(
    client: KreaClient, fake: FakeKrea, allowed: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(inputs, "MAX_UPLOAD_BYTES", len(PNG) + 10)
    target = allowed / "sub" / "cat.png"
    images = ImageInputs(client, [allowed])

    def grow(path: Path) -> None:
        with path.open("ab") as file:
            file.write(b"\0" * 100)

    images.before_open = grow
    with pytest.raises(InvalidRequestError, match="grew past Krea's limit; Krea accepts at most 75 MB"):
        await resolve_with(images, str(target))
    assert fake.assets == {}


async def test_an_unchanged_file_is_read_by_descriptor_and_uploaded(
    client: KreaClient, fake: FakeKrea, allowed: Path
) -> None:
    seen: list[Path] = []
    images = ImageInputs(client, [allowed])
    images.before_open = seen.append
    url = await resolve_with(images, "sub/cat.png")  # relative: from the first allowed directory
    (asset,) = fake.assets.values()
    assert asset.data == PNG and url.endswith(asset.asset_id)
    assert seen == [allowed / "sub" / "cat.png"]
