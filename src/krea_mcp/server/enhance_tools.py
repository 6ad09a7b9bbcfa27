"""The enhance group: ``enhance_image``."""

from mcp.server.mcpserver.tools import Tool

from krea_mcp.settings import Settings


def build(settings: Settings) -> list[Tool]:
    """This group's tools, for these settings."""
    return []
