"""The fake Krea API: a Starlette app over in-memory jobs and assets."""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable, Collection
from typing import TYPE_CHECKING, Any

from starlette.applications import Starlette
from starlette.datastructures import UploadFile
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from krea_mcp.catalog.models import ModelInfo, load_catalog
from krea_mcp.fake_api._assets import MAX_ASSET_BYTES, accepted_mime
from krea_mcp.fake_api._control import control_routes
from krea_mcp.fake_api._faults import FaultGate, FaultQueue
from krea_mcp.fake_api._http import (
    BACKLOG_FULL,
    BAD_BODY,
    BAD_QUERY,
    BAD_UPLOAD,
    NO_CREDITS,
    AuthGate,
    bearer_of,
    error_response,
    gone_response,
    http_error,
    json_object,
    page_query,
    paginate,
)
from krea_mcp.fake_api._mp4 import placeholder_mp4
from krea_mcp.fake_api._operations import TRAIN_PATH, operations
from krea_mcp.fake_api._png import (
    LABEL_MAX_PIXELS,
    exact_size,
    flat_image,
    labelled_image,
    noise_image,
    png_dimensions,
    prompt_image,
    requested_size,
)
from krea_mcp.fake_api._result_links import MetadataStandIn, result_link_routes
from krea_mcp.fake_api._state import JOB_STATUSES, TERMINAL, FakeAsset, FakeJob, Scheduler, Timebase, iso
from krea_mcp.fake_api._styles import StyleLibrary, seeded_styles, trained_style
from krea_mcp.fake_api._validation import body_error, operation_error
from krea_mcp.fake_api._video import requested_seconds
from krea_mcp.fake_api._video import requested_size as requested_video_size
from krea_mcp.fake_api._webhooks import WebhookSender, url_problem

if TYPE_CHECKING:
    import httpx


#: The job type Krea gives style training (``GET /jobs/{id}`` documents ``style_id`` for "loraTraining" jobs).
_TRAINING = "loraTraining"
#: The job type of a video job (Krea documents "externalImage" for image jobs; this name is the emulator's guess).
_VIDEO = "externalVideo"
_ENHANCERS = frozenset(op.id for op in operations().values() if op.kind == "enhance")


class FakeKrea:
    """An in-memory emulator of the Krea API (images, videos, enhance, styles); job progress is computed lazily from
    ``clock``."""

    def __init__(
        self,
        *,
        token: str | Collection[str] | None = None,
        base_url: str = "http://krea.sandbox",
        job_duration_s: float | None = None,
        time_scale: float = 1.0,
        max_duration_s: float | None = None,
        concurrency: int | None = None,
        backlog: int | None = None,
        clock: Callable[[], float] = time.monotonic,
        image_size: tuple[int, int] | None = None,
        image_noise: bool = False,
        walk_all_statuses: bool = False,
        job_durations: Callable[[str, dict[str, Any]], float] | None = None,
        webhook_delay_s: float = 0.0,
        webhook_transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        if backlog is not None and backlog < 0:
            raise ValueError("backlog must be >= 0")
        #: One token, any token (None), or several users' tokens: then each sees only the jobs it created.
        self.token: str | frozenset[str] | None = token if token is None or isinstance(token, str) else frozenset(token)
        self.base_url = base_url.rstrip("/")
        self.job_duration_s, self.time_scale, self.backlog = job_duration_s, time_scale, backlog
        #: The longest a job runs when its duration comes from the catalog (the sandbox caps a 30-minute training).
        self.max_duration_s = max_duration_s
        #: Seconds each new job runs, from its model id and request body (per-model times, spreads, shifts); wins
        #: over job_duration_s.
        self.job_durations = job_durations
        self.image_size = image_size
        #: Random pixels instead of gradients: realistic, incompressible file sizes (~width*height*3 bytes).
        self.image_noise = image_noise
        self.jobs: dict[str, FakeJob] = {}
        self.assets: dict[str, FakeAsset] = {}
        self.generate_posts = 0
        self.jobs_created = 0
        self.requests: list[tuple[str, str]] = []
        self.out_of_credits = False
        #: New jobs pass through every non-terminal status in order, each for an equal share of their duration.
        self.walk_all_statuses = walk_all_statuses
        #: A hostile or compromised upstream: completed jobs report these URLs instead of their own image.
        self.result_urls: list[str] | None = None
        self._failures: list[str] = []
        self._stalls = 0
        self._cancels = 0
        self._faults = FaultQueue()
        self._time = Timebase(clock)
        self._scheduler = Scheduler(concurrency)
        users = sorted(self.token) if isinstance(self.token, frozenset) else [""]
        seeds = seeded_styles(self._time.at(self._time.now()), users[0])
        #: The styles library: Krea-official, community, the user's own, a teammate's shared one, a stranger's.
        self.styles = StyleLibrary(seeds, multi_user=isinstance(self.token, frozenset), base_url=self.base_url)
        self._training: list[FakeJob] = []  # training jobs whose style is not in the library yet
        #: Calls each create's ``X-Webhook-URL`` when its job ends (through ``webhook_transport``, else the network).
        self.webhooks = WebhookSender(
            self._job_json, self._time.now, delay_s=webhook_delay_s, transport=webhook_transport
        )
        self.app = Starlette(
            routes=self._routes(),
            middleware=[
                Middleware(MetadataStandIn),
                Middleware(AuthGate, fake=self),
                Middleware(FaultGate, faults=self._faults),
            ],
            exception_handlers={HTTPException: http_error},
        )

    def _routes(self) -> list[Route]:
        return [
            Route("/generate/image/{model_path:path}", self._generate, methods=["POST"]),
            Route("/generate/enhance/{op_path:path}", self._enhance, methods=["POST"]),
            Route("/generate/video/{op_path:path}", self._video, methods=["POST"]),
            Route(TRAIN_PATH, self._train, methods=["POST"]),
            Route("/styles", self._list_styles, methods=["GET"]),
            Route("/styles/{style_id}", self._get_style, methods=["GET"]),
            Route("/jobs", self._list_jobs, methods=["GET"]),
            Route("/jobs/{job_id}", self._get_job, methods=["GET"]),
            Route("/jobs/{job_id}", self._delete_job, methods=["DELETE"]),
            Route("/assets", self._upload_asset, methods=["POST"]),
            Route("/assets", self._list_assets, methods=["GET"]),
            Route("/assets/{asset_id}", self._get_asset, methods=["GET"]),
            Route("/assets/{asset_id}", self._delete_asset, methods=["DELETE"]),
            Route("/_fake/images/{job_id}/{index:int}.png", self._serve_image, methods=["GET"]),
            Route("/_fake/videos/{job_id}/{index:int}.mp4", self._serve_video, methods=["GET"]),
            Route("/_fake/assets/{asset_id}", self._serve_asset, methods=["GET"]),
            Route("/_fake/styles/{style_id}/{index:int}.png", self._serve_preview, methods=["GET"]),
            *control_routes(self),
            *result_link_routes(self),
        ]

    def fail_next_jobs(self, n: int = 1, error: str = "Content moderation: the prompt was flagged") -> None:
        """Make the next ``n`` created jobs end as ``failed`` with ``result.error == error``."""
        self._failures.extend([error] * n)

    def stall_next_jobs(self, n: int = 1) -> None:
        """Make the next ``n`` created jobs (not already marked to fail) stay ``processing`` forever."""
        self._stalls += n

    def cancel_next_jobs(self, n: int = 1) -> None:
        """Make the next ``n`` created jobs (not marked to fail or stall) end ``cancelled`` by the system half-way."""
        self._cancels += n

    def inject(
        self,
        route: str,
        fault: int | str,
        *,
        count: int = 1,
        retry_after: float | None = None,
        after_create: bool = False,
        size: int | None = None,
    ) -> None:
        """Answer the next ``count`` requests to ``route`` with ``fault`` (after the request took effect if asked).

        Hostile answers take ``size``: ``echo_token`` repeats the request's token at that offset of a 400 error
        message, ``huge_body`` sends a job answer of that many bytes, ``many_urls`` a completed job with that many
        result URLs.
        """
        self._faults.add(route, fault, count, retry_after, after_create, size)

    @property
    def faults_pending(self) -> int:
        """How many injected faults no request has used yet."""
        return len(self._faults)

    def reset_faults(self) -> None:
        """Drop pending faults and job markers, and turn the out-of-credits and walk-all-statuses switches off."""
        self._faults.clear()
        self._failures.clear()
        self._stalls = self._cancels = 0
        self.out_of_credits = self.walk_all_statuses = False
        self.result_urls = None
        self.webhooks.clear_faults()

    def transport(self) -> httpx.ASGITransport:
        """An httpx transport that calls this app in-process (honouring read timeouts and emulated resets)."""
        from krea_mcp.fake_api._transport import FakeTransport

        return FakeTransport(app=self.app)

    # --- jobs -------------------------------------------------------------------------------------------------

    def _duration(self, model: ModelInfo, body: dict[str, Any]) -> float:
        if self.job_durations is not None:
            return max(0.0, self.job_durations(model.id, body))
        if self.job_duration_s is not None:
            return self.job_duration_s
        scaled = model.typical_s * self.time_scale
        return scaled if self.max_duration_s is None else min(scaled, self.max_duration_s)

    def _backlog_full(self, start: float, now: float) -> bool:
        if start <= now or self.backlog is None:
            return False
        waiting = sum(1 for job in self.jobs.values() if job.start > now and job.status(now) not in TERMINAL)
        return waiting >= self.backlog

    def _create_job(self, model: ModelInfo, body: dict[str, Any], start: float, owner: str = "") -> FakeJob:
        job = FakeJob(str(uuid.uuid4()), model.id, body, self._time.stamp(), start, self._duration(model, body))
        job.owner = owner
        if self._failures:
            job.fail_reason = self._failures.pop(0)
        elif self._stalls:
            job.stalled, self._stalls = True, self._stalls - 1
        elif self._cancels:
            job.system_cancel, self._cancels = True, self._cancels - 1
        job.walk = self.walk_all_statuses
        self._scheduler.add(job)
        self.jobs[job.job_id] = job
        self.jobs_created += 1
        return job

    def _job_json(self, job: FakeJob, *, with_type: bool = True) -> dict[str, Any]:
        status = job.status(self._time.now())
        out: dict[str, Any] = {"job_id": job.job_id, "status": status, "created_at": iso(job.created)}
        finished = job.finished_at() if status in TERMINAL else None
        out["completed_at"] = None if finished is None else iso(max(self._time.at(finished), job.created))
        out["result"] = None
        if status == "completed" and job.type == _TRAINING:
            self._settle_training()
            out["result"] = {"style_id": trained_style(job.job_id, job.body, job.created, job.owner).style_id}
        elif status == "completed":
            file = f"videos/{job.job_id}/0.mp4" if job.type == _VIDEO else f"images/{job.job_id}/0.png"
            own = [f"{self.base_url}/_fake/{file}"]
            out["result"] = {"urls": list(self.result_urls) if self.result_urls is not None else own}
        elif status == "failed":
            out["result"] = {"error": job.fail_reason}
        if with_type:
            out["type"] = job.type
        return out

    async def _generate(self, request: Request) -> Response:
        model_path: str = request.path_params["model_path"]
        catalog = load_catalog()
        if model_path in catalog.sunset:
            return gone_response(catalog.sunset[model_path])
        model = catalog.models.get(model_path)
        if model is None:
            return error_response(404, f"Model not found: {model_path}")
        body = await json_object(request)
        if body is None:
            return error_response(400, BAD_BODY)
        caller = bearer_of(request.headers.get("authorization"))
        problem = body_error(model.id, body)
        if problem is None and body.get("styles"):
            self._settle_training()
            problem = self.styles.body_error(body, caller)
        if problem:
            return error_response(400, problem)
        return self._start(model, body, caller, webhook=request.headers.get("x-webhook-url"))

    def _start(
        self,
        model: ModelInfo,
        body: dict[str, Any],
        caller: str,
        job_type: str | None = None,
        webhook: str | None = None,
    ) -> Response:
        """Create the job of a validated body (402 out of credits, 429 backlog full) and answer it pending; a
        ``webhook`` URL (the ``X-Webhook-URL`` header) is called when the job ends."""
        if webhook is not None and (problem := url_problem(webhook)):
            return error_response(400, problem)
        if self.out_of_credits:
            return error_response(402, NO_CREDITS)
        now = self._time.now()
        start = self._scheduler.next_start(now)
        if self._backlog_full(start, now):
            return error_response(429, BACKLOG_FULL)
        job = self._create_job(model, body, start, owner=caller)
        if job_type is not None:
            job.type = job_type
        if job.type == _TRAINING:
            self._training.append(job)
        if webhook is not None:
            self.webhooks.watch(job, webhook)
        # The create response always shows the job pending, even when its duration is zero.
        first = "backlogged" if start > now or job.walk else "queued"
        pending = {"status": first, "completed_at": None, "result": None}
        headers = {"Deprecation": "true"} if model.deprecated else None
        return JSONResponse({**self._job_json(job, with_type=False), **pending}, headers=headers)

    async def _enhance(self, request: Request) -> Response:
        """``POST /generate/enhance/topaz/...``: a job whose result image has the body's width x height."""
        op = operations().get(request.url.path)
        if op is None or op.kind != "enhance":
            return error_response(404, f"Model not found: {request.path_params['op_path']}")
        return await self._validated_start(request, op)

    async def _video(self, request: Request) -> Response:
        """``POST /generate/video/{provider}/{model}``: a job ending with an MP4 of the length and size asked for."""
        op = operations().get(request.url.path)
        if op is None or op.kind != "video":
            return error_response(404, f"Model not found: {request.path_params['op_path']}")
        return await self._validated_start(request, op, _VIDEO)

    async def _train(self, request: Request) -> Response:
        """``POST /styles/train``: a slow job that ends with ``result.style_id``, a style the caller then owns."""
        return await self._validated_start(request, operations()[TRAIN_PATH], _TRAINING)

    async def _validated_start(self, request: Request, op: ModelInfo, job_type: str | None = None) -> Response:
        body = await json_object(request)
        if body is None:
            return error_response(400, BAD_BODY)
        problem = operation_error(op.path, body)
        if problem:
            return error_response(400, problem)
        caller = bearer_of(request.headers.get("authorization"))
        return self._start(op, body, caller, job_type, webhook=request.headers.get("x-webhook-url"))

    def _settle_training(self) -> None:
        """Put the style of every training job that has completed by now into its owner's library."""
        now = self._time.now()
        for job in list(self._training):
            status = job.status(now)
            if status == "completed":
                self.styles.add(trained_style(job.job_id, job.body, self._time.stamp(), job.owner))
            if status in TERMINAL:
                self._training.remove(job)

    async def _list_styles(self, request: Request) -> Response:
        self._settle_training()
        answer = self.styles.query(request, bearer_of(request.headers.get("authorization")))
        return error_response(400, BAD_QUERY) if answer is None else JSONResponse(answer)

    async def _get_style(self, request: Request) -> Response:
        self._settle_training()
        caller = bearer_of(request.headers.get("authorization"))
        style = self.styles.readable(request.path_params["style_id"], caller)  # public or own (the spec)
        return JSONResponse(self.styles.to_json(style)) if style else error_response(404, "Style not found")

    async def _serve_preview(self, request: Request) -> Response:
        style = self.styles.styles.get(request.path_params["style_id"])
        if style is None or not 0 <= request.path_params["index"] < 2:
            return error_response(404, "Image not found")
        return Response(labelled_image(style.prompt, style.title, 384, 512), media_type="image/png")

    def _visible_job(self, request: Request) -> FakeJob | None:
        """The job in the path, if the caller may see it (Krea shows a job only to the token that made it)."""
        job = self.jobs.get(request.path_params["job_id"])
        return job if job is not None and self._visible(job, request) else None

    def _visible(self, job: FakeJob, request: Request) -> bool:
        return not isinstance(self.token, frozenset) or job.owner == bearer_of(request.headers.get("authorization"))

    async def _get_job(self, request: Request) -> Response:
        job = self._visible_job(request)
        return JSONResponse(self._job_json(job)) if job else error_response(404, "Job not found")

    async def _delete_job(self, request: Request) -> Response:
        job = self._visible_job(request)
        if job is None:
            return error_response(404, "Job not found")
        now = self._time.now()
        if job.status(now) not in TERMINAL:
            job.cancelled_at = now
            self._scheduler.rebuild(self.jobs.values(), now)
            self.webhooks.nudge(job.job_id)
        return JSONResponse(self._job_json(job))

    async def _list_jobs(self, request: Request) -> Response:
        query = page_query(request)
        status = request.query_params.get("status")
        types = {t.strip() for t in request.query_params.get("types", "").split(",") if t.strip()}
        if query is None or (status is not None and status not in JOB_STATUSES):
            return error_response(400, BAD_QUERY)
        now = self._time.now()
        jobs = [
            j
            for j in self.jobs.values()
            if (not status or j.status(now) == status) and (not types or j.type in types) and self._visible(j, request)
        ]
        page, next_cursor = paginate(jobs, *query)
        return JSONResponse({"items": [self._job_json(j) for j in page], "next_cursor": next_cursor})

    async def _serve_image(self, request: Request) -> Response:
        job = self.jobs.get(request.path_params["job_id"])
        if job is None or request.path_params["index"] != 0 or job.status(self._time.now()) != "completed":
            return error_response(404, "Image not found")
        if job.type in (_TRAINING, _VIDEO):
            return error_response(404, "Image not found")
        enhanced = exact_size(job.body) if job.model in _ENHANCERS else None
        if enhanced is not None:  # an enhancer's output has exactly the size the body asked for
            label = job.prompt or f"enhanced {job.body.get('image_url', '')}"
            if enhanced[0] * enhanced[1] > LABEL_MAX_PIXELS:
                return Response(flat_image(label, *enhanced), media_type="image/png")
            return Response(labelled_image(label, job.model, *enhanced), media_type="image/png")
        size = self.image_size or requested_size(job.body)
        if self.image_noise:
            png = noise_image(job.prompt, *size)
        elif self.image_size is not None:  # a fixed size (tests, benchmarks): a plain gradient, no text
            png = prompt_image(job.prompt, *size)
        else:
            png = labelled_image(job.prompt, job.model, *size)
        return Response(png, media_type="image/png")

    async def _serve_video(self, request: Request) -> Response:
        """A finished video job's MP4: its header states the duration and size the body asked for."""
        job = self.jobs.get(request.path_params["job_id"])
        if job is None or job.type != _VIDEO or request.path_params["index"] != 0:
            return error_response(404, "Video not found")
        if job.status(self._time.now()) != "completed":
            return error_response(404, "Video not found")
        op = operations().get(f"/generate/video/{job.model}")
        if op is None:
            return error_response(404, "Video not found")
        width, height = requested_video_size(op, job.body)
        video = placeholder_mp4(requested_seconds(op, job.body), width, height, job.prompt)
        return Response(video, media_type="video/mp4")

    # --- assets -----------------------------------------------------------------------------------------------

    def _asset_json(self, asset: FakeAsset) -> dict[str, Any]:
        out: dict[str, Any] = {
            "id": asset.asset_id,
            "image_url": f"{self.base_url}/_fake/assets/{asset.asset_id}",
            "uploaded_at": iso(asset.created),
            "width": asset.width,
            "height": asset.height,
            "size_bytes": len(asset.data),
            "mime_type": asset.mime_type,
        }
        if asset.description is not None:
            out["description"] = asset.description
        return out

    async def _upload_asset(self, request: Request) -> Response:
        async with request.form(max_files=1, max_fields=10) as form:
            upload, description = form.get("file"), form.get("description")
            if not isinstance(upload, UploadFile) or (upload.size or 0) > MAX_ASSET_BYTES:
                return error_response(400, BAD_UPLOAD)
            data = await upload.read()
            mime = accepted_mime(upload.content_type, data)
        if mime is None or not data or len(data) > MAX_ASSET_BYTES:
            return error_response(400, BAD_UPLOAD)
        size = png_dimensions(data) if mime == "image/png" else None
        width, height = size if size else (None, None)
        note = description if isinstance(description, str) else None
        asset = FakeAsset(str(uuid.uuid4()), data, mime, self._time.stamp(), note, width, height)
        self.assets[asset.asset_id] = asset
        return JSONResponse(self._asset_json(asset))

    async def _list_assets(self, request: Request) -> Response:
        query = page_query(request)
        if query is None:
            return error_response(400, BAD_QUERY)
        page, next_cursor = paginate(list(self.assets.values()), *query)
        return JSONResponse({"items": [self._asset_json(a) for a in page], "next_cursor": next_cursor})

    async def _get_asset(self, request: Request) -> Response:
        asset = self.assets.get(request.path_params["asset_id"])
        return JSONResponse(self._asset_json(asset)) if asset else error_response(404, "Asset not found")

    async def _delete_asset(self, request: Request) -> Response:
        if self.assets.pop(request.path_params["asset_id"], None) is None:
            return error_response(404, "Asset not found")
        return JSONResponse({"success": True, "message": "Asset deleted"})

    async def _serve_asset(self, request: Request) -> Response:
        asset = self.assets.get(request.path_params["asset_id"])
        return Response(asset.data, media_type=asset.mime_type) if asset else error_response(404, "Asset not found")


def create_app(**kwargs: Any) -> Starlette:
    """Convenience: a fresh ``FakeKrea(**kwargs).app``."""
    return FakeKrea(**kwargs).app
