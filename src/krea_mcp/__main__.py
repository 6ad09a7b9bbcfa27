"""Console script ``krea-mcp``: serve MCP over stdio (default) or streamable HTTP; commands for people."""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from krea_mcp import __version__
from krea_mcp.settings import Settings

log = logging.getLogger("krea_mcp")
COMMANDS = ("generate", "enhance", "video", "styles", "wait", "cancel", "models", "doctor")


def main(argv: list[str] | None = None) -> None:
    """Entry point. Only this function reads the environment (through ``Settings()``)."""
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] and argv[0] in COMMANDS:
        sys.exit(_command(argv[0], argv[1:]))
    args = _serve_parser().parse_args(argv)
    settings = _settings(args, default_log_level="INFO")
    _configure_logging(settings.log_level)
    from krea_mcp.server.app import create_server

    if args.transport == "http":
        _serve_http(settings, args.host, args.port)
    else:
        from krea_mcp.server.edge import run_stdio

        _check_shared_state(settings)
        run_stdio(create_server(settings))  # as server.run(), with malformed lines answered, not dropped


def _check_shared_state(settings: Settings) -> None:
    """KREA_REDIS_URL that cannot be reached: refuse to start (the HTTP app checks the same in ``build_app``)."""
    if settings.redis_url is None:
        return
    from krea_mcp.errors import ConfigError
    from krea_mcp.workflow.redis_state import check

    try:
        check(settings.redis_url.get_secret_value())
    except ConfigError as exc:
        print(f"krea-mcp: {exc}", file=sys.stderr)
        sys.exit(2)


def _serve_http(settings: Settings, host: str, port: int) -> None:
    import uvicorn

    from krea_mcp.errors import ConfigError
    from krea_mcp.http_app import build_app

    try:
        app = build_app(settings, host=host)
    except ConfigError as exc:
        print(f"krea-mcp: {exc}", file=sys.stderr)
        sys.exit(2)
    mode = f"auth {settings.http_auth}" + (", sandbox" if settings.sandbox else "")
    log.info("serving streamable HTTP on http://%s:%s/mcp (%s)", host, port, mode)
    uvicorn.run(app, host=host, port=port, log_level=settings.log_level.lower(), log_config=None)


def _common(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--sandbox", action="store_true", help="use the built-in Krea emulator (no token, no network)")
    parser.add_argument("--log-level", choices=["DEBUG", "INFO", "WARNING", "ERROR"], help="log level (stderr)")


def _serve_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="krea-mcp",
        description="MCP server for Krea AI image generation. Serves stdio by default.",
        epilog="Commands for people: krea-mcp generate PROMPT | krea-mcp enhance IMAGE | krea-mcp wait JOB_ID | "
        "krea-mcp cancel JOB_ID | krea-mcp models | krea-mcp doctor (each has --help).",
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
        description="Generate an image through the same generate_image tool an agent uses; saves it and prints "
        "the saved path and the image URL.",
    )
    parser.add_argument("prompt")
    parser.add_argument("--model", help="model id or alias (default: KREA_DEFAULT_MODEL)")
    parser.add_argument("--width", type=int)
    parser.add_argument("--height", type=int)
    parser.add_argument("--aspect-ratio")
    parser.add_argument("--resolution", choices=["1K", "2K", "4K"])
    parser.add_argument("--seed", type=int)
    parser.add_argument("--image", action="append", dest="images", help="input image: URL or local file (repeatable)")
    parser.add_argument(
        "--style",
        action="append",
        dest="styles",
        type=_style,
        metavar="ID[:STRENGTH]",
        help="a style from `krea-mcp styles`, strength -2 to 2 (default 1); repeatable",
    )
    parser.add_argument("--out", type=Path, help="directory or file to save to (default: KREA_OUTPUT_DIR)")
    parser.add_argument("--no-save", action="store_true", help="print the URLs only")
    parser.add_argument("--json", action="store_true", help="print the job result as JSON on stdout")
    _common(parser)
    return parser


def _style(text: str) -> dict[str, Any]:
    """``ID`` or ``ID:STRENGTH`` as generate_image's ``{"id", "strength"}``."""
    style_id, sep, strength = text.strip().partition(":")
    if not style_id:
        raise argparse.ArgumentTypeError(f"{text!r}: write it as ID or ID:STRENGTH")
    if not sep:
        return {"id": style_id}
    try:
        return {"id": style_id, "strength": _finite(strength)}
    except argparse.ArgumentTypeError:
        raise argparse.ArgumentTypeError(f"{text!r}: the strength after ':' must be a number from -2 to 2") from None


def _enhance_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="krea-mcp enhance",
        description="Upscale/enhance an image through the same enhance_image tool an agent uses; saves it and prints "
        "the saved path and the image URL.",
    )
    parser.add_argument("image", help="local file, https URL, or the id of a finished job")
    size = parser.add_mutually_exclusive_group()
    size.add_argument("--scale", type=_finite, help="factor, 1-32 (default 2)")
    size.add_argument("--long-side", type=int, help="the output's longer side, in pixels")
    parser.add_argument("--enhancer", help="standard (default, faithful), generative or bloom (add detail)")
    parser.add_argument("--model", help="the enhancer's model, e.g. 'High Fidelity V2' or Redefine")
    _job_arguments(
        parser,
        option="another setting of the enhancer, e.g. --option creativity=4 --option prompt='a cat'",
        out="directory or file to save to",
        urls="URLs",
    )
    return parser


def _job_arguments(parser: argparse.ArgumentParser, *, option: str, out: str, urls: str) -> None:
    """What the commands that start one job (enhance, video) share: --option, --out, --no-save, --json and the
    common flags."""
    parser.add_argument("--option", action="append", default=[], metavar="NAME=VALUE", help=f"{option} (repeatable)")
    parser.add_argument("--out", type=Path, help=f"{out} (default: KREA_OUTPUT_DIR)")
    parser.add_argument("--no-save", action="store_true", help=f"print the {urls} only")
    parser.add_argument("--json", action="store_true", help="print the job result as JSON on stdout")
    _common(parser)


def _finite(text: str) -> float:
    """A finite number (``nan`` and ``inf`` would reach the tool as null, silently meaning the default)."""
    import math

    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
    if not math.isfinite(value):
        raise argparse.ArgumentTypeError(f"{text!r} is not a finite number")
    return value


def _fields_of(name: str, kind: Any) -> dict[str, Any]:
    """The fields of the operation ``name`` of ``kind`` (empty when the name is unknown: the tool says so)."""
    from krea_mcp.catalog.models import load_catalog
    from krea_mcp.errors import KreaError

    try:
        return load_catalog().find(name, kind).properties
    except KreaError:
        return {}


def _options(parser: argparse.ArgumentParser, pairs: list[str], fields: dict[str, Any]) -> dict[str, Any]:
    """``NAME=VALUE`` pairs. A value is taken as JSON (4, 0.5, true) unless the field is text (prompt, a URL)."""
    import json

    options: dict[str, Any] = {}
    for pair in pairs:
        name, sep, value = pair.partition("=")
        name = name.strip()
        if not sep or not name:
            parser.error(f"--option {pair!r}: write it as NAME=VALUE, e.g. --option creativity=4")
        if fields.get(name, {}).get("type") == "string":
            options[name] = value
            continue
        try:
            options[name] = json.loads(value)
        except ValueError:
            options[name] = value
    return options


def _simple_parser(name: str, description: str) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog=f"krea-mcp {name}", description=description)
    _common(parser)
    return parser


def _settings(args: argparse.Namespace, *, default_log_level: str, **overrides: Any) -> Settings:
    if args.sandbox:
        overrides["sandbox"] = True
    if args.log_level:
        overrides["log_level"] = args.log_level
    try:
        settings = Settings(**overrides)
    except ValidationError as exc:
        from krea_mcp.settings import describe_error

        print(f"krea-mcp: invalid configuration:\n{describe_error(exc)}", file=sys.stderr)
        sys.exit(2)
    if not args.log_level and "log_level" not in settings.model_fields_set:
        settings = settings.model_copy(update={"log_level": default_log_level})
    return settings


def _configure_logging(level: str) -> None:
    logging.basicConfig(level=level, stream=sys.stderr, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    if level != "DEBUG":  # one line per HTTP request is noise unless debugging
        logging.getLogger("httpx").setLevel(logging.WARNING)


def _command(name: str, argv: list[str]) -> int:
    import anyio

    from krea_mcp import cli

    if name == "models":
        _simple_parser("models", "List every Krea image model krea-mcp knows.").parse_args(argv)
        return cli.models()
    if name == "doctor":
        args = _simple_parser("doctor", "Check settings, the token, and the output directory.").parse_args(argv)
        settings = _settings(args, default_log_level="WARNING")
        _configure_logging(settings.log_level)
        return anyio.run(cli.doctor, settings)
    if name in ("wait", "cancel"):
        return _job_command(name, argv)
    if name == "enhance":
        return _enhance_command(argv)
    if name == "styles":
        return _styles_command(argv)
    if name == "video":
        return _video_command(argv)
    args = _generate_parser().parse_args(argv)
    overrides: dict[str, Any] = {"preview": "off", "auto_save": not args.no_save}
    out: Path | None = args.out.expanduser().resolve() if args.out else None
    if out is not None and not args.no_save:  # a person at a shell may save anywhere they can write
        overrides["allowed_dirs"] = _shell_dirs(out)
    settings = _settings(args, default_log_level="WARNING", **overrides)
    _configure_logging(settings.log_level)
    arguments = {
        "prompt": args.prompt,
        "model": args.model,
        "width": args.width,
        "height": args.height,
        "aspect_ratio": args.aspect_ratio,
        "resolution": args.resolution,
        "seed": args.seed,
        "images": args.images,
        "styles": args.styles,
        "save_to": str(out) if out is not None and not args.no_save else None,
    }
    arguments = {k: v for k, v in arguments.items() if v is not None}
    session = cli.Session(settings)
    return _interruptible(session, lambda: cli.generate(session, arguments, as_json=args.json))


def _enhance_command(argv: list[str]) -> int:
    from krea_mcp import cli

    parser = _enhance_parser()
    args = parser.parse_args(argv)
    settings, out, (image,) = _job_settings(args, args.image)
    arguments = {
        "image": image,
        "scale": args.scale,
        "long_side": args.long_side,
        "enhancer": args.enhancer,
        "model": args.model,
        "options": _options(parser, args.option, _fields_of(args.enhancer or "standard", "enhance")) or None,
        "save_to": _named_save_to(args, out, settings),
    }
    arguments = {k: v for k, v in arguments.items() if v is not None}
    session = cli.Session(settings)
    return _interruptible(session, lambda: cli.enhance(session, arguments, as_json=args.json))


def _job_settings(args: argparse.Namespace, *inputs: str | None) -> tuple[Settings, Path | None, list[str | None]]:
    """Settings for a command that starts a job from a shell, ``--out`` resolved, and its input images located.

    A person at a shell may read the images they name and save where they ask (their folders are allowed); every
    tool group is offered to the command, whatever KREA_TOOLS limits agents to.
    """
    from krea_mcp.settings import TOOL_GROUPS

    out: Path | None = args.out.expanduser().resolve() if args.out else None
    dirs = _shell_dirs(out if not args.no_save else None)
    located = [_local_frame(image, dirs) for image in inputs]
    settings = _settings(
        args,
        default_log_level="WARNING",
        preview="off",
        auto_save=not args.no_save,
        tools=list(TOOL_GROUPS),
        allowed_dirs=list(dict.fromkeys(dirs)),
    )
    _configure_logging(settings.log_level)
    return settings, out, located


def _named_save_to(args: argparse.Namespace, out: Path | None, settings: Settings) -> str | None:
    """Where to save, always named when saving: a download cut short by the call's time is then retried by the
    command until the file is there (large upscales and videos take longer than a call allows)."""
    return None if args.no_save else str(out or settings.resolved_output_dir())


def _video_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="krea-mcp video",
        description="Generate a video through the same generate_video tool an agent uses, following it to the end "
        "(videos take minutes); saves it and prints the saved path and the video URL.",
    )
    parser.add_argument("prompt")
    parser.add_argument("--model", help="video model id or alias (default: KREA_DEFAULT_VIDEO_MODEL)")
    parser.add_argument("--image", help="the first frame: a local file, an https URL, or a finished image job's id")
    parser.add_argument("--end-image", help="the last frame, same forms (models that take one)")
    parser.add_argument("--duration", type=_finite, help="length in seconds (the model's allowed values)")
    parser.add_argument("--aspect-ratio", help="e.g. 16:9")
    parser.add_argument("--resolution", help="e.g. 720p, 1080p")
    parser.add_argument("--audio", action=argparse.BooleanOptionalAction, help="generate sound (models that can)")
    _job_arguments(
        parser,
        option="another field of the model, e.g. --option init_video=https://... for Aleph",
        out="directory or .mp4 file to save to",
        urls="URL",
    )
    return parser


def _video_command(argv: list[str]) -> int:
    from krea_mcp import cli

    parser = _video_parser()
    args = parser.parse_args(argv)
    settings, out, (start, end) = _job_settings(args, args.image, args.end_image)
    arguments = {
        "prompt": args.prompt,
        "model": args.model,
        "duration_s": args.duration,
        "aspect_ratio": args.aspect_ratio,
        "resolution": args.resolution,
        "generate_audio": args.audio,
        "start_image": start,
        "end_image": end,
        "options": _options(parser, args.option, _fields_of(args.model or settings.default_video_model, "video"))
        or None,
        "save_to": _named_save_to(args, out, settings),
    }
    arguments = {k: v for k, v in arguments.items() if v is not None}
    session = cli.Session(settings)
    return _interruptible(session, lambda: cli.video(session, arguments, as_json=args.json))


def _local_frame(image: str | None, dirs: list[Path]) -> str | None:
    """An input image as given, with a local file (or ``file://`` URI) made absolute and its folder added to
    ``dirs`` (a person may name any file; never the file-system root)."""
    from krea_mcp import cli
    from krea_mcp.workflow.image_inputs import is_remote

    if image is None or is_remote(image) or image.startswith("data:") or cli.looks_like_job(image):
        return image
    from krea_mcp.files.user_paths import user_path

    try:
        path = user_path(image, field="image").expanduser().resolve()
    except Exception:  # the tool explains a malformed path in its own words
        return image
    if path.parent != Path(path.anchor):  # never the file-system root as an allowed directory
        dirs.append(path.parent)
    return str(path)


def _styles_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="krea-mcp styles",
        description="List Krea styles (LoRAs) through the same list_styles tool an agent uses: one line each (id, "
        "title, bases, owner, suggested prompt).",
    )
    parser.add_argument(
        "--filter", choices=["all", "mine", "krea", "community", "shared", "liked"], default="all", help="default all"
    )
    parser.add_argument("--model", help="a style base (flux_dev, qwen, z-image, wan...) or an image model (flux)")
    parser.add_argument("--title", help="only styles whose title contains this (any case)")
    parser.add_argument("--limit", type=int, default=20, help="styles per page, 1-50 (default 20)")
    parser.add_argument("--cursor", help="the cursor a previous page printed, to go on")
    parser.add_argument("--json", action="store_true", help="print the page as JSON on stdout")
    _common(parser)
    return parser


def _styles_command(argv: list[str]) -> int:
    import anyio

    from krea_mcp import cli
    from krea_mcp.settings import TOOL_GROUPS

    args = _styles_parser().parse_args(argv)
    settings = _settings(args, default_log_level="WARNING", tools=list(TOOL_GROUPS))
    _configure_logging(settings.log_level)
    arguments = {"filter": args.filter, "model": args.model, "title": args.title, "limit": args.limit}
    arguments["cursor"] = args.cursor
    arguments = {k: v for k, v in arguments.items() if v is not None}
    try:
        return int(anyio.run(cli.styles, settings, arguments, args.json))
    except KeyboardInterrupt:
        return 130


def _shell_dirs(out: Path | None) -> list[Path]:
    """A person at a shell may save anywhere they can write: their directory (unless it is a root) and ``--out``."""
    here = Path.cwd()
    dirs = [] if here == Path(here.anchor) else [here]
    return dirs if out is None else [*dirs, out.parent if out.suffix else out]


def _job_command(name: str, argv: list[str]) -> int:
    """``krea-mcp wait JOB_ID`` and ``krea-mcp cancel JOB_ID``: pick up a job an interrupted command left running."""
    from krea_mcp import cli

    what = "Wait for a job and save its images." if name == "wait" else "Cancel a running job (not charged)."
    parser = _simple_parser(name, what)
    parser.add_argument("job_id", metavar="JOB_ID")
    if name == "wait":
        parser.add_argument("--out", type=Path, help="directory or file to save to (default: KREA_OUTPUT_DIR)")
        parser.add_argument("--no-save", action="store_true", help="print the URLs only")
    parser.add_argument("--json", action="store_true", help="print the job result as JSON on stdout")
    args = parser.parse_args(argv)
    overrides: dict[str, Any] = {"preview": "off"}
    out: Path | None = args.out.expanduser().resolve() if getattr(args, "out", None) else None
    if out is not None:
        overrides["allowed_dirs"] = _shell_dirs(out)
    settings = _settings(args, default_log_level="WARNING", **overrides)
    _configure_logging(settings.log_level)
    session = cli.Session(settings)
    if name == "cancel":
        return _interruptible(session, lambda: cli.cancel(session, args.job_id, as_json=args.json))
    save_to = None if args.no_save else str(out or settings.resolved_output_dir())
    return _interruptible(session, lambda: cli.wait(session, args.job_id, save_to, as_json=args.json))


def _interruptible(session: Any, run: Any) -> int:
    """Run a command; on Ctrl-C say where its job is (it keeps running) instead of a traceback."""
    import anyio

    try:
        return int(anyio.run(run))
    except KeyboardInterrupt:
        print(f"\n{session.interrupted()}", file=sys.stderr)
        return 130


if __name__ == "__main__":
    main()
