"""Run the fake Krea API as a standalone HTTP server: ``python -m krea_mcp.fake_api --port 8787``."""

from __future__ import annotations

import argparse
import contextlib
import copy
import logging
import sys

from starlette.types import ASGIApp, Receive, Scope, Send

from krea_mcp.fake_api import FakeKrea
from krea_mcp.fake_api._faults import ConnectionReset

_GRACEFUL_SHUTDOWN_S = 2  # then cancel requests still hanging (an injected "hang" whose client never left)


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m krea_mcp.fake_api", description="Serve the fake Krea API.")
    parser.add_argument("--host", default="127.0.0.1", help="interface to bind (default 127.0.0.1)")
    parser.add_argument("--port", type=int, default=8787, help="port to bind (default 8787)")
    parser.add_argument(
        "--token",
        default=None,
        help="require this bearer token; several comma-separated tokens act as separate users (default: accept any)",
    )
    parser.add_argument("--time-scale", type=float, default=1.0, help="multiply each model's typical duration")
    parser.add_argument("--job-duration", type=float, default=None, help="fixed job duration in seconds")
    parser.add_argument("--concurrency", type=int, default=None, help="concurrent job limit (default: none)")
    parser.add_argument("--backlog", type=int, default=None, help="max waiting jobs before 429 (default: none)")
    parser.add_argument(
        "--image-size",
        type=_size,
        default=None,
        help="fixed result image WIDTHxHEIGHT (default: the size each request asks for)",
    )
    parser.add_argument("--image-noise", action="store_true", help="random pixels: incompressible, realistic sizes")
    parser.add_argument("--walk-all-statuses", action="store_true", help="jobs pass through every non-terminal status")
    parser.add_argument(
        "--webhook-delay", type=float, default=0.0, help="seconds between a job's end and its X-Webhook-URL call"
    )
    parser.add_argument(
        "--webhook-failure",
        choices=["drop", "500", "timeout"],
        default=None,
        help="every webhook call fails this way: never sent, a 500 before the server, or a hang (default: none)",
    )
    parser.add_argument("--webhook-retries", type=int, default=0, help="attempts after a failed webhook call")
    parser.add_argument("--quiet", action="store_true", help="no access log")
    return parser


def _size(text: str) -> tuple[int, int]:
    width, _, height = text.lower().partition("x")
    try:
        return int(width), int(height)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected WIDTHxHEIGHT, got {text!r}") from None


def _drop_resets(app: ASGIApp) -> ASGIApp:
    """Over a socket, end an injected reset by returning mid-body: uvicorn then closes the connection."""

    async def wrapped(scope: Scope, receive: Receive, send: Send) -> None:
        with contextlib.suppress(ConnectionReset):  # uvicorn logs "without completing response" and hangs up
            await app(scope, receive, send)

    return wrapped


def serve(argv: list[str] | None = None) -> None:
    """Parse command-line arguments and serve the fake API with uvicorn until interrupted."""
    import uvicorn

    args = _parser().parse_args(argv)
    base_url = f"http://{args.host}:{args.port}"
    fake = FakeKrea(
        token=args.token.split(",") if args.token and "," in args.token else args.token,
        base_url=base_url,
        job_duration_s=args.job_duration,
        time_scale=args.time_scale,
        concurrency=args.concurrency,
        backlog=args.backlog,
        image_size=args.image_size,
        image_noise=args.image_noise,
        walk_all_statuses=args.walk_all_statuses,
        webhook_delay_s=args.webhook_delay,
    )
    fake.webhooks.failure = 500 if args.webhook_failure == "500" else args.webhook_failure
    fake.webhooks.retries = args.webhook_retries
    logging.basicConfig(stream=sys.stderr, level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    logging.getLogger("krea_mcp.fake_api").info("fake Krea API at %s", base_url)
    log_config = copy.deepcopy(uvicorn.config.LOGGING_CONFIG)
    log_config["handlers"]["access"]["stream"] = "ext://sys.stderr"  # keep stdout clean: everything to stderr
    level = "warning" if args.quiet else "info"
    app = _drop_resets(fake.app)
    uvicorn.run(
        app,
        host=args.host,
        port=args.port,
        log_level=level,
        log_config=log_config,
        timeout_graceful_shutdown=_GRACEFUL_SHUTDOWN_S,
    )


if __name__ == "__main__":
    serve()
