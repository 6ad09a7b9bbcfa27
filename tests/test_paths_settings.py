"""save_to and directory settings: everything checkable is checked before the job is paid for, and said clearly."""

from __future__ import annotations

import os
from pathlib import Path

import httpx
import pytest
from pydantic import ValidationError

from krea_mcp.errors import InvalidRequestError
from krea_mcp.fake_api import FakeKrea
from krea_mcp.files.image_saver import ImageSaver, SaveTarget
from krea_mcp.krea.downloads import Downloader
from krea_mcp.settings import Settings
from tests.helpers import TOKEN, connect, text_of

pytestmark = pytest.mark.anyio


@pytest.fixture
def out(tmp_path: Path) -> Path:
    return tmp_path / "images"  # KREA_OUTPUT_DIR, set by the autouse fixture; not created yet


def _saver(out: Path) -> ImageSaver:
    http = httpx.AsyncClient(transport=httpx.MockTransport(lambda request: httpx.Response(404)))
    return ImageSaver(Downloader(http, base_url="https://cdn.example.com"), output_dir=out, allowed_dirs=[])


def _refusal(saver: ImageSaver, save_to: str) -> str:
    with pytest.raises(InvalidRequestError) as caught:
        saver.target(save_to)
    assert caught.value.field == "save_to"
    return str(caught.value)


# --- save_to: before any job -----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("save_to", "expected"),
    [
        ("a\nb.png", "the control character '\\n' at position 1"),
        ("shots\tv2", "the control character '\\t' at position 5"),
        ("x\u2028y.png", "the control character '\\u2028' at position 1"),
        ("file:///tmp/a%0Ab.png", "the control character '\\n' at position 6"),
        ("x" * 300, "is 300 bytes long; this file system allows at most 255 bytes per name"),
        ("a/" + "d" * 256 + "/b", "is 256 bytes long; this file system allows at most 255 bytes per name"),
        ("hero.gif", "ends in .gif, a file type this server does not write"),
        ("notes/x.txt", "ends in .txt, a file type this server does not write"),
        ("https://example.com/x.png", "is a URL, not a local path"),
        ("file://server/share/x.png", "names a file on the host 'server'"),
    ],
)
async def test_bad_save_to_is_refused_before_any_job_is_created(mode: str, save_to: str, expected: str) -> None:
    """Issue 10: each of these used to start (and pay for) a job, then fail to save, or save somewhere odd."""
    fake = FakeKrea(token=TOKEN)
    async with connect(fake, mode=mode) as client:
        result = await client.call_tool("generate_image", {"prompt": "a fox", "save_to": save_to})
    assert result.is_error is True
    assert "save_to: " in text_of(result) and expected in text_of(result)
    assert fake.generate_posts == 0


def test_another_file_type_says_how_to_mean_a_directory(out: Path) -> None:
    message = _refusal(_saver(out), "hero.gif")
    assert ".png, .jpg, .jpeg or .webp" in message
    assert "end the path with / to mean a directory named 'hero.gif'" in message
    assert not out.exists()


def test_a_trailing_slash_or_an_existing_directory_keeps_a_dotted_name_a_directory(out: Path) -> None:
    saver = _saver(out)
    assert saver.target("hero.gif/") == SaveTarget(out.resolve() / "hero.gif", None)
    assert saver.target("shots.v2") == SaveTarget(out.resolve() / "shots.v2", None)  # .v2 names no file type
    (out / "notes.txt").mkdir(parents=True)
    assert saver.target("notes.txt") == SaveTarget(out.resolve() / "notes.txt", None)


def test_a_file_uri_is_read_as_its_path(out: Path, tmp_path: Path) -> None:
    """A file:// URI (as resource links carry) names the same place as the path; it no longer makes a file: dir."""
    saver = _saver(out)
    assert saver.target((out / "sub dir" / "x.png").as_uri()) == SaveTarget(out.resolve() / "sub dir", "x.png")
    assert saver.target("file://localhost" + str(out / "y")) == SaveTarget(out.resolve() / "y", None)
    assert not (tmp_path / "file:").exists() and not (out / "file:").exists()


@pytest.mark.parametrize("save_to", ["file:relative/x.png", "file:///tmp/x.png?v=1", "file:///tmp/x.png#frag"])
def test_a_file_uri_that_would_lose_part_of_itself_is_refused(out: Path, save_to: str) -> None:
    assert "file" in _refusal(_saver(out), save_to).lower()


def test_a_long_name_is_refused_even_when_the_output_dir_does_not_exist_yet(out: Path) -> None:
    """Issue 10: a 300-character directory name passed the check when the output dir was missing."""
    assert not out.exists()
    message = _refusal(_saver(out), "d" * 300)
    assert "at most 255 bytes per name. Choose a shorter name." in message


def test_a_path_too_long_for_the_system_is_refused(out: Path) -> None:
    """Longer than save_to's 1000 characters can carry over MCP, but a saver used directly checks it too."""
    message = _refusal(_saver(out), "/".join(["d" * 200] * 20))
    assert "is too long: with a file name it would be" in message and "Choose a shorter path." in message


def test_a_directory_that_cannot_be_created_under_a_file_is_refused(out: Path) -> None:
    out.mkdir()
    (out / "taken").write_bytes(b"x")
    assert f"cannot be created: {out / 'taken'} is a file" in _refusal(_saver(out), "taken/deeper/more")


@pytest.mark.skipif(os.name != "posix" or os.geteuid() == 0, reason="needs POSIX permissions and a non-root user")
def test_a_directory_this_server_cannot_write_is_refused(out: Path) -> None:
    out.mkdir()
    locked = out / "locked"
    locked.mkdir(mode=0o500)
    try:
        assert "this server has no write permission there" in _refusal(_saver(out), "locked/new")
    finally:
        locked.chmod(0o700)


def test_unpaired_surrogates_are_refused_not_crashed_on(out: Path) -> None:
    assert "unpaired surrogate" in _refusal(_saver(out), "a\ud800b.png")


# --- a file name whose type Krea did not deliver --------------------------------------------------------------------


# (tests/test_save_where_meant.py saves through MCP: converted files, project folders, roots)


# --- KREA_ALLOWED_DIRS and KREA_OUTPUT_DIR ----------------------------------------------------------------------------


def _settings_error(monkeypatch: pytest.MonkeyPatch, name: str, value: str) -> str:
    monkeypatch.setenv(name, value)
    with pytest.raises(ValidationError) as caught:
        Settings(_env_file=None)  # type: ignore[call-arg]
    return str(caught.value)


@pytest.mark.parametrize(
    ("value", "entry"),
    [("/tmp/a,b", "'b'"), (f"/tmp/my{os.pathsep}dir", "'dir'"), ("images", "'images'"), (".", "'.'")],
)
def test_a_relative_allowed_dir_is_an_error_naming_the_entry(
    monkeypatch: pytest.MonkeyPatch, value: str, entry: str
) -> None:
    """Issue 10: "/tmp/a,b" and "/tmp/my:dir" silently allowed <cwd>/b and <cwd>/dir."""
    message = _settings_error(monkeypatch, "KREA_ALLOWED_DIRS", value)
    assert f"KREA_ALLOWED_DIRS: {entry} is a relative path" in message
    assert "Use an absolute path" in message and "JSON list form" in message


def test_a_directory_containing_the_separators_is_expressible_as_a_json_list(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    odd = tmp_path / f"my{os.pathsep}dir,v2"
    monkeypatch.setenv("KREA_ALLOWED_DIRS", f'["{odd}", "~/pictures"]')
    settings = Settings(_env_file=None)  # type: ignore[call-arg]
    assert settings.allowed_dirs == [odd, Path.home() / "pictures"]


@pytest.mark.parametrize("name", ["KREA_ALLOWED_DIRS", "KREA_OUTPUT_DIR"])
@pytest.mark.parametrize("value", ["/", "/tmp/..", "//"])
def test_the_file_system_root_is_refused(monkeypatch: pytest.MonkeyPatch, name: str, value: str) -> None:
    message = _settings_error(monkeypatch, name, value)
    assert f"{name}: {str(Path(value))!r} is the root of the file system" in message


def test_a_symlink_to_the_root_is_refused_too(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    (tmp_path / "everything").symlink_to("/", target_is_directory=True)
    assert "is the root of the file system" in _settings_error(
        monkeypatch, "KREA_ALLOWED_DIRS", str(tmp_path / "everything")
    )


def test_a_relative_output_dir_is_refused_and_a_blank_one_means_unset(monkeypatch: pytest.MonkeyPatch) -> None:
    assert "KREA_OUTPUT_DIR: 'images' is a relative path" in _settings_error(monkeypatch, "KREA_OUTPUT_DIR", "images")
    monkeypatch.setenv("KREA_OUTPUT_DIR", "  ")
    assert Settings(_env_file=None).output_dir is None  # type: ignore[call-arg]
