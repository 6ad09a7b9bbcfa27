"""Baseline: a bare MCPServer with three stub tools and nothing else (the SDK's own start-up cost)."""

from mcp.server import MCPServer

mcp = MCPServer("stub")


@mcp.tool()
async def generate_image(prompt: str) -> str:
    """Stub."""
    return prompt


@mcp.tool()
async def get_job(job_id: str) -> str:
    """Stub."""
    return job_id


@mcp.tool()
async def wait_for_job(job_id: str) -> str:
    """Stub."""
    return job_id


if __name__ == "__main__":
    mcp.run()
