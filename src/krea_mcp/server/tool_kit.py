"""What every tool module shares: argument types used by several tools, and registration with compact schemas."""

from collections.abc import Callable
from typing import Annotated, Any

from mcp.server.mcpserver.tools import Tool
from mcp.types import CallToolResult, ToolAnnotations
from pydantic import Field

from krea_mcp.server.arguments import StrictTool
from krea_mcp.server.schemas import VALIDATION_ONLY, compact_schema
from krea_mcp.server.tool_results import JobResult

JobId = Annotated[
    str,
    Field(min_length=1, max_length=100, pattern=r"^[A-Za-z0-9_-]+$"),
]
JobToolResult = Annotated[CallToolResult, JobResult]
SaveTo = Annotated[
    str | None,
    Field(
        max_length=1000,
        description="Directory or .png/.jpg/.webp/.mp4 file; relative: from the project folder",
    ),
]


def make_tool(
    fn: Callable[..., Any], description: str, *, read_only: bool, destructive: bool = False, structured: bool = True
) -> Tool:
    """Register ``fn`` with a compact input schema and its annotations (only where they differ from the defaults).

    The spec's defaults are readOnlyHint=false, destructiveHint=true, idempotentHint=false, openWorldHint=true.
    """
    if read_only:
        hints = ToolAnnotations(read_only_hint=True)
    elif destructive:
        hints = ToolAnnotations(idempotent_hint=True)
    else:
        hints = ToolAnnotations(destructive_hint=False)
    # structured=False: plain text only, no {"result": ...} copy of it in structuredContent.
    tool = StrictTool.from_function(
        fn, description=description, annotations=hints, structured_output=None if structured else False
    )
    return tool.model_copy(update={"parameters": compact_schema(tool.parameters, drop=VALIDATION_ONLY)})


#: One image reference in any form the tools accept (a data: URI of a large image is long).
ImageRef = Annotated[str, Field(min_length=1, max_length=14_000_000)]
