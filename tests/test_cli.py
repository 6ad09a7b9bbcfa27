"""The human commands: generate --json, models, doctor."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from krea_mcp.catalog.models import load_catalog
from tests.helpers import child_env, free_port, run_cli, running


def test_generate_json_is_valid_json_with_files_and_urls(tmp_path: Path) -> None:
    proc = run_cli("generate", "a fox", "--sandbox", "--json", "--out", "shots", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    data = json.loads(proc.stdout)
    assert data["status"] == "completed"
    (saved,) = data["files"]
    assert Path(saved).parent == tmp_path / "shots"  # --out is relative to the shell's directory
    assert data["urls"]
    assert f"  job {data['job_id']}\n" in proc.stderr  # named as soon as the job exists, before any waiting


def test_generate_reports_a_bad_model_and_exits_nonzero(tmp_path: Path) -> None:
    proc = run_cli("generate", "a fox", "--sandbox", "--model", "fluxx", cwd=tmp_path, KREA_OUTPUT_DIR=str(tmp_path))
    assert proc.returncode == 1
    assert "Did you mean" in proc.stderr
    assert proc.stdout == ""


def test_models_prints_every_model(tmp_path: Path) -> None:
    proc = run_cli("models", cwd=tmp_path)
    assert proc.returncode == 0
    for model_id in load_catalog().models:
        assert model_id in proc.stdout


def test_doctor_checks_the_sandbox_and_never_prints_the_token(tmp_path: Path) -> None:
    secret = "id:doctor-sentinel-4d1f"
    proc = run_cli("doctor", "--sandbox", cwd=tmp_path, KREA_API_TOKEN=secret, KREA_OUTPUT_DIR=str(tmp_path / "o"))
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "token check   OK" in proc.stdout and "(writable)" in proc.stdout
    assert '"mcpServers"' in proc.stdout
    assert secret not in proc.stdout + proc.stderr and "doctor-sentinel" not in proc.stdout + proc.stderr


def test_doctor_reports_a_rejected_token(tmp_path: Path) -> None:
    """Against a real (emulated) API on loopback that expects another token: a clear failure, exit 1."""
    port = free_port()
    with running(["-m", "krea_mcp.fake_api", "--port", str(port), "--token", "right"], port):
        proc = run_cli(
            "doctor",
            cwd=tmp_path,
            KREA_API_TOKEN="wrong-sentinel-77",
            KREA_BASE_URL=f"http://127.0.0.1:{port}",
            KREA_OUTPUT_DIR=str(tmp_path / "o"),
        )
    assert proc.returncode == 1
    assert "token check   FAILED" in proc.stdout and "401" in proc.stdout
    assert "wrong-sentinel-77" not in proc.stdout + proc.stderr


def test_ctrl_c_prints_the_job_id_and_wait_then_picks_it_up(tmp_path: Path) -> None:
    """Interrupted generate: no traceback, the job id and the commands to resume or cancel; `wait` finishes it."""
    import re
    import signal
    import time

    port = free_port()
    env = child_env(KREA_API_TOKEN="t", KREA_BASE_URL=f"http://127.0.0.1:{port}", KREA_OUTPUT_DIR=str(tmp_path / "o"))
    with running(["-m", "krea_mcp.fake_api", "--port", str(port), "--job-duration", "3", "--quiet"], port):
        proc = subprocess.Popen(
            [sys.executable, "-m", "krea_mcp", "generate", "a slow fox"],
            env=env,
            cwd=tmp_path,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        assert proc.stderr is not None
        deadline = time.monotonic() + 30
        while "queued" not in proc.stderr.readline():  # the job exists once its first status is shown
            assert time.monotonic() < deadline and proc.poll() is None
        proc.send_signal(signal.SIGINT)
        _, err = proc.communicate(timeout=30)
        assert proc.returncode == 130, err
        assert "Traceback" not in err
        match = re.search(r"job ([0-9a-f-]{36}) keeps running", err)
        assert match, err
        job_id = match.group(1)
        assert f"krea-mcp wait {job_id}" in err and f"krea-mcp cancel {job_id}" in err
        waited = run_cli("wait", job_id, "--out", "later", cwd=tmp_path, **env)
    assert waited.returncode == 0, waited.stderr
    (saved,) = [line for line in waited.stdout.splitlines() if line.endswith(".png") and not line.startswith("http")]
    assert Path(saved).parent == tmp_path / "later" and Path(saved).stat().st_size > 0


def test_cancel_command_cancels_a_running_job(tmp_path: Path) -> None:
    port = free_port()
    env = {"KREA_API_TOKEN": "t", "KREA_BASE_URL": f"http://127.0.0.1:{port}", "KREA_OUTPUT_DIR": str(tmp_path)}
    with running(["-m", "krea_mcp.fake_api", "--port", str(port), "--job-duration", "30", "--quiet"], port):
        import httpx

        created = httpx.post(
            f"http://127.0.0.1:{port}/generate/image/bfl/flux-1-dev",
            json={"prompt": "a fox"},
            headers={"Authorization": "Bearer t"},
        )
        job_id = created.json()["job_id"]
        cancelled = run_cli("cancel", job_id, "--json", cwd=tmp_path, **env)
    assert cancelled.returncode == 0, cancelled.stderr
    assert json.loads(cancelled.stdout)["status"] == "cancelled"


def test_cli_errors_speak_in_flags_not_tool_arguments(tmp_path: Path) -> None:
    proc = run_cli("generate", "a fox", "--sandbox", "--model", "z-image", "--aspect-ratio", "5:4", cwd=tmp_path)
    assert proc.returncode == 1
    assert "--aspect-ratio '5:4' is not offered" in proc.stderr
    assert "aspect_ratio" not in proc.stderr and "Error executing tool" not in proc.stderr
    unknown = run_cli("generate", "a fox", "--sandbox", "--model", "fluxx", cwd=tmp_path)
    assert "`krea-mcp models`" in unknown.stderr and "list_models" not in unknown.stderr


def test_doctor_in_the_sandbox_shows_a_sandbox_snippet_that_works_today(tmp_path: Path) -> None:
    proc = run_cli("doctor", "--sandbox", cwd=tmp_path, KREA_OUTPUT_DIR=str(tmp_path / "o"))
    assert proc.returncode == 0, proc.stdout
    assert "api.krea.ai" not in proc.stdout and "KREA_API_TOKEN" not in proc.stdout
    snippet = json.loads(proc.stdout[proc.stdout.index("{") : proc.stdout.rindex("}") + 1])
    server = snippet["mcpServers"]["krea"]
    assert server["args"][-1] == "--sandbox" and "env" not in server
    assert Path(server["command"]).is_absolute() and "uvx" not in server["command"]


def test_a_bad_setting_names_the_variable_and_never_echoes_its_value(tmp_path: Path) -> None:
    proc = run_cli("models", cwd=tmp_path)  # the catalog needs no settings: a baseline that works
    assert proc.returncode == 0
    bad = run_cli("doctor", cwd=tmp_path, KREA_BASE_URL="ftp://ops:hunter2-pass@krea.example", KREA_PREVIEW="huge")
    assert bad.returncode == 2
    assert "KREA_BASE_URL: KREA_BASE_URL must start with http:// or https://" in bad.stderr
    assert "KREA_PREVIEW: Input should be 'off', 'thumbnail' or 'full'" in bad.stderr
    assert "hunter2" not in bad.stderr and "errors.pydantic.dev" not in bad.stderr and "type=" not in bad.stderr


def test_generate_with_out_works_from_the_root_directory(tmp_path: Path) -> None:
    proc = run_cli("generate", "a fox", "--sandbox", "--out", str(tmp_path / "shots"), cwd=Path("/"))
    assert proc.returncode == 0, proc.stderr
    assert any(line.startswith(str(tmp_path / "shots")) for line in proc.stdout.splitlines())
