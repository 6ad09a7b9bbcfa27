"""The MCP Inspector CLI (``@modelcontextprotocol/inspector --cli``) drives krea-mcp over stdio and over HTTP.

Each Inspector call is one process: it connects, makes one request, prints the result as JSON and exits (5 when
the tool result has ``isError``). Both protocol eras: ``--protocol-era modern`` (2026-07-28, no initialize
handshake) and the Inspector's default for ad-hoc targets, legacy (the 2025-11-25 initialize handshake).

Over stdio every call starts a new server, and the ``--sandbox`` emulator lives inside the server process, so a
job id from one call means nothing to the next. The job round trip over stdio therefore points the server at the
standalone emulator (``python -m krea_mcp.fake_api``, as the README describes), which outlives the calls.
"""

from __future__ import annotations

import base64
import json
import re
import sys
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from tests.helpers import child_env, free_port, running
from tests.node_clients import _node

pytestmark = [pytest.mark.third_party]

#: The default tool groups: every tool but train_style.
TOOLS = {"generate_image", "get_job", "wait_for_job", "cancel_job", "list_jobs", "list_models"}
TOOLS |= {"enhance_image", "list_styles", "generate_video"}
EXIT_TOOL_IS_ERROR = 5  # the Inspector CLI's exit code for a tool result with isError: true
SERVER_INFO = "io.modelcontextprotocol/serverInfo"  # modern-era results name the server in _meta
JOB_ID = re.compile(r"^[A-Za-z0-9_-]+$")


@dataclass(frozen=True)
class Target:
    """How the Inspector reaches one krea-mcp: Inspector options, then what follows ``--`` (command or URL)."""

    name: str
    options: list[str] = field(default_factory=list)
    server: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class Reply:
    code: int
    result: dict[str, Any]
    stderr: str


@pytest.fixture(scope="module")
def workdir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("inspector")


@pytest.fixture(scope="module")
def inspector() -> list[str]:
    return _node.inspector_cli()


@pytest.fixture(scope="module")
def http_target(workdir: Path) -> Iterator[Target]:
    """``krea-mcp --transport http --sandbox``: one server, and one emulator, for every call of the module."""
    port = free_port()
    out = workdir / "http-images"
    args = ["-m", "krea_mcp", "--transport", "http", "--host", "127.0.0.1", "--port", str(port), "--sandbox"]
    with running(args, port, env=child_env(KREA_OUTPUT_DIR=str(out)), cwd=workdir):
        yield Target("http", server=[f"http://127.0.0.1:{port}/mcp"])


@pytest.fixture(scope="module")
def stdio_target(workdir: Path) -> Target:
    """``krea-mcp --sandbox`` over stdio, started by the Inspector with only the variables given by ``-e``."""
    out = workdir / "stdio-images"
    options = ["-e", f"KREA_OUTPUT_DIR={out}", "--cwd", str(workdir)]
    return Target("stdio", options=options, server=[sys.executable, "-m", "krea_mcp", "--sandbox"])


@pytest.fixture(scope="module")
def stdio_emulator_target(workdir: Path) -> Iterator[Target]:
    """krea-mcp over stdio against the standalone emulator, whose jobs outlive each stdio server process."""
    port = free_port()
    emulator = ["-m", "krea_mcp.fake_api", "--port", str(port), "--job-duration", "0.5", "--quiet"]
    with running(emulator, port, env=child_env(), cwd=workdir):
        options = [
            *("-e", f"KREA_BASE_URL=http://127.0.0.1:{port}"),
            *("-e", "KREA_API_TOKEN=test-token-inspector"),
            *("-e", "KREA_POLL_INTERVAL_S=0.1"),
            *("-e", f"KREA_OUTPUT_DIR={workdir / 'emulator-images'}"),
            *("--cwd", str(workdir)),
        ]
        yield Target("stdio-emulator", options=options, server=[sys.executable, "-m", "krea_mcp"])


def call(inspector: list[str], target: Target, era: str, home: Path, *args: str) -> Reply:
    """One Inspector CLI invocation; ``args`` are its method options. Returns the exit code and parsed result."""
    era_option = ["--protocol-era", "modern"] if era == "modern" else []  # legacy: the default for ad-hoc targets
    argv = [*inspector, "--cli", "-q", "--format", "json", *era_option, *args, *target.options, "--", *target.server]
    done = _node.run(argv, env=_node.node_env(home), cwd=home, timeout=90)
    assert done.stdout.strip(), f"no output from {argv}\nexit {done.returncode}, stderr:\n{done.stderr}"
    try:
        printed = json.loads(done.stdout)
    except json.JSONDecodeError:
        pytest.fail(f"Inspector printed non-JSON (exit {done.returncode}):\n{done.stdout}\nstderr:\n{done.stderr}")
    assert set(printed) == {"result"}, printed
    return Reply(done.returncode, printed["result"], done.stderr)


def tool(inspector: list[str], target: Target, era: str, home: Path, name: str, *pairs: str) -> Reply:
    args = ["--method", "tools/call", "--tool-name", name]
    return call(inspector, target, era, home, *args, *(["--tool-arg", *pairs] if pairs else []))


def check_era(result: dict[str, Any], era: str) -> None:
    """A modern-era result names the server in ``_meta`` (there was no initialize); a legacy one does not."""
    if era == "modern":
        assert result["_meta"][SERVER_INFO]["name"] == "krea", result.get("_meta")
    else:
        assert SERVER_INFO not in result.get("_meta", {}), result["_meta"]


def check_job_result(
    reply: Reply, era: str, *, job_id: str | None = None, model: bool = True, preview: bool = True
) -> str:
    """A completed one-image job result, as the README documents it; returns the job id.

    ``model``: the server knows the job's model (only the process that created the job does: Krea does not return
    it). ``preview``: a thumbnail comes with the result (generate_image and wait_for_job deliver; get_job does not).
    """
    assert reply.code == 0, reply
    result = reply.result
    check_era(result, era)
    assert result["isError"] is False
    data = result["structuredContent"]
    assert data["status"] == "completed"
    assert JOB_ID.match(data["job_id"]), data
    if job_id is not None:
        assert data["job_id"] == job_id
    assert len(data["urls"]) == 1
    url = data["urls"][0]
    assert url.startswith("http") and data["job_id"] in url, url
    assert set(data) == {"job_id", "status", "urls", "created_at", "completed_at", *(["model"] if model else [])}
    if model:
        assert data["model"] == "bfl/flux-1-dev"
    content = result["content"]
    types = ["text", "image", "resource_link"] if preview else ["text", "resource_link"]  # KREA_PREVIEW=thumbnail
    assert [c["type"] for c in content] == types, content
    text, link = content[0]["text"], content[-1]
    assert url in text and "1 image" in text and ("bfl/flux-1-dev" in text) == model, text
    if preview:
        thumbnail = content[1]
        assert thumbnail["mimeType"] in ("image/webp", "image/jpeg"), thumbnail["mimeType"]
        assert base64.b64decode(thumbnail["data"], validate=True)
    assert link["uri"] == url and link["mimeType"] == "image/png" and link["name"], link
    return str(data["job_id"])


ERAS = ["legacy", "modern"]


@pytest.fixture(params=ERAS)
def era(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture(params=["stdio", "http"])
def target(request: pytest.FixtureRequest) -> Target:
    """krea-mcp with ``--sandbox``, over stdio or over streamable HTTP."""
    fixture = {"stdio": "stdio_target", "http": "http_target"}[request.param]
    return request.getfixturevalue(fixture)  # type: ignore[no-any-return]


def test_tools_list(inspector: list[str], target: Target, era: str, tmp_path: Path) -> None:
    reply = call(inspector, target, era, tmp_path, "--method", "tools/list")
    assert reply.code == 0, reply
    tools = {t["name"]: t for t in reply.result["tools"]}
    assert set(tools) == TOOLS
    schema = tools["generate_image"]["inputSchema"]
    assert schema["type"] == "object"
    assert schema["required"] == ["prompt"]
    assert schema["properties"]["prompt"]["type"] == "string"
    assert set(tools["get_job"]["inputSchema"]["required"]) == {"job_id"}
    assert set(tools["wait_for_job"]["inputSchema"]["required"]) == {"job_id"}
    assert "required" not in tools["list_models"]["inputSchema"]
    # generate_image declares the job schema; the other job tools return the same job without repeating it (context
    # bytes); the lists are text (list_jobs also has structuredContent, without a schema).
    assert tools["generate_image"]["outputSchema"]["type"] == "object"
    for name in ("list_models", "list_jobs", "cancel_job", "get_job", "wait_for_job", "enhance_image"):
        assert "outputSchema" not in tools[name], name
    # Annotations equal to the spec's defaults are left out (destructiveHint true, openWorldHint true, ...).
    assert tools["get_job"]["annotations"]["readOnlyHint"] is True
    assert tools["generate_image"]["annotations"]["destructiveHint"] is False
    assert tools["cancel_job"]["annotations"].get("destructiveHint", True) is True
    assert not tools["cancel_job"]["annotations"].get("readOnlyHint", False)


@pytest.fixture(params=["stdio-emulator", "http"])
def job_target(request: pytest.FixtureRequest) -> Target:
    """Targets where a job outlives one Inspector call: HTTP (one server process), stdio with the emulator."""
    fixture = {"stdio-emulator": "stdio_emulator_target", "http": "http_target"}[request.param]
    return request.getfixturevalue(fixture)  # type: ignore[no-any-return]


def test_generate_then_get_and_wait(inspector: list[str], job_target: Target, era: str, tmp_path: Path) -> None:
    made = tool(inspector, job_target, era, tmp_path, "generate_image", "prompt=a red fox")
    job_id = check_job_result(made, era)
    same_process = job_target.name == "http"  # over stdio each call is a new server, which never saw the job
    got = tool(inspector, job_target, era, tmp_path, "get_job", f"job_id={job_id}")
    check_job_result(got, era, job_id=job_id, model=same_process, preview=False)
    waited = tool(inspector, job_target, era, tmp_path, "wait_for_job", f"job_id={job_id}", "timeout_s=10")
    check_job_result(waited, era, job_id=job_id, model=same_process)
    assert got.result["structuredContent"] == waited.result["structuredContent"]
    if same_process:
        assert waited.result["structuredContent"] == made.result["structuredContent"]


def test_generate_over_stdio_sandbox(inspector: list[str], stdio_target: Target, era: str, tmp_path: Path) -> None:
    reply = tool(inspector, stdio_target, era, tmp_path, "generate_image", "prompt=a red fox in the snow")
    job_id = check_job_result(reply, era)
    # The sandbox lives in the server process: the next stdio server does not know the job, and says so.
    unknown = tool(inspector, stdio_target, era, tmp_path, "get_job", f"job_id={job_id}")
    assert unknown.code == EXIT_TOOL_IS_ERROR, unknown
    assert unknown.result["isError"] is True
    text = unknown.result["content"][0]["text"]
    assert "not found" in text and job_id in text
    assert "sandbox jobs live only in the server process that created them" in text and "token" not in text


def test_list_models(inspector: list[str], target: Target, era: str, tmp_path: Path) -> None:
    reply = tool(inspector, target, era, tmp_path, "list_models")
    assert reply.code == 0, reply
    check_era(reply.result, era)
    assert reply.result["isError"] is False
    assert "structuredContent" not in reply.result
    [content] = reply.result["content"]
    assert content["type"] == "text"
    lines = content["text"].splitlines()
    assert any(line.startswith("bfl/flux-1-dev ") for line in lines), lines[:3]
    assert sum(line.startswith(("bfl/", "google/", "openai/")) for line in lines) >= 10


def test_unknown_model_is_a_tool_error(inspector: list[str], target: Target, era: str, tmp_path: Path) -> None:
    reply = tool(inspector, target, era, tmp_path, "generate_image", "prompt=a red fox", "model=nope")
    assert reply.code == EXIT_TOOL_IS_ERROR, reply
    check_era(reply.result, era)
    assert reply.result["isError"] is True
    assert "structuredContent" not in reply.result
    [content] = reply.result["content"]
    assert content["type"] == "text"
    assert "Unknown model 'nope'" in content["text"] and "list_models" in content["text"], content
    envelope = json.loads(reply.stderr.strip().splitlines()[-1])  # -q: only the error envelope on stderr
    assert envelope == {
        "error": {"code": "tool_is_error", "message": "Tool 'generate_image' returned isError:true."}
    }, reply.stderr
