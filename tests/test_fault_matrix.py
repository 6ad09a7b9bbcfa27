"""Every fault the emulator can inject, driven through the real tools over MCP.

Each case must end in success or an actionable error, with no masked crash, at most one job created per
generate call (no double billing), and the job id in the result whenever a job exists.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import anyio
import pytest

from krea_mcp.fake_api import FakeKrea
from tests.helpers import TOKEN, connect, text_of

pytestmark = pytest.mark.anyio

STATUSES = [500, 502, 503, 504, 429, 401, 402, 404, 410, 400]
TRANSPORT = ["malformed", "reset", "hang"]


@dataclass(frozen=True)
class Case:
    route: str
    fault: int | str
    count: int = 1
    retry_after: float | None = None
    after_create: bool = False
    tool: str = "generate_image"
    expect_ok: bool | None = None  # None: either outcome is fine as long as the invariants hold
    fragments: tuple[str, ...] = field(default=())

    @property
    def id(self) -> str:
        bits = [self.route, str(self.fault), f"x{self.count}"]
        bits += ["ra"] if self.retry_after is not None else []
        bits += ["after-create"] if self.after_create else []
        return "-".join(bits) + f"-{self.tool}"


def cases() -> list[Case]:
    out: list[Case] = []
    # Creating a job: nothing created, or created and the answer lost.
    for fault in [*STATUSES, *TRANSPORT]:
        out.append(Case("generate", fault))
    for fault in [500, 502, 503, 504, *TRANSPORT]:
        out.append(Case("generate", fault, after_create=True, expect_ok=True))
    out.append(Case("generate", 429, retry_after=0.01, expect_ok=True))
    out.append(Case("generate", 429, count=10, expect_ok=False, fragments=("429", "concurrency")))
    out.append(Case("generate", 402, expect_ok=False, fragments=("out of credits",)))
    out.append(Case("generate", 401, expect_ok=False, fragments=("KREA_API_TOKEN",)))
    out.append(Case("generate", 500, expect_ok=False, fragments=("most likely none was created",)))
    # Polling while generate_image waits: a few failures are absorbed, persistent ones keep the job id.
    for fault in [500, 502, 503, 504, 429, "malformed", "reset", "hang"]:
        out.append(Case("get_job", fault, expect_ok=True))
        out.append(Case("get_job", fault, retry_after=0.01 if fault == 429 else None, count=50))
    for fault in [401, 404]:
        out.append(Case("get_job", fault, expect_ok=False))
    # Image downloads for previews and saving: the URLs always come back.
    for fault in [500, 503, "malformed", "reset", "hang"]:
        out.append(Case("image", fault, expect_ok=True))
    # The other tools, each with a transient and a persistent fault.
    for tool in ("get_job", "wait_for_job", "cancel_job"):
        route = "delete_job" if tool == "cancel_job" else "get_job"
        out.append(Case(route, 503, tool=tool, expect_ok=True))
        out.append(Case(route, "reset", count=50, tool=tool))
        out.append(Case("*", 500, count=50, tool=tool))
    # Reconciliation itself under fire: the job list fails too.
    out.append(Case("list_jobs", 500, count=50))
    return out


def check_invariants(result: Any, fake: FakeKrea, tool: str) -> None:
    text = text_of(result)
    assert text.strip(), "empty result"
    assert text.strip() != f"Error executing tool {tool}", f"masked crash: {text}"
    assert fake.jobs_created <= 1, "a second paid job was created"  # even when a create POST was retried
    for job_id in fake.jobs:  # a job exists: the caller must hold its id
        assert job_id in text or job_id in str(result.structured_content), f"job id lost: {text}"


@pytest.mark.parametrize("case", cases(), ids=lambda c: c.id)
async def test_fault(case: Case) -> None:
    fake = FakeKrea(token=TOKEN, job_duration_s=0.2)
    async with connect(fake, wait_s=2.0, request_timeout_s=0.3, preview="thumbnail", auto_save=True) as client:
        arguments: dict[str, Any] = {"prompt": "a fox"}
        if case.tool != "generate_image":
            started = await client.call_tool("generate_image", {"prompt": "a fox", "wait": False})
            job_id = started.structured_content["job_id"]
            arguments = {"job_id": job_id}
        fake.inject(
            case.route, case.fault, count=case.count, retry_after=case.retry_after, after_create=case.after_create
        )
        with anyio.fail_after(20):
            result = await client.call_tool(case.tool, arguments)
    check_invariants(result, fake, case.tool)
    if case.expect_ok is not None:
        assert (not result.is_error) is case.expect_ok, text_of(result)
    for fragment in case.fragments:
        assert fragment in text_of(result)


@pytest.mark.parametrize(
    ("setup", "status", "fragment"),
    [
        (lambda f: f.fail_next_jobs(1, error="moderation"), "failed", "moderation"),
        (lambda f: f.cancel_next_jobs(1), "cancelled", "cancelled"),
        (lambda f: f.stall_next_jobs(1), "processing", "wait_for_job"),
        (lambda f: setattr(f, "walk_all_statuses", True), "completed", "completed"),
    ],
    ids=["fails", "system-cancel", "stalls", "every-status"],
)
async def test_job_behaviours(setup: Any, status: str, fragment: str) -> None:
    fake = FakeKrea(token=TOKEN, job_duration_s=0.3)
    setup(fake)
    seen: list[str] = []

    async def on_progress(p: float, total: float | None, message: str | None) -> None:
        seen.append((message or "").split(" · ")[0])

    async with connect(fake, wait_s=1.0, preview="off") as client:
        result = await client.call_tool("generate_image", {"prompt": "a fox"}, progress_callback=on_progress)
    assert result.structured_content["status"] == status
    assert fragment in text_of(result).lower()
    check_invariants(result, fake, "generate_image")
    if status == "completed" and fake.walk_all_statuses:
        assert {"backlogged", "queued", "scheduled", "processing", "sampling", "intermediate-complete"} & set(seen)


async def test_backlog_full_then_free_again() -> None:
    """Concurrency 1, no backlog: the second job is refused (nothing created), the third succeeds later."""
    fake = FakeKrea(token=TOKEN, job_duration_s=0.2, concurrency=1, backlog=0)
    async with connect(fake, preview="off") as client:
        first = await client.call_tool("generate_image", {"prompt": "a fox", "wait": False})
        refused = await client.call_tool("generate_image", {"prompt": "a fox", "wait": False})
        await client.call_tool("wait_for_job", {"job_id": first.structured_content["job_id"]})
        later = await client.call_tool("generate_image", {"prompt": "a fox"})
    assert refused.is_error and "429" in text_of(refused)
    assert later.structured_content["status"] == "completed"
    assert fake.jobs_created == 2
