"""Resources the server keeps: saved files read again by descriptor, a bounded listing, bounded URL reads."""

from __future__ import annotations

import base64
import os
from collections.abc import AsyncIterator
from pathlib import Path

import anyio
import httpx
import pytest
from mcp import Client, MCPError
from mcp.server import MCPServer

from krea_mcp.fake_api import FakeKrea
from krea_mcp.server import job_resources as resources
from tests.helpers import TOKEN, Around, connect, is_image, text_of

pytestmark = pytest.mark.anyio

SECRET = b"-----BEGIN OPENSSH PRIVATE KEY----- not for agents"


@pytest.fixture
def elsewhere(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A directory outside the test's working directory (which the server may read), holding a secret."""
    path = tmp_path_factory.mktemp("elsewhere")
    (path / "secret.png").write_bytes(SECRET)
    return path


async def _saved(client: Client) -> Path:
    result = await client.call_tool("generate_image", {"prompt": "a fox", "save_to": "res/fox.png"})
    assert result.is_error is False, text_of(result)
    (saved,) = result.structured_content["files"]
    return Path(saved)


async def _read_error(client: Client, uri: str) -> str:
    with anyio.fail_after(5), pytest.raises(MCPError) as caught:
        await client.read_resource(uri)
    return str(caught.value)


# --- saved files: read again from the allowed root, never through a symlink ------------------------------------


async def test_a_saved_file_replaced_by_a_symlink_is_not_followed(mode: str, elsewhere: Path) -> None:
    """Issue 10: a published file:// resource read later followed a symlink swapped in since it was saved."""
    async with connect(FakeKrea(token=TOKEN, job_duration_s=0.05), mode=mode, preview="off") as client:
        saved = await _saved(client)
        first = await client.read_resource(saved.as_uri())
        assert base64.b64decode(first.contents[0].blob).startswith(b"\x89PNG")
        saved.unlink()
        saved.symlink_to(elsewhere / "secret.png")
        message = await _read_error(client, saved.as_uri())
    assert f"{saved} can no longer be read as it was saved: {saved}: a symbolic link, which is never" in message
    assert "Nothing outside the allowed directories is read" in message
    assert SECRET.decode() not in message


async def test_a_saved_files_directory_swapped_for_a_symlink_is_not_followed(mode: str, elsewhere: Path) -> None:
    async with connect(FakeKrea(token=TOKEN, job_duration_s=0.05), mode=mode, preview="off") as client:
        saved = await _saved(client)
        (elsewhere / saved.name).write_bytes(SECRET)
        saved.parent.rename(saved.parent.with_name("res-moved"))
        saved.parent.symlink_to(elsewhere, target_is_directory=True)
        message = await _read_error(client, saved.as_uri())
    assert f"{saved.parent}: a symbolic link, which is never followed here" in message
    assert SECRET.decode() not in message


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="needs named pipes")
async def test_a_saved_file_replaced_by_a_fifo_is_refused_without_hanging(mode: str) -> None:
    async with connect(FakeKrea(token=TOKEN, job_duration_s=0.05), mode=mode, preview="off") as client:
        saved = await _saved(client)
        saved.unlink()
        os.mkfifo(saved)
        message = await _read_error(client, saved.as_uri())
    assert f"{saved}: not a regular file" in message


async def test_a_saved_file_grown_past_the_read_limit_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(resources, "MAX_READ_BYTES", 1000)
    async with connect(FakeKrea(token=TOKEN, job_duration_s=0.05), preview="off") as client:
        saved = await _saved(client)
        saved.write_bytes(b"\x89PNG" + b"\x00" * 5000)
        message = await _read_error(client, saved.as_uri())
    assert f"{saved} is larger than the 1000 bytes a resource read returns; open the file directly." in message


# --- a bounded listing ----------------------------------------------------------------------------------------------


async def test_resources_kept_are_bounded_and_the_oldest_go_first(monkeypatch: pytest.MonkeyPatch) -> None:
    """Issue 10: 20,000 result URLs became 20,000 resources kept forever. Now at most MAX_RESOURCES stay."""
    monkeypatch.setattr(resources, "MAX_RESOURCES", 5)
    fake = FakeKrea(token=TOKEN, job_duration_s=0.02)
    async with connect(fake, preview="off") as client:
        jobs = [(await client.call_tool("generate_image", {"prompt": f"fox {i}"})).structured_content for i in range(4)]
        listed = [str(r.uri) for r in (await client.list_resources()).resources]
        assert len(listed) == 5
        newest = jobs[-1]
        assert f"krea://jobs/{newest['job_id']}" in listed and newest["urls"][0] in listed
        oldest_url = jobs[0]["urls"][0]
        assert oldest_url not in listed
        assert "Unknown resource" in await _read_error(client, oldest_url)
        # A job's own resource stays readable through the template even when unlisted.
        old_job = await client.read_resource(f"krea://jobs/{jobs[0]['job_id']}")
        assert jobs[0]["job_id"] in old_job.contents[0].text


async def test_reading_a_resource_keeps_it_listed(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(resources, "MAX_RESOURCES", 4)
    async with connect(FakeKrea(token=TOKEN, job_duration_s=0.02), preview="off") as client:
        first = (await client.call_tool("generate_image", {"prompt": "one"})).structured_content
        await client.call_tool("generate_image", {"prompt": "two"})
        await client.read_resource(first["urls"][0])  # used recently: the job resources go before it
        await client.call_tool("generate_image", {"prompt": "three"})
        listed = [str(r.uri) for r in (await client.list_resources()).resources]
    assert len(listed) == 4
    assert first["urls"][0] in listed and f"krea://jobs/{first['job_id']}" not in listed


def test_the_sdk_still_has_no_public_way_to_remove_a_resource() -> None:
    """resources._remove_resource reaches into the SDK's resource manager because MCPServer 2.3 has no
    remove_resource (modelcontextprotocol/python-sdk#2331). When this fails, the SDK has one: use it alone."""
    assert not hasattr(MCPServer, "remove_resource")
    server: MCPServer = MCPServer("probe")
    assert isinstance(server._resource_manager._resources, dict)


# --- reading an image URL is bounded in time ---------------------------------------------------------------------


async def trickling_images(request: httpx.Request, inner: httpx.AsyncBaseTransport) -> httpx.Response:
    """The emulator, except that image bodies arrive one byte every 50 ms, forever."""
    if not is_image(request):
        return await inner.handle_async_request(request)

    async def drip() -> AsyncIterator[bytes]:
        yield b"\x89PNG"
        while True:
            await anyio.sleep(0.05)
            yield b"\x00"

    return httpx.Response(200, headers={"content-type": "image/png"}, content=drip())


async def test_reading_a_trickling_image_url_gives_up_in_time(mode: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """Issue 10: resources/read of a URL whose host trickles bytes never answered."""
    monkeypatch.setattr(resources, "READ_TIMEOUT_S", 0.3)
    fake = FakeKrea(token=TOKEN, job_duration_s=0.05)
    async with connect(Around(fake, trickling_images), mode=mode, preview="off", request_timeout_s=600) as client:
        (url,) = (await client.call_tool("generate_image", {"prompt": "a fox"})).structured_content["urls"]
        message = await _read_error(client, url)
    assert "the image did not arrive within 0.3 s" in message


async def test_reading_an_image_url_that_never_answers_gives_up_in_time(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(resources, "READ_TIMEOUT_S", 0.3)
    fake = FakeKrea(token=TOKEN, job_duration_s=0.05)
    async with connect(fake, preview="off", request_timeout_s=600) as client:
        (url,) = (await client.call_tool("generate_image", {"prompt": "a fox"})).structured_content["urls"]
        fake.inject("image", "hang")
        message = await _read_error(client, url)
    assert "the image did not arrive within 0.3 s" in message
