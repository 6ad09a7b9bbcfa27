#!/usr/bin/env bash
# Third-party Python tools for tests/packaging (pytest -m third_party). Usage: bash .ci/third-party-python.sh VENV_BIN
#   - into the project venv (VENV_BIN): `build` (PyPA's build frontend) and `uv` (for `uvx --from WHEEL krea-mcp`);
#   - separate client venvs, each spawning krea-mcp from the project venv over stdio as a user's agent would,
#     kept apart so an agent framework's dependencies can never move ours:
#       .ci/cache/agent-venv         pydantic-ai 2.x: MCPToolset, on FastMCP's client and the MCP SDK 2.x;
#       .ci/cache/agent-venv-legacy  pydantic-ai 1.x: MCPServerStdio, on the MCP SDK 1.x ClientSession.
# Idempotent and fast when everything is already there. Needs python3 >= 3.11 and PyPI.
set -euo pipefail

BIN="${1:?usage: $0 VENV_BIN, the bin directory of the project venv}"
BIN="$(cd "$BIN" && pwd)"
cd "$(dirname "${BASH_SOURCE[0]}")/.."
export PIP_DISABLE_PIP_VERSION_CHECK=1

BUILD_REQ="build>=1.2,<2"
UV_REQ="uv>=0.5,<1"
AGENT_REQ="pydantic-ai-slim[mcp]>=2.60,<3"
LEGACY_REQ="pydantic-ai-slim[mcp]>=1.100,<2"

say() { printf '  %s\n' "$*"; }

# satisfied PYTHON REQ: is REQ's distribution installed for PYTHON, at a version REQ allows?
satisfied() {
    "$1" - "$2" 2>/dev/null <<'PY'
import sys
from importlib.metadata import PackageNotFoundError, version

try:
    from packaging.requirements import Requirement
except ImportError:
    from pip._vendor.packaging.requirements import Requirement

req = Requirement(sys.argv[1])
try:
    installed = version(req.name)
except PackageNotFoundError:
    sys.exit(1)
sys.exit(0 if req.specifier.contains(installed, prereleases=True) else 1)
PY
}

# versions PYTHON NAME...: "name version, ..." for those distributions that are installed.
versions() {
    local python="$1"
    shift
    "$python" - "$@" <<'PY'
import sys
from importlib.metadata import PackageNotFoundError, version

found = []
for name in sys.argv[1:]:
    try:
        found.append(f"{name} {version(name)}")
    except PackageNotFoundError:
        pass
print(", ".join(found))
PY
}

# 1. build and uv in the project venv.
missing=()
satisfied "$BIN/python" "$BUILD_REQ" || missing+=("$BUILD_REQ")
{ satisfied "$BIN/python" "$UV_REQ" && [ -x "$BIN/uv" ]; } || missing+=("$UV_REQ")
if [ "${#missing[@]}" -gt 0 ]; then
    say "installing into $BIN: ${missing[*]}"
    "$BIN/python" -m pip install --quiet "${missing[@]}"
fi
"$BIN/python" -c 'import build'
"$BIN/uv" --version >/dev/null
say "project venv: $(versions "$BIN/python" build uv)"

# agent_venv DIR REQ [CHECK_REQ...]: DIR is a venv, made from the project venv's base interpreter, holding REQ
# (and so CHECK_REQ, e.g. the MCP SDK generation REQ is expected to bring) with pydantic-ai's MCP client importable.
agent_venv() {
    local dir="$1" req="$2"
    shift 2
    if [ ! -x "$dir/bin/python" ]; then
        say "creating $dir"
        mkdir -p "$(dirname "$dir")"
        "$("$BIN/python" -c 'import sys; print(sys._base_executable)')" -m venv "$dir"
    fi
    local ok=1 check
    for check in "$req" "$@"; do satisfied "$dir/bin/python" "$check" || ok=0; done
    if [ "$ok" = 1 ] && "$dir/bin/python" -c "$AGENT_IMPORTS" 2>/dev/null; then
        return
    fi
    say "installing into $dir: $req"
    "$dir/bin/python" -m pip install --quiet "$req"
    for check in "$@"; do
        satisfied "$dir/bin/python" "$check" || { echo "$dir: $req did not bring $check" >&2; exit 1; }
    done
    "$dir/bin/python" -c "$AGENT_IMPORTS"
}
AGENT_IMPORTS="import pydantic_ai.mcp, pydantic_ai.models.function"

# 2. the agent frameworks, each in its own venv.
agent_venv .ci/cache/agent-venv "$AGENT_REQ" "mcp>=2,<3"
say "agent venv: $(versions .ci/cache/agent-venv/bin/python pydantic-ai-slim fastmcp-slim fastmcp mcp)"
agent_venv .ci/cache/agent-venv-legacy "$LEGACY_REQ" "mcp>=1.10,<2"
say "legacy agent venv: $(versions .ci/cache/agent-venv-legacy/bin/python pydantic-ai-slim mcp)"
