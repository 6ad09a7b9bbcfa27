"""Files land where a coding agent means them: relative save_to in the project the server was started in (or the
client's MCP root), the output folder otherwise; a file name's extension is honoured by converting."""

from __future__ import annotations

import io
import os
from pathlib import Path
from typing import Any

import pytest
from mcp.types import ListRootsResult, Root
from PIL import Image

from krea_mcp.fake_api import FakeKrea
from krea_mcp.settings import Settings
from tests.helpers import TOKEN, connect, text_of

pytestmark = pytest.mark.anyio


async def _generate(arguments: dict[str, Any], *, mode: str = "auto", roots: Any = None, **settings: Any) -> Any:
    """One generate_image call with previews off; ``roots`` is the client's list_roots callback."""
    fake = FakeKrea(token=TOKEN, job_duration_s=0)
    options = {"list_roots_callback": roots} if roots else None
    async with connect(fake, mode=mode, client_options=options, preview="off", **settings) as c:
        return await c.call_tool("generate_image", {"prompt": "a hero image", **arguments})


async def test_relative_save_to_lands_in_the_project_the_server_was_started_in(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    project = tmp_path / "project"
    project.mkdir()
    monkeypatch.chdir(project)  # how Claude Code and Cursor start a server
    result = await _generate({"save_to": "./assets/img"})
    assert not result.is_error, text_of(result)
    (saved,) = result.structured_content["files"]
    assert Path(saved).parent == project / "assets" / "img"


async def test_relative_save_to_from_root_falls_back_to_the_output_folder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir("/")  # how some hosts start servers: never a place to write
    out = tmp_path / "images"
    result = await _generate({"save_to": "assets"}, output_dir=out)
    assert not result.is_error, text_of(result)
    (saved,) = result.structured_content["files"]
    assert Path(saved).parent == out / "assets"


async def test_relative_save_to_from_home_falls_back_to_the_output_folder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    home = tmp_path / "home"
    home.mkdir()
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.chdir(home)
    out = tmp_path / "images"
    result = await _generate({"save_to": "x"}, output_dir=out, allowed_dirs=[home])
    (saved,) = result.structured_content["files"]
    assert Path(saved).parent == out / "x"


async def test_a_client_root_is_where_relative_save_to_lands(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A legacy-era client offering MCP roots (VS Code, Cursor): the first file:// root is the project."""
    monkeypatch.chdir("/")
    workspace = tmp_path / "workspace"
    workspace.mkdir()

    async def roots(context: Any) -> ListRootsResult:
        return ListRootsResult(roots=[Root(uri=workspace.as_uri(), name="workspace")])

    result = await _generate({"save_to": "art/hero.png"}, mode="legacy", roots=roots)
    assert not result.is_error, text_of(result)
    assert result.structured_content["files"] == [str(workspace / "art" / "hero.png")]


async def test_a_client_root_of_slash_grants_nothing(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir("/")

    async def roots(context: Any) -> ListRootsResult:
        return ListRootsResult(roots=[Root(uri="file:///", name="everything")])

    out = tmp_path / "images"
    result = await _generate({"save_to": "x"}, mode="legacy", roots=roots, output_dir=out)
    assert result.structured_content["files"][0].startswith(str(out))


@pytest.mark.parametrize(("name", "fmt"), [("hero.jpg", "JPEG"), ("hero.JPEG", "JPEG"), ("hero.webp", "WEBP")])
async def test_a_file_name_extension_is_honoured_by_converting(tmp_path: Path, name: str, fmt: str) -> None:
    result = await _generate({"save_to": name}, output_dir=tmp_path)
    assert not result.is_error, text_of(result)
    (saved,) = result.structured_content["files"]
    assert saved == str(tmp_path / name)
    with Image.open(saved) as image:
        assert image.format == fmt
    assert f"Krea delivered PNG; converted to {fmt} as save_to asked" in text_of(result)


async def test_a_png_name_for_a_png_is_saved_byte_for_byte(tmp_path: Path) -> None:
    result = await _generate({"save_to": "hero.png"}, output_dir=tmp_path)
    (saved,) = result.structured_content["files"]
    assert "converted" not in text_of(result)
    with Image.open(io.BytesIO(Path(saved).read_bytes())) as image:
        assert image.format == "PNG"


async def test_an_unsupported_extension_is_an_error_not_a_directory(tmp_path: Path) -> None:
    fake = FakeKrea(token=TOKEN, job_duration_s=0)
    async with connect(fake, output_dir=tmp_path) as c:
        result = await c.call_tool("generate_image", {"prompt": "x", "save_to": "hero.gif"})
    assert result.is_error and "hero.gif" in text_of(result) and ".gif" in text_of(result)
    assert fake.generate_posts == 0 and not (tmp_path / "hero.gif").exists()


def test_the_default_folder_does_not_repeat_the_app_name(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.setenv("XDG_PICTURES_DIR", str(tmp_path / "no-pictures-here"))
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "data"))
    monkeypatch.delenv("KREA_OUTPUT_DIR")
    out = Settings(_env_file=None).resolved_output_dir()  # type: ignore[call-arg]
    assert out.parts.count("krea-mcp") == 1, out
    assert os.fspath(out).startswith(str(tmp_path))
