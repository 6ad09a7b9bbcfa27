"""Scale-out (issue 16): workers and replicas share one state in Redis (``KREA_REDIS_URL``) and poll a job once.

Every test but the first runs real processes (``tests/cluster.py``): its own ``redis-server`` on a free port, the
standalone emulator and two krea-mcp HTTP workers (or ``uvicorn --workers 2``). Without ``redis-server`` on PATH
they are skipped, or fail when ``KREA_THIRD_PARTY_REQUIRED=1`` (as ``.ci/run`` sets it, after installing it).

``SCALEOUT_WORKERS_PYTHONPATH=/tmp/before/src pytest tests/test_scaleout.py`` runs the workers from another checkout
(to see these tests fail on code without shared state).
"""

from __future__ import annotations

import base64
import contextlib
import json
import os
import time
from collections.abc import Callable, Iterator
from functools import partial
from pathlib import Path
from typing import Any

import anyio
import httpx
import pytest

from krea_mcp.fake_api import FakeKrea
from tests.cluster import REDIS, Cluster, redis_url, run_to_exit, session, text_of, worker_env
from tests.helpers import FLUX, TOKEN, free_port

pytestmark = pytest.mark.anyio

#: Read at import: the autouse ``clean_env`` fixture removes every KREA_* variable before each test runs.
REQUIRED = os.environ.get("KREA_THIRD_PARTY_REQUIRED") == "1"
WORKERS_PYTHONPATH = os.environ.get("SCALEOUT_WORKERS_PYTHONPATH") or None
MODEL = "bfl/flux-1-dev"
PNG, JPEG = b"\x89PNG\r\n\x1a\n", b"\xff\xd8\xff"

MakeCluster = Callable[..., Cluster]


@pytest.fixture
def make_cluster(tmp_path: Path) -> Iterator[MakeCluster]:
    """Start a cluster (``Cluster``'s arguments); every one started is stopped after the test."""
    if REDIS is None:
        if REQUIRED:
            pytest.fail(
                "redis-server is not on PATH, and KREA_THIRD_PARTY_REQUIRED=1: .ci/run should have installed it"
            )
        pytest.skip("redis-server is not on PATH (apt-get install redis-server): the scale-out tests run their own")
    started: list[Cluster] = []

    def make(**options: Any) -> Cluster:
        options.setdefault("pythonpath", WORKERS_PYTHONPATH)
        cluster = Cluster(tmp_path / f"cluster{len(started)}", **options)
        started.append(cluster)
        return cluster.start()

    yield make
    for cluster in started:
        cluster.stop()


def data(result: Any) -> dict[str, Any]:
    out: dict[str, Any] = result.structured_content or {}
    return out


async def call(url: str, token: str, tool: str, arguments: dict[str, Any]) -> Any:
    """One tool call on its own connection (as a separate client would)."""
    async with session(url, token) as client:
        return await client.call_tool(tool, arguments)


async def burst(c: Cluster, per_worker: int, *, user: int = 0, tag: str = "burst") -> list[tuple[str, Any]]:
    """``per_worker`` concurrent generate_image(wait=false) on each worker at once: (prompt, result) pairs."""
    results: list[tuple[str, Any]] = []

    async def one(url: str, prompt: str) -> None:
        arguments = {"prompt": prompt, "model": MODEL, "wait": False}
        results.append((prompt, await call(url, c.client_token(user), "generate_image", arguments)))

    async with anyio.create_task_group() as tg:
        for i in range(per_worker):
            for w, url in enumerate(c.urls):
                tg.start_soon(one, url, f"{tag} w{w + 1} #{i}")
    return results


def assert_deployment_refusal(result: Any) -> None:
    text = text_of(result)
    assert result.is_error, text
    assert "deployment" in text and "this server" not in text, text


# --- the emulator's counts ------------------------------------------------------------------------------------------


async def test_the_emulator_counts_gets_per_job_and_running_jobs() -> None:
    fake = FakeKrea(token=TOKEN, job_duration_s=30, concurrency=1)
    auth = {"Authorization": f"Bearer {TOKEN}"}
    async with httpx.AsyncClient(transport=fake.transport(), base_url=fake.base_url, headers=auth) as http:
        first = (await http.post(FLUX, json={"prompt": "first"})).json()["job_id"]
        second = (await http.post(FLUX, json={"prompt": "second"})).json()["job_id"]
        for _ in range(3):
            await http.get(f"/jobs/{first}")
        await http.get(f"/jobs/{second}")
        await http.get("/jobs")
        plain = (await http.get("/_fake/stats")).json()
        detail = (await http.get("/_fake/stats?detail=1")).json()
        timed = (await http.get("/_fake/stats?times=1")).json()
    assert set(plain) == {"generate_posts", "jobs_created", "requests", "faults_pending"}
    assert detail["job_gets"] == 4 and detail["job_gets_by_id"] == {first: 3, second: 1}
    assert (detail["jobs_running"], detail["jobs_waiting"]) == (1, 1)
    assert detail["job_prompts"] == {first: "first", second: "second"}
    assert len(timed["job_get_times"]) == 4 and timed["job_get_times"] == sorted(timed["job_get_times"])
    spans = timed["job_spans"]
    assert spans[first]["end"] - spans[first]["start"] == pytest.approx(30)
    assert spans[second]["start"] == pytest.approx(spans[first]["end"])  # one at a time: the second waits
    assert spans[first]["created"] == pytest.approx(spans[first]["start"], abs=0.01)
    assert spans[second]["created"] < spans[second]["start"]


# --- one spend guard for the deployment -----------------------------------------------------------------------------


async def test_the_spend_guard_counts_the_whole_deployment_under_a_burst(make_cluster: MakeCluster) -> None:
    c = make_cluster(max_jobs=3, job_duration=10)
    with anyio.fail_after(60):
        results = await burst(c, 6)
    stats = await c.astats()
    assert stats["jobs_created"] == 3, stats
    started = [r for _, r in results if not r.is_error]
    assert len(started) == 3
    for _, result in results:
        if result.is_error:
            assert_deployment_refusal(result)


async def test_bearer_passthrough_gives_each_caller_one_limit_across_workers(make_cluster: MakeCluster) -> None:
    c = make_cluster(mode="passthrough", max_jobs=2, job_duration=10)
    with anyio.fail_after(60):
        made_on_1 = {}
        for user, name in enumerate(("userA", "userB")):  # one job each on worker 1 first, so list_jobs has one there
            result = await call(
                c.urls[0],
                c.client_token(user),
                "generate_image",
                {"prompt": f"{name} first", "model": MODEL, "wait": False},
            )
            assert not result.is_error, text_of(result)
            made_on_1[name] = data(result)["job_id"]
        async with anyio.create_task_group() as tg:
            tg.start_soon(partial(burst, c, 3, user=0, tag="userA"))
            tg.start_soon(partial(burst, c, 3, user=1, tag="userB"))
        listing = await call(c.urls[1], c.client_token(0), "list_jobs", {"limit": 50})
    prompts = (await c.astats())["job_prompts"].values()
    assert sum(p.startswith("userA") for p in prompts) == 2, prompts
    assert sum(p.startswith("userB") for p in prompts) == 2, prompts
    rows = {row["job_id"]: row for row in data(listing)["jobs"]}
    assert rows[made_on_1["userA"]].get("prompt") == "userA first", rows
    assert rows[made_on_1["userA"]].get("model") == MODEL, rows
    assert made_on_1["userB"] not in rows
    assert "userB" not in text_of(listing) and "userB" not in json.dumps(data(listing))
    assert len(rows) == 2


# --- resources from any worker --------------------------------------------------------------------------------------


async def test_a_jobs_resources_are_readable_on_a_worker_that_did_not_make_it(make_cluster: MakeCluster) -> None:
    c = make_cluster(job_duration=0.3)
    with anyio.fail_after(60):
        result = await call(c.urls[0], c.client_token(), "generate_image", {"prompt": "a fox", "model": MODEL})
        job = data(result)
        assert job.get("status") == "completed" and job.get("urls"), text_of(result)
        async with session(c.urls[1], c.client_token()) as other:
            read = await other.read_resource(f"krea://jobs/{job['job_id']}")
            images = [await other.read_resource(url) for url in job["urls"]]
    assert json.loads(read.contents[0].text)["job_id"] == job["job_id"]
    for image in images:
        blob = base64.b64decode(image.contents[0].blob)
        assert blob.startswith((PNG, JPEG)), blob[:16]


# --- lost create answers --------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("lost", "after_create", "gap_s"),
    [
        (1, False, 0.2),  # worker 1's request never took effect; worker 2's, just after, did: not worker 1's job
        (2, True, 0.0),  # both took effect and both answers were lost at the same moment
    ],
    ids=["one-lost-other-succeeds", "both-lost"],
)
async def test_a_lost_create_answer_is_never_matched_to_another_workers_job(
    make_cluster: MakeCluster, lost: int, after_create: bool, gap_s: float
) -> None:
    c = make_cluster(job_duration=10)
    for attempt in range(2):
        c.control({"reset": True})
        c.control({"inject": {"route": "generate", "fault": "reset", "after_create": after_create, "count": lost}})
        results: dict[str, Any] = {}

        async def create(w: int, delay: float, attempt: int = attempt, results: dict[str, Any] = results) -> None:
            await anyio.sleep(delay)
            prompt = f"attempt {attempt} worker {w + 1}"
            arguments = {"prompt": prompt, "model": MODEL, "wait": False}
            results[prompt] = await call(c.urls[w], c.client_token(), "generate_image", arguments)

        with anyio.fail_after(60):
            async with anyio.create_task_group() as tg:
                tg.start_soon(create, 0, 0.0)
                tg.start_soon(create, 1, gap_s)
        made_by = (await c.astats())["job_prompts"]
        for prompt, result in results.items():
            if not result.is_error:  # a success names a job this very request made
                assert made_by.get(data(result).get("job_id")) == prompt, (prompt, text_of(result), made_by)
        if lost == 1:  # worker 2's answer arrived: it has its own job
            own = results[f"attempt {attempt} worker 2"]
            assert not own.is_error and made_by[data(own)["job_id"]] == f"attempt {attempt} worker 2"


# --- one poller per job ---------------------------------------------------------------------------------------------


async def test_two_hundred_waiters_on_two_workers_poll_a_job_about_as_often_as_one(make_cluster: MakeCluster) -> None:
    c = make_cluster(job_duration=4)
    outcomes: list[str] = []
    with anyio.fail_after(60):
        async with session(c.urls[0], c.client_token()) as client:
            shared, single = [
                data(await client.call_tool("generate_image", {"prompt": p, "model": MODEL, "wait": False}))["job_id"]
                for p in ("shared", "single")
            ]

        async def wait(client: Any, job_id: str) -> None:
            result = await client.call_tool("wait_for_job", {"job_id": job_id, "timeout_s": 30})
            outcomes.append("error" if result.is_error else str(data(result).get("status")))

        async def waiters(url: str, alone: bool) -> None:
            async with session(url, c.client_token()) as client, anyio.create_task_group() as tg:
                for _ in range(100):
                    tg.start_soon(wait, client, shared)
                if alone:
                    tg.start_soon(wait, client, single)

        async with anyio.create_task_group() as tg:
            tg.start_soon(waiters, c.urls[0], False)
            tg.start_soon(waiters, c.urls[1], True)
    gets = (await c.astats())["job_gets_by_id"]
    assert outcomes.count("completed") == 201, outcomes
    assert gets[shared] <= gets[single] * 1.5 + 4, (gets[shared], gets[single])


async def test_waiters_on_a_surviving_worker_finish_when_the_polling_worker_dies(make_cluster: MakeCluster) -> None:
    duration = 6.0
    c = make_cluster(job_duration=duration)
    survivors: list[tuple[str, float]] = []
    with anyio.fail_after(60):
        arguments = {"prompt": "x", "model": MODEL, "wait": False}
        job_id = data(await call(c.urls[0], c.client_token(), "generate_image", arguments))["job_id"]
        created = time.monotonic()

        async def waiters(url: str, ends: list[tuple[str, float]] | None) -> None:
            async with session(url, c.client_token()) as client, anyio.create_task_group() as tg:
                for _ in range(5):
                    tg.start_soon(wait, client, ends)

        async def wait(client: Any, ends: list[tuple[str, float]] | None) -> None:
            result = await client.call_tool("wait_for_job", {"job_id": job_id, "timeout_s": 60})
            if ends is not None:
                ends.append(
                    ("error" if result.is_error else str(data(result).get("status")), time.monotonic() - created)
                )

        async def doomed() -> None:
            with anyio.CancelScope() as scope:
                cancel_doomed.append(scope)
                with contextlib.suppress(Exception):  # its connections die with it
                    await waiters(c.urls[0], None)

        cancel_doomed: list[anyio.CancelScope] = []
        async with anyio.create_task_group() as tg:
            tg.start_soon(doomed)  # worker 1's waiters start first, so it is likely the worker polling
            await anyio.sleep(0.3)
            async with anyio.create_task_group() as survive:
                survive.start_soon(waiters, c.urls[1], survivors)
                await anyio.sleep(1.0)
                await anyio.to_thread.run_sync(c.servers[0].kill)
            for scope in cancel_doomed:  # a call cut off by the kill may never hear back
                scope.cancel()
    assert [status for status, _ in survivors] == ["completed"] * 5, survivors
    assert max(at for _, at in survivors) <= duration + 4, survivors


# --- Redis going away -----------------------------------------------------------------------------------------------


async def test_without_redis_a_limited_deployment_refuses_new_jobs_and_resumes_when_it_is_back(
    make_cluster: MakeCluster,
) -> None:
    c = make_cluster(max_jobs=20, job_duration=3)
    assert c.redis_proc is not None
    generate = {"prompt": "before", "model": MODEL, "wait": False}
    with anyio.fail_after(60):
        first = await call(c.urls[0], c.client_token(), "generate_image", generate)
        assert not first.is_error, text_of(first)
        waited: list[Any] = []

        async def wait() -> None:
            args = {"job_id": data(first)["job_id"], "timeout_s": 30}
            waited.append(await call(c.urls[1], c.client_token(), "wait_for_job", args))

        async with anyio.create_task_group() as tg:
            tg.start_soon(wait)
            await anyio.sleep(0.5)
            await anyio.to_thread.run_sync(c.redis_proc.kill)
            refused = await call(c.urls[0], c.client_token(), "generate_image", {**generate, "prompt": "during"})
        stats = await c.astats()
        assert refused.is_error, text_of(refused)
        assert any(word in text_of(refused) for word in ("Redis", "shared state")), text_of(refused)
        assert stats["jobs_created"] == 1
        assert not waited[0].is_error and data(waited[0])["status"] == "completed", text_of(waited[0])

        await anyio.to_thread.run_sync(c.redis_proc.restart)
        back_at = time.monotonic()
        while True:
            again = await call(c.urls[0], c.client_token(), "generate_image", {**generate, "prompt": "after"})
            if not again.is_error or time.monotonic() - back_at > 5:
                break
            await anyio.sleep(0.25)
    assert not again.is_error, text_of(again)
    assert (await c.astats())["jobs_created"] == 2


def test_a_worker_refuses_to_start_when_redis_cannot_be_reached(tmp_path: Path) -> None:
    closed = free_port()
    env = worker_env("http://127.0.0.1:9", tmp_path, redis=redis_url(closed), pythonpath=WORKERS_PYTHONPATH)
    port = free_port()
    done = run_to_exit(["-m", "krea_mcp", "--transport", "http", "--port", str(port)], env, timeout=30)
    assert done.returncode != 0, done.stderr
    assert done.elapsed < 10  # type: ignore[attr-defined]
    assert "KREA_REDIS_URL" in done.stderr and "Traceback" not in done.stderr, done.stderr


# --- uvicorn --workers ----------------------------------------------------------------------------------------------


async def test_uvicorn_workers_share_one_spend_guard(make_cluster: MakeCluster) -> None:
    c = make_cluster(uvicorn=2, max_jobs=3, job_duration=10)
    with anyio.fail_after(60):
        results = await burst(c, 12)
    assert (await c.astats())["jobs_created"] == 3
    for _, result in results:
        if result.is_error:
            assert_deployment_refusal(result)


async def test_a_webhook_reaching_another_worker_wakes_the_wait_at_once(tmp_path: Path) -> None:
    """KREA_WEBHOOK_URL is the deployment's one public address: here every call of Krea's reaches worker 2, while the
    wait runs on worker 1, which would otherwise look again only at its 10 s fallback."""
    if REDIS is None:
        if REQUIRED:
            pytest.fail("redis-server is not on PATH, and KREA_THIRD_PARTY_REQUIRED=1")
        pytest.skip("redis-server is not on PATH (apt-get install redis-server)")
    c = Cluster(tmp_path / "cluster", job_duration=3.0, pythonpath=WORKERS_PYTHONPATH)
    hook = f"http://127.0.0.1:{c.servers[1].port}"
    for server in c.servers:
        server.env = {**(server.env or {}), "KREA_WEBHOOK_URL": hook}
    with c:
        token = c.client_token()
        made = await call(c.urls[0], token, "generate_image", {"prompt": "hook", "model": MODEL, "wait": False})
        started = time.monotonic()
        waited = await call(c.urls[0], token, "wait_for_job", {"job_id": data(made)["job_id"], "timeout_s": 25})
        took = time.monotonic() - started
        # The emulator's log of its calls: each went to worker 2's address, and worker 2 took it.
        calls = [line for line in c.api.output().splitlines() if "/webhooks/krea/" in line]
        delivered = bool(calls) and all(f"127.0.0.1:{c.servers[1].port}/" in call and "202" in call for call in calls)
    assert data(waited)["status"] == "completed", text_of(waited)
    assert took < 3.0 + 2.5, took  # the job's 3 s, and the relay; the fallback alone would take 10 s
    assert delivered, "Krea's call reached worker 2 (not worker 1), so the relay is what woke the wait"
