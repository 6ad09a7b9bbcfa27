"""Drive krea-mcp from a pydantic-ai agent with no LLM: run by an agent venv's python, not by pytest.

Usage: ``python agent_driver.py {toolsets|servers} CONFIG.json PROMPT``. CONFIG.json uses the ``mcpServers``
shape of Claude Desktop, Cursor and Claude Code, loaded by pydantic-ai itself, so the server is spawned over
stdio exactly as a host spawns it:

- ``toolsets``: ``load_mcp_toolsets`` → ``MCPToolset``, pydantic-ai's client built on FastMCP's;
- ``servers``: ``load_mcp_servers`` → ``MCPServerStdio``, pydantic-ai 1.x's client built directly on the MCP
  SDK's ``ClientSession`` (deprecated in late 1.x, removed in 2.x, still what many deployed agents run).

A ``FunctionModel`` stands in for the LLM: its first turn calls the server's ``generate_image`` tool with
PROMPT, its second answers with the tool's result as text. Prints one JSON object on stdout: the client
stack, the tool names the agent saw, the call it made, what the tool returned, and the agent's final output.
"""

from __future__ import annotations

import contextlib
import json
import sys
import warnings
from importlib.metadata import PackageNotFoundError, version
from typing import Any

from pydantic_ai import Agent
from pydantic_ai.messages import (
    ModelMessage,
    ModelRequest,
    ModelResponse,
    TextPart,
    ToolCallPart,
    ToolReturnPart,
)
from pydantic_ai.models.function import AgentInfo, FunctionModel


def load(loader: str, config: str) -> list[Any]:
    if loader == "toolsets":
        from pydantic_ai.mcp import load_mcp_toolsets

        return list(load_mcp_toolsets(config))
    from pydantic_ai.mcp import load_mcp_servers

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)  # the whole point is to use the old client
        return list(load_mcp_servers(config))


def stack() -> dict[str, str]:
    found = {}
    for name in ("pydantic-ai-slim", "fastmcp-slim", "fastmcp", "mcp"):
        with contextlib.suppress(PackageNotFoundError):
            found[name] = version(name)
    return found


def main(loader: str, config: str, prompt: str) -> int:
    seen: dict[str, Any] = {"client": {"loader": loader, **stack()}}

    def model(messages: list[ModelMessage], info: AgentInfo) -> ModelResponse:
        returns = [
            part
            for message in messages
            if isinstance(message, ModelRequest)
            for part in message.parts
            if isinstance(part, ToolReturnPart)
        ]
        if not returns:
            seen["tools"] = sorted(tool.name for tool in info.function_tools)
            [name] = [tool for tool in seen["tools"] if tool.endswith("generate_image")]
            seen["call"] = {"tool_name": name, "args": {"prompt": prompt}}
            return ModelResponse(parts=[ToolCallPart(name, {"prompt": prompt})])
        text = returns[-1].model_response_str()
        seen["return"] = {"tool_name": returns[-1].tool_name, "content": text}
        return ModelResponse(parts=[TextPart(text)])

    agent = Agent(FunctionModel(model), toolsets=load(loader, config))
    result = agent.run_sync(prompt)
    print(json.dumps({**seen, "output": result.output}))
    return 0


if __name__ == "__main__":
    sys.exit(main(*sys.argv[1:4]))
