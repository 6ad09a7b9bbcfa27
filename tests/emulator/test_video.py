"""The emulator's video jobs through plain HTTP, and the MP4 files they end with (issue 14, item 5).

Every one of Krea's 31 video paths takes a minimal body built from its own schema and ends with a small, valid MP4
whose header states the duration and size the body asked for. The MP4 is checked box by box (sizes, sample tables,
chunk offsets), its H.264 parameter sets are parsed back, and its first frame is decoded (every macroblock is I_PCM:
raw samples) and compared with what the writer meant to store. ``video_info`` reads it back, and survives truncated
and hostile bytes.
"""

from __future__ import annotations

import hashlib
import random
import struct
from typing import Any

import httpx
import pytest

from krea_mcp.catalog.models import Operation, load_catalog
from krea_mcp.fake_api import FakeKrea
from krea_mcp.fake_api._mp4 import (
    FPS,
    I_PCM,
    MAX_FRAMES,
    TIMESCALE,
    frame_count,
    frame_samples,
    layout_for,
    mp4_video,
    nal,
)
from krea_mcp.files.video_info import video_info
from tests.helpers import TOKEN, FakeClock, open_client
from tests.helpers import status as _status

pytestmark = pytest.mark.anyio

VIDEOS = load_catalog().of_kind("video")
CLIP = "https://example.com/clip.mp4"
STILL = "https://example.com/still.png"
#: Longest typical run time of a video model, so advancing by it finishes any job.
LONGEST = max(op.typical_s for op in VIDEOS.values())


def minimal_body(op: Operation) -> dict[str, Any]:
    """The body a careful client sends: the schema's required fields only, each with a valid value."""
    body: dict[str, Any] = {}
    for name in op.required:
        prop = op.properties[name]
        kinds = prop.get("type")
        kinds = kinds if isinstance(kinds, list) else [kinds]
        if "enum" in prop:
            body[name] = prop["enum"][0]
        elif prop.get("format") == "uri":
            body[name] = CLIP if "video" in name else STILL
        elif "string" in kinds:
            body[name] = "a red fox running through snow"
        elif "number" in kinds or "integer" in kinds:
            body[name] = {"width": 1280, "height": 720}.get(name, prop.get("minimum", 1))
        elif "boolean" in kinds:
            body[name] = False
        else:
            raise AssertionError(f"no minimal value for {op.id}.{name}: {prop}")
    return body


def expected(op: Operation) -> tuple[float, int, int]:
    """What a minimal body's video is: the schema's default duration (5 s where there is none), 16:9 at the default
    resolution (720p where there is none)."""
    seconds = float(op.properties.get("duration", {}).get("default", 5))
    sizes = {"1080p": (1920, 1080), "768p": (1366, 768), "720p": (1280, 720)}
    resolution = op.properties.get("resolution", {}).get("default", "720p")
    return (seconds, *sizes[resolution])


async def _run(client: httpx.AsyncClient, clock: FakeClock, path: str, body: dict[str, Any]) -> dict[str, Any]:
    response = await client.post(path, json=body)
    assert response.status_code == 200, response.text
    clock.advance(LONGEST + 1)
    job = await _status(client, response.json()["job_id"])
    assert job["status"] == "completed", job
    return job


async def _video(client: httpx.AsyncClient, job: dict[str, Any]) -> bytes:
    (url,) = job["result"]["urls"]
    assert url.endswith(f"/_fake/videos/{job['job_id']}/0.mp4")
    response = await client.get(url)
    assert response.status_code == 200
    assert response.headers["content-type"] == "video/mp4"
    assert len(response.content) < 200_000
    check_mp4(response.content)
    return response.content


# --- every path ------------------------------------------------------------------------------------------------


def test_there_are_31_video_paths() -> None:
    assert len(VIDEOS) == 31


@pytest.mark.parametrize("model", sorted(VIDEOS))
async def test_every_video_path_takes_a_minimal_body_and_ends_with_the_mp4_it_asked_for(
    client: httpx.AsyncClient, clock: FakeClock, fake: FakeKrea, model: str
) -> None:
    op = VIDEOS[model]
    job = await _run(client, clock, op.path, minimal_body(op))
    assert job["type"] == "externalVideo" and job["completed_at"] is not None
    duration, width, height = video_info(await _video(client, job))
    assert (duration, width, height) == expected(op)
    assert fake.jobs_created == 1


@pytest.mark.parametrize(
    ("model", "asked", "wanted"),
    [
        ("kling/kling-2.5", {"duration": 10, "aspect_ratio": "9:16"}, (10, 720, 1280)),
        ("kling/kling-3.0", {"duration": 13, "mode": "4k"}, (13, 1280, 720)),
        ("google/veo-3.1", {"duration": 6, "resolution": "4K"}, (6, 3840, 2160)),
        ("google/veo-3", {"duration": 4, "aspect_ratio": "1:1", "resolution": "1080p"}, (4, 1080, 1080)),
        ("alibaba/wan-2.1", {"width": 832, "height": 480, "frame_num": 81}, (81 / 16, 832, 480)),
        ("alibaba/wan-2.2", {"width": 480, "height": 832}, (5, 480, 832)),
        ("lightricks/ltx-video-2.3-22b", {"num_frames": 121, "aspect_ratio": "9:16"}, (121 / 24, 720, 1280)),
        ("lightricks/ltx-video-2.3-22b", {"duration": 20}, (20, 1280, 720)),
        ("runway/gen-4.5", {"duration": 2, "aspect_ratio": "1584:672"}, (2, 1584, 672)),
        ("runway/aleph", {"init_video": CLIP, "ratio": "848:480"}, (5, 848, 480)),
        ("xai/grok-video", {"duration": 1, "resolution": "480p", "aspect_ratio": "3:2"}, (1, 720, 480)),
        (
            "bytedance/seedance-1.0-pro",
            {"duration": 10, "aspect_ratio": "21:9", "resolution": "1080p"},
            (10, 2520, 1080),
        ),
        ("bytedance/seedance-1.0-pro-fast", {"duration": 12, "resolution": "480p"}, (12, 854, 480)),
        ("minimax/hailuo-02", {"duration": 10, "resolution": "1080p"}, (10, 1920, 1080)),
        ("luma/ray-2", {"width": 1920.4, "height": 1080, "loop": True}, (5, 1920, 1080)),
    ],
)
async def test_the_mp4_header_states_the_requested_duration_and_size(
    client: httpx.AsyncClient, clock: FakeClock, model: str, asked: dict[str, Any], wanted: tuple[float, int, int]
) -> None:
    job = await _run(client, clock, VIDEOS[model].path, {"prompt": "a lighthouse at dusk", **asked})
    duration, width, height = video_info(await _video(client, job))
    assert duration == pytest.approx(wanted[0], abs=1 / TIMESCALE)
    assert (width, height) == wanted[1:]


async def test_start_and_end_frames_are_accepted_as_urls(client: httpx.AsyncClient, clock: FakeClock) -> None:
    body = {"prompt": "a door opens", "start_image": STILL, "end_image": "https://example.com/end.webp"}
    job = await _run(client, clock, VIDEOS["kling/kling-2.1"].path, {**body, "mode": "pro"})
    assert video_info(await _video(client, job)) == (5.0, 1280, 720)
    nullable = {"prompt": "waves", "start_image": None, "end_image": None, "end_video": CLIP}  # Veo 3.1: null or URI
    await _run(client, clock, VIDEOS["google/veo-3.1"].path, nullable)


# --- invalid bodies and paths ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("model", "body", "says"),
    [
        ("kling/kling-2.5", {"duration": 7}, "duration: 7 is not one of 5, 10"),
        ("lightricks/ltx-video-2.3-22b", {"duration": 12}, "duration: 12 is not one of 5, 10, 15, 20"),
        ("google/veo-3", {"duration": 5}, "duration: 5 is not one of [4, 6, 8]"),
        ("kling/kling-3.0", {"duration": 16}, "duration: 16 is greater than the maximum of 15"),
        ("minimax/hailuo-02", {"duration": 5}, "duration: 5 is less than the minimum of 6"),
        ("kling/kling-2", {"duration": 10}, "duration: 5 was expected"),
        ("xai/grok-video", {"duration": "6"}, "duration: '6' is not of type 'number'"),
        ("kling/kling-2.5", {"start_image": "not a url"}, "start_image: 'not a url' is not a 'uri'"),
        ("kling/kling-2.5", {"frames": 10}, "'frames' was unexpected"),
        ("alibaba/wan-2.1", {}, "'width' is a required property"),
        ("runway/aleph", {}, "'init_video' is a required property"),
    ],
)
async def test_invalid_video_bodies_are_400_naming_the_field(
    client: httpx.AsyncClient, fake: FakeKrea, model: str, body: dict[str, Any], says: str
) -> None:
    response = await client.post(VIDEOS[model].path, json={"prompt": "a fox", **body})
    assert response.status_code == 400
    assert set(response.json()) == {"error"}
    assert response.json()["error"].startswith("Invalid request body: ")
    assert says in response.json()["error"]
    assert fake.jobs_created == 0


async def test_a_body_that_is_not_an_object_is_400(client: httpx.AsyncClient, fake: FakeKrea) -> None:
    for content in (b"[1, 2]", b"not json", b""):
        response = await client.post(VIDEOS["google/veo-3"].path, content=content)
        assert response.status_code == 400 and "error" in response.json()
    assert fake.jobs_created == 0


@pytest.mark.parametrize("path", ["kling/kling-9", "bfl/flux-1-dev", "google/veo-3/extra", "topaz/bloom-enhance", ""])
async def test_unknown_video_path_is_404(client: httpx.AsyncClient, fake: FakeKrea, path: str) -> None:
    response = await client.post(f"/generate/video/{path}", json={"prompt": "a fox"})
    assert response.status_code == 404
    assert response.json() == {"error": f"Model not found: {path}"}
    assert fake.jobs_created == 0


async def test_video_jobs_need_the_token_and_credits(fake: FakeKrea) -> None:
    async with open_client(fake, token=None) as anonymous:
        assert (await anonymous.post(VIDEOS["google/veo-3"].path, json={"prompt": "x"})).status_code == 401
    fake.out_of_credits = True
    async with open_client(fake) as client:
        assert (await client.post(VIDEOS["google/veo-3"].path, json={"prompt": "x"})).status_code == 402
    assert fake.jobs_created == 0


# --- the job lifecycle -----------------------------------------------------------------------------------------


async def test_a_video_job_passes_through_the_usual_statuses(client: httpx.AsyncClient, clock: FakeClock) -> None:
    op = VIDEOS["google/veo-3"]  # 300 s
    created = (await client.post(op.path, json={"prompt": "a storm"})).json()
    assert (created["status"], created["result"], created["completed_at"]) == ("queued", None, None)
    seen = []
    for _ in range(10):
        clock.advance(op.typical_s / 10 - 0.001)
        seen.append((await _status(client, created["job_id"]))["status"])
    assert seen[:2] == ["queued", "scheduled"] and "processing" in seen and seen[-1] == "sampling"
    assert (await client.get(f"/_fake/videos/{created['job_id']}/0.mp4")).status_code == 404  # not finished yet
    clock.advance(0.1)
    done = await _status(client, created["job_id"])
    assert done["status"] == "completed" and len(done["result"]["urls"]) == 1


async def test_every_non_terminal_status_when_asked(clock: FakeClock) -> None:
    fake = FakeKrea(token=TOKEN, clock=clock, walk_all_statuses=True, job_duration_s=60)
    async with open_client(fake) as client:
        created = (await client.post(VIDEOS["kling/kling-o1"].path, json={"prompt": "a fox"})).json()
        seen = []
        for _ in range(7):
            seen.append((await _status(client, created["job_id"]))["status"])
            clock.advance(10)
    assert seen == [
        "backlogged",
        "queued",
        "scheduled",
        "processing",
        "sampling",
        "intermediate-complete",
        "completed",
    ]


async def test_run_time_is_the_models_typical_time_times_the_time_scale(clock: FakeClock) -> None:
    op = VIDEOS["google/veo-3"]
    fake = FakeKrea(token=TOKEN, clock=clock, time_scale=0.1)
    async with open_client(fake) as client:
        job_id = (await client.post(op.path, json={"prompt": "a fox"})).json()["job_id"]
        clock.advance(op.typical_s * 0.1 - 0.5)
        assert (await _status(client, job_id))["status"] == "sampling"
        clock.advance(1)
        assert (await _status(client, job_id))["status"] == "completed"
        slow_id = (await client.post(VIDEOS["kling/kling-2"].path, json={"prompt": "a fox"})).json()["job_id"]
        clock.advance(VIDEOS["kling/kling-2"].typical_s * 0.1 + 0.5)
        assert (await _status(client, slow_id))["status"] == "completed"


async def test_job_duration_overrides_the_typical_time(clock: FakeClock) -> None:
    fake = FakeKrea(token=TOKEN, clock=clock, job_duration_s=2)
    async with open_client(fake) as client:
        job_id = (await client.post(VIDEOS["kling/kling-1.5"].path, json={"prompt": "a fox"})).json()["job_id"]
        clock.advance(2.01)
        assert (await _status(client, job_id))["status"] == "completed"


async def test_cancel_mid_way(client: httpx.AsyncClient, clock: FakeClock) -> None:
    op = VIDEOS["runway/gen-4.5"]
    job_id = (await client.post(op.path, json={"prompt": "a fox"})).json()["job_id"]
    clock.advance(op.typical_s / 2)
    assert (await _status(client, job_id))["status"] == "processing"
    response = await client.delete(f"/jobs/{job_id}")
    assert response.status_code == 200 and response.json()["status"] == "cancelled"
    clock.advance(op.typical_s)
    job = await _status(client, job_id)
    assert (job["status"], job["result"]) == ("cancelled", None) and job["completed_at"] is not None
    assert (await client.get(f"/_fake/videos/{job_id}/0.mp4")).status_code == 404


async def test_failures_stalls_and_system_cancels_apply_to_video_jobs(
    client: httpx.AsyncClient, clock: FakeClock, fake: FakeKrea
) -> None:
    fake.fail_next_jobs(1, error="Content moderation: the prompt was flagged")
    fake.stall_next_jobs(1)
    fake.cancel_next_jobs(1)
    path = VIDEOS["minimax/hailuo-2.3-fast"].path
    ids = [(await client.post(path, json={"prompt": f"clip {i}"})).json()["job_id"] for i in range(4)]
    clock.advance(LONGEST * 10)
    jobs = [await _status(client, job_id) for job_id in ids]
    assert [j["status"] for j in jobs] == ["failed", "processing", "cancelled", "completed"]
    assert jobs[0]["result"] == {"error": "Content moderation: the prompt was flagged"}
    for job_id in ids[:3]:
        assert (await client.get(f"/_fake/videos/{job_id}/0.mp4")).status_code == 404


async def test_http_faults_can_target_video_posts_alone(client: httpx.AsyncClient, fake: FakeKrea) -> None:
    fake.inject("video", 503)
    flux = await client.post("/generate/image/bfl/flux-1-dev", json={"prompt": "a fox"})
    assert flux.status_code == 200  # an image POST does not take a video fault
    assert (await client.post(VIDEOS["google/veo-2"].path, json={"prompt": "a fox"})).status_code == 503
    assert (await client.post(VIDEOS["google/veo-2"].path, json={"prompt": "a fox"})).status_code == 200
    fake.inject("video", 404)
    response = await client.post(VIDEOS["google/veo-2"].path, json={"prompt": "a fox"})
    assert response.json() == {"error": "Model not found: google/veo-2"}


async def test_listed_and_hostile_results(client: httpx.AsyncClient, clock: FakeClock, fake: FakeKrea) -> None:
    job = await _run(client, clock, VIDEOS["xai/grok-video"].path, {"prompt": "a fox"})
    listed = (await client.get("/jobs", params={"types": "externalVideo"})).json()["items"]
    assert [j["job_id"] for j in listed] == [job["job_id"]]
    assert (await client.get(f"/_fake/images/{job['job_id']}/0.png")).status_code == 404  # a video has no PNG
    assert (await client.get(f"/_fake/videos/{job['job_id']}/1.mp4")).status_code == 404
    fake.result_urls = ["http://169.254.169.254/latest/meta-data/"]
    assert (await _status(client, job["job_id"]))["result"]["urls"] == fake.result_urls


# --- the MP4 itself --------------------------------------------------------------------------------------------


def boxes(data: bytes, start: int = 0, end: int | None = None) -> list[tuple[bytes, int, int]]:
    """(type, payload start, payload end) of the boxes between ``start`` and ``end``; they must tile it exactly."""
    end = len(data) if end is None else end
    found, at = [], start
    while at < end:
        size, kind = struct.unpack_from(">I4s", data, at)
        assert size >= 8 and at + size <= end, (kind, size)
        found.append((kind, at + 8, at + size))
        at += size
    assert at == end  # sizes add up to the parent's payload
    return found


def child(data: bytes, parent: tuple[bytes, int, int], kind: bytes, skip: int = 0) -> tuple[bytes, int, int]:
    """The one box of type ``kind`` inside ``parent`` (after ``skip`` bytes of the parent's own fields)."""
    (found,) = [b for b in boxes(data, parent[1] + skip, parent[2]) if b[0] == kind]
    return found


def path(data: bytes, *kinds: bytes) -> tuple[bytes, int, int]:
    (box,) = [b for b in boxes(data) if b[0] == kinds[0]]
    for kind in kinds[1:]:
        box = child(data, box, kind)
    return box


def unescape(payload: bytes) -> bytes:
    """A NAL unit's RBSP: the emulation prevention bytes (00 00 03) taken out."""
    out, zeros = bytearray(), 0
    for byte in payload:
        if zeros >= 2 and byte == 3:
            zeros = 0
            continue
        out.append(byte)
        zeros = zeros + 1 if byte == 0 else 0
    return bytes(out)


class Bits:
    """A reader of the bits the writer wrote, with Exp-Golomb decoding (independent of the writer's code)."""

    def __init__(self, data: bytes) -> None:
        self.data, self.pos = data, 0

    def u(self, n: int) -> int:
        value = 0
        for _ in range(n):
            value = (value << 1) | ((self.data[self.pos // 8] >> (7 - self.pos % 8)) & 1)
            self.pos += 1
        return value

    def ue(self) -> int:
        zeros = 0
        while self.u(1) == 0:
            zeros += 1
        return (1 << zeros) - 1 + self.u(zeros)

    def se(self) -> int:
        k = self.ue()
        return (k + 1) // 2 if k % 2 else -(k // 2)

    def align(self) -> None:
        while self.pos % 8:
            assert self.u(1) == 0

    def trailing(self) -> None:
        assert self.u(1) == 1
        self.align()
        assert self.pos == len(self.data) * 8  # nothing after rbsp_trailing_bits


def parse_sps(rbsp: bytes) -> dict[str, int]:
    bits = Bits(rbsp)
    sps = {"profile": bits.u(8), "constraints": bits.u(8), "level": bits.u(8), "id": bits.ue()}
    sps["log2_max_frame_num"] = bits.ue() + 4
    sps["poc_type"] = bits.ue()
    assert sps["poc_type"] == 2
    sps["ref_frames"], sps["gaps"] = bits.ue(), bits.u(1)
    sps["mbs_wide"], sps["mbs_high"] = bits.ue() + 1, bits.ue() + 1
    assert bits.u(1) == 1  # frame_mbs_only_flag
    bits.u(1)  # direct_8x8_inference_flag
    crop = [bits.ue() for _ in range(4)] if bits.u(1) else [0, 0, 0, 0]
    sps["width"] = sps["mbs_wide"] * 16 - 2 * (crop[0] + crop[1])
    sps["height"] = sps["mbs_high"] * 16 - 2 * (crop[2] + crop[3])
    assert bits.u(1) == 0  # no VUI
    bits.trailing()
    return sps


def parse_pps(rbsp: bytes) -> None:
    bits = Bits(rbsp)
    assert (bits.ue(), bits.ue(), bits.u(1), bits.u(1), bits.ue()) == (0, 0, 0, 0, 0)  # ids, CAVLC, 1 slice group
    assert (bits.ue(), bits.ue(), bits.u(1), bits.u(2)) == (0, 0, 0, 0)
    assert (bits.se(), bits.se(), bits.se()) == (0, 0, 0)
    assert bits.u(1) == 1  # deblocking_filter_control_present_flag
    assert (bits.u(1), bits.u(1)) == (0, 0)
    bits.trailing()


def decode_idr(rbsp: bytes, mbs: int, log2_max_frame_num: int) -> tuple[int, list[bytes]]:
    """An IDR slice of I_PCM macroblocks: its idr_pic_id and each macroblock's 384 samples."""
    bits = Bits(rbsp)
    assert bits.ue() == 0  # first_mb_in_slice
    assert bits.ue() in (2, 7)  # I slice
    assert bits.ue() == 0  # pic_parameter_set_id
    assert bits.u(log2_max_frame_num) == 0  # frame_num
    idr_pic_id = bits.ue()
    assert (bits.u(1), bits.u(1)) == (0, 0)  # dec_ref_pic_marking
    assert bits.se() == 0  # slice_qp_delta
    assert bits.ue() == 1  # deblocking off
    blocks = []
    for _ in range(mbs):
        assert bits.ue() == I_PCM
        bits.align()
        start = bits.pos // 8
        blocks.append(rbsp[start : start + 384])
        bits.pos += 384 * 8
    bits.trailing()
    return idr_pic_id, blocks


def check_mp4(data: bytes) -> dict[str, Any]:
    """Every structural rule the tests can check without a decoder; returns what it read."""
    top = boxes(data)
    assert [b[0] for b in top] == [b"ftyp", b"moov", b"mdat"]
    assert data[8:12] == b"isom"
    moov = top[1]
    mvhd = child(data, moov, b"mvhd")
    assert data[mvhd[1]] == 0  # version 0
    timescale, duration = struct.unpack_from(">II", data, mvhd[1] + 12)
    trak = child(data, moov, b"trak")
    tkhd = child(data, trak, b"tkhd")
    assert struct.unpack_from(">I", data, tkhd[1] + 12)[0] == 1  # track_ID
    assert struct.unpack_from(">I", data, tkhd[1] + 20)[0] == duration
    mdia = child(data, trak, b"mdia")
    mdhd = child(data, mdia, b"mdhd")
    assert struct.unpack_from(">II", data, mdhd[1] + 12) == (timescale, duration)
    assert data[child(data, mdia, b"hdlr")[1] + 8 : child(data, mdia, b"hdlr")[1] + 12] == b"vide"
    minf = child(data, mdia, b"minf")
    child(data, minf, b"vmhd")
    dref = child(data, child(data, minf, b"dinf"), b"dref")
    assert child(data, dref, b"url ", skip=8)[1:] == (dref[2] - 4, dref[2])  # self-contained: no URL
    stbl = child(data, minf, b"stbl")
    assert {b[0] for b in boxes(data, stbl[1], stbl[2])} == {b"stsd", b"stts", b"stsc", b"stsz", b"stco"}
    avc1 = child(data, child(data, stbl, b"stsd"), b"avc1", skip=8)
    coded_w, coded_h = struct.unpack_from(">HH", data, avc1[1] + 24)
    avcc = child(data, avc1, b"avcC", skip=78)
    record = data[avcc[1] : avcc[2]]
    assert record[:6] == bytes([1, 66, 0xC0, 10, 0xFF, 0xE1])
    sps_len = struct.unpack_from(">H", record, 6)[0]
    sps_nal = record[8 : 8 + sps_len]
    assert record[8 + sps_len] == 1
    pps_len = struct.unpack_from(">H", record, 9 + sps_len)[0]
    pps_nal = record[11 + sps_len : 11 + sps_len + pps_len]
    assert 11 + sps_len + pps_len == len(record)
    assert (sps_nal[0], pps_nal[0]) == (0x67, 0x68)  # nal_ref_idc 3, types 7 and 8
    sps = parse_sps(unescape(sps_nal[1:]))
    parse_pps(unescape(pps_nal[1:]))
    assert (sps["profile"], sps["constraints"], sps["level"]) == (66, 0xC0, 10)
    assert (sps["width"], sps["height"]) == (coded_w, coded_h)  # the sample entry states the cropped size
    stsz = child(data, stbl, b"stsz")
    sample_size, frames = struct.unpack_from(">II", data, stsz[1] + 4)
    sizes = list(struct.unpack_from(f">{frames}I", data, stsz[1] + 12))
    assert sample_size == 0 and stsz[2] - stsz[1] == 12 + 4 * frames
    stts = child(data, stbl, b"stts")
    runs = struct.unpack_from(">I", data, stts[1] + 4)[0]
    deltas = [struct.unpack_from(">II", data, stts[1] + 8 + 8 * i) for i in range(runs)]
    assert sum(n for n, _ in deltas) == frames and sum(n * d for n, d in deltas) == duration
    stsc = child(data, stbl, b"stsc")
    assert stsc[2] - stsc[1] == 20 and struct.unpack_from(">IIII", data, stsc[1] + 4) == (1, 1, frames, 1)
    stco = child(data, stbl, b"stco")
    assert struct.unpack_from(">I", data, stco[1] + 4)[0] == 1
    offset = struct.unpack_from(">I", data, stco[1] + 8)[0]
    mdat = top[2]
    assert offset == mdat[1] and offset + sum(sizes) == mdat[2] == len(data)  # the chunk is the whole mdat
    at = offset
    slices = []
    for index, size in enumerate(sizes):
        length = struct.unpack_from(">I", data, at)[0]
        assert length == size - 4 and data[at + 4] == 0x65  # one IDR NAL unit per sample
        idr_pic_id, blocks = decode_idr(
            unescape(data[at + 5 : at + size]), sps["mbs_wide"] * sps["mbs_high"], sps["log2_max_frame_num"]
        )
        assert idr_pic_id == index % 2  # consecutive IDR pictures differ
        slices.append(blocks)
        at += size
    return {"timescale": timescale, "duration": duration, "frames": frames, "sps": sps, "slices": slices}


@pytest.mark.parametrize(
    ("seconds", "width", "height"),
    [(5, 1280, 720), (10, 720, 1280), (8, 1080, 1080), (81 / 16, 832, 480), (20, 2520, 1080), (0.4, 1920, 1080)],
)
def test_the_writer_s_mp4_is_well_formed_and_its_first_frame_decodes(seconds: float, width: int, height: int) -> None:
    video = mp4_video(seconds, width, height, "a red fox")
    read = check_mp4(video.data)
    assert read["timescale"] == TIMESCALE and read["duration"] == round(seconds * TIMESCALE)
    assert read["frames"] == video.frames == frame_count(seconds) == max(1, min(MAX_FRAMES, round(seconds * FPS)))
    layout = layout_for(width, height)
    assert (read["sps"]["width"], read["sps"]["height"]) == (layout.width, layout.height)
    assert abs(layout.width / layout.height - width / height) < 0.25  # the aspect ratio, at 32 pixels
    seed = hashlib.sha256(b"a red fox").digest()
    assert read["slices"][0] == frame_samples(layout, seed, 0)  # the samples round-trip through the bitstream
    luma = read["slices"][0][0][:256]
    assert all(16 <= s <= 235 for s in luma) and len(set(luma)) > 16  # a gradient in video range, not a flat frame
    if read["frames"] > 1:
        assert read["slices"][1] != read["slices"][0]  # it moves
    assert video_info(video.data) == pytest.approx((round(seconds * TIMESCALE) / TIMESCALE, width, height))


def test_long_videos_stay_small_and_state_their_length() -> None:
    longest = mp4_video(3600, 1920, 1080, "an hour")
    assert len(longest.data) < 200_000 and longest.frames == MAX_FRAMES
    assert video_info(longest.data) == (3600.0, 1920, 1080)
    assert check_mp4(longest.data)["frames"] == MAX_FRAMES


def test_emulation_prevention() -> None:
    assert nal(3, 5, b"\x00\x00\x01\x00\x00\x00\xff") == b"\x65\x00\x00\x03\x01\x00\x00\x03\x00\xff"
    payload = bytes(random.Random(7).choice([0, 0, 0, 1, 2, 3, 255]) for _ in range(4000))
    escaped = nal(0, 1, payload)[1:]
    assert unescape(escaped) == payload
    assert all(
        escaped[i : i + 3] not in (b"\x00\x00\x00", b"\x00\x00\x01", b"\x00\x00\x02") for i in range(len(escaped))
    )


# --- video_info ------------------------------------------------------------------------------------------------


def test_video_info_reads_every_prefix_without_surprises() -> None:
    data = mp4_video(6, 1280, 720, "a fox").data
    moov_end = boxes(data)[1][2]
    last: tuple[float | None, int | None, int | None] = (None, None, None)
    for cut in range(len(data) + 1):
        if cut < 8:
            with pytest.raises(ValueError, match="not an MP4 or MOV file"):
                video_info(data[:cut])
            continue
        info = video_info(data[:cut])
        for got, before in zip(info, last, strict=True):
            assert before is None or got == before  # a longer prefix never forgets or changes a fact
        last = info
        if cut >= moov_end:
            assert info == (6.0, 1280, 720)
    assert last == (6.0, 1280, 720)


@pytest.mark.parametrize(
    "junk",
    [
        b"",
        b"GIF89a" + bytes(100),
        b"\x89PNG\r\n\x1a\n" + bytes(100),
        bytes(random.Random(1).randbytes(5000)),
        b"\x00\x00\x00\x08junk" * 10,
    ],
)
def test_video_info_refuses_what_is_not_an_mp4(junk: bytes) -> None:
    with pytest.raises(ValueError):
        video_info(junk)


def _box(kind: bytes, payload: bytes = b"") -> bytes:
    return struct.pack(">I4s", 8 + len(payload), kind) + payload


def _mvhd_v1(timescale: int, duration: int) -> bytes:
    return _box(b"mvhd", b"\x01\x00\x00\x00" + struct.pack(">QQIQ", 0, 0, timescale, duration) + bytes(80))


def _tkhd(width: int, height: int) -> bytes:
    return _box(b"tkhd", bytes(4 + 20 + 8 + 8 + 36) + struct.pack(">II", width << 16, height << 16))


def _hdlr(kind: bytes) -> bytes:
    return _box(b"mdia", _box(b"hdlr", bytes(8) + kind + bytes(12) + b"\0"))


def test_video_info_reads_quicktime_layouts_and_64_bit_headers() -> None:
    audio = _box(b"trak", _tkhd(0, 0) + _hdlr(b"soun"))
    video = _box(b"trak", _tkhd(1920, 1080) + _hdlr(b"vide"))
    moov = _box(b"moov", _mvhd_v1(600, 600 * 90_000) + audio + video)  # a 25-hour movie, mvhd version 1
    mov = _box(b"wide") + _box(b"mdat", bytes(64)) + moov  # QuickTime: moov last, after the media
    assert video_info(mov) == (90_000.0, 1920, 1080)
    big = struct.pack(">I4sQ", 1, b"mdat", 16 + 32) + bytes(32)  # a 64-bit box size
    assert video_info(_box(b"ftyp", b"qt  ") + big + moov) == (90_000.0, 1920, 1080)
    assert video_info(_box(b"ftyp") + _box(b"moov", _mvhd_v1(0, 5) + audio)) == (None, None, None)  # no time scale
    unknown = _box(b"moov", _mvhd_v1(1000, 2**64 - 1) + _box(b"trak", _tkhd(640, 480)))  # no handler: has a size
    assert video_info(_box(b"ftyp") + unknown) == (None, 640, 480)
    assert video_info(_box(b"ftyp") + _box(b"mdat", bytes(100))) == (None, None, None)  # moov not in the head


@pytest.mark.parametrize(
    "hostile",
    [
        _box(b"ftyp") + struct.pack(">I4s", 0xFFFFFFFF, b"moov") + _mvhd_v1(1, 1),  # claims 4 GB
        _box(b"ftyp") + struct.pack(">I4sQ", 1, b"moov", 2**63) + _mvhd_v1(1, 1),  # claims 8 EB
        _box(b"ftyp") + struct.pack(">I4s", 3, b"moov") + bytes(64),  # smaller than its own header
        _box(b"ftyp") + struct.pack(">I4s", 0, b"moov") + _box(b"trak") * 100_000,  # to the end: 100k empty tracks
        _box(b"ftyp") + _box(b"moov", _box(b"mvhd", b"\x01") + _box(b"trak", _box(b"tkhd", b"\x00" * 10))),
        _box(b"moov", _box(b"free") * 200_000),
    ],
)
def test_video_info_is_bounded_on_hostile_headers(hostile: bytes) -> None:
    info = video_info(hostile)
    assert len(info) == 3 and all(v is None or isinstance(v, float | int) for v in info)
