"""Nothing leaks at the edges: a token Krea echoes back (at any offset, in any kind of answer), credentials in
KREA_BASE_URL, and answers too big to hold (huge bodies, thousands of result URLs)."""

from __future__ import annotations

import json
import logging
from collections.abc import AsyncIterator, Callable

import httpx
import pytest
from mcp import Client
from pydantic import SecretStr

from krea_mcp.errors import KreaError, ServerError, safe_excerpt, scrub, shown_url
from krea_mcp.fake_api import FakeKrea
from krea_mcp.job import MAX_URLS, Job
from krea_mcp.krea.caller import as_caller
from krea_mcp.krea.client import MAX_ANSWER_BYTES, KreaClient
from tests.helpers import UNKNOWN_JOB, connect, text_of

pytestmark = pytest.mark.anyio

#: Long and distinct, so that any 8-character piece of it left in a text is found.
LEAK_TOKEN = "leak-7d3f9b1e5a0c4e8f92b6d4a1c3e5f7a9"
CALLER = "caller-2c4e6a8b0d1f3a5c7e9b1d3f5a7c9e1b"


def fragments(secret: str, text: str, width: int = 8) -> list[str]:
    """Every ``width``-character piece of ``secret`` found in ``text``: a cut token leaves one of these behind."""
    return [secret[i : i + width] for i in range(len(secret) - width + 1) if secret[i : i + width] in text]


def logged(caplog: pytest.LogCaptureFixture) -> str:
    return "\n".join(record.getMessage() for record in caplog.records)


async def job_id_of(client: Client) -> str:
    started = await client.call_tool("generate_image", {"prompt": "a fox", "wait": False})
    assert not started.is_error, text_of(started)
    return str(started.structured_content["job_id"])  # type: ignore[index]


# --- the token echoed back ----------------------------------------------------------------------------------------


@pytest.mark.parametrize("offset", [0, 195, 480, 495, 499, 505])
async def test_a_token_echoed_at_any_offset_leaves_no_fragment_in_results_or_logs(
    offset: int, mode: str, caplog: pytest.LogCaptureFixture
) -> None:
    """Before: Krea's words were cut to 500 characters and only then scrubbed, so a token straddling the cut
    survived as its first half (``leak-7d3f9b1e5a``) in the tool result and the INFO log."""
    caplog.set_level(logging.DEBUG)
    fake = FakeKrea(token=LEAK_TOKEN, job_duration_s=5)
    async with connect(fake, mode=mode, api_token=LEAK_TOKEN, preview="off") as client:
        job_id = await job_id_of(client)
        fake.inject("get_job", "echo_token", size=offset)
        result = await client.call_tool("get_job", {"job_id": job_id})
    text = text_of(result)
    assert result.is_error and "400" in text
    assert "[redacted]" in text or offset + len("[redacted]") > 500  # the marker itself may be cut
    assert not fragments(LEAK_TOKEN, text), text
    assert not fragments(LEAK_TOKEN, logged(caplog))


def escaped(text: str) -> str:
    """``text`` as JSON with every character escaped (``\\u006c...``): the raw bytes never show the token."""
    return "".join(f"\\u{ord(c):04x}" for c in text)


ANSWERS: dict[str, Callable[[str], httpx.Response]] = {
    # A 4xx whose body is plain text: quoted up to 200 characters.
    "plain-text error": lambda token: httpx.Response(400, text="y" * 190 + token + " rejected"),
    # A 200 that is not a job: its start is quoted in the error.
    "200 that is not a job": lambda token: httpx.Response(200, text="z" * 190 + token + " what"),
    # A 410 whose message names a replacement: the message is quoted whole.
    "410 message": lambda token: httpx.Response(
        410, json={"error": "gone", "message": "w" * 490 + token, "replacement": token}
    ),
    # A failed job whose reason carries the token JSON-escaped: only scrubbing after decoding catches it.
    "escaped in a failed job": lambda token: httpx.Response(
        200,
        content=(
            f'{{"job_id": "{UNKNOWN_JOB}", "status": "failed", "result": {{"error": "bad {escaped(token)} token"}}}}'
        ).encode(),
        headers={"content-type": "application/json"},
    ),
}


@pytest.mark.parametrize("kind", list(ANSWERS))
async def test_a_token_in_any_kind_of_answer_is_scrubbed_before_it_is_cut(
    kind: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)

    def answer(request: httpx.Request) -> httpx.Response:
        return ANSWERS[kind](LEAK_TOKEN)

    async with connect(httpx.MockTransport(answer), api_token=LEAK_TOKEN, preview="off") as client:
        result = await client.call_tool("get_job", {"job_id": UNKNOWN_JOB})
    text = text_of(result)
    assert result.is_error and "[redacted]" in text, text
    assert not fragments(LEAK_TOKEN, text), text
    assert not fragments(LEAK_TOKEN, json.dumps(result.structured_content or {})), result.structured_content
    assert not fragments(LEAK_TOKEN, logged(caplog))


async def test_a_passthrough_callers_own_token_is_scrubbed_too() -> None:
    """In multi-user mode the request carries the caller's token, not the server's: that one is scrubbed too."""

    def answer(request: httpx.Request) -> httpx.Response:
        sent = request.headers["authorization"].removeprefix("Bearer ")
        return httpx.Response(400, json={"error": "q" * 490 + sent + " is not allowed here"})

    async with KreaClient(base_url="https://krea.example", token=None, transport=httpx.MockTransport(answer)) as api:
        with as_caller(SecretStr(CALLER)), pytest.raises(KreaError) as caught:
            await api.get_job(UNKNOWN_JOB)
    assert "[redacted]" in str(caught.value)
    assert not fragments(CALLER, str(caught.value))


def test_scrub_then_cut_helpers() -> None:
    cut = safe_excerpt("a" * 198 + LEAK_TOKEN, LEAK_TOKEN, limit=200)
    assert cut == "a" * 198 + "[r…" and not fragments(LEAK_TOKEN, cut, 2)
    nested = scrub({"k": [LEAK_TOKEN, {LEAK_TOKEN: f"x{LEAK_TOKEN}y"}], "n": 3}, [LEAK_TOKEN, None, ""])
    assert nested == {"k": ["[redacted]", {"[redacted]": "x[redacted]y"}], "n": 3}
    assert safe_excerpt("short", None) == "short"


# --- credentials in KREA_BASE_URL ----------------------------------------------------------------------------------


async def test_credentials_in_the_base_url_are_never_shown(caplog: pytest.LogCaptureFixture) -> None:
    """Before: ``Krea at http://ops:hunter2-pass@krea.example could not be reached`` went to every caller."""
    caplog.set_level(logging.DEBUG)

    def unreachable(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("connection refused", request=request)

    base_url = "https://ops:hunter2-pass@krea.example:8443/v1"
    async with connect(
        httpx.MockTransport(unreachable), api_token=LEAK_TOKEN, preview="off", base_url=base_url
    ) as client:
        result = await client.call_tool("get_job", {"job_id": UNKNOWN_JOB})
    text = text_of(result)
    assert result.is_error and "https://krea.example:8443/v1" in text, text
    assert "hunter2" not in text and "ops:" not in text
    assert "hunter2" not in logged(caplog)


@pytest.mark.parametrize(
    ("url", "shown"),
    [
        ("https://u:p@h.example/x?q=1", "https://h.example/x?q=1"),
        ("https://token@h.example", "https://h.example"),
        ("https://h.example:8443/v1", "https://h.example:8443/v1"),
        ("http://a:b@[::1]:9/", "http://[::1]:9/"),
    ],
)
def test_shown_url_drops_userinfo(url: str, shown: str) -> None:
    assert shown_url(url) == shown
    assert shown_url(httpx.URL(url)) == shown


# --- answers too big to hold ---------------------------------------------------------------------------------------


class Trickle(httpx.AsyncByteStream):
    """An answer body of ``total`` bytes, produced lazily in 64 KiB chunks; counts what the client pulled."""

    def __init__(self, total: int, pulled: list[int]) -> None:
        self.total, self.pulled = total, pulled
        self.closed = False

    async def __aiter__(self) -> AsyncIterator[bytes]:
        head = b'{"job_id": "x", "status": "processing", "pad": "'
        self.pulled.append(0)
        self.pulled[-1] += len(head)
        yield head
        while self.pulled[-1] < self.total:
            self.pulled[-1] += 65536
            yield b"p" * 65536

    async def aclose(self) -> None:
        self.closed = True


async def test_an_oversized_answer_is_not_read_past_the_limit() -> None:
    """Before: the whole body was read into memory (a 200 MB job answer took 523 MB of RSS)."""
    pulled: list[int] = []
    streams: list[Trickle] = []

    def answer(request: httpx.Request) -> httpx.Response:
        streams.append(Trickle(20 * 1024 * 1024, pulled))
        return httpx.Response(200, stream=streams[-1], headers={"content-type": "application/json"})

    async with KreaClient(
        base_url="https://krea.example", token=SecretStr(LEAK_TOKEN), transport=httpx.MockTransport(answer)
    ) as api:
        with pytest.raises(ServerError) as caught:
            await api.get_job(UNKNOWN_JOB)
    assert f"larger than {MAX_ANSWER_BYTES // 1024:,} KiB" in str(caught.value)
    assert "GET /jobs/" in str(caught.value)
    assert pulled and max(pulled) <= MAX_ANSWER_BYTES + 2 * 65536, pulled
    assert all(stream.closed for stream in streams)


async def test_a_huge_job_answer_from_the_emulator_is_refused_naming_the_limit(mode: str) -> None:
    fake = FakeKrea(token=LEAK_TOKEN, job_duration_s=5)
    async with connect(fake, mode=mode, api_token=LEAK_TOKEN, preview="off") as client:
        job_id = await job_id_of(client)
        fake.inject("get_job", "huge_body", size=3 * 1024 * 1024, count=4)  # every retry gets it too
        result = await client.call_tool("get_job", {"job_id": job_id})
    assert result.is_error and "larger than 1,024 KiB" in text_of(result), text_of(result)


async def test_a_job_listing_thousands_of_urls_keeps_at_most_the_cap(mode: str) -> None:
    """Before: every URL became a line of the result and a resource kept for the server's lifetime."""
    fake = FakeKrea(token=LEAK_TOKEN, job_duration_s=5)
    async with connect(fake, mode=mode, api_token=LEAK_TOKEN, preview="off") as client:
        job_id = await job_id_of(client)
        fake.inject("get_job", "many_urls", size=5_000)
        result = await client.call_tool("get_job", {"job_id": job_id})
    assert not result.is_error, text_of(result)
    urls = result.structured_content["urls"]  # type: ignore[index]
    assert len(urls) == MAX_URLS and urls[0].endswith("/0.png")
    assert sum(1 for block in result.content if block.type == "resource_link") <= MAX_URLS
    assert len(text_of(result)) < 200 * MAX_URLS


async def test_twenty_thousand_urls_are_an_oversized_answer(mode: str) -> None:
    fake = FakeKrea(token=LEAK_TOKEN, job_duration_s=5)
    async with connect(fake, mode=mode, api_token=LEAK_TOKEN, preview="off") as client:
        job_id = await job_id_of(client)
        fake.inject("get_job", "many_urls", size=20_000, count=4)
        result = await client.call_tool("get_job", {"job_id": job_id})
    assert result.is_error and "larger than 1,024 KiB" in text_of(result), text_of(result)


def test_a_job_says_how_many_urls_it_left_out() -> None:
    urls = [f"https://cdn.example/{i}.png" for i in range(100)] + [42, "h" * 5000]
    job = Job.model_validate({"job_id": "j", "status": "completed", "result": {"urls": urls}})
    assert job.urls == urls[:MAX_URLS]
    assert job.result == {"urls": urls[:MAX_URLS]}  # the rest is not kept
    assert job.urls_note is not None and "102 result URLs" in job.urls_note and "38 were left out" in job.urls_note
    whole = Job.model_validate({"job_id": "j", "status": "completed", "result": {"urls": ["https://a/1.png"]}})
    assert whole.urls == ["https://a/1.png"] and whole.urls_note is None
    odd = Job.model_validate({"job_id": "j", "status": "completed", "result": {"urls": "https://a/1.png"}})
    assert odd.urls == []  # a string is not a list of URLs (it used to become one URL per character)


def test_a_long_failure_reason_is_cut() -> None:
    job = Job.model_validate({"job_id": "j", "status": "failed", "result": {"error": "e" * 10_000}})
    assert job.error is not None and len(job.error) <= 501


async def test_a_short_stand_in_token_does_not_mangle_answers() -> None:
    """``sandbox`` (the emulator's stand-in token) is part of the emulator's own URLs, and ``t`` is in every key:
    values that short are no real token and are not scrubbed."""
    fake = FakeKrea(base_url="http://krea.sandbox", job_duration_s=0)
    for token in ("sandbox", "t"):
        async with connect(fake, api_token=token, preview="off") as client:
            done = await client.call_tool("generate_image", {"prompt": "a fox"})
        assert not done.is_error, text_of(done)
        urls = done.structured_content["urls"]  # type: ignore[index]
        assert urls and all(u.startswith("http://krea.sandbox/_fake/images/") for u in urls), urls
