"""A widely used agent framework, pydantic-ai, runs krea-mcp over stdio with each of its MCP clients.

Each pydantic-ai lives in its own venv (from ``.ci/third-party-python.sh``), apart from the server, as an agent
usually does: ``agent_driver.py`` runs there, loads an ``mcpServers`` config (the Claude Desktop / Cursor
shape) that spawns ``<project venv python> -m krea_mcp --sandbox``, and plays the LLM with a
``FunctionModel``: call ``generate_image``, then answer with what the tool returned.

- pydantic-ai 2.x ``MCPToolset``: FastMCP's client on the MCP SDK 2.x;
- pydantic-ai 1.x ``MCPServerStdio``: the MCP SDK 1.x ``ClientSession``, still what many deployed agents run.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

from krea_mcp.server.tools import build_tools
from krea_mcp.settings import Settings
from tests.helpers import child_env

from ._support import AGENT_VENV, HERE, LEGACY_AGENT_VENV, agent_python

pytestmark = pytest.mark.third_party

SANDBOX_IMAGE = re.compile(r"http://krea\.sandbox/_fake/images/[\w-]+/\d+\.png")
PROMPT = "a red fox in the snow"

#: pydantic-ai 1.x's MCPServerStdio reads every resource_link in a tool result with resources/read, so this case
#: also proves that each link krea-mcp returns names a resource it can serve (as the MCP schema requires).


@pytest.mark.parametrize(
    ("venv", "loader"),
    [
        pytest.param(AGENT_VENV, "toolsets", id="pydantic-ai-2-MCPToolset"),
        pytest.param(LEGACY_AGENT_VENV, "servers", id="pydantic-ai-1-MCPServerStdio"),
    ],
)
def test_pydantic_ai_agent_gets_sandbox_image_urls_from_generate_image(venv: Path, loader: str, tmp_path: Path) -> None:
    python = agent_python(venv)
    config = tmp_path / "mcp.json"
    server = {
        "command": sys.executable,
        "args": ["-m", "krea_mcp", "--sandbox"],
        "env": {"KREA_OUTPUT_DIR": str(tmp_path / "images")},
    }
    config.write_text(json.dumps({"mcpServers": {"krea": server}}), encoding="utf-8")

    argv = [str(python), str(HERE / "agent_driver.py"), loader, str(config), PROMPT]
    proc = subprocess.run(argv, cwd=tmp_path, env=child_env(), capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, f"{argv} exited {proc.returncode}\n{proc.stdout[-2000:]}\n{proc.stderr[-4000:]}"
    seen = json.loads(proc.stdout.strip().splitlines()[-1])

    # The agent saw every tool the server offers (pydantic-ai prefixes them with the config's server name).
    offered = {tool.name for tool in build_tools(Settings(_env_file=None, sandbox=True))}  # type: ignore[call-arg]
    assert seen["tools"] == sorted(f"krea_{name}" for name in offered), seen
    assert seen["call"] == {"tool_name": "krea_generate_image", "args": {"prompt": PROMPT}}, seen

    # The tool's result carries the sandbox image URL(s), and they reach the agent's final output.
    returned = set(SANDBOX_IMAGE.findall(seen["return"]["content"]))
    assert returned, seen
    assert set(SANDBOX_IMAGE.findall(seen["output"])) == returned, seen
    assert "Completed" in seen["output"], seen
