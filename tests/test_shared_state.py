"""Two servers (two workers of one deployment) sharing a real redis-server: what they must agree on.

The servers run in this process, on the emulator's ASGI transport, each with its own MCP client in memory; Redis is
a real ``redis-server`` on a loopback port (Debian's package; ``.ci/run`` installs it). The same guarantees across
real worker processes are tested in ``test_scaleout.py``; one process without Redis (the default) is tested here too
where it changed: every wait on a job shares one poller.
"""

from __future__ import annotations

import base64
import io
import os
from collections.abc import AsyncIterator, Iterator
from contextlib import AsyncExitStack, asynccontextmanager
from typing import Any, TypeAlias

import anyio
import httpx
import pytest
from mcp import Client

from krea_mcp.errors import ConfigError
from krea_mcp.fake_api import FakeKrea
from krea_mcp.job import JobRecord
from krea_mcp.krea.caller import as_caller
from krea_mcp.server.app import create_server
from krea_mcp.workflow.durations import DurationBook
from krea_mcp.workflow.redis_state import RedisState, check
from tests import cluster
from tests.helpers import TOKEN, Around, free_port, make_settings, text_of

pytestmark = [
    pytest.mark.anyio,
    pytest.mark.skipif(
        not cluster.environ_has_redis() and os.environ.get("KREA_THIRD_PARTY_REQUIRED") != "1",
        reason="redis-server is not installed (apt-get install redis-server)",
    ),
]

FLUX = "bfl/flux-1-dev"


@pytest.fixture(scope="module")
def redis_proc(tmp_path_factory: pytest.TempPathFactory) -> Iterator[cluster.Proc]:
    proc = cluster.redis_server(tmp_path_factory.mktemp("redis")).start().ready()
    try:
        yield proc
    finally:
        proc.stop()


@pytest.fixture
def redis_url(redis_proc: cluster.Proc) -> str:
    if not redis_proc.alive:
        redis_proc.start().ready()
    import redis

    client = redis.Redis.from_url(cluster.redis_url(redis_proc.port))
    client.flushall()
    client.close()
    return cluster.redis_url(redis_proc.port)


Pair: TypeAlias = tuple[RedisState, RedisState]


@pytest.fixture
async def pair(redis_url: str) -> AsyncIterator[Pair]:
    """Two workers' shared states on one Redis (only the states: no server around them)."""
    one, two = RedisState(redis_url, api="http://x"), RedisState(redis_url, api="http://x")
    try:
        yield one, two
    finally:
        await one.aclose()
        await two.aclose()


def counting(fake: FakeKrea, gets: dict[str, int]) -> Around:
    """The emulator's transport, counting ``GET /jobs/{id}`` per job."""

    async def handler(request: httpx.Request, inner: httpx.AsyncBaseTransport) -> httpx.Response:
        parts = request.url.path.strip("/").split("/")
        if request.method == "GET" and len(parts) == 2 and parts[0] == "jobs":
            gets[parts[1]] = gets.get(parts[1], 0) + 1
        return await inner.handle_async_request(request)

    return Around(fake, handler)


@asynccontextmanager
async def workers(
    target: FakeKrea | httpx.AsyncBaseTransport, n: int = 2, mode: str = "auto", **settings: Any
) -> AsyncIterator[list[Client]]:
    """``n`` servers on one emulator with the same settings (each with its own state object), and a client each."""
    async with AsyncExitStack() as stack:
        clients = []
        for _ in range(n):
            transport = target.transport() if isinstance(target, FakeKrea) else target
            server = create_server(make_settings(**settings), transport=transport)
            clients.append(await stack.enter_async_context(Client(server, mode=mode)))  # type: ignore[arg-type]
        yield clients


@pytest.mark.parametrize("mode", ["auto", "legacy"])
async def test_the_spend_limit_counts_the_whole_deployment_under_a_concurrent_burst(redis_url: str, mode: str) -> None:
    fake = FakeKrea(token=TOKEN, job_duration_s=30)
    results: list[Any] = []
    async with workers(fake, mode=mode, redis_url=redis_url, max_jobs=3) as (a, b):

        async def one(client: Client, i: int) -> None:
            results.append(await client.call_tool("generate_image", {"prompt": f"fox {i}", "wait": False}))

        async with anyio.create_task_group() as group:
            for i in range(12):
                group.start_soon(one, (a, b)[i % 2], i)
    assert fake.jobs_created == 3
    refused = [text_of(r) for r in results if r.is_error]
    assert len(refused) == 9
    assert all("this deployment" in t and "already started 3 jobs" in t for t in refused), refused[0]
    assert all("this server" not in t for t in refused)


async def test_without_redis_the_limit_is_per_process_and_says_so() -> None:
    fake = FakeKrea(token=TOKEN, job_duration_s=30)
    async with workers(fake, max_jobs=1) as (a, b):
        assert not (await a.call_tool("generate_image", {"prompt": "a", "wait": False})).is_error
        assert not (await b.call_tool("generate_image", {"prompt": "b", "wait": False})).is_error
        refused = await a.call_tool("generate_image", {"prompt": "c", "wait": False})
    assert refused.is_error and "this server process already started 1 jobs" in text_of(refused)
    assert fake.jobs_created == 2


@pytest.mark.parametrize("mode", ["auto", "legacy"])
async def test_a_job_made_on_one_worker_is_listed_waited_for_and_served_on_the_other(redis_url: str, mode: str) -> None:
    fake = FakeKrea(token=TOKEN, job_duration_s=0.2)
    async with workers(fake, mode=mode, redis_url=redis_url) as (a, b):
        made = await a.call_tool("generate_image", {"prompt": "a lighthouse at dusk"})
        assert not made.is_error, text_of(made)
        job_id = made.structured_content["job_id"]
        url = made.structured_content["urls"][0]
        listed = await b.call_tool("list_jobs", {})
        assert "a lighthouse at dusk" in text_of(listed) and FLUX in text_of(listed)
        waited = await b.call_tool("wait_for_job", {"job_id": job_id})
        assert waited.structured_content["model"] == FLUX
        image = await b.read_resource(url)  # listed by worker a only; worker b finds it in the shared records
        blob = image.contents[0]
        assert base64.b64decode(blob.blob)[:8] == b"\x89PNG\r\n\x1a\n"  # type: ignore[union-attr]
        with pytest.raises(Exception, match="Unknown resource"):
            await b.read_resource("https://example.com/not-a-result.png")


async def test_records_of_and_load_record_keep_callers_apart(pair: Pair) -> None:
    one, two = pair
    with as_caller(_secret("token-of-alice")):
        alice = JobRecord("job-a", FLUX, "alice's fox")
    with as_caller(_secret("token-of-bob")):
        bob = JobRecord("job-b", FLUX, "bob's owl")
    await one.save_record(alice)
    await one.save_record(bob)
    assert [r.prompt for r in await two.records_of(alice.caller, 10)] == ["alice's fox"]
    assert [r.prompt for r in await two.records_of(bob.caller, 10)] == ["bob's owl"]
    assert await two.known(["job-a", "job-b", "job-c"]) == {"job-a", "job-b"}


async def test_every_wait_on_a_job_in_one_process_shares_one_poller() -> None:
    """No Redis: 40 concurrent waits on one job make the GETs one wait makes (the default deployment)."""
    fake = FakeKrea(token=TOKEN, job_duration_s=1.5)
    gets: dict[str, int] = {}
    async with workers(counting(fake, gets), n=1, poll_interval_s=0.1) as (client,):
        alone = await client.call_tool("generate_image", {"prompt": "one", "wait": False})
        crowd = await client.call_tool("generate_image", {"prompt": "many", "wait": False})
        alone_id, crowd_id = alone.structured_content["job_id"], crowd.structured_content["job_id"]
        results: list[Any] = []

        async def wait(job_id: str) -> None:
            results.append(await client.call_tool("wait_for_job", {"job_id": job_id}))

        async with anyio.create_task_group() as group:
            group.start_soon(wait, alone_id)
            for _ in range(40):
                group.start_soon(wait, crowd_id)
    assert all(r.structured_content["status"] == "completed" for r in results)
    assert gets[crowd_id] <= gets[alone_id] + 2, gets


@pytest.mark.parametrize("mode", ["auto", "legacy"])
async def test_waits_on_two_workers_share_one_poller_through_redis(redis_url: str, mode: str) -> None:
    fake = FakeKrea(token=TOKEN, job_duration_s=2.0)
    gets: dict[str, int] = {}
    async with workers(counting(fake, gets), mode=mode, redis_url=redis_url, poll_interval_s=0.1) as (a, b):
        alone = await a.call_tool("generate_image", {"prompt": "one", "wait": False})
        crowd = await a.call_tool("generate_image", {"prompt": "many", "wait": False})
        alone_id, crowd_id = alone.structured_content["job_id"], crowd.structured_content["job_id"]
        results: list[Any] = []

        async def wait(client: Client, job_id: str) -> None:
            results.append(await client.call_tool("wait_for_job", {"job_id": job_id}))

        async with anyio.create_task_group() as group:
            group.start_soon(wait, a, alone_id)
            for i in range(40):
                group.start_soon(wait, (a, b)[i % 2], crowd_id)
    assert len(results) == 41 and all(r.structured_content["status"] == "completed" for r in results)
    assert gets[crowd_id] <= gets[alone_id] + 3, gets


async def test_a_lost_answer_never_adopts_the_job_another_worker_made(redis_url: str) -> None:
    """Worker a's create fails before Krea made anything while worker b makes a job on the same token: a says no job
    was made (never that b's job is its own)."""
    fake = FakeKrea(token=TOKEN, job_duration_s=0.2)
    async with workers(fake, redis_url=redis_url, request_timeout_s=0.5) as (a, b):
        made = await b.call_tool("generate_image", {"prompt": "a dog", "wait": False})
        fake.inject("generate", 502)
        lost = await a.call_tool("generate_image", {"prompt": "a cat", "wait": False})
    assert not made.is_error
    assert lost.is_error and made.structured_content["job_id"] not in (lost.structured_content or {}).get("job_id", "")
    assert "most likely none was created" in text_of(lost)


async def test_a_lost_answer_beside_another_workers_create_finds_its_own_job(redis_url: str) -> None:
    fake = FakeKrea(token=TOKEN, job_duration_s=0.2)
    async with workers(fake, redis_url=redis_url, request_timeout_s=0.5) as (a, b):
        results: dict[str, Any] = {}
        fake.inject("generate", 500, after_create=True)

        async def call(name: str, client: Client, prompt: str) -> None:
            results[name] = await client.call_tool("generate_image", {"prompt": prompt, "wait": False})

        async with anyio.create_task_group() as group:
            group.start_soon(call, "cat", a, "a cat")
            await anyio.sleep(0.05)  # the cat's POST is the one whose answer is lost
            group.start_soon(call, "dog", b, "a dog")
    cat, dog = results["cat"], results["dog"]
    assert not dog.is_error
    if not cat.is_error:  # adopted: it must be the cat's own job
        assert fake.jobs[cat.structured_content["job_id"]].prompt == "a cat"
    else:  # or it says it cannot tell, naming both
        assert "cannot be told" in text_of(cat) or "most likely none" in text_of(cat)
    assert fake.jobs[dog.structured_content["job_id"]].prompt == "a dog"


async def test_redis_lost_refuses_spending_keeps_waiting_and_recovers(redis_proc: cluster.Proc, redis_url: str) -> None:
    fake = FakeKrea(token=TOKEN, job_duration_s=1.0)
    async with workers(fake, n=1, redis_url=redis_url, max_jobs=10, poll_interval_s=0.1) as (client,):
        before = await client.call_tool("generate_image", {"prompt": "before", "wait": False})
        assert not before.is_error
        redis_proc.kill()
        refused = await client.call_tool("generate_image", {"prompt": "while down", "wait": False})
        assert refused.is_error and "Redis" in text_of(refused) and "Nothing was charged" in text_of(refused)
        assert fake.jobs_created == 1
        waited = await client.call_tool("wait_for_job", {"job_id": before.structured_content["job_id"]})
        assert waited.structured_content["status"] == "completed"  # polled locally
        redis_proc.start().ready()
        with anyio.fail_after(10):
            while (after := await client.call_tool("generate_image", {"prompt": "after", "wait": False})).is_error:
                await anyio.sleep(0.2)
    assert fake.jobs_created == 2 and not after.is_error


async def test_an_upload_made_on_one_worker_is_not_sent_again_by_another(redis_url: str) -> None:
    fake = FakeKrea(token=TOKEN, job_duration_s=0)
    uri = "data:image/png;base64," + base64.b64encode(_png()).decode()
    async with workers(fake, redis_url=redis_url) as (a, b):
        for client in (a, b):
            result = await client.call_tool("generate_image", {"prompt": "x", "model": "flux-kontext", "images": [uri]})
            assert not result.is_error, text_of(result)
    assert sum(1 for method, path in fake.requests if method == "POST" and path.startswith("/assets")) == 1


async def test_learned_durations_reach_every_worker(pair: Pair) -> None:
    one, two = pair
    book_one, book_two = DurationBook(), DurationBook()
    book_one.learn(FLUX, 6.5)
    await one.share_durations(book_one, FLUX)
    await two.share_durations(book_two, FLUX)
    assert book_two.samples(FLUX) == [6.5]
    await two.share_durations(book_two, FLUX)  # taken once, not twice
    assert book_two.samples(FLUX) == [6.5]


async def test_a_webhook_on_one_worker_wakes_waiters_on_every_worker(pair: Pair) -> None:
    one, two = pair
    woken: list[str] = []
    two.on_wake = woken.append
    async with anyio.create_task_group() as group:
        group.start_soon(two.listen)
        with anyio.fail_after(5):
            while not two._listening:
                await anyio.sleep(0.01)
            await one.wake("job-7")
            while not woken:
                await anyio.sleep(0.01)
        group.cancel_scope.cancel()
    assert woken == ["job-7"]


async def test_a_poll_lease_passes_to_another_worker_when_its_holder_stops_renewing(
    pair: tuple[RedisState, RedisState],
) -> None:
    one, two = pair
    assert await one.claim_poll("k", 0.1)
    assert not await two.claim_poll("k", 0.1)
    assert await one.claim_poll("k", 0.1)  # renewed by its holder
    with anyio.fail_after(4):
        while not await two.claim_poll("k", 0.1):  # the holder is gone: within its poll + the grace
            await anyio.sleep(0.1)
    await two.drop_poll("k")
    assert await one.claim_poll("k", 0.1)  # dropped: taken at once


def test_an_unreachable_redis_refuses_to_start_naming_the_setting() -> None:
    url = f"redis://127.0.0.1:{free_port()}/0"
    with pytest.raises(ConfigError, match=r"KREA_REDIS_URL: cannot reach Redis at 127\.0\.0\.1:\d+") as caught:
        check(url, timeout_s=1)
    assert "unset KREA_REDIS_URL" in str(caught.value)
    with pytest.raises(ConfigError, match="not a valid Redis URL"):
        check("http://example.com", timeout_s=1)


def test_a_password_in_the_url_is_never_shown() -> None:
    url = f"redis://user:hunter2-secret@127.0.0.1:{free_port()}/0"
    with pytest.raises(ConfigError) as caught:
        check(url, timeout_s=1)
    assert "hunter2" not in str(caught.value)


def _secret(text: str) -> Any:
    from pydantic import SecretStr

    return SecretStr(text)


def _png() -> bytes:
    from PIL import Image

    out = io.BytesIO()
    Image.new("RGB", (64, 48), "red").save(out, "PNG")
    return out.getvalue()


# --- what a review of the first version found ---------------------------------------------------------------------


async def test_overlapping_short_waits_hand_the_schedule_on_and_see_the_completion() -> None:
    """No Redis: waits shorter than the poll interval, always one in progress; each hands the schedule on as it stands
    (a read left unfinished is made at once), so the job is still read and every later wait sees it completed."""
    fake = FakeKrea(token=TOKEN, job_duration_s=0.5)
    async with workers(fake, n=1, poll_interval_s=1.0) as (client,):
        made = await client.call_tool("generate_image", {"prompt": "fox", "wait": False})
        job_id = made.structured_content["job_id"]
        results: list[tuple[float, str]] = []
        started = anyio.current_time()

        async def wait() -> None:
            result = await client.call_tool("wait_for_job", {"job_id": job_id, "timeout_s": 0.6})
            results.append((anyio.current_time() - started, result.structured_content["status"]))

        async with anyio.create_task_group() as group:
            for _ in range(12):
                group.start_soon(wait)
                await anyio.sleep(0.3)
    assert all(status == "completed" for at, status in results if at > 1.5), results


async def test_a_lost_answer_recovers_after_an_earlier_one_that_most_likely_made_nothing() -> None:
    fake = FakeKrea(token=TOKEN, job_duration_s=0.2)
    async with workers(fake, n=1, request_timeout_s=0.5) as (client,):
        fake.inject("generate", 502)
        first = await client.call_tool("generate_image", {"prompt": "a cat", "wait": False})
        assert first.is_error and "most likely none was created" in text_of(first)
        fake.inject("generate", 500, after_create=True)
        second = await client.call_tool("generate_image", {"prompt": "a dog", "wait": False})
    assert not second.is_error, text_of(second)
    assert fake.jobs[second.structured_content["job_id"]].prompt == "a dog"


async def test_without_redis_no_job_is_created_even_without_a_spend_limit(
    redis_proc: cluster.Proc, redis_url: str
) -> None:
    """A job the other workers cannot know of could be taken for theirs when one of their answers is lost."""
    fake = FakeKrea(token=TOKEN, job_duration_s=0.2)
    async with workers(fake, n=1, redis_url=redis_url) as (client,):
        redis_proc.kill()
        refused = await client.call_tool("generate_image", {"prompt": "x", "wait": False})
        quick = await client.call_tool("generate_image", {"prompt": "y", "wait": False})  # refused at once
    assert refused.is_error and "could not be told of this job" in text_of(refused)
    assert quick.is_error and fake.jobs_created == 0


async def test_a_reservation_is_given_back_exactly_once(redis_url: str) -> None:
    from krea_mcp.catalog.models import load_catalog

    info = load_catalog().find(FLUX, "image")
    state = RedisState(redis_url, api="http://x", max_jobs=2)
    try:
        first = await state.reserve("", info, {"prompt": "a"})
        await state.release(first)
        await state.release(first)  # a second release gives nothing back
        kept = await state.reserve("", info, {"prompt": "b"})
        await state.commit(kept)
        await state.release(kept)  # committed: stays counted
        await state.reserve("", info, {"prompt": "c"})
        with pytest.raises(Exception, match="already started 2 jobs"):
            await state.reserve("", info, {"prompt": "d"})
    finally:
        await state.aclose()


async def test_two_deployments_on_two_krea_accounts_share_a_redis_without_sharing_state(redis_url: str) -> None:
    fake = FakeKrea(token=[TOKEN, "other-account-token"], job_duration_s=0)
    other = {"redis_url": redis_url, "max_jobs": 1, "api_token": "other-account-token"}
    async with workers(fake, n=1, redis_url=redis_url, max_jobs=1) as (a,), workers(fake, n=1, **other) as (b,):
        made_a = await a.call_tool("generate_image", {"prompt": "a"})
        made_b = await b.call_tool("generate_image", {"prompt": "b"})  # not counted against account a
        assert not made_a.is_error and not made_b.is_error, text_of(made_b)
        with pytest.raises(Exception, match="Unknown resource"):
            await b.read_resource(made_a.structured_content["urls"][0])
        listed = text_of(await b.call_tool("list_jobs", {}))
    assert made_a.structured_content["job_id"] not in listed


async def test_an_idle_listener_stays_subscribed_and_misses_nothing(pair: Pair) -> None:
    one, two = pair
    woken: list[str] = []
    two.on_wake = woken.append
    dropped = False
    async with anyio.create_task_group() as group:
        group.start_soon(two.listen)
        with anyio.fail_after(5):
            while not two._listening:
                await anyio.sleep(0.01)
        for _ in range(250):  # 2.5 s of silence: longer than any operation's timeout
            await anyio.sleep(0.01)
            dropped = dropped or not two._listening
        await one.wake("after-quiet")
        with anyio.fail_after(3):
            while not woken:
                await anyio.sleep(0.01)
        group.cancel_scope.cancel()
    assert not dropped and woken == ["after-quiet"]


async def test_a_hung_redis_never_turns_into_a_krea_error(redis_proc: cluster.Proc, redis_url: str) -> None:
    import signal

    fake = FakeKrea(token=TOKEN, job_duration_s=0)
    async with workers(fake, n=1, redis_url=redis_url) as (client,):
        made = await client.call_tool("generate_image", {"prompt": "x"})
        redis_proc.proc.send_signal(signal.SIGSTOP)  # type: ignore[union-attr]
        try:
            waited = await client.call_tool(
                "wait_for_job", {"job_id": made.structured_content["job_id"], "timeout_s": 3}
            )
        finally:
            redis_proc.proc.send_signal(signal.SIGCONT)  # type: ignore[union-attr]
    assert not waited.is_error, text_of(waited)
    assert waited.structured_content["status"] == "completed"


def test_a_password_is_never_shown_even_when_the_url_cannot_be_parsed() -> None:
    for url in ("redis://:s3cret/PW@127.0.0.1:6379/0", "redis://user:p#ss?w0rd@127.0.0.1:6379/0"):
        with pytest.raises(ConfigError) as caught:
            check(url, timeout_s=1)
        assert "s3cret" not in str(caught.value) and "w0rd" not in str(caught.value) and "PW" not in str(caught.value)
