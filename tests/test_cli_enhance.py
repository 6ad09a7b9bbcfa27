"""``krea-mcp enhance IMAGE``: the same enhance_image tool from a shell, with progress, saving and plain errors."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.helpers import TOKEN, free_port, run_cli, running


@pytest.fixture(scope="module")
def api() -> Iterator[dict[str, str]]:
    """A standalone emulator with quick jobs, and the settings that point the command at it."""
    port = free_port()
    with running(["-m", "krea_mcp.fake_api", "--port", str(port), "--token", TOKEN, "--job-duration", "0.3"], port):
        yield {"KREA_API_TOKEN": TOKEN, "KREA_BASE_URL": f"http://127.0.0.1:{port}", "KREA_POLL_INTERVAL_S": "0.1"}


def picture(path: Path, width: int, height: int) -> Path:
    from PIL import Image

    Image.new("RGB", (width, height), (30, 90, 200)).save(path)
    return path


def test_enhance_a_local_file_saves_it_at_the_computed_size(tmp_path: Path, api: dict[str, str]) -> None:
    elsewhere = tmp_path / "photos"
    elsewhere.mkdir()
    picture(elsewhere / "pic.png", 400, 300)
    work = tmp_path / "work"
    work.mkdir()
    proc = run_cli("enhance", str(elsewhere / "pic.png"), "--scale", "3", "--json", "--out", "big", cwd=work, **api)
    assert proc.returncode == 0, proc.stderr
    data = json.loads(proc.stdout)
    (saved,) = data["files"]
    assert Path(saved).parent == work / "big"
    from PIL import Image

    with Image.open(saved) as image:
        assert image.size == (1200, 900)
    assert f"  job {data['job_id']}\n" in proc.stderr


def test_enhance_options_and_a_finished_job_by_id(tmp_path: Path, api: dict[str, str]) -> None:
    first = run_cli(
        "generate", "a fox", "--json", "--no-save", "--width", "512", "--height", "512", cwd=tmp_path, **api
    )
    assert first.returncode == 0, first.stderr
    job_id = json.loads(first.stdout)["job_id"]
    proc = run_cli(
        "enhance", job_id, "--enhancer", "generative", "--long-side", "2048", "--option", "creativity=4",
        "--option", "prompt=a sharper fox", "--no-save", cwd=tmp_path, **api,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    assert "Enhanced with generative (Redefine): 512×512 → 2048×2048 (4×)." in proc.stderr
    assert proc.stdout.strip().startswith("http://127.0.0.1:")


@pytest.mark.parametrize(
    ("args", "words"),
    [
        (["--enhancer", "bloom", "--scale", "30"], "--scale 30: the 400×300 input would become 12000×9000"),
        (["--option", "width=3"], "--option width: set by --scale or --long-side, not by options."),
        (["--option", "oops"], "--option 'oops': write it as NAME=VALUE"),
        (["--scale", "2", "--long-side", "900"], "not allowed with argument"),
    ],
)
def test_enhance_errors_are_plain_and_nothing_is_started(
    tmp_path: Path, api: dict[str, str], args: list[str], words: str
) -> None:
    picture(tmp_path / "pic.png", 400, 300)
    proc = run_cli("enhance", "pic.png", *args, cwd=tmp_path, **api)
    assert proc.returncode != 0
    assert words in proc.stderr, proc.stderr
    assert proc.stdout == "" and "Traceback" not in proc.stderr


@pytest.mark.parametrize(
    ("args", "words"),
    [
        (["--scale", "inf"], "argument --scale: 'inf' is not a finite number"),
        (["--model", "Redefine"], "pass --enhancer 'generative'"),
        (["--long-side", "100"], "Use --long-side from 400 to 12800, or --scale 1"),
    ],
)
def test_enhance_flags_are_named_as_typed(tmp_path: Path, api: dict[str, str], args: list[str], words: str) -> None:
    picture(tmp_path / "pic.png", 400, 300)
    proc = run_cli("enhance", "pic.png", *args, "--no-save", cwd=tmp_path, **api)
    assert proc.returncode != 0 and words in proc.stderr, proc.stderr


def test_enhance_takes_a_file_uri_and_a_text_option(tmp_path: Path, api: dict[str, str]) -> None:
    picture(tmp_path / "pic.png", 40, 30)
    uri = (tmp_path / "pic.png").as_uri()
    proc = run_cli(
        "enhance", uri, "--enhancer", "generative", "--option", "prompt=123", "--no-save", cwd=tmp_path, **api
    )
    assert proc.returncode == 0, proc.stderr
    assert "40×30 → 80×60 (2×)" in proc.stderr
