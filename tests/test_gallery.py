"""The gallery (MCP Apps, issue 17) seen by real MCP clients in both protocol eras: what a client that advertises Apps
sees (``_meta.ui`` on the job tools, the app-only tools, the view resource) and what any other client sees (exactly
what it saw before), the app-only tools against the emulator, results read as resources in multi-user mode, and the
bytes a finished result costs the model with and without the gallery."""

from __future__ import annotations

import base64
import json
from pathlib import Path
from typing import Any

import pytest
from mcp import Client
from mcp.client.extension import advertise
from mcp.server.apps import APP_MIME_TYPE, EXTENSION_ID
from mcp.types import CallToolResult

from krea_mcp.fake_api import FakeKrea
from krea_mcp.server.gallery import APP_TOOLS, GALLERY_URI, JOB_TOOLS
from tests.helpers import connect, text_of

pytestmark = pytest.mark.anyio

APPS = {"extensions": [advertise(EXTENSION_ID, {"mimeTypes": [APP_MIME_TYPE]})]}


def apps_client(fake: FakeKrea, mode: str, **settings: Any) -> Client:
    return connect(fake, mode=mode, client_options=APPS, **settings)


async def generated(client: Client, **arguments: Any) -> dict[str, Any]:
    result = await client.call_tool("generate_image", {"prompt": "a lighthouse at dusk", "model": "flux", **arguments})
    assert result.is_error is False, text_of(result)
    data: dict[str, Any] = result.structured_content
    return data


def result_bytes(result: CallToolResult) -> int:
    """The result as the host passes it on: its JSON."""
    return len(json.dumps(result.model_dump(by_alias=True, mode="json", exclude_none=True), separators=(",", ":")))


# --- what each client sees -------------------------------------------------------------------------------------------


async def test_an_apps_client_sees_the_gallery_on_the_job_tools(fake: FakeKrea, mode: str) -> None:
    async with apps_client(fake, mode, tools=["all"]) as client:
        tools = {t.name: t for t in (await client.list_tools()).tools}
        for name in JOB_TOOLS:
            assert tools[name].meta == {"ui": {"resourceUri": GALLERY_URI}}
        for name in APP_TOOLS:
            assert tools[name].meta == {"ui": {"resourceUri": GALLERY_URI, "visibility": ["app"]}}
        for name in ("cancel_job", "list_jobs", "list_models", "list_styles", "train_style"):
            assert tools[name].meta is None
        listed = {str(r.uri) for r in (await client.list_resources()).resources}
        assert GALLERY_URI in listed


async def test_a_client_without_apps_sees_no_trace_of_it(fake: FakeKrea, mode: str) -> None:
    async with connect(fake, mode=mode, tools=["all"]) as client:
        tools = (await client.list_tools()).tools
        assert not [t.name for t in tools if t.name.startswith("gallery_")]
        assert all(t.meta is None for t in tools)
        assert not [r for r in (await client.list_resources()).resources if str(r.uri).startswith("ui://")]
        refused = await client.call_tool("gallery_details", {"job_id": "abc"})
        assert refused.is_error and "Unknown tool: gallery_details" in text_of(refused)


async def test_advertising_the_extension_without_the_app_mime_type_is_not_apps(fake: FakeKrea, mode: str) -> None:
    options = {"extensions": [advertise(EXTENSION_ID, {"mimeTypes": ["text/html"]})]}
    async with connect(fake, mode=mode, client_options=options) as client:
        assert all(t.meta is None for t in (await client.list_tools()).tools)


async def test_the_app_tools_follow_the_offered_groups(fake: FakeKrea, mode: str) -> None:
    async with apps_client(fake, mode, tools=["generate", "jobs"]) as client:
        names = {t.name for t in (await client.list_tools()).tools}
    assert {"gallery_vary", "gallery_save", "gallery_details"} <= names
    assert not {"gallery_upscale", "gallery_animate", "enhance_image", "generate_video"} & names
    async with apps_client(fake, mode, tools=["models"]) as client:  # no job tool: no gallery tools
        assert {t.name for t in (await client.list_tools()).tools} == {"list_models"}


async def test_the_view_is_served_as_an_app_resource(fake: FakeKrea, mode: str) -> None:
    async with apps_client(fake, mode) as client:
        listed = {str(r.uri): r for r in (await client.list_resources()).resources}
        read = await client.read_resource(GALLERY_URI)
    assert listed[GALLERY_URI].mime_type == APP_MIME_TYPE
    assert listed[GALLERY_URI].meta == {"ui": {"csp": {}, "prefersBorder": True}}  # no remote host at all
    (item,) = read.contents
    assert item.mime_type == APP_MIME_TYPE
    html = item.text  # type: ignore[union-attr]
    assert len(html.encode()) < 60_000
    assert '<main id="gallery"' in html and "ui/initialize" in html and "__KREA_VERSION__" not in html
    assert "http://" not in html and "https://" not in html  # nothing loaded from the network


# --- results ---------------------------------------------------------------------------------------------------------


async def test_an_apps_client_gets_no_inline_previews_and_the_saving_is_measured(fake: FakeKrea, mode: str) -> None:
    async with connect(fake, mode=mode) as plain, apps_client(fake, mode) as apps:
        arguments = {"prompt": "a lighthouse at dusk", "model": "flux", "width": 1024, "height": 1024}
        without = await plain.call_tool("generate_image", arguments)
        with_apps = await apps.call_tool("generate_image", arguments)
    assert without.is_error is False and with_apps.is_error is False
    assert [b.type for b in without.content].count("image") == 1
    assert "image" not in [b.type for b in with_apps.content]
    assert set(with_apps.structured_content) == set(without.structured_content)
    plain_bytes, apps_bytes = result_bytes(without), result_bytes(with_apps)
    print(f"\ngenerate_image result ({mode}): {plain_bytes} bytes without Apps, {apps_bytes} with Apps")
    assert apps_bytes * 5 < plain_bytes  # the thumbnail was nearly all of it (up to KREA_PREVIEW_BUDGET_BYTES)


async def test_details_give_the_card_its_caption(fake: FakeKrea, mode: str) -> None:
    async with apps_client(fake, mode) as client:
        job = await generated(client, width=1024, height=768, seed=42)
        result = await client.call_tool("gallery_details", {"job_id": job["job_id"]})
    assert result.is_error is False, text_of(result)
    assert result.structured_content == {
        "job_id": job["job_id"],
        "prompt": "a lighthouse at dusk",
        "model": job["model"],
        "kind": "image",
        "seed": 42,
        "width": 1024,
        "height": 768,
        "actions": ["copy", "open", "vary", "save", "upscale", "animate"],
    }


async def test_details_of_a_job_this_server_did_not_start_are_refused(fake: FakeKrea, mode: str) -> None:
    async with apps_client(fake, mode) as client:
        result = await client.call_tool("gallery_details", {"job_id": "3c90c3cc-0d44-4b50-8888-8dd25736052a"})
    assert result.is_error and "not started through this server" in text_of(result)


async def test_vary_repeats_the_job_with_a_new_seed(fake: FakeKrea, mode: str) -> None:
    async with apps_client(fake, mode) as client:
        job = await generated(client, width=1024, height=768, seed=7, steps=20)
        varied = await client.call_tool("gallery_vary", {"job_id": job["job_id"]})
        assert varied.is_error is False, text_of(varied)
        new = varied.structured_content
        assert new["status"] == "completed" and new["urls"] and new["job_id"] != job["job_id"]
        details = (await client.call_tool("gallery_details", {"job_id": new["job_id"]})).structured_content
    body = dict(fake.jobs[new["job_id"]].body)
    first = dict(fake.jobs[job["job_id"]].body)
    assert body["seed"] != 7 and details["seed"] == body["seed"]
    assert {k: v for k, v in body.items() if k != "seed"} == {k: v for k, v in first.items() if k != "seed"}


async def test_upscale_enhances_the_chosen_image(fake: FakeKrea, mode: str) -> None:
    async with apps_client(fake, mode) as client:
        job = await generated(client, width=512, height=512)
        result = await client.call_tool("gallery_upscale", {"job_id": job["job_id"], "index": 0})
        assert result.is_error is False, text_of(result)
        out_of_range = await client.call_tool("gallery_upscale", {"job_id": job["job_id"], "index": 5})
        data = result.structured_content
        details = (await client.call_tool("gallery_details", {"job_id": data["job_id"]})).structured_content
    assert data["status"] == "completed" and data["urls"]
    body = dict(fake.jobs[data["job_id"]].body)
    assert body["image_url"] == job["urls"][0] or job["urls"][0] in json.dumps(body)
    assert out_of_range.is_error and "index 5 is out of range" in text_of(out_of_range)
    assert details["kind"] == "enhance" and details["prompt"] == "a lighthouse at dusk"  # the image it came from
    assert (details["width"], details["height"]) == (1024, 1024)


async def test_animate_starts_a_video_from_the_image_and_the_prompt(fake: FakeKrea, mode: str) -> None:
    async with apps_client(fake, mode, wait_s=1.0) as client:
        job = await generated(client)
        result = await client.call_tool("gallery_animate", {"job_id": job["job_id"], "index": 0})
    assert result.is_error is False, text_of(result)
    data = result.structured_content
    body = dict(fake.jobs[data["job_id"]].body)
    assert body["prompt"] == "a lighthouse at dusk"
    assert job["urls"][0] in json.dumps(body)


async def test_save_writes_the_results_into_the_output_folder(fake: FakeKrea, mode: str, tmp_path: Path) -> None:
    out = tmp_path / "out"
    async with apps_client(fake, mode, output_dir=str(out)) as client:
        job = await generated(client)
        result = await client.call_tool("gallery_save", {"job_id": job["job_id"]})
    assert result.is_error is False, text_of(result)
    files = [Path(f) for f in result.structured_content["files"]]
    assert files and all(f.parent == out.resolve() and f.is_file() for f in files)


# --- the view reads results as resources -----------------------------------------------------------------------------


async def test_the_view_reads_a_result_as_bytes(fake: FakeKrea, mode: str) -> None:
    async with apps_client(fake, mode) as client:
        job = await generated(client)
        read = await client.read_resource(job["urls"][0])
    (item,) = read.contents
    assert item.mime_type.startswith("image/")
    assert base64.b64decode(item.blob)[:8] == b"\x89PNG\r\n\x1a\n"  # type: ignore[union-attr]


async def test_multi_user_mode_reads_the_callers_own_results_and_refuses_saving(fake: FakeKrea, mode: str) -> None:
    async with apps_client(fake, mode, http_auth="bearer-passthrough") as client:
        assert not [r for r in (await client.list_resources()).resources if str(r.uri).startswith("http")]
        started = await client.call_tool(
            "generate_image", {"prompt": "a lighthouse at dusk", "model": "flux", "wait": False}
        )
        job_id = started.structured_content["job_id"]
        while True:  # as the view does: get_job until the job is done
            polled = await client.call_tool("get_job", {"job_id": job_id})
            if polled.structured_content["status"] == "completed":
                break
        read = await client.read_resource(polled.structured_content["urls"][0])
        saved = await client.call_tool("gallery_save", {"job_id": job_id})
    assert base64.b64decode(read.contents[0].blob)[:4] == b"\x89PNG"  # type: ignore[union-attr]
    assert saved.is_error and "Saving is off" in text_of(saved)


async def test_over_http_each_user_reads_only_their_own_results(tmp_path: Path) -> None:
    """Multi-user mode over streamable HTTP, as deployed: the gallery reads a result of the caller's own job, never
    another user's (the emulator, like Krea, shows each job only to its creator)."""
    import anyio
    import httpx2
    from mcp.client.streamable_http import streamable_http_client
    from mcp.shared.exceptions import MCPError

    from tests.helpers import child_env, free_port, running

    api_port, mcp_port = free_port(), free_port()
    api = [
        "-m",
        "krea_mcp.fake_api",
        "--port",
        str(api_port),
        "--token",
        "alice-krea,bob-krea",
        "--job-duration",
        "0.2",
    ]
    env = child_env(
        KREA_HTTP_AUTH="bearer-passthrough", KREA_BASE_URL=f"http://127.0.0.1:{api_port}", KREA_POLL_INTERVAL_S="0.05"
    )
    server = ["-m", "krea_mcp", "--transport", "http", "--port", str(mcp_port)]
    url = f"http://127.0.0.1:{mcp_port}/mcp"

    def as_user(http: Any) -> Client:
        return Client(streamable_http_client(url, http_client=http), **APPS)  # type: ignore[arg-type]

    with running(api, api_port), running(server, mcp_port, env=env, cwd=tmp_path), anyio.fail_after(60):
        async with (
            httpx2.AsyncClient(headers={"authorization": "Bearer alice-krea"}) as alice_http,
            httpx2.AsyncClient(headers={"authorization": "Bearer bob-krea"}) as bob_http,
            as_user(alice_http) as alice,
            as_user(bob_http) as bob,
        ):
            job = await generated(alice)
            mine = await alice.read_resource(job["urls"][0])
            with pytest.raises(MCPError):
                await bob.read_resource(job["urls"][0])
            theirs = await bob.call_tool("gallery_details", {"job_id": job["job_id"]})
    assert base64.b64decode(mine.contents[0].blob)[:4] == b"\x89PNG"  # type: ignore[union-attr]
    assert theirs.is_error


# --- what a review of the first version found ---------------------------------------------------------------------


async def test_a_client_without_apps_cannot_read_the_view_or_tell_a_refusal_apart(fake: FakeKrea, mode: str) -> None:
    async with connect(fake, mode=mode) as plain:
        with pytest.raises(Exception, match=r"Unknown resource: ui://krea/gallery\.html"):
            await plain.read_resource(GALLERY_URI)
        app_only = await plain.call_tool("gallery_details", {"job_id": "abc"})
        unknown = await plain.call_tool("no_such_tool", {})
    assert app_only.meta == unknown.meta  # the same serverInfo stamp (2026 era) or none (legacy)
    assert text_of(app_only).replace("gallery_details", "X") == text_of(unknown).replace("no_such_tool", "X")


async def test_in_multi_user_mode_only_the_gallery_reads_a_callers_results(fake: FakeKrea, mode: str) -> None:
    async with connect(fake, mode=mode, http_auth="bearer-passthrough") as plain:
        job = await generated(plain)
        with pytest.raises(Exception, match="Unknown resource"):
            await plain.read_resource(job["urls"][0])  # as before the gallery: nothing is served in this mode


async def test_animate_and_upscale_refuse_a_video_before_spending(fake: FakeKrea, mode: str) -> None:
    async with apps_client(fake, mode, wait_s=10.0) as client:
        video = await client.call_tool("generate_video", {"prompt": "waves", "duration_s": 2})
        assert video.is_error is False, text_of(video)
        job_id = video.structured_content["job_id"]
        while video.structured_content["status"] != "completed":
            video = await client.call_tool("wait_for_job", {"job_id": job_id})
        before = fake.jobs_created
        animate = await client.call_tool("gallery_animate", {"job_id": job_id, "index": 0})
        upscale = await client.call_tool("gallery_upscale", {"job_id": job_id, "index": 0})
        details = (await client.call_tool("gallery_details", {"job_id": job_id})).structured_content
    assert animate.is_error and "is a video" in text_of(animate)
    assert upscale.is_error and "is a video" in text_of(upscale)
    assert fake.jobs_created == before
    assert "animate" not in details["actions"] and "upscale" not in details["actions"]


async def test_an_upscale_is_animated_with_the_prompt_of_the_image_it_came_from(fake: FakeKrea, mode: str) -> None:
    async with apps_client(fake, mode, wait_s=1.0) as client:
        job = await generated(client, width=512, height=512)
        upscaled = await client.call_tool("gallery_upscale", {"job_id": job["job_id"], "index": 0})
        up_id = upscaled.structured_content["job_id"]
        again = await client.call_tool("gallery_upscale", {"job_id": up_id, "index": 0})  # an upscale of an upscale
        animated = await client.call_tool("gallery_animate", {"job_id": up_id, "index": 0})
        details = await client.call_tool("gallery_details", {"job_id": again.structured_content["job_id"]})
    assert animated.is_error is False, text_of(animated)
    assert fake.jobs[animated.structured_content["job_id"]].body["prompt"] == "a lighthouse at dusk"
    assert details.structured_content["prompt"] == "a lighthouse at dusk"


async def test_requests_are_remembered_only_for_a_client_that_shows_the_gallery(fake: FakeKrea, mode: str) -> None:
    from krea_mcp.server import gallery

    def remembered() -> int:
        import gc

        gc.collect()  # the stores of servers gone since are counted no more, whenever the collector runs
        return sum(len(store._items) for store in list(gallery._requests.values()))

    async with connect(fake, mode=mode) as plain:
        before = remembered()
        await generated(plain)
        assert remembered() == before
    async with apps_client(fake, mode) as client:
        before = remembered()
        await generated(client)
        assert remembered() == before + 1


async def test_the_details_say_which_actions_can_work_here(fake: FakeKrea, mode: str) -> None:
    async with apps_client(fake, mode, tools=["generate", "jobs"], http_auth="bearer-passthrough") as client:
        job = await generated(client)
        details = (await client.call_tool("gallery_details", {"job_id": job["job_id"]})).structured_content
    assert details["actions"] == ["copy", "open", "vary"]  # no enhance, no video, no saving for many users
