"""The emulator's enhance jobs, styles library and style training, through plain HTTP (issue 13, item 4)."""

from __future__ import annotations

import importlib.util
from pathlib import Path
from typing import Any

import httpx
import pytest

from krea_mcp.fake_api import FakeKrea
from krea_mcp.fake_api._png import flat_image, png_dimensions
from tests.helpers import FLUX, TOKEN, FakeClock, open_client
from tests.helpers import status as _status

pytestmark = pytest.mark.anyio

REPO = Path(__file__).resolve().parents[2]
SPEC = REPO.parent / "shared" / "krea-openapi.json"

ENHANCE = "/generate/enhance/topaz/"
SOURCE = "https://example.com/photo.png"
TRAIN = "/styles/train"
ZIMAGE = "/generate/image/z-image/z-image"
BODIES: dict[str, dict[str, Any]] = {
    "generative-enhance": {"image_url": SOURCE, "width": 3000, "height": 2000},
    "standard-enhance": {"image_url": SOURCE, "width": 1536, "height": 1024, "model": "Standard V2"},
    "bloom-enhance": {"image_url": SOURCE, "width": 1200, "height": 1800, "model": "Reimagine"},
}


async def _finish(client: httpx.AsyncClient, clock: FakeClock, job_id: str, seconds: float = 60) -> dict[str, Any]:
    clock.advance(seconds)
    job = await _status(client, job_id)
    assert job["status"] == "completed", job
    return job


async def _styles(client: httpx.AsyncClient, **params: Any) -> dict[str, Any]:
    response = await client.get("/styles", params=params)
    assert response.status_code == 200, response.text
    page: dict[str, Any] = response.json()
    return page


def _titles(page: dict[str, Any]) -> set[str]:
    return {item["title"] for item in page["items"]}


@pytest.mark.skipif(not SPEC.exists(), reason=f"Krea's OpenAPI document is not at {SPEC}")
def test_operations_json_is_what_the_generator_emits(tmp_path: Path) -> None:
    """The emulator's enhance and training schemas are the spec's, as ``scripts/gen_catalog.py`` writes them."""
    spec = importlib.util.spec_from_file_location("gen_catalog", REPO / "scripts" / "gen_catalog.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    out = tmp_path / "operations.json"
    module.main([str(SPEC), "--kinds", "enhance,style-training", "--out", str(out)])
    assert out.read_bytes() == (REPO / "src" / "krea_mcp" / "fake_api" / "operations.json").read_bytes()


# --- enhance ----------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("enhancer", sorted(BODIES))
async def test_enhance_job_result_has_exactly_the_requested_size(
    client: httpx.AsyncClient, clock: FakeClock, enhancer: str
) -> None:
    body = BODIES[enhancer]
    response = await client.post(ENHANCE + enhancer, json=body)
    assert response.status_code == 200, response.text
    created = response.json()
    assert created["status"] == "queued" and created["result"] is None
    assert (await _status(client, created["job_id"]))["status"] != "completed"
    job = await _finish(client, clock, created["job_id"])
    (url,) = job["result"]["urls"]
    image = await client.get(url)
    assert image.status_code == 200
    assert png_dimensions(image.content) == (body["width"], body["height"])


async def test_enhance_accepts_fractional_sizes_and_huge_outputs(client: httpx.AsyncClient, clock: FakeClock) -> None:
    body = {"image_url": SOURCE, "width": 640.4, "height": 480}
    response = await client.post(ENHANCE + "generative-enhance", json=body)
    job = await _finish(client, clock, response.json()["job_id"])
    assert png_dimensions((await client.get(job["result"]["urls"][0])).content) == (640, 480)
    big = flat_image("x", 16000, 9000)  # a 16K output is streamed flat, small on the wire
    assert png_dimensions(big) == (16000, 9000) and len(big) < 4_000_000


@pytest.mark.parametrize(
    ("enhancer", "body", "expected"),
    [
        ("generative-enhance", {"image_url": SOURCE, "width": 100}, "'height' is a required property"),
        ("standard-enhance", {"image_url": SOURCE, "width": 100, "height": 100}, "'model' is a required property"),
        ("bloom-enhance", {**BODIES["bloom-enhance"], "width": 12000}, "width: 12000 is greater than the maximum"),
        ("bloom-enhance", {**BODIES["bloom-enhance"], "model": "Standard V2"}, "model: 'Reimagine' was expected"),
        ("generative-enhance", {**BODIES["generative-enhance"], "image_scaling_factor": 64}, "image_scaling_factor"),
        ("generative-enhance", {**BODIES["generative-enhance"], "texture": 9}, "texture: 9 is greater than"),
        ("standard-enhance", {**BODIES["standard-enhance"], "nonsense": 1}, "'nonsense' was unexpected"),
        ("generative-enhance", {**BODIES["generative-enhance"], "image_url": "not a url"}, "is not a 'uri'"),
    ],
)
async def test_bad_enhance_bodies_are_400_with_krea_error_shape(
    client: httpx.AsyncClient, fake: FakeKrea, enhancer: str, body: dict[str, Any], expected: str
) -> None:
    response = await client.post(ENHANCE + enhancer, json=body)
    assert response.status_code == 400
    assert set(response.json()) == {"error"}
    assert response.json()["error"].startswith("Invalid request body: ")
    assert expected in response.json()["error"]
    assert fake.jobs_created == 0


@pytest.mark.parametrize("path", ["topaz/super-enhance", "krea/nope", "bfl/flux-1-dev"])
async def test_unknown_enhance_path_is_404(client: httpx.AsyncClient, path: str) -> None:
    response = await client.post(ENHANCE.replace("topaz/", "") + path, json=BODIES["generative-enhance"])
    assert response.status_code == 404
    assert path in response.json()["error"]


async def test_enhance_honours_credits_and_non_object_bodies(client: httpx.AsyncClient, fake: FakeKrea) -> None:
    bad = await client.post(ENHANCE + "bloom-enhance", content=b"[1]", headers={"Content-Type": "application/json"})
    assert bad.status_code == 400
    fake.out_of_credits = True
    assert (await client.post(ENHANCE + "bloom-enhance", json=BODIES["bloom-enhance"])).status_code == 402
    assert (await client.post(TRAIN, json={"name": "x", "urls": [SOURCE]})).status_code == 402


# --- styles library ---------------------------------------------------------------------------------------------


async def test_library_holds_krea_community_and_own_styles_shaped_as_the_spec(client: httpx.AsyncClient) -> None:
    page = await _styles(client)
    assert page["next_cursor"] is None
    required = {"id", "title", "urls", "public", "prompt", "owner", "like_count", "created_at"}
    for item in page["items"]:
        assert required <= set(item) and item["models"] and item["urls"] and item["prompt"]
    by_title = {item["title"]: item for item in page["items"]}
    assert by_title["Krea Watercolor"]["owner"] is None and by_title["Krea Watercolor"]["public"]
    assert by_title["Neon Tokyo"]["owner"]["name"] == "Kenji Mori" and by_title["Neon Tokyo"]["public"]
    assert by_title["Our Brand Look"]["public"] is False and by_title["Our Brand Look"]["owner"] is not None
    assert "Team Mascot" in by_title  # shared with the workspace
    assert "Private Experiment" not in by_title  # a stranger's private style
    created = [item["created_at"] for item in page["items"]]
    assert created == sorted(created, reverse=True)  # newest first
    preview = await client.get(by_title["Neon Tokyo"]["urls"][0])
    assert preview.status_code == 200 and png_dimensions(preview.content) == (384, 512)


@pytest.mark.parametrize(
    ("params", "expected"),
    [
        ({"filter": "krea"}, {"Krea Watercolor", "Krea Film Noir", "Krea Claymation", "Krea Isometric"}),
        ({"filter": "community"}, {"Risograph Print", "Neon Tokyo", "Botanical Ink", "Pixel Quest"}),
        ({"filter": "user"}, {"Our Brand Look", "My Sketchbook"}),
        ({"filter": "shared"}, {"Team Mascot"}),
        ({"filter": "unapproved"}, set()),
        ({"liked": "true"}, {"Krea Watercolor", "Risograph Print"}),
        ({"filter": "community", "model": "wan"}, {"Neon Tokyo"}),
        ({"model": "z-image"}, {"Krea Isometric", "Pixel Quest"}),
        ({"filter": "krea", "model": "qwen"}, {"Krea Claymation"}),
    ],
)
async def test_styles_filters(client: httpx.AsyncClient, params: dict[str, str], expected: set[str]) -> None:
    assert _titles(await _styles(client, **params)) == expected


async def test_public_filter_and_ids_and_user(client: httpx.AsyncClient) -> None:
    public = await _styles(client, filter="public")
    assert all(item["public"] for item in public["items"]) and len(public["items"]) == 8
    chosen = [public["items"][0]["id"], public["items"][3]["id"]]
    assert {i["id"] for i in (await _styles(client, ids=",".join(chosen)))["items"]} == set(chosen)
    neon = next(i for i in public["items"] if i["title"] == "Neon Tokyo")
    assert _titles(await _styles(client, user=neon["owner"]["id"])) == {"Neon Tokyo"}


async def test_styles_pagination_walks_every_style_once(client: httpx.AsyncClient) -> None:
    everything = _titles(await _styles(client))
    seen: list[str] = []
    params: dict[str, Any] = {"limit": 3}
    pages = 0
    while True:
        page = await _styles(client, **params)
        pages += 1
        assert len(page["items"]) <= 3
        seen += [item["title"] for item in page["items"]]
        if page["next_cursor"] is None:
            break
        params["cursor"] = page["next_cursor"]
    assert sorted(seen) == sorted(everything) and pages == 4


@pytest.mark.parametrize(
    "params", [{"limit": 0}, {"limit": 1001}, {"limit": "x"}, {"filter": "mine"}, {"liked": "maybe"}, {"cursor": "no"}]
)
async def test_bad_styles_queries_are_400(client: httpx.AsyncClient, params: dict[str, Any]) -> None:
    response = await client.get("/styles", params=params)
    assert response.status_code == 400 and set(response.json()) == {"error"}


async def test_get_style_by_id_and_404s(client: httpx.AsyncClient, fake: FakeKrea) -> None:
    mine = (await _styles(client, filter="user"))["items"][0]
    response = await client.get(f"/styles/{mine['id']}")
    assert response.status_code == 200 and response.json() == mine
    stranger = next(s for s in fake.styles.styles.values() if s.title == "Private Experiment")
    for style_id in ("00000000-0000-4000-8000-000000000000", stranger.style_id):
        missing = await client.get(f"/styles/{style_id}")
        assert missing.status_code == 404 and missing.json() == {"error": "Style not found"}


async def test_a_shared_style_is_listed_and_usable_but_not_shown_by_id(client: httpx.AsyncClient) -> None:
    """The spec: GET /styles/{id} "Returns public styles or your own private styles". A teammate's style shared
    with the workspace answers 404 there, while the listing shows it (filter=shared, ids=) and generation takes it."""
    shared = (await _styles(client, filter="shared"))["items"]
    assert [item["title"] for item in shared] == ["Team Mascot"]
    team = shared[0]["id"]
    assert (await client.get(f"/styles/{team}")).status_code == 404
    assert [i["id"] for i in (await _styles(client, ids=team))["items"]] == [team]
    assert [i["id"] for i in (await _styles(client, filter="shared", ids=team))["items"]] == [team]
    used = await client.post(FLUX, json={"prompt": "a fox", "styles": [{"id": team, "strength": 1}]})
    assert used.status_code == 200, used.text


async def test_each_user_sees_only_their_own_private_styles(clock: FakeClock) -> None:
    fake = FakeKrea(token=["alice", "bob"], clock=clock)
    async with open_client(fake, token="alice") as alice, open_client(fake, token="bob") as bob:
        assert _titles(await _styles(alice, filter="user")) == {"Our Brand Look", "My Sketchbook"}
        assert _titles(await _styles(bob, filter="user")) == set()
        brand = (await _styles(alice, filter="user"))["items"][0]["id"]
        assert (await bob.get(f"/styles/{brand}")).status_code == 404
        body = {"prompt": "x", "styles": [{"id": brand, "strength": 1}]}
        assert (await alice.post(FLUX, json=body)).status_code == 200
        refused = await bob.post(FLUX, json=body)
        assert refused.status_code == 400 and brand in refused.json()["error"]
        assert _titles(await _styles(bob, filter="shared")) == {"Team Mascot"}


# --- styles in generation bodies --------------------------------------------------------------------------------


async def test_generation_accepts_usable_styles_and_names_a_bad_id(client: httpx.AsyncClient, fake: FakeKrea) -> None:
    page = await _styles(client)
    ids = {item["title"]: item["id"] for item in page["items"]}
    for title in ("Krea Watercolor", "Neon Tokyo", "Our Brand Look", "Team Mascot"):
        body = {"prompt": "a fox", "styles": [{"id": ids[title], "strength": 0.8}]}
        assert (await client.post(FLUX, json=body)).status_code == 200, title
    zimage: dict[str, Any] = {"prompt": "a fox", "aspect_ratio": "1:1", "resolution": "1K"}
    zimage["styles"] = [{"id": ids["Pixel Quest"], "strength": -1.5}]
    assert (await client.post(ZIMAGE, json=zimage)).status_code == 200
    stranger = next(s for s in fake.styles.styles.values() if s.title == "Private Experiment").style_id
    for bad in ("no-such-style", stranger):
        styles = [{"id": ids["Krea Watercolor"], "strength": 1}, {"id": bad, "strength": 1}]
        response = await client.post(FLUX, json={"prompt": "a fox", "styles": styles})
        assert response.status_code == 400
        assert response.json() == {"error": f"Style not found or not accessible: {bad}"}
    out_of_range = await client.post(FLUX, json={"prompt": "x", "styles": [{"id": ids["Neon Tokyo"], "strength": 3}]})
    assert out_of_range.status_code == 400 and "strength" in out_of_range.json()["error"]
    assert fake.jobs_created == 5


# --- training ---------------------------------------------------------------------------------------------------


async def test_training_ends_with_a_style_the_caller_owns_and_can_use(
    client: httpx.AsyncClient, clock: FakeClock, fake: FakeKrea
) -> None:
    body = {"name": "Studio Look", "urls": [SOURCE, "https://example.com/b.jpg"], "trigger_word": "stdlk"}
    response = await client.post(TRAIN, json={**body, "max_train_steps": 500})
    assert response.status_code == 200, response.text
    created = response.json()
    assert set(created) == {"job_id", "status", "created_at", "completed_at", "result"} and created["result"] is None
    clock.advance(60)
    running = await _status(client, created["job_id"])
    assert running["status"] not in ("completed", "failed") and running["type"] == "loraTraining"
    assert "Studio Look" not in _titles(await _styles(client, filter="user"))
    job = await _finish(client, clock, created["job_id"], seconds=2000)
    style_id = job["result"]["style_id"]
    assert "urls" not in job["result"]
    mine = {item["id"]: item for item in (await _styles(client, filter="user"))["items"]}
    assert mine[style_id]["title"] == "Studio Look" and mine[style_id]["public"] is False
    assert mine[style_id]["models"] == ["flux_dev"] and mine[style_id]["urls"] == body["urls"]
    assert mine[style_id]["prompt"].startswith("stdlk")
    assert (await client.get(f"/styles/{style_id}")).json()["id"] == style_id
    use = await client.post(FLUX, json={"prompt": "stdlk a chair", "styles": [{"id": style_id, "strength": 1}]})
    assert use.status_code == 200
    assert (await _status(client, created["job_id"]))["result"] == {"style_id": style_id}  # stable
    assert (await client.get(f"/_fake/images/{created['job_id']}/0.png")).status_code == 404


async def test_training_a_qwen_or_z_image_style(client: httpx.AsyncClient, clock: FakeClock) -> None:
    body = {"name": "Qwen Look", "urls": [SOURCE], "model": "qwen", "type": "Character"}
    job_id = (await client.post(TRAIN, json=body)).json()["job_id"]
    style_id = (await _finish(client, clock, job_id, seconds=2000))["result"]["style_id"]
    assert (await client.get(f"/styles/{style_id}")).json()["models"] == ["qwen"]
    assert style_id in {i["id"] for i in (await _styles(client, filter="user", model="qwen"))["items"]}


async def test_a_failed_training_leaves_no_style(client: httpx.AsyncClient, clock: FakeClock, fake: FakeKrea) -> None:
    fake.fail_next_jobs(1, "Training failed: not enough usable images")
    job_id = (await client.post(TRAIN, json={"name": "Doomed", "urls": [SOURCE]})).json()["job_id"]
    clock.advance(2000)
    job = await _status(client, job_id)
    assert job["status"] == "failed" and job["result"] == {"error": "Training failed: not enough usable images"}
    assert "Doomed" not in _titles(await _styles(client, filter="user"))


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        ({"urls": [SOURCE]}, "'name' is a required property"),
        ({"name": "x"}, "'urls' is a required property"),
        ({"name": "x", "urls": [SOURCE], "model": "sdxl"}, "model: 'sdxl' is not one of"),
        ({"name": "x", "urls": [SOURCE], "max_train_steps": 5000}, "max_train_steps: 5000 is greater than"),
        ({"name": "x", "urls": ["not a url"]}, "urls[0]: 'not a url' is not a 'uri'"),
        ({"name": "x", "urls": [SOURCE], "model": "qwen", "type": "Default"}, "type: 'Default' is not one of"),
        ({"name": "x", "urls": [SOURCE], "model": "z-image", "max_train_steps": 0}, "max_train_steps: 0 is less"),
        ({"name": "x", "urls": [SOURCE], "batch_size": 0}, "batch_size: 0 is less than the minimum of 1"),
    ],
)
async def test_bad_training_bodies_are_400_naming_the_field(
    client: httpx.AsyncClient, fake: FakeKrea, body: dict[str, Any], expected: str
) -> None:
    response = await client.post(TRAIN, json=body)
    assert response.status_code == 400
    assert response.json()["error"].startswith("Invalid request body: ")
    assert expected in response.json()["error"]
    assert fake.jobs_created == 0


async def test_training_needs_the_token(fake: FakeKrea) -> None:
    async with open_client(fake, token=None) as anonymous:
        assert (await anonymous.post(TRAIN, json={"name": "x", "urls": [SOURCE]})).status_code == 401
        assert (await anonymous.get("/styles")).status_code == 401
    async with open_client(fake, token=TOKEN) as ok:
        assert (await ok.get("/styles")).status_code == 200


async def test_the_sandbox_caps_long_jobs_and_the_server_expects_the_cap() -> None:
    """A 30-minute training runs 40 s in the sandbox (time_scale 0.3 alone would make it 9 minutes)."""
    from krea_mcp.workflow.assembly import SANDBOX_MAX_JOB_S, SANDBOX_TIME_SCALE, build_service
    from tests.helpers import bare_settings

    fake = FakeKrea(token=TOKEN, time_scale=SANDBOX_TIME_SCALE, max_duration_s=SANDBOX_MAX_JOB_S)
    async with open_client(fake) as client:
        body = {"name": "Look", "urls": ["https://example.com/a.png"]}
        trained = (await client.post(TRAIN, json=body)).json()
        image = (await client.post(FLUX, json={"prompt": "a fox"})).json()
    assert fake.jobs[trained["job_id"]].duration == SANDBOX_MAX_JOB_S
    assert fake.jobs[image["job_id"]].duration == pytest.approx(7.0 * SANDBOX_TIME_SCALE)
    from contextlib import AsyncExitStack

    async with AsyncExitStack() as stack:
        service = await build_service(bare_settings(sandbox=True), stack)
        assert service.typical_s("styles/train") == SANDBOX_MAX_JOB_S
        assert service.typical_s("bfl/flux-1-dev") == pytest.approx(7.0 * SANDBOX_TIME_SCALE)
