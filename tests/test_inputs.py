"""Local images become Krea asset URLs: confined to allowed directories, checked, and uploaded once."""

from __future__ import annotations

import base64
from pathlib import Path
from typing import Any

import pytest

from krea_mcp.fake_api import FakeKrea
from krea_mcp.fake_api._png import prompt_image
from krea_mcp.workflow import image_inputs as inputs
from tests.helpers import TOKEN, call_once, connect, text_of

pytestmark = pytest.mark.anyio

PNG = prompt_image("input", 32, 32)


@pytest.fixture
def workdir(tmp_path: Path) -> Path:
    """The autouse fixture already made tmp_path the working directory, i.e. the default allowed directory."""
    (tmp_path / "cat.png").write_bytes(PNG)
    return tmp_path


async def generate(fake: FakeKrea, arguments: dict[str, Any], **settings: Any) -> Any:
    return await call_once(fake, "generate_image", {"prompt": "a fox", "wait": False, **arguments}, **settings)


def uploads(fake: FakeKrea) -> int:
    return sum(1 for method, path in fake.requests if method == "POST" and path == "/assets")


@pytest.mark.parametrize("ref", ["cat.png", "./cat.png", "{dir}/cat.png", "file://{dir}/cat.png"])
async def test_local_file_is_uploaded_and_its_url_sent(workdir: Path, ref: str) -> None:
    fake = FakeKrea(token=TOKEN)
    result = await generate(fake, {"model": "flux", "images": [ref.format(dir=workdir)]})
    assert result.is_error is False, text_of(result)
    (asset,) = fake.assets.values()
    assert asset.data == PNG and asset.mime_type == "image/png"
    (job,) = fake.jobs.values()
    assert job.body["image_url"] == f"{fake.base_url}/_fake/assets/{asset.asset_id}"


async def test_same_file_is_uploaded_once_per_server(workdir: Path) -> None:
    fake = FakeKrea(token=TOKEN)
    (workdir / "copy.png").write_bytes(PNG)  # same bytes under another name: still one upload
    async with connect(fake) as client:
        for ref in ("cat.png", "cat.png", "copy.png"):
            result = await client.call_tool("generate_image", {"prompt": "a fox", "wait": False, "images": [ref]})
            assert result.is_error is False, text_of(result)
    assert uploads(fake) == 1
    assert len({job.body["image_url"] for job in fake.jobs.values()}) == 1


async def test_style_images_and_data_uris_upload_too(workdir: Path) -> None:
    fake = FakeKrea(token=TOKEN)
    data_uri = "data:image/png;base64," + base64.b64encode(PNG).decode()
    result = await generate(fake, {"model": "krea-2", "style_images": [data_uri]})
    assert result.is_error is False, text_of(result)
    (job,) = fake.jobs.values()
    assert job.body["image_style_references"][0]["url"].startswith(f"{fake.base_url}/_fake/assets/")


async def test_file_outside_allowed_dirs_is_refused(workdir: Path, tmp_path_factory: pytest.TempPathFactory) -> None:
    outside = tmp_path_factory.mktemp("elsewhere") / "secret.png"
    outside.write_bytes(PNG)
    fake = FakeKrea(token=TOKEN)
    result = await generate(fake, {"model": "flux", "images": [str(outside)]})
    assert result.is_error is True
    assert "outside the directories" in text_of(result) and "KREA_ALLOWED_DIRS" in text_of(result)
    assert fake.requests == []


@pytest.mark.parametrize("ref", ["../escape.png", "link.png"])
async def test_dot_dot_and_symlink_escapes_are_refused(workdir: Path, ref: str) -> None:
    target = workdir.parent / "escape.png"
    target.write_bytes(PNG)
    (workdir / "link.png").symlink_to(target)
    fake = FakeKrea(token=TOKEN)
    result = await generate(fake, {"model": "flux", "images": [ref]})
    assert result.is_error is True
    assert "outside the directories" in text_of(result)
    assert fake.requests == []


async def test_extra_allowed_dir_is_honoured(workdir: Path, tmp_path_factory: pytest.TempPathFactory) -> None:
    assets = tmp_path_factory.mktemp("assets")
    (assets / "dog.png").write_bytes(PNG)
    fake = FakeKrea(token=TOKEN)
    result = await generate(fake, {"model": "flux", "images": [str(assets / "dog.png")]}, allowed_dirs=[assets])
    assert result.is_error is False, text_of(result)


async def test_missing_file_names_the_path(workdir: Path) -> None:
    fake = FakeKrea(token=TOKEN)
    result = await generate(fake, {"model": "flux", "images": ["nope.png"]})
    assert result.is_error is True
    assert "file not found" in text_of(result) and "nope.png" in text_of(result)


async def test_wrong_type_is_refused(workdir: Path) -> None:
    (workdir / "notes.png").write_text("not an image at all")
    fake = FakeKrea(token=TOKEN)
    result = await generate(fake, {"model": "flux", "images": ["notes.png"]})
    assert result.is_error is True
    assert "not a JPEG, PNG, WebP or HEIC image" in text_of(result)
    assert uploads(fake) == 0


async def test_oversize_file_is_refused_without_reading_it(workdir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(inputs, "MAX_UPLOAD_BYTES", len(PNG) - 1)
    fake = FakeKrea(token=TOKEN)
    result = await generate(fake, {"model": "flux", "images": ["cat.png"]})
    assert result.is_error is True
    assert "75 MB" in text_of(result)
    assert uploads(fake) == 0


async def test_bad_parameters_are_reported_before_anything_is_uploaded(workdir: Path) -> None:
    fake = FakeKrea(token=TOKEN)
    result = await generate(fake, {"model": "flux", "images": ["cat.png"], "steps": 150})
    assert result.is_error is True
    assert "steps=150" in text_of(result)
    assert fake.requests == []


async def test_https_urls_pass_through_untouched(workdir: Path) -> None:
    fake = FakeKrea(token=TOKEN)
    result = await generate(fake, {"model": "nano-banana", "images": ["https://cdn.example.com/a b.png"]})
    assert result.is_error is True and "not a valid URL" in text_of(result)
    result = await generate(fake, {"model": "nano-banana", "images": ["https://cdn.example.com/a.png"]})
    assert result.is_error is False
    assert uploads(fake) == 0


def test_allowed_dirs_parse_from_the_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    import os

    from krea_mcp.settings import Settings

    monkeypatch.setenv("KREA_ALLOWED_DIRS", f"{tmp_path}{os.pathsep}/srv/assets")
    assert Settings(_env_file=None).allowed_dirs == [tmp_path, Path("/srv/assets")]  # type: ignore[call-arg]
    monkeypatch.setenv("KREA_ALLOWED_DIRS", '["/a", "/b"]')
    assert Settings(_env_file=None).allowed_dirs == [Path("/a"), Path("/b")]  # type: ignore[call-arg]


async def test_a_symlink_loop_is_an_error_naming_the_field(workdir: Path) -> None:
    (workdir / "loop").symlink_to(workdir / "loop")
    fake = FakeKrea(token=TOKEN)
    for arguments in ({"images": ["loop/x.png"]}, {"save_to": str(workdir / "loop" / "x.png")}):
        result = await generate(fake, {"model": "flux", **arguments})
        assert result.is_error is True
        assert next(iter(arguments)) in text_of(result)
        assert text_of(result).strip() != "Error executing tool generate_image"
    assert fake.generate_posts == 0
