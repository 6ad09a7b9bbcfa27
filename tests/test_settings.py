"""Settings come from KREA_* variables and .env, the token stays secret, and nothing is read at import."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from pydantic import ValidationError

from krea_mcp.settings import Settings


def test_defaults() -> None:
    s = Settings(_env_file=None)  # type: ignore[call-arg]
    assert s.api_token is None
    assert s.base_url == "https://api.krea.ai"
    assert s.default_model == "bfl/flux-1-dev"
    assert 0 < s.wait_s < 60
    assert s.sandbox is False


@pytest.mark.parametrize("name", ["KREA_API_TOKEN", "KREA_API_KEY"])
def test_token_from_either_variable(monkeypatch: pytest.MonkeyPatch, name: str) -> None:
    monkeypatch.setenv(name, "id:secret")
    s = Settings(_env_file=None)  # type: ignore[call-arg]
    assert s.api_token is not None and s.api_token.get_secret_value() == "id:secret"


def test_token_is_hidden_in_repr_and_dump(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KREA_API_TOKEN", "id:supersecret")
    s = Settings(_env_file=None)  # type: ignore[call-arg]
    assert "supersecret" not in repr(s)
    assert "supersecret" not in str(s.model_dump())
    assert "supersecret" not in s.model_dump_json()


def test_blank_token_counts_as_missing(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KREA_API_TOKEN", "   ")
    assert Settings(_env_file=None).api_token is None  # type: ignore[call-arg]


def test_env_file_is_read(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / ".env").write_text("KREA_API_KEY=from-dotenv\nKREA_WAIT_S=30\nKREA_BASE_URL=http://127.0.0.1:8787/\n")
    monkeypatch.chdir(tmp_path)
    s = Settings()
    assert s.api_token is not None and s.api_token.get_secret_value() == "from-dotenv"
    assert s.wait_s == 30
    assert s.base_url == "http://127.0.0.1:8787"


@pytest.mark.parametrize(
    ("name", "value"),
    [("KREA_WAIT_S", "0"), ("KREA_WAIT_S", "soon"), ("KREA_BASE_URL", "api.krea.ai"), ("KREA_LOG_LEVEL", "LOUD")],
)
def test_bad_values_name_the_setting(monkeypatch: pytest.MonkeyPatch, name: str, value: str) -> None:
    monkeypatch.setenv(name, value)
    with pytest.raises(ValidationError) as info:
        Settings(_env_file=None)  # type: ignore[call-arg]
    assert name.removeprefix("KREA_").lower() in str(info.value)


def test_importing_the_package_reads_no_environment() -> None:
    """Importing every module with a broken setting must not fail: only main() builds Settings."""
    code = "import krea_mcp.server.app, krea_mcp.__main__, krea_mcp.krea.client, krea_mcp.workflow.job_service"
    env = {"KREA_WAIT_S": "not-a-number", "PATH": "/usr/bin:/bin"}
    subprocess.run([sys.executable, "-c", code], env=env, check=True, timeout=60)


def test_cli_reports_bad_configuration_without_a_traceback() -> None:
    env = {"KREA_WAIT_S": "not-a-number", "PATH": "/usr/bin:/bin"}
    proc = subprocess.run(
        [sys.executable, "-m", "krea_mcp", "--sandbox"], env=env, capture_output=True, text=True, timeout=60
    )
    assert proc.returncode == 2
    assert "KREA_WAIT_S" in proc.stderr and "Traceback" not in proc.stderr


@pytest.mark.parametrize(
    ("value", "names"),
    [
        (
            "generate,jobs,models",
            {"generate_image", "get_job", "wait_for_job", "cancel_job", "list_jobs", "list_models"},
        ),
        ("models", {"list_models"}),
        ("jobs, generate", {"generate_image", "get_job", "wait_for_job", "cancel_job", "list_jobs"}),
        ('["jobs"]', {"get_job", "wait_for_job", "cancel_job", "list_jobs"}),
        ("enhance,jobs", {"enhance_image", "get_job", "wait_for_job", "cancel_job", "list_jobs"}),
        ("styles", {"list_styles"}),
        ("training,jobs", {"train_style", "get_job", "wait_for_job", "cancel_job", "list_jobs"}),
        ("video,jobs", {"generate_video", "get_job", "wait_for_job", "cancel_job", "list_jobs"}),
        (
            "all",
            {"generate_image", "enhance_image", "list_styles", "train_style", "generate_video"}
            | {"get_job", "wait_for_job", "cancel_job", "list_jobs", "list_models"},
        ),
    ],
)
def test_krea_tools_chooses_the_tool_groups(monkeypatch: pytest.MonkeyPatch, value: str, names: set[str]) -> None:
    from krea_mcp.server.tools import build_tools

    monkeypatch.setenv("KREA_TOOLS", value)
    assert {tool.name for tool in build_tools(Settings(_env_file=None))} == names  # type: ignore[call-arg]


def test_default_tool_groups_leave_out_training(monkeypatch: pytest.MonkeyPatch) -> None:
    from krea_mcp.server.tools import build_tools

    monkeypatch.delenv("KREA_TOOLS", raising=False)
    names = {tool.name for tool in build_tools(Settings(_env_file=None))}  # type: ignore[call-arg]
    assert "train_style" not in names and {"generate_image", "enhance_image", "list_styles"} <= names


@pytest.mark.parametrize(
    ("value", "words"),
    [
        (
            "generate,pictures",
            "unknown tool group 'pictures'; the groups are: generate, enhance, styles, training, video, jobs, "
            r"models \(or all\)",
        ),
        ("generate", "generate needs jobs too"),
        ("styles,training", "training needs jobs too"),
        ("video", "video needs jobs too"),
        (" , ", "no tool group chosen"),
    ],
)
def test_a_bad_krea_tools_is_refused_naming_the_groups(monkeypatch: pytest.MonkeyPatch, value: str, words: str) -> None:
    monkeypatch.setenv("KREA_TOOLS", value)
    with pytest.raises(ValidationError, match=words):
        Settings(_env_file=None)  # type: ignore[call-arg]
