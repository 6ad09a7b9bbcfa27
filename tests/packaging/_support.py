"""Paths and process helpers for tests/packaging, and where the tools of ``.ci/third-party-python.sh`` live.

``build`` and ``uv`` are installed into the project venv (the one running pytest); pydantic-ai 2.x and 1.x
into their own venvs, ``<repo>/.ci/cache/agent-venv`` and ``<repo>/.ci/cache/agent-venv-legacy``. When one
is missing the test is skipped, or fails when ``KREA_THIRD_PARTY_REQUIRED=1`` (as ``.ci/run`` sets it), so
CI can never pass by skipping.
"""

from __future__ import annotations

import importlib.util
import os
import shutil
import subprocess
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import NoReturn

import pytest

REPO = Path(__file__).resolve().parents[2]  # not the cwd: conftest chdirs every test to a tmp dir
HERE = Path(__file__).resolve().parent
AGENT_VENV = REPO / ".ci" / "cache" / "agent-venv"
LEGACY_AGENT_VENV = REPO / ".ci" / "cache" / "agent-venv-legacy"
SETUP = "bash .ci/third-party-python.sh .venv/bin"

#: Read at import: the autouse ``clean_env`` fixture removes every KREA_* variable before each test runs.
REQUIRED = os.environ.get("KREA_THIRD_PARTY_REQUIRED") == "1"


@dataclass(frozen=True)
class Dists:
    """The distributions built by the session fixture ``dists`` (conftest.py)."""

    source: Path  # the snapshot of the checkout they were built from
    sdist: Path
    wheel: Path


def missing(what: str) -> NoReturn:
    """Skip (locally) or fail (in CI) because a third-party tool is not installed."""
    if REQUIRED:
        pytest.fail(f"{what}, and KREA_THIRD_PARTY_REQUIRED=1: .ci/third-party-python.sh should have installed it")
    pytest.skip(f"{what}: run {SETUP} first")


def venv_bin(venv: Path) -> Path:
    return venv / ("Scripts" if os.name == "nt" else "bin")


def executable(venv: Path, name: str) -> Path:
    return venv_bin(venv) / (f"{name}.exe" if os.name == "nt" else name)


def require_build() -> None:
    if importlib.util.find_spec("build") is None:
        missing(f"PyPA build is not installed in {sys.prefix}")


def uv_tool(name: str = "uv") -> Path:
    """``uv`` or ``uvx`` from the venv running the tests (where the setup script puts them), else from PATH."""
    local = Path(sys.executable).parent / (f"{name}.exe" if os.name == "nt" else name)
    if local.is_file():
        return local
    found = shutil.which(name)
    if found is None:
        missing(f"{name} is not installed (looked in {local.parent} and on PATH)")
    return Path(found)


def agent_python(venv: Path) -> Path:
    """The python of an agent venv, checked to import pydantic-ai's MCP client."""
    python = executable(venv, "python")
    if not python.is_file():
        missing(f"the agent venv {venv} does not exist")
    probe = subprocess.run(
        [str(python), "-c", "import pydantic_ai.mcp, pydantic_ai.models.function"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    if probe.returncode != 0:
        missing(f"pydantic-ai with its MCP client is not importable in {venv}: {probe.stderr.strip()[-500:]}")
    return python


def base_env(**extra: str) -> dict[str, str]:
    """What a user's shell would have: this environment without PYTHONPATH, virtualenv markers or KREA_* settings."""
    drop = {"PYTHONPATH", "PYTHONHOME", "VIRTUAL_ENV", "PYTHONSTARTUP"}
    env = {k: v for k, v in os.environ.items() if k not in drop and not k.startswith("KREA_")}
    env.update(extra)
    return env


def run(
    args: Sequence[str | Path], *, cwd: Path, env: dict[str, str], timeout: float = 120
) -> subprocess.CompletedProcess[str]:
    """Run a command to completion; fail the test with its output if it does not exit 0."""
    argv = [str(a) for a in args]
    try:
        proc = subprocess.run(argv, cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired as exc:
        pytest.fail(f"{argv} did not finish in {timeout} s\nstdout:\n{exc.stdout!r}\nstderr:\n{exc.stderr!r}")
    if proc.returncode != 0:
        pytest.fail(f"{argv} exited {proc.returncode}\nstdout:\n{proc.stdout[-4000:]}\nstderr:\n{proc.stderr[-4000:]}")
    return proc
