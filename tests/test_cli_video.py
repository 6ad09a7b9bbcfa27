"""``krea-mcp video PROMPT``: generate_video from a shell, followed to the end, saved as .mp4; ``krea-mcp models``
lists video models apart from image models."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from krea_mcp.files.video_info import video_info
from tests.helpers import TOKEN, free_port, run_cli, running


@pytest.fixture(scope="module")
def api() -> Iterator[dict[str, str]]:
    port = free_port()
    with running(["-m", "krea_mcp.fake_api", "--port", str(port), "--token", TOKEN, "--job-duration", "0.4"], port):
        yield {"KREA_API_TOKEN": TOKEN, "KREA_BASE_URL": f"http://127.0.0.1:{port}", "KREA_POLL_INTERVAL_S": "0.1"}


def test_video_from_a_local_first_frame_is_saved_as_mp4(tmp_path: Path, api: dict[str, str]) -> None:
    from PIL import Image

    Image.new("RGB", (64, 36), (10, 120, 200)).save(tmp_path / "first.png")
    proc = run_cli(
        "video", "the sea at night", "--model", "veo-3.1-lite", "--image", "first.png", "--duration", "6",
        "--out", "clips/sea.mp4", "--json", cwd=tmp_path, **api,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    data = json.loads(proc.stdout)
    (saved,) = data["files"]
    assert Path(saved) == tmp_path / "clips" / "sea.mp4"
    assert video_info(Path(saved).read_bytes())[0] == pytest.approx(6.0)
    assert (data["duration_s"], data["width"], data["height"]) == (6, 1280, 720)
    assert f"  job {data['job_id']}\n" in proc.stderr


def test_video_errors_use_the_commands_flags(tmp_path: Path, api: dict[str, str]) -> None:
    proc = run_cli("video", "a fox", "--model", "kling-2.5", "--duration", "7", cwd=tmp_path, **api)
    assert proc.returncode == 1
    assert "--duration 7: model kling/kling-2.5 makes videos of 5 or 10 seconds." in proc.stderr
    assert proc.stdout == ""


def test_models_lists_video_models_apart(tmp_path: Path) -> None:
    proc = run_cli("models", cwd=tmp_path)
    assert proc.returncode == 0
    images, videos = proc.stdout.split("VIDEO MODEL", 1)
    assert "bfl/flux-1-dev" in images and "google/veo-3" not in images
    assert "google/veo-3 " in videos and "4, 6 or 8 s" in videos and "bfl/flux-1-dev" not in videos


def test_video_options_reach_the_model(tmp_path: Path, api: dict[str, str]) -> None:
    """Aleph edits a video: its init_video goes through --option (a URL stays text)."""
    missing = run_cli("video", "make it snow", "--model", "aleph", "--no-save", cwd=tmp_path, **api)
    assert missing.returncode == 1 and "--option init_video: required by model runway/aleph" in missing.stderr
    proc = run_cli(
        "video", "make it snow", "--model", "aleph", "--option", "init_video=https://example.com/in.mp4",
        "--json", cwd=tmp_path, **api,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    (saved,) = json.loads(proc.stdout)["files"]  # saved to KREA_OUTPUT_DIR without --out
    assert saved.endswith(".mp4")
