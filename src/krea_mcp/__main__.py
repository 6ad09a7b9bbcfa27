"""Console script ``krea-mcp``: serve MCP over stdio (default) or streamable HTTP, or ``generate`` from a terminal."""

from __future__ import annotations

import argparse
import json
import logging
import sys
from typing import Any

from pydantic import ValidationError

from . import __version__
from .settings import Settings

log = logging.getLogger("krea_mcp")


def main(argv: list[str] | None = None) -> None:
    """Entry point. Only this function reads the environment (through ``Settings()``)."""
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["generate"]:
        sys.exit(_generate_main(argv[1:]))
    args = _serve_parser().parse_args(argv)
    settings = _settings(args, default_log_level="INFO")
    _configure_logging(settings.log_level)
    from .server import create_server

    server = create_server(settings)
    if args.transport == "http":
        log.info("serving streamable HTTP on http://%s:%s/mcp%s", args.host, args.port, " (sandbox)" * settings.sandbox)
        server.run("streamable-http", host=args.host, port=args.port, streamable_http_path="/mcp")
    else:
        server.run()


def _common(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--sandbox", action="store_true", help="use the built-in Krea emulator (no token, no network)")
    parser.add_argument("--log-level", choices=["DEBUG", "INFO", "WARNING", "ERROR"], help="log level (stderr)")


def _serve_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="krea-mcp",
        description="MCP server for Krea AI image generation. Serves stdio by default.",
        epilog='Generate from a terminal: krea-mcp generate "a red fox" --sandbox (see krea-mcp generate --help).',
    )
    parser.add_argument("--transport", choices=["stdio", "http"], default="stdio", help="default: stdio")
    parser.add_argument("--host", default="127.0.0.1", help="HTTP bind address (default 127.0.0.1)")
    parser.add_argument("--port", type=int, default=8000, help="HTTP port (default 8000)")
    parser.add_argument("--version", action="version", version=f"krea-mcp {__version__}")
    _common(parser)
    return parser


def _generate_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="krea-mcp generate",
        description="Generate an image through the same generate_image tool an agent uses; prints the image URLs.",
    )
    parser.add_argument("prompt")
    parser.add_argument("--model", help="model id or alias (default: KREA_DEFAULT_MODEL)")
    parser.add_argument("--width", type=int)
    parser.add_argument("--height", type=int)
    parser.add_argument("--aspect-ratio")
    parser.add_argument("--resolution", choices=["1K", "2K", "4K"])
    parser.add_argument("--seed", type=int)
    parser.add_argument("--json", action="store_true", help="print the job result as JSON on stdout")
    _common(parser)
    return parser


def _settings(args: argparse.Namespace, *, default_log_level: str) -> Settings:
    overrides: dict[str, Any] = {}
    if args.sandbox:
        overrides["sandbox"] = True
    if args.log_level:
        overrides["log_level"] = args.log_level
    try:
        settings = Settings(**overrides)
    except ValidationError as exc:
        print(f"krea-mcp: invalid configuration:\n{exc}", file=sys.stderr)
        sys.exit(2)
    if not args.log_level and "log_level" not in settings.model_fields_set:
        settings = settings.model_copy(update={"log_level": default_log_level})
    return settings


def _configure_logging(level: str) -> None:
    logging.basicConfig(level=level, stream=sys.stderr, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    if level != "DEBUG":  # one line per HTTP request is noise unless debugging
        logging.getLogger("httpx").setLevel(logging.WARNING)


def _generate_main(argv: list[str]) -> int:
    import anyio

    args = _generate_parser().parse_args(argv)
    settings = _settings(args, default_log_level="WARNING")
    _configure_logging(settings.log_level)
    arguments = {
        k: v
        for k, v in {
            "prompt": args.prompt,
            "model": args.model,
            "width": args.width,
            "height": args.height,
            "aspect_ratio": args.aspect_ratio,
            "resolution": args.resolution,
            "seed": args.seed,
        }.items()
        if v is not None
    }
    return anyio.run(_generate, settings, arguments, args.json)


async def _generate(settings: Settings, arguments: dict[str, Any], as_json: bool) -> int:
    """Drive the real tools through an in-memory MCP client, keep waiting past the tool deadline like an agent would."""
    from mcp import Client

    from .jobs import TERMINAL
    from .server import create_server

    async def on_progress(progress: float, total: float | None, message: str | None) -> None:
        print(f"  {message or progress}", file=sys.stderr, flush=True)

    async with Client(create_server(settings)) as client:
        print(
            f"krea-mcp: generating with {arguments.get('model', settings.default_model)}"
            f"{' (sandbox)' if settings.sandbox else ''}…",
            file=sys.stderr,
            flush=True,
        )
        result = await client.call_tool("generate_image", arguments, progress_callback=on_progress)
        data: dict[str, Any] = result.structured_content or {}
        while not result.is_error and data.get("status") not in TERMINAL:
            result = await client.call_tool(
                "wait_for_job", {"job_id": data["job_id"], "timeout_s": 600}, progress_callback=on_progress
            )
            data = result.structured_content or {}
    text = "\n".join(getattr(block, "text", "") for block in result.content if getattr(block, "type", "") == "text")
    if result.is_error:
        print(f"krea-mcp: {text}", file=sys.stderr)
        if as_json and data:
            print(json.dumps(data, indent=2))
        return 1
    if as_json:
        print(json.dumps(data, indent=2))
    else:
        print(text.splitlines()[0], file=sys.stderr)
        for url in data.get("urls", []):
            print(url)
    return 0


if __name__ == "__main__":
    main()
