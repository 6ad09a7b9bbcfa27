"""The human commands: generate --json, models, doctor."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from krea_mcp.catalog import load_catalog

from .e2e import child_env


def run(*args: str, cwd: Path, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "krea_mcp", *args],
        env=child_env(**env),
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=90,
    )


def test_generate_json_is_valid_json_with_files_and_urls(tmp_path: Path) -> None:
    proc = run("generate", "a fox", "--sandbox", "--json", "--out", "shots", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    data = json.loads(proc.stdout)
    assert data["status"] == "completed"
    (saved,) = data["files"]
    assert Path(saved).parent == tmp_path / "shots"  # --out is relative to the shell's directory
    assert data["urls"]


def test_generate_reports_a_bad_model_and_exits_nonzero(tmp_path: Path) -> None:
    proc = run("generate", "a fox", "--sandbox", "--model", "fluxx", cwd=tmp_path, KREA_OUTPUT_DIR=str(tmp_path))
    assert proc.returncode == 1
    assert "Did you mean" in proc.stderr
    assert proc.stdout == ""


def test_models_prints_every_model(tmp_path: Path) -> None:
    proc = run("models", cwd=tmp_path)
    assert proc.returncode == 0
    for model_id in load_catalog().models:
        assert model_id in proc.stdout


def test_doctor_checks_the_sandbox_and_never_prints_the_token(tmp_path: Path) -> None:
    secret = "id:doctor-sentinel-4d1f"
    proc = run("doctor", "--sandbox", cwd=tmp_path, KREA_API_TOKEN=secret, KREA_OUTPUT_DIR=str(tmp_path / "o"))
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "token check   OK" in proc.stdout and "(writable)" in proc.stdout
    assert '"mcpServers"' in proc.stdout
    assert secret not in proc.stdout + proc.stderr and "doctor-sentinel" not in proc.stdout + proc.stderr


def test_doctor_reports_a_rejected_token(tmp_path: Path) -> None:
    """Against a real (emulated) API on loopback that expects another token: a clear failure, exit 1."""
    from .e2e import free_port, running

    port = free_port()
    with running(["-m", "krea_mcp.fake_api", "--port", str(port), "--token", "right"], port):
        proc = run(
            "doctor",
            cwd=tmp_path,
            KREA_API_TOKEN="wrong-sentinel-77",
            KREA_BASE_URL=f"http://127.0.0.1:{port}",
            KREA_OUTPUT_DIR=str(tmp_path / "o"),
        )
    assert proc.returncode == 1
    assert "token check   FAILED" in proc.stdout and "401" in proc.stdout
    assert "wrong-sentinel-77" not in proc.stdout + proc.stderr
