"""The emulator's control plane over HTTP: ``POST /_fake/control`` injects faults, ``GET /_fake/stats`` counts.

``GET /_fake/stats`` answers four counts; ``?detail=1`` adds what tests of many servers on one emulator need:
``job_gets`` (``GET /jobs/{id}`` requests), ``job_gets_by_id``, ``jobs_running`` and ``jobs_waiting`` now,
``job_prompts`` (each job's prompt, to tell whose request made it) and the emulator's clock ``now``. ``?times=1``
also adds ``job_get_times`` (the clock reading of each such GET, in order) and ``job_spans`` (each job's
``created``, ``start`` and ``end`` on that clock, end null for a job that never ends by itself), from which GETs
per second and the jobs waiting or running in that second follow.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import partial
from typing import TYPE_CHECKING, Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from krea_mcp.fake_api._faults import check_fault
from krea_mcp.fake_api._http import error_response, json_object
from krea_mcp.fake_api._state import TERMINAL

if TYPE_CHECKING:
    from krea_mcp.fake_api._app import FakeKrea

_COUNTS = ("fail_next_jobs", "stall_next_jobs", "cancel_next_jobs")
_SWITCHES = ("out_of_credits", "walk_all_statuses")
_KEYS = frozenset({"reset", "inject", "error", "result_urls", *_COUNTS, *_SWITCHES})
_INJECT_KEYS = frozenset({"route", "fault", "count", "retry_after", "after_create", "size"})

Action = Callable[[], None]
_JOB_PATH = "/jobs/"


class TimedRequests(list[tuple[str, str]]):
    """The emulator's request log (``(method, path)`` pairs, as before) that also notes when each was appended."""

    def __init__(self, items: list[tuple[str, str]], clock: Callable[[], float]) -> None:
        super().__init__(items)
        self.clock = clock
        self.times: list[float] = [clock()] * len(items)

    def append(self, item: tuple[str, str]) -> None:
        super().append(item)
        self.times.append(self.clock())


def _job_id_of_get(method: str, path: str) -> str | None:
    """The job id of a ``GET /jobs/{id}`` request, else None."""
    if method != "GET" or not path.startswith(_JOB_PATH):
        return None
    job_id = path[len(_JOB_PATH) :]
    return job_id if job_id and "/" not in job_id else None


def _detail(fake: FakeKrea, times: bool) -> dict[str, Any]:
    """Per-job GET counts and the jobs running now (with ``times``: each GET's time and each job's span)."""
    now = fake._time.now()
    by_id: dict[str, int] = {}
    get_times: list[float] = []
    stamps = fake.requests.times if isinstance(fake.requests, TimedRequests) else None
    for index, (method, path) in enumerate(fake.requests):
        job_id = _job_id_of_get(method, path)
        if job_id is not None:
            by_id[job_id] = by_id.get(job_id, 0) + 1
            if stamps is not None and index < len(stamps):
                get_times.append(stamps[index])
    running = waiting = 0
    for job in fake.jobs.values():
        if job.status(now) in TERMINAL:
            continue
        if job.start > now:
            waiting += 1
        else:
            running += 1
    out: dict[str, Any] = {
        "job_gets": sum(by_id.values()),
        "job_gets_by_id": by_id,
        "jobs_running": running,
        "jobs_waiting": waiting,
        "job_prompts": {job.job_id: job.prompt for job in fake.jobs.values()},
        "now": now,
    }
    if times:
        out["job_get_times"] = get_times
        base = fake._time
        out["job_spans"] = {
            job.job_id: {
                "created": base._origin + (job.created - base._wall_origin).total_seconds(),
                "start": job.start,
                "end": job.finished_at(),
            }
            for job in fake.jobs.values()
        }
    return out


def _flag(request: Request, name: str) -> bool:
    return request.query_params.get(name, "").lower() in ("1", "true", "yes")


def _is_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _count(body: dict[str, Any], key: str) -> int:
    value = body[key]
    if not _is_int(value) or value < 0:
        raise ValueError(f"{key} must be a non-negative integer")
    return int(value)


def _switch(body: dict[str, Any], key: str) -> bool:
    if not isinstance(body[key], bool):
        raise ValueError(f"{key} must be true or false")
    return bool(body[key])


def _inject(fake: FakeKrea, spec: object) -> Action:
    if not isinstance(spec, dict) or set(spec) - _INJECT_KEYS:
        raise ValueError(f"inject must be an object with keys among {sorted(_INJECT_KEYS)}")
    route, fault, count = spec.get("route"), spec.get("fault"), spec.get("count", 1)
    retry_after, after_create = spec.get("retry_after"), spec.get("after_create", False)
    if not isinstance(route, str) or not isinstance(fault, int | str) or isinstance(fault, bool) or not _is_int(count):
        raise ValueError("inject needs a string route, an integer or string fault and an integer count")
    if retry_after is not None and (isinstance(retry_after, bool) or not isinstance(retry_after, int | float)):
        raise ValueError("retry_after must be a number of seconds or null")
    if not isinstance(after_create, bool):
        raise ValueError("after_create must be true or false")
    size = spec.get("size")
    if size is not None and (not _is_int(size) or size < 0):
        raise ValueError("size must be a non-negative integer or null")
    check_fault(route, fault, count, retry_after)
    return lambda: fake.inject(route, fault, count=count, retry_after=retry_after, after_create=after_create, size=size)


def _plan(fake: FakeKrea, body: dict[str, Any]) -> list[Action]:
    """Validate every requested change first, so an invalid body changes nothing."""
    if not body or set(body) - _KEYS:
        raise ValueError(f"expected one or more of {sorted(_KEYS)}")
    if "error" in body and ("fail_next_jobs" not in body or not isinstance(body["error"], str) or not body["error"]):
        raise ValueError("error must be a non-empty string, given with fail_next_jobs")
    actions: list[Action] = []
    if "reset" in body and _switch(body, "reset"):
        actions.append(fake.reset_faults)
    for key in _SWITCHES:
        if key in body:
            value = _switch(body, key)
            actions.append(partial(setattr, fake, key, value))
    if "fail_next_jobs" in body:
        n, error = _count(body, "fail_next_jobs"), body.get("error")
        actions.append(lambda: fake.fail_next_jobs(n) if error is None else fake.fail_next_jobs(n, error))
    if "stall_next_jobs" in body:
        stalls = _count(body, "stall_next_jobs")
        actions.append(lambda: fake.stall_next_jobs(stalls))
    if "cancel_next_jobs" in body:
        cancels = _count(body, "cancel_next_jobs")
        actions.append(lambda: fake.cancel_next_jobs(cancels))
    if "inject" in body:
        actions.append(_inject(fake, body["inject"]))
    if "result_urls" in body:
        urls = body["result_urls"]
        if urls is not None and (not isinstance(urls, list) or not all(isinstance(u, str) for u in urls)):
            raise ValueError("result_urls must be a list of URL strings, or null for the emulator's own images")
        actions.append(partial(setattr, fake, "result_urls", urls))
    return actions


def control_routes(fake: FakeKrea) -> list[Route]:
    """The ``/_fake/control`` and ``/_fake/stats`` routes bound to one emulator (its request log gains times)."""
    if not isinstance(fake.requests, TimedRequests):
        fake.requests = TimedRequests(fake.requests, fake._time.now)

    async def control(request: Request) -> Response:
        body = await json_object(request)
        try:
            actions = _plan(fake, body if body is not None else {})
        except ValueError as exc:
            return error_response(400, f"Invalid control request: {exc}")
        for action in actions:
            action()
        return JSONResponse({"ok": True, "faults_pending": fake.faults_pending})

    async def stats(request: Request) -> Response:
        counts = {"generate_posts": fake.generate_posts, "jobs_created": fake.jobs_created}
        out = {**counts, "requests": len(fake.requests), "faults_pending": fake.faults_pending}
        times = _flag(request, "times")
        if times or _flag(request, "detail"):
            out.update(_detail(fake, times))
        return JSONResponse(out)

    return [Route("/_fake/control", control, methods=["POST"]), Route("/_fake/stats", stats, methods=["GET"])]
