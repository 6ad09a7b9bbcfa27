"""Tests for the in-memory Krea API emulator (krea_mcp.fake_api)."""

from __future__ import annotations

import io
from datetime import timedelta
from typing import Any

import httpx
import pytest
from PIL import Image
from starlette.applications import Starlette

from krea_mcp.fake_api import FakeKrea, create_app
from krea_mcp.fake_api._png import PNG_SIGNATURE, encode_png, labelled_image, png_dimensions
from tests.helpers import FLUX, TOKEN, FakeClock, free_port, running
from tests.helpers import open_client as _client
from tests.helpers import status as _status
from tests.helpers import submit as _submit
from tests.helpers import when as _when

pytestmark = pytest.mark.anyio

ZIMAGE = "/generate/image/z-image/z-image"
JOB_FIELDS = {"job_id", "status", "created_at", "completed_at", "result"}


# --- generate: validation and errors --------------------------------------------------------------------------


async def test_valid_body_returns_the_five_job_fields(client: httpx.AsyncClient, fake: FakeKrea) -> None:
    job = await _submit(client)
    assert set(job) == JOB_FIELDS
    assert job["status"] == "queued"
    assert job["completed_at"] is None and job["result"] is None
    assert job["created_at"].endswith("Z") and len(job["created_at"]) == len("2026-01-01T00:00:00.000Z")
    assert job["job_id"] in fake.jobs
    assert (fake.generate_posts, fake.jobs_created) == (1, 1)


@pytest.mark.parametrize(
    ("path", "body", "expected"),
    [
        (FLUX, {"prompt": "x", "width": 100}, "width: 100 is less than the minimum of 512"),
        (FLUX, {"prompt": "x", "num_images": 2}, "'num_images' was unexpected"),
        (FLUX, {"prompt": "x" * 1801}, "prompt: must be at most 1800 characters long (got 1801)"),
        (FLUX, {"prompt": "x", "image_url": "not a url"}, "image_url: 'not a url' is not a 'uri'"),
        (ZIMAGE, {"prompt": "x", "resolution": "1K"}, "'aspect_ratio' is a required property"),
        (ZIMAGE, {"prompt": "x", "aspect_ratio": "7:1", "resolution": "1K"}, "aspect_ratio: '7:1' is not one of"),
        ("/generate/image/openai/gpt-image", {"prompt": "x", "quality": "ultra"}, "quality: 'ultra' is not one of"),
        (
            "/generate/image/runway/gen-4-image",
            {"prompt": "x", "reference_images": [{"url": "https://e.x/a.png", "tag": "Bad"}]},
            "reference_images[0].tag: 'Bad' does not match",
        ),
    ],
)
async def test_invalid_bodies_are_rejected_with_the_schema_message(
    client: httpx.AsyncClient, fake: FakeKrea, path: str, body: dict[str, Any], expected: str
) -> None:
    response = await client.post(path, json=body)
    assert response.status_code == 400
    error = response.json()["error"]
    assert error.startswith("Invalid request body: ")
    assert expected in error
    assert (fake.generate_posts, fake.jobs_created) == (1, 0)


@pytest.mark.parametrize("content", [b"not json", b"[1, 2]", b'"prompt"'])
async def test_non_object_bodies_are_rejected(client: httpx.AsyncClient, content: bytes) -> None:
    response = await client.post(FLUX, content=content, headers={"Content-Type": "application/json"})
    assert response.status_code == 400
    assert "error" in response.json()


@pytest.mark.parametrize("headers", [{}, {"Authorization": "Bearer wrong"}, {"Authorization": f"Basic {TOKEN}"}])
async def test_missing_or_wrong_token_is_401(fake: FakeKrea, headers: dict[str, str]) -> None:
    async with httpx.AsyncClient(transport=fake.transport(), base_url=fake.base_url, headers=headers) as c:
        for response in (await c.post(FLUX, json={"prompt": "x"}), await c.get("/jobs"), await c.get("/jobs/x")):
            assert response.status_code == 401
            assert response.json() == {"error": "Unauthorized: missing or invalid API token"}
    assert fake.jobs_created == 0
    assert fake.generate_posts == 1


async def test_without_a_configured_token_any_bearer_is_accepted(clock: FakeClock) -> None:
    fake = FakeKrea(clock=clock)
    async with _client(fake, token="anything") as c:
        assert (await c.post(FLUX, json={"prompt": "x"})).status_code == 200
    async with _client(fake, token=None) as c:
        assert (await c.get("/jobs")).status_code == 401


async def test_unknown_model_is_404(client: httpx.AsyncClient) -> None:
    response = await client.post("/generate/image/acme/imaginary", json={"prompt": "x"})
    assert response.status_code == 404
    assert response.json() == {"error": "Model not found: acme/imaginary"}


async def test_sunset_model_is_410_with_replacement(client: httpx.AsyncClient, fake: FakeKrea) -> None:
    response = await client.post("/generate/image/bytedance/seedream-3", json={"prompt": "x"})
    assert response.status_code == 410
    body = response.json()
    assert body["error"] == "model_unavailable"
    assert body["reason"] == "deprecated"
    assert body["sunset_date"] == "2026-05-13"
    assert body["replacement"] == "bytedance/seedream-5-lite"
    assert body["migration_url"].startswith("https://")
    assert "bytedance/seedream-3" in body["message"] and "bytedance/seedream-5-lite" in body["message"]
    assert fake.jobs_created == 0


async def test_out_of_credits_switch_answers_402(client: httpx.AsyncClient, fake: FakeKrea) -> None:
    fake.out_of_credits = True
    response = await client.post(FLUX, json={"prompt": "x"})
    assert response.status_code == 402
    assert response.json()["error"].startswith("Insufficient credits")
    fake.out_of_credits = False
    assert (await client.post(FLUX, json={"prompt": "x"})).status_code == 200
    assert (fake.generate_posts, fake.jobs_created) == (2, 1)


# --- job timeline ---------------------------------------------------------------------------------------------


async def test_status_walk_to_completed_with_a_downloadable_png(
    client: httpx.AsyncClient, fake: FakeKrea, clock: FakeClock
) -> None:
    job = await _submit(client, prompt="a lighthouse at dusk")
    seen = []
    for at in (0.5, 1.0, 3.0, 5.0, 7.0):  # flux-1-dev takes 7 s: fractions 0.07, 0.14, 0.43, 0.71, 1.0
        clock.now = 1000.0 + at
        seen.append((await _status(client, job["job_id"]))["status"])
    assert seen == ["queued", "scheduled", "processing", "sampling", "completed"]

    done = await _status(client, job["job_id"])
    assert _when(done["completed_at"]) - _when(done["created_at"]) == timedelta(seconds=7)
    (url,) = done["result"]["urls"]
    assert url == f"{fake.base_url}/_fake/images/{job['job_id']}/0.png"

    async with httpx.AsyncClient(transport=fake.transport()) as anonymous:  # downloads need no token
        image = await anonymous.get(url)
    assert image.status_code == 200
    assert image.headers["content-type"] == "image/png"
    assert image.content.startswith(PNG_SIGNATURE)
    assert png_dimensions(image.content) == (1024, 1024)  # the body named no size: the model's default
    with Image.open(io.BytesIO(image.content)) as decoded:
        decoded.load()
        assert decoded.size == (1024, 1024)
        assert decoded.mode == "RGB"
    assert image.content == labelled_image("a lighthouse at dusk", "bfl/flux-1-dev", 1024, 1024)
    assert image.content != labelled_image("a different prompt", "bfl/flux-1-dev", 1024, 1024)


@pytest.mark.parametrize(
    ("model", "body", "size"),
    [
        ("bfl/flux-1-dev", {"width": 1344, "height": 768}, (1344, 768)),
        ("z-image/z-image", {"aspect_ratio": "9:16", "resolution": "1K"}, (576, 1024)),
        ("google/nano-banana-pro", {"aspect_ratio": "21:9", "resolution": "2K"}, (2048, 878)),
        ("krea/krea-2/large", {"aspect_ratio": "2.35:1", "resolution": "1K"}, (1024, 436)),
    ],
)
async def test_placeholder_images_have_the_requested_size(
    clock: FakeClock, model: str, body: dict[str, Any], size: tuple[int, int]
) -> None:
    fake = FakeKrea(token=TOKEN, clock=clock, job_duration_s=0)
    async with _client(fake) as c:
        job = (await c.post(f"/generate/image/{model}", json={"prompt": "a lighthouse", **body})).json()
        done = await _status(c, job["job_id"])
        png = (await c.get(done["result"]["urls"][0])).content
    assert png_dimensions(png) == size


async def test_image_urls_404_for_unknown_or_unfinished_jobs(client: httpx.AsyncClient) -> None:
    job = await _submit(client)
    assert (await client.get(f"/_fake/images/{job['job_id']}/0.png")).status_code == 404
    assert (await client.get("/_fake/images/nope/0.png")).status_code == 404


async def test_zero_duration_jobs_complete_immediately(clock: FakeClock) -> None:
    fake = FakeKrea(token=TOKEN, clock=clock, job_duration_s=0, image_size=(32, 16))
    async with _client(fake) as c:
        job = await _submit(c)
        assert job["status"] == "queued" and job["result"] is None  # the create response is always pending
        done = await _status(c, job["job_id"])
        assert done["status"] == "completed"
        assert done["completed_at"] == done["created_at"]
        png = (await c.get(done["result"]["urls"][0])).content
    assert png_dimensions(png) == (32, 16)


async def test_time_scale_stretches_typical_duration(clock: FakeClock) -> None:
    fake = FakeKrea(token=TOKEN, clock=clock, time_scale=0.5)
    async with _client(fake) as c:
        job = await _submit(c)
        clock.advance(3.5)
        assert (await _status(c, job["job_id"]))["status"] == "completed"


async def test_fail_next_jobs(client: httpx.AsyncClient, fake: FakeKrea, clock: FakeClock) -> None:
    fake.fail_next_jobs()
    fake.fail_next_jobs(1, error="Provider error: upstream timeout")
    jobs = [await _submit(client) for _ in range(3)]
    clock.advance(7)
    results = [await _status(client, job["job_id"]) for job in jobs]
    assert [r["status"] for r in results] == ["failed", "failed", "completed"]
    assert results[0]["result"] == {"error": "Content moderation: the prompt was flagged"}
    assert results[1]["result"] == {"error": "Provider error: upstream timeout"}
    assert results[0]["completed_at"] is not None


async def test_stalled_jobs_stay_processing(client: httpx.AsyncClient, fake: FakeKrea, clock: FakeClock) -> None:
    fake.stall_next_jobs()
    stalled, normal = await _submit(client), await _submit(client)
    clock.advance(10_000)
    assert (await _status(client, stalled["job_id"]))["status"] == "processing"
    assert (await _status(client, normal["job_id"]))["status"] == "completed"


# --- DELETE /jobs/{id} ----------------------------------------------------------------------------------------


async def test_delete_running_job_cancels_it(client: httpx.AsyncClient, clock: FakeClock) -> None:
    job = await _submit(client)
    clock.advance(3)
    response = await client.delete(f"/jobs/{job['job_id']}")
    assert response.status_code == 200
    cancelled = response.json()
    assert cancelled["status"] == "cancelled"
    assert _when(cancelled["completed_at"]) - _when(cancelled["created_at"]) == timedelta(seconds=3)
    assert cancelled["result"] is None
    clock.advance(100)
    assert await _status(client, job["job_id"]) == cancelled


async def test_delete_terminal_job_leaves_it_unchanged(client: httpx.AsyncClient, clock: FakeClock) -> None:
    job = await _submit(client)
    clock.advance(8)
    before = await _status(client, job["job_id"])
    response = await client.delete(f"/jobs/{job['job_id']}")
    assert response.status_code == 200
    assert response.json() == before
    assert before["status"] == "completed"


async def test_delete_unknown_job_is_404(client: httpx.AsyncClient) -> None:
    response = await client.delete("/jobs/00000000-0000-0000-0000-000000000000")
    assert response.status_code == 404
    assert response.json() == {"error": "Job not found"}
    assert (await client.get("/jobs/00000000-0000-0000-0000-000000000000")).status_code == 404


# --- concurrency and backlog ----------------------------------------------------------------------------------


async def test_concurrency_backlog_and_429(clock: FakeClock) -> None:
    fake = FakeKrea(token=TOKEN, clock=clock, concurrency=1, backlog=1)
    async with _client(fake) as c:
        first, second = await _submit(c), await _submit(c)
        assert (first["status"], second["status"]) == ("queued", "backlogged")
        third = await c.post(FLUX, json={"prompt": "x"})
        assert third.status_code == 429
        assert third.json()["error"].startswith("Too many concurrent jobs")
        assert (fake.generate_posts, fake.jobs_created) == (3, 2)

        clock.advance(6.9)
        assert (await _status(c, second["job_id"]))["status"] == "backlogged"
        clock.advance(0.2)  # t = 7.1: the first finished at 7, the second started then
        assert (await _status(c, first["job_id"]))["status"] == "completed"
        assert (await _status(c, second["job_id"]))["status"] == "queued"
        clock.advance(7)
        done = await _status(c, second["job_id"])
        assert done["status"] == "completed"
        assert _when(done["completed_at"]) - _when(first["created_at"]) == timedelta(seconds=14)


async def test_cancelling_the_running_job_starts_the_backlogged_one(clock: FakeClock) -> None:
    fake = FakeKrea(token=TOKEN, clock=clock, concurrency=1)
    async with _client(fake) as c:
        first, second = await _submit(c), await _submit(c)
        clock.advance(2)
        await c.delete(f"/jobs/{first['job_id']}")
        assert (await _status(c, second["job_id"]))["status"] == "queued"
        clock.advance(7)
        assert (await _status(c, second["job_id"]))["status"] == "completed"


async def test_backlog_zero_refuses_only_jobs_that_would_wait(clock: FakeClock) -> None:
    fake = FakeKrea(token=TOKEN, clock=clock, concurrency=2, backlog=0)
    async with _client(fake) as c:
        await _submit(c)
        await _submit(c)
        assert (await c.post(FLUX, json={"prompt": "x"})).status_code == 429
        clock.advance(7)
        await _submit(c)


# --- GET /jobs ------------------------------------------------------------------------------------------------


async def test_list_jobs_pages_newest_first(client: httpx.AsyncClient, clock: FakeClock) -> None:
    created = []
    for i in range(5):
        created.append((await _submit(client, prompt=f"p{i}"))["job_id"])
        clock.advance(1)
    seen: list[str] = []
    cursor = None
    for expected_size in (2, 2, 1):
        params = {"limit": "2"} | ({"cursor": cursor} if cursor else {})
        page = (await client.get("/jobs", params=params)).json()
        assert set(page) == {"items", "next_cursor"}
        assert len(page["items"]) == expected_size
        seen += [item["job_id"] for item in page["items"]]
        cursor = page["next_cursor"]
    assert cursor is None
    assert seen == created[::-1]


async def test_list_jobs_filters_by_status_and_type(client: httpx.AsyncClient, clock: FakeClock) -> None:
    old = await _submit(client)
    clock.advance(7)
    new = await _submit(client)
    done = (await client.get("/jobs", params={"status": "completed"})).json()["items"]
    queued = (await client.get("/jobs", params={"status": "queued"})).json()["items"]
    assert [j["job_id"] for j in done] == [old["job_id"]]
    assert [j["job_id"] for j in queued] == [new["job_id"]]
    assert len((await client.get("/jobs", params={"types": "externalImage,flux"})).json()["items"]) == 2
    assert (await client.get("/jobs", params={"types": "k1"})).json()["items"] == []


async def test_jobs_created_in_the_same_instant_still_paginate(client: httpx.AsyncClient) -> None:
    ids = {(await _submit(client))["job_id"] for _ in range(3)}  # the fake clock does not move
    first = (await client.get("/jobs", params={"limit": "2"})).json()
    rest = (await client.get("/jobs", params={"limit": "2", "cursor": first["next_cursor"]})).json()
    assert {j["job_id"] for j in first["items"] + rest["items"]} == ids


@pytest.mark.parametrize(
    "params", [{"limit": "0"}, {"limit": "1001"}, {"limit": "ten"}, {"cursor": "yesterday"}, {"status": "done"}]
)
async def test_list_jobs_rejects_invalid_queries(client: httpx.AsyncClient, params: dict[str, str]) -> None:
    response = await client.get("/jobs", params=params)
    assert response.status_code == 400
    assert response.json() == {"error": "Invalid query parameters"}


# --- assets ---------------------------------------------------------------------------------------------------


async def test_asset_upload_happy_path(client: httpx.AsyncClient, fake: FakeKrea) -> None:
    png = encode_png(3, 2, [b"\x10\x20\x30" * 3] * 2)
    response = await client.post(
        "/assets", files={"file": ("in.png", png, "image/png")}, data={"description": "reference"}
    )
    assert response.status_code == 200, response.text
    asset = response.json()
    assert asset["image_url"] == f"{fake.base_url}/_fake/assets/{asset['id']}"
    assert (asset["width"], asset["height"], asset["size_bytes"]) == (3, 2, len(png))
    assert (asset["mime_type"], asset["description"]) == ("image/png", "reference")
    assert asset["uploaded_at"].endswith("Z")

    async with httpx.AsyncClient(transport=fake.transport()) as anonymous:
        served = await anonymous.get(asset["image_url"])
    assert served.status_code == 200
    assert served.content == png
    assert served.headers["content-type"] == "image/png"

    assert (await client.get(f"/assets/{asset['id']}")).json() == asset
    assert (await client.get("/assets")).json() == {"items": [asset], "next_cursor": None}
    deleted = await client.delete(f"/assets/{asset['id']}")
    assert deleted.json()["success"] is True
    assert (await client.get(f"/assets/{asset['id']}")).status_code == 404


async def test_asset_type_is_sniffed_when_generic(client: httpx.AsyncClient) -> None:
    jpeg = b"\xff\xd8\xff\xe0" + b"\x00" * 64
    response = await client.post("/assets", files={"file": ("x.bin", jpeg, "application/octet-stream")})
    assert response.status_code == 200
    assert response.json()["mime_type"] == "image/jpeg"
    assert response.json()["width"] is None


@pytest.mark.parametrize(
    ("content", "mime"),
    [(b"hello", "text/plain"), (b"just bytes", "application/octet-stream"), (b"", "image/png")],
)
async def test_asset_wrong_type_is_400(client: httpx.AsyncClient, fake: FakeKrea, content: bytes, mime: str) -> None:
    response = await client.post("/assets", files={"file": ("x", content, mime)})
    assert response.status_code == 400
    assert response.json() == {"error": "Invalid file type or size"}
    assert fake.assets == {}


async def test_asset_too_large_is_400(client: httpx.AsyncClient, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("krea_mcp.fake_api._app.MAX_ASSET_BYTES", 10)
    response = await client.post("/assets", files={"file": ("x.png", PNG_SIGNATURE + b"\x00" * 8, "image/png")})
    assert response.status_code == 400


async def test_asset_upload_without_file_is_400(client: httpx.AsyncClient) -> None:
    response = await client.post("/assets", data={"description": "no file"})
    assert response.status_code == 400


# --- bookkeeping ----------------------------------------------------------------------------------------------


async def test_requests_are_recorded_in_order(client: httpx.AsyncClient, fake: FakeKrea) -> None:
    job = await _submit(client)
    await client.get(f"/jobs/{job['job_id']}", params={"x": "1"})
    await client.get("/no/such/route")
    assert fake.requests == [("POST", FLUX), ("GET", f"/jobs/{job['job_id']}"), ("GET", "/no/such/route")]


def test_create_app_returns_a_starlette_app() -> None:
    assert isinstance(create_app(token="t"), Starlette)


def test_png_encoder_round_trip() -> None:
    rows = [bytes([x * 40, y * 80, 7]) for y in range(3) for x in range(1)]
    png = encode_png(1, 3, rows)
    assert png_dimensions(png) == (1, 3)
    with Image.open(io.BytesIO(png)) as decoded:
        assert [decoded.getpixel((0, y)) for y in range(3)] == [(0, 0, 7), (0, 80, 7), (0, 160, 7)]
    with pytest.raises(ValueError):
        encode_png(2, 3, rows)
    assert png_dimensions(b"GIF89a") is None


# --- standalone server ----------------------------------------------------------------------------------------


def test_standalone_server_serves_generate_and_get() -> None:
    port = free_port()
    base_url = f"http://127.0.0.1:{port}"
    args = ["-m", "krea_mcp.fake_api", "--port", str(port), "--token", "t0k", "--job-duration", "0"]
    with running(args, port), httpx.Client(base_url=base_url, headers={"Authorization": "Bearer t0k"}, timeout=5) as c:
        created = c.post(FLUX, json={"prompt": "over the wire"})
        assert created.status_code == 200, created.text
        job = c.get(f"/jobs/{created.json()['job_id']}").json()
        assert job["status"] == "completed"
        assert job["result"]["urls"][0].startswith(f"{base_url}/_fake/images/")
        assert c.get(job["result"]["urls"][0]).content.startswith(PNG_SIGNATURE)
        assert c.get("/jobs", headers={"Authorization": "Bearer nope"}).status_code == 401
