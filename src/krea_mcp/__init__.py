"""krea-mcp: an MCP server for Krea AI image generation."""

__version__ = "0.1.0"
