"""Style training (issue 13, item 3): train_style starts a paid, slow job; its result is a style_id that
generate_image applies. Through MCP in memory (both eras), and as real stdio children."""

from __future__ import annotations

import base64
import json
import sys
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import anyio
import httpx
import pytest
from mcp import Client, StdioServerParameters

from krea_mcp.catalog.models import load_catalog
from krea_mcp.catalog.training_params import TRAIN_OPERATION, training_bases
from krea_mcp.fake_api import FakeKrea
from krea_mcp.fake_api._png import prompt_image
from krea_mcp.workflow.spend import estimate_usd
from tests.helpers import TOKEN, Around, child_env, connect, free_port, running, text_of

pytestmark = pytest.mark.anyio

PHOTO = "https://example.com/studio-1.png"
PNG = prompt_image("training input", 32, 32)
TRAIN_PATH = "/styles/train"


@pytest.fixture
async def trainer(fake: FakeKrea, mode: str) -> AsyncIterator[Client]:
    """A client of a server offering every tool group (training is not offered by default)."""
    async with connect(fake, mode=mode, tools="all") as client:
        yield client


def trainings(fake: FakeKrea) -> int:
    return sum(1 for method, path in fake.requests if method == "POST" and path == TRAIN_PATH)


async def train(client: Client, **arguments: Any) -> Any:
    return await client.call_tool("train_style", {"name": "Studio Look", "images": [PHOTO], **arguments})


# --- the whole way: train, wait, find it, use it ----------------------------------------------------------------


async def test_a_trained_style_is_listed_as_mine_and_applied_by_generate_image(trainer: Client, fake: FakeKrea) -> None:
    started = await train(trainer, trigger_word="stdlk", steps=1000, type="Style")
    assert started.is_error is False, text_of(started)
    job_id = started.structured_content["job_id"]
    assert started.structured_content["status"] not in ("completed", "failed")  # wait defaults to false
    assert started.structured_content["model"] == TRAIN_OPERATION
    (job,) = fake.jobs.values()
    assert job.body == {
        "name": "Studio Look",
        "urls": [PHOTO],
        "model": "flux_dev",
        "type": "Style",
        "trigger_word": "stdlk",
        "max_train_steps": 1000,
    }

    done = await trainer.call_tool("wait_for_job", {"job_id": job_id})
    assert done.is_error is False, text_of(done)
    style_id = done.structured_content["style_id"]
    assert done.structured_content["status"] == "completed" and done.structured_content["urls"] == []
    text = text_of(done)
    assert text.splitlines()[0].startswith("Style trained") and f"style_id {style_id}." in text
    assert (
        f'Use it: generate_image(prompt="stdlk Studio Look ...", model="flux", '
        f'styles=[{{"id": "{style_id}", "strength": 1.0}}]).'
    ) in text

    mine = await trainer.call_tool("list_styles", {"filter": "mine"})
    row = next(r for r in mine.structured_content["styles"] if r["id"] == style_id)
    assert row["title"] == "Studio Look" and row["models"] == ["flux_dev"]

    used = await trainer.call_tool("generate_image", {"prompt": "stdlk a chair", "styles": [{"id": style_id}]})
    assert used.is_error is False, text_of(used)
    assert f"Styles applied: Studio Look (id {style_id}, strength 1)." in text_of(used)
    assert fake.jobs_created == 2


async def test_get_job_reports_the_style_id_and_the_next_step(trainer: Client) -> None:
    started = await train(trainer, model="qwen", trigger_word="qwn", wait=True)
    assert started.structured_content["status"] == "completed", text_of(started)
    style_id = started.structured_content["style_id"]
    checked = await trainer.call_tool("get_job", {"job_id": started.structured_content["job_id"]})
    assert checked.structured_content["style_id"] == style_id
    assert f'model="qwen", styles=[{{"id": "{style_id}", "strength": 1.0}}]' in text_of(checked)
    jobs = await trainer.call_tool("list_jobs", {})
    assert jobs.structured_content["jobs"][0]["style_id"] == style_id


@pytest.mark.parametrize(
    ("base", "words"),
    [
        ("z-image", 'model="z-image", styles=[{"id": '),
        ("wan22", "is a wan22 style, for Krea's video model alibaba/wan-2.2, which this server does not run"),
        ("flux_schnell", "is for flux_schnell; no image model Krea documents takes it."),
    ],
)
async def test_the_next_step_names_the_model_of_the_styles_base(trainer: Client, base: str, words: str) -> None:
    done = await train(trainer, model=base, wait=True)
    assert done.is_error is False, text_of(done)
    assert words in text_of(done)


async def test_a_failed_training_is_an_error_and_leaves_no_style(trainer: Client, fake: FakeKrea) -> None:
    fake.fail_next_jobs(1, "Training failed: not enough usable images")
    done = await train(trainer, wait=True)
    assert done.is_error is True
    assert "failed: Training failed: not enough usable images. Failed jobs are not charged." in text_of(done)
    assert "style_id" not in done.structured_content


async def test_saving_a_training_result_saves_nothing_and_fails_nothing(fake: FakeKrea, tmp_path: Path) -> None:
    """A training job has no image URLs: delivery (saving, previews) has nothing to do and must not fail."""
    async with connect(fake, tools="all", auto_save=True) as client:
        started = await train(client)
        done = await client.call_tool("wait_for_job", {"job_id": started.structured_content["job_id"]})
    assert done.is_error is False and "files" not in done.structured_content
    saved = tmp_path / "images"  # KREA_OUTPUT_DIR (conftest)
    assert not saved.exists() or not any(saved.iterdir())


# --- what it costs -----------------------------------------------------------------------------------------------


async def test_the_result_states_the_estimate_the_guard_reserves(trainer: Client) -> None:
    started = await train(trainer, steps=1000)
    operation = load_catalog().find(TRAIN_OPERATION, "style-training")
    assert estimate_usd(operation, {"max_train_steps": 1000}) == pytest.approx(20.75)
    assert (
        "Estimated up to $20.75: 1000 steps × up to 8.3 CU at $0.0025/CU (Krea documents 2.4–8.3 CU per step, ~3 "
        "for flux_dev: about $7.50)."
    ) in text_of(started)
    assert "Training takes many minutes" in text_of(started)


async def test_without_steps_the_estimate_assumes_the_most_krea_may_choose(trainer: Client) -> None:
    started = await train(trainer, model="z-image")
    assert (
        "Estimated up to $41.50: Krea chooses the number of steps, so this assumes the most, 2000 steps × up to "
        "8.3 CU at $0.0025/CU (Krea documents 2.4–8.3 CU per step, ~2.4 for z-image: about $12.00)."
    ) in text_of(started)


async def test_a_small_spend_limit_refuses_training_before_any_post_or_upload(fake: FakeKrea, mode: str) -> None:
    Path("face.png").write_bytes(PNG)  # the working directory is an allowed one
    async with connect(fake, mode=mode, tools="all", max_spend_usd=5) as client:
        refused = await client.call_tool("train_style", {"name": "Me", "images": ["face.png"], "steps": 500})
        ok = await client.call_tool("train_style", {"name": "Me", "images": ["face.png"], "steps": 200})
    assert refused.is_error is True
    assert "KREA_MAX_SPEND_USD" in text_of(refused) and "styles/train costs up to ~$10.375" in text_of(refused)
    assert ok.is_error is False, text_of(ok)  # 200 steps: up to $4.15, within the $5
    assert trainings(fake) == 1 and len(fake.assets) == 1


# --- arguments checked before anything is sent ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("arguments", "words"),
    [
        (
            {"model": "qwen", "type": "Default"},
            "type='Default' is not allowed when training on qwen; allowed: Style, Object, Character.",
        ),
        (
            {"model": "z-image", "type": "Default"},
            "type='Default' is not allowed when training on z-image; allowed: Style, Object, Character.",
        ),
        ({"model": "sdxl"}, "model='sdxl' is not allowed; allowed: flux_dev, flux_schnell, wan, wan22, qwen, z-image."),
        ({"steps": 5000}, "steps=5000 is out of range; allowed: 1 to 2000."),
        ({"images": []}, "images has 0 items; at least 1 are needed."),
        ({"name": "   "}, "name: the style needs a name"),
        ({"images": ["  "]}, "images: empty image reference."),
        ({"max_train_steps": 10}, "'max_train_steps' is not an argument of train_style"),
    ],
)
async def test_bad_training_arguments_are_refused_in_train_styles_own_words(
    trainer: Client, fake: FakeKrea, arguments: dict[str, Any], words: str
) -> None:
    refused = await train(trainer, **arguments)
    assert refused.is_error is True
    assert words in text_of(refused), text_of(refused)
    assert text_of(refused).endswith("Nothing was started or charged.")
    assert trainings(fake) == 0


async def test_default_type_is_fine_for_flux_and_left_to_krea_when_not_given(trainer: Client, fake: FakeKrea) -> None:
    assert (await train(trainer, type="Default")).is_error is False
    assert (await train(trainer, model="qwen")).is_error is False
    first, second = fake.jobs.values()
    assert first.body["type"] == "Default" and "type" not in second.body and second.body["model"] == "qwen"


async def test_train_styles_bases_are_krea_s() -> None:
    """The tool's model choices are exactly the bases Krea's training schema accepts (both body variants)."""
    from krea_mcp.server.style_tools import build
    from tests.helpers import make_settings

    (tool,) = [t for t in build(make_settings()) if t.name == "train_style"]
    enum = tool.parameters["properties"]["model"]["enum"]
    assert enum == training_bases(load_catalog().find(TRAIN_OPERATION, "style-training"))


# --- inputs in any form generate_image takes ----------------------------------------------------------------------


@pytest.mark.parametrize("form", ["path", "file_uri", "data_uri"])
async def test_local_images_and_data_uris_are_uploaded_first(
    fake: FakeKrea, mode: str, tmp_path: Path, form: str
) -> None:
    (tmp_path / "face.png").write_bytes(PNG)
    ref = {
        "path": "face.png",
        "file_uri": (tmp_path / "face.png").as_uri(),
        "data_uri": "data:image/png;base64," + base64.b64encode(PNG).decode(),
    }[form]
    async with connect(fake, mode=mode, tools="all") as client:
        started = await client.call_tool("train_style", {"name": "Me", "images": [PHOTO, ref]})
    assert started.is_error is False, text_of(started)
    (asset,) = fake.assets.values()
    assert asset.data == PNG
    (job,) = fake.jobs.values()
    assert job.body["urls"] == [PHOTO, f"{fake.base_url}/_fake/assets/{asset.asset_id}"]


# --- real processes -----------------------------------------------------------------------------------------------


async def test_stdio_sandbox_lists_styles_and_starts_a_training(tmp_path: Path) -> None:
    """``krea-mcp --sandbox`` as a host runs it: the styles library, and a training that runs for minutes."""
    env = child_env(KREA_TOOLS="all", KREA_OUTPUT_DIR=str(tmp_path / "images"))
    params = StdioServerParameters(
        command=sys.executable, args=["-m", "krea_mcp", "--sandbox"], env=env, cwd=str(tmp_path)
    )
    with anyio.fail_after(60):
        async with Client(params) as client:
            names = {t.name for t in (await client.list_tools()).tools}
            listed = await client.call_tool("list_styles", {"filter": "krea", "title": "water"})
            started = await client.call_tool(
                "train_style", {"name": "Sandbox Look", "images": [PHOTO], "trigger_word": "sbx", "steps": 100}
            )
            checked = await client.call_tool("get_job", {"job_id": started.structured_content["job_id"]})
    assert {"list_styles", "train_style"} <= names
    assert [row["title"] for row in listed.structured_content["styles"]] == ["Krea Watercolor"]
    assert started.is_error is False, text_of(started)
    assert "Estimated up to $2.08: 100 steps" in text_of(started)
    assert checked.structured_content["status"] not in ("completed", "failed", "cancelled")
    assert checked.structured_content["model"] == TRAIN_OPERATION


async def test_stdio_child_trains_a_style_on_the_emulator_and_applies_it(tmp_path: Path) -> None:
    port = free_port()
    emulator = ["-m", "krea_mcp.fake_api", "--port", str(port), "--token", TOKEN, "--job-duration", "0.4"]
    env = child_env(
        KREA_API_TOKEN=TOKEN,
        KREA_BASE_URL=f"http://127.0.0.1:{port}",
        KREA_POLL_INTERVAL_S="0.1",
        KREA_TOOLS="all",
        KREA_OUTPUT_DIR=str(tmp_path / "images"),
    )
    params = StdioServerParameters(command=sys.executable, args=["-m", "krea_mcp"], env=env, cwd=str(tmp_path))
    with running(emulator, port), anyio.fail_after(60):
        async with Client(params) as client:
            started = await client.call_tool("train_style", {"name": "Wire Look", "images": [PHOTO], "wait": True})
            style_id = started.structured_content["style_id"]
            used = await client.call_tool(
                "generate_image", {"prompt": "a chair", "model": "flux", "styles": [{"id": style_id, "strength": 0.7}]}
            )
    assert started.is_error is False and "Style trained" in text_of(started), text_of(started)
    assert used.is_error is False, text_of(used)
    assert f"Styles applied: Wire Look (id {style_id}, strength 0.7)." in text_of(used)


# --- after the review: finished trainings, unusable ids, list_jobs, deadlines ------------------------------------


def completed_with(result: dict[str, Any]) -> Any:
    """A handler for ``Around``: every completed job Krea reports carries ``result`` instead of its own."""

    async def handler(request: httpx.Request, inner: httpx.AsyncBaseTransport) -> httpx.Response:
        response = await inner.handle_async_request(request)
        if request.method == "GET" and request.url.path.startswith("/jobs/"):
            await response.aread()
            job = json.loads(response.content)
            if job.get("status") == "completed":
                return httpx.Response(200, json={**job, "result": result})
        return response

    return handler


@pytest.mark.parametrize(
    ("result", "words"),
    [
        ({}, "no style_id at all"),
        ({"style_id": None}, "no style_id at all"),
        ({"style_id": 12345}, "a style_id that is not text (int)"),
        ({"style_id": "has.dot"}, "style_id 'has.dot', which is not of a style id's form"),
        ({"style_id": "x" * 150}, "which is not of a style id's form"),
    ],
)
async def test_a_completed_training_without_a_usable_style_id_says_so(
    fake: FakeKrea, mode: str, result: dict[str, Any], words: str
) -> None:
    async with connect(Around(fake, completed_with(result)), mode=mode, tools="all") as client:
        done = await train(client, wait=True)
    text = text_of(done)
    assert text.startswith("Training completed in ") and "(styles/train) but Krea returned no usable style_id (" in text
    assert words in text and 'list_styles(filter="mine") may show the style.' in text
    assert "Use it" not in text and "reports the style_id" not in text and "0 images" not in text
    assert "style_id" not in done.structured_content
    assert done.structured_content["error"] == "Training completed but Krea returned no usable style_id."


async def test_a_training_from_another_process_without_a_style_id_is_still_a_training(fake: FakeKrea) -> None:
    """No record here: Krea's job type (loraTraining) tells it is a training."""
    async with connect(fake, tools="all") as client:
        job_id = (await train(client, wait=True)).structured_content["job_id"]
    async with connect(Around(fake, completed_with({})), tools="all") as other:
        checked = await other.call_tool("get_job", {"job_id": job_id})
    assert "Training completed in " in text_of(checked) and "no usable style_id" in text_of(checked)


@pytest.mark.parametrize("ending", ["completed", "failed"])
async def test_a_finished_training_does_not_repeat_the_notes_of_one_that_runs(
    trainer: Client, fake: FakeKrea, ending: str
) -> None:
    """The estimate and the advice to wait are said while the training runs, not once it has ended."""
    if ending == "failed":
        fake.fail_next_jobs(1, "Training failed: bad images")
    started = await train(trainer, steps=100)
    assert "Estimated up to $2.08" in text_of(started) and "Training takes many minutes" in text_of(started)
    done = await trainer.call_tool("wait_for_job", {"job_id": started.structured_content["job_id"]})
    again = await trainer.call_tool("wait_for_job", {"job_id": started.structured_content["job_id"]})
    for result in (done, again):
        text = text_of(result)
        assert result.structured_content["status"] == ending, text
        assert "Training style 'Studio Look' on flux_dev (1 image)." in text
        assert "Estimated" not in text and "Training takes many minutes" not in text and "wait_for_job" not in text


async def test_a_finished_video_base_training_keeps_where_its_style_is_used(trainer: Client) -> None:
    done = await train(trainer, model="wan", wait=True)
    text = text_of(done)
    assert "A wan style is for Krea's video model alibaba/wan-2.1, not run by this server." in text
    assert "Estimated" not in text


async def test_list_jobs_shows_trainings_and_their_style_ids(fake: FakeKrea, mode: str) -> None:
    async with connect(fake, mode=mode, tools="all") as client:
        fake.job_duration_s = 60  # still running when listed, however slow the machine
        running = await train(client, name="Still Running")
        fake.job_duration_s = 0
        done = await client.call_tool("train_style", {"name": "Done Look", "images": [PHOTO], "wait": True})
        style_id = done.structured_content["style_id"]
        here = await client.call_tool("list_jobs", {})
    async with connect(fake, mode=mode, tools="all") as other:  # another process: no record of either job
        there = await other.call_tool("list_jobs", {})
    done_id, running_id = done.structured_content["job_id"], running.structured_content["job_id"]
    for listed in (here, there):
        lines = {line.split(" · ")[0]: line for line in text_of(listed).splitlines()[1:]}
        assert lines[done_id].startswith(f"{done_id} · completed · style training · ")
        assert lines[done_id].endswith(f" · style_id {style_id}")
        assert lines[running_id].split(" · ")[2] == "style training" and "style_id" not in lines[running_id]
        rows = {row["job_id"]: row for row in listed.structured_content["jobs"]}
        assert rows[done_id]["style_id"] == style_id and rows[done_id]["model"] == TRAIN_OPERATION
    assert "'Done Look'" in text_of(here)


@pytest.mark.parametrize("tool", ["get_job", "wait_for_job"])
async def test_a_finished_trainings_style_lookup_keeps_to_the_calls_deadline(fake: FakeKrea, tool: str) -> None:
    """Krea hanging on the style's details: the result comes within the call's deadline, with the hint that holds
    for any style."""
    async with connect(fake, tools="all") as client:
        job_id = (await train(client, wait=True)).structured_content["job_id"]

    async def styles_hang(request: httpx.Request, inner: httpx.AsyncBaseTransport) -> httpx.Response:
        if request.url.path.startswith("/styles/"):
            await anyio.sleep(3600)
        return await inner.handle_async_request(request)

    async with connect(Around(fake, styles_hang), tools="all", wait_s=1) as client:
        before = anyio.current_time()
        with anyio.fail_after(4):
            checked = await client.call_tool(tool, {"job_id": job_id})
        took = anyio.current_time() - before
    assert checked.is_error is False and checked.structured_content["style_id"]
    assert 'Use it: generate_image(prompt="<trigger word> ...", model="flux" for a flux_dev style' in text_of(checked)
    assert took < 1.5  # not the 5 s a lookup may take when time is left


async def test_the_use_it_note_says_generate_image_needs_the_generate_group(fake: FakeKrea) -> None:
    async with connect(fake, tools="training,jobs") as client:
        done = await client.call_tool("train_style", {"name": "Look", "images": [PHOTO], "wait": True})
    text = text_of(done)
    assert "Use it: generate_image(" in text
    assert "generate_image is in the generate tool group, which this server does not offer" in text


async def test_a_trained_style_without_named_bases_gets_the_general_hint(fake: FakeKrea) -> None:
    async def no_bases(request: httpx.Request, inner: httpx.AsyncBaseTransport) -> httpx.Response:
        response = await inner.handle_async_request(request)
        if request.url.path.startswith("/styles/") and response.status_code == 200:
            await response.aread()
            return httpx.Response(200, json={**json.loads(response.content), "models": None})
        return response

    async with connect(Around(fake, no_bases), tools="all") as client:
        done = await train(client, wait=True)
    assert 'list_styles(filter="mine") shows its base (Krea names no base for it).' in text_of(done)
    assert "no image model Krea documents takes it" not in text_of(done)
