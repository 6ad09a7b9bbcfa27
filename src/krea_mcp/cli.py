"""The human side of ``krea-mcp``: ``generate`` (through the same tools an agent calls), ``models``, ``doctor``."""

from __future__ import annotations

import json
import re
import sys
import tempfile
import time
from pathlib import Path
from typing import Any, TextIO

import anyio

from krea_mcp.catalog.models import load_catalog
from krea_mcp.errors import KreaError, shown_url
from krea_mcp.job import TERMINAL
from krea_mcp.settings import Settings

BAR_WIDTH = 24


class ProgressView:
    """Status on stderr: a redrawn bar on a terminal (scaled to the model's typical time), plain lines otherwise."""

    def __init__(self, stream: TextIO, typical_s: float) -> None:
        self._stream = stream
        self._tty = stream.isatty()
        self._typical = max(typical_s, 0.5)
        self._start = time.monotonic()
        self._status = "submitting"
        self._last_line = ""

    async def on_progress(self, progress: float, total: float | None, message: str | None) -> None:
        status = (message or "").split(" · ", 1)[0].rsplit(": ", 1)[-1] or self._status
        changed = status != self._status
        self._status = status
        if self._tty:
            self.draw()
        elif changed or not self._last_line:
            self._line(f"{status} · {time.monotonic() - self._start:.1f} s")

    def draw(self) -> None:
        elapsed = time.monotonic() - self._start
        done = self._status == "completed"
        fraction = 1.0 if done else min(elapsed / self._typical, 0.99)
        filled = round(fraction * BAR_WIDTH)
        bar = "█" * filled + "░" * (BAR_WIDTH - filled)
        self._stream.write(f"\r{bar} {fraction:4.0%} {self._status:<12} {elapsed:5.1f} s / ~{self._typical:.0f} s")
        self._stream.flush()

    async def tick(self) -> None:
        while self._tty:
            self.draw()
            await anyio.sleep(0.2)

    def finish(self) -> None:
        if self._tty:
            self.draw()
            self._stream.write("\n")
            self._stream.flush()

    def note(self, text: str) -> None:
        """A line of its own (on a terminal, above the bar)."""
        if self._tty:
            self._stream.write("\r\x1b[K")
        self._line(text)

    def _line(self, text: str) -> None:
        self._last_line = text
        print(f"  {text}", file=self._stream, flush=True)


class Session:
    """What a command has learned so far: the job id, so an interrupted command can still say where its job is."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.job_id: str | None = None

    def interrupted(self) -> str:
        """What to tell a person who pressed Ctrl-C: the job keeps running, and how to pick it up."""
        if self.job_id is None:
            return (
                "krea-mcp: interrupted before Krea confirmed a job. If the request had reached Krea, the job keeps "
                "running and is listed in your Krea account's jobs; otherwise nothing was created or charged."
            )
        if self.settings.sandbox:
            return (
                f"krea-mcp: interrupted. Sandbox job {self.job_id} ended with this process (sandbox jobs live in "
                "one server process); run the command again."
            )
        return (
            f"krea-mcp: interrupted; job {self.job_id} keeps running on Krea.\n"
            f"  krea-mcp wait {self.job_id}     # wait for it and save the image\n"
            f"  krea-mcp cancel {self.job_id}   # cancel it (not charged)"
        )


async def generate(session: Session, arguments: dict[str, Any], *, as_json: bool) -> int:
    """Start generate_image without waiting (so the job id is known at once), then wait_for_job until it ends: a
    terminal has no 60 s cap. Runs over in-memory MCP: the same tools an agent calls."""
    from krea_mcp.workflow.assembly import SANDBOX_TIME_SCALE

    settings = session.settings
    model = arguments.get("model") or settings.default_model
    typical = load_catalog().expected_s(model, scale=SANDBOX_TIME_SCALE if settings.sandbox else 1.0)
    print(f"krea-mcp: {model}{' (sandbox)' if settings.sandbox else ''}: {arguments['prompt']!r}", file=sys.stderr)
    start = {**arguments, "wait": False}
    # save_to goes with the first call too, so a path that cannot be used is refused before the job is created.
    return await _follow(session, "generate_image", start, arguments.get("save_to"), typical, as_json=as_json)


async def enhance(session: Session, arguments: dict[str, Any], *, as_json: bool) -> int:
    """Start enhance_image without waiting, then follow the job like ``generate`` does."""
    from krea_mcp.catalog.enhance_params import ENHANCERS
    from krea_mcp.workflow.assembly import SANDBOX_TIME_SCALE

    settings = session.settings
    enhancer = arguments.get("enhancer") or ENHANCERS[0]
    scale = SANDBOX_TIME_SCALE if settings.sandbox else 1.0
    typical = load_catalog().expected_s(enhancer, scale=scale, kind="enhance")
    shown = "a pasted image" if arguments["image"].startswith("data:") else arguments["image"]
    print(f"krea-mcp: enhance ({enhancer}){' (sandbox)' if settings.sandbox else ''}: {shown}", file=sys.stderr)
    start = {**arguments, "wait": False}
    return await _follow(session, "enhance_image", start, arguments.get("save_to"), typical, as_json=as_json)


async def video(session: Session, arguments: dict[str, Any], *, as_json: bool) -> int:
    """Start generate_video without waiting, then follow the job like ``generate`` does (videos take minutes)."""
    from krea_mcp.workflow.assembly import SANDBOX_MAX_JOB_S, SANDBOX_TIME_SCALE

    settings = session.settings
    model = arguments.get("model") or settings.default_video_model
    typical = load_catalog().expected_s(model, scale=SANDBOX_TIME_SCALE if settings.sandbox else 1.0, kind="video")
    typical = min(typical, SANDBOX_MAX_JOB_S) if settings.sandbox else typical
    print(
        f"krea-mcp: video, {model}{' (sandbox)' if settings.sandbox else ''}: {arguments['prompt']!r}", file=sys.stderr
    )
    start = {**arguments, "wait": False}
    return await _follow(session, "generate_video", start, arguments.get("save_to"), typical, as_json=as_json)


async def styles(settings: Settings, arguments: dict[str, Any], as_json: bool) -> int:
    """``krea-mcp styles``: one page of list_styles; the lines on stdout, how to go on on stderr."""
    from mcp import Client
    from mcp.types import TextContent

    from krea_mcp.server.app import create_server

    async with Client(create_server(settings)) as client:
        result = await client.call_tool("list_styles", arguments)
    text = "\n".join(block.text for block in result.content if isinstance(block, TextContent))
    if result.is_error:
        print(f"krea-mcp: {for_people(text)}", file=sys.stderr)
        return 1
    if as_json:
        print(json.dumps(result.structured_content or {}, indent=2))
        return 0
    # A style's line starts with its id (the structured result lists them); every other line (the head, a note on
    # the model filter, how to go on) is for the person, on stderr, so stdout holds nothing but styles.
    rows = (result.structured_content or {}).get("styles") or []
    starts = tuple(f"{row['id']} · " for row in rows if isinstance(row, dict) and isinstance(row.get("id"), str))
    for line in text.splitlines():
        if starts and line.startswith(starts):
            print(line)
        else:
            print(for_people(line), file=sys.stderr)
    return 0


def looks_like_job(text: str) -> bool:
    """Whether a command-line argument is a Krea job id rather than a file name."""
    from krea_mcp.workflow.enhance_source import JOB_ID

    return bool(JOB_ID.match(text.strip()))


async def wait(session: Session, job_id: str, save_to: str | None, *, as_json: bool) -> int:
    """Wait for an existing job (for example one an interrupted ``generate`` left running) and save its images."""
    session.job_id = job_id
    first = {"job_id": job_id, "save_to": save_to} if save_to else {"job_id": job_id}
    return await _follow(session, "wait_for_job", first, save_to, 20.0, as_json=as_json)


async def cancel(session: Session, job_id: str, *, as_json: bool) -> int:
    from mcp import Client

    from krea_mcp.server.app import create_server

    session.job_id = job_id
    async with Client(create_server(session.settings)) as client:
        result = await client.call_tool("cancel_job", {"job_id": job_id})
    return _print_result(result, result.structured_content or {}, as_json=as_json)


async def _follow(
    session: Session, tool: str, arguments: dict[str, Any], save_to: str | None, typical: float, *, as_json: bool
) -> int:
    from mcp import Client

    from krea_mcp.server.app import create_server

    view = ProgressView(sys.stderr, typical)
    async with Client(create_server(session.settings)) as client, anyio.create_task_group() as tg:
        tg.start_soon(view.tick)
        result = await client.call_tool(tool, arguments, progress_callback=view.on_progress)
        data: dict[str, Any] = result.structured_content or {}
        if data.get("job_id") and session.job_id is None:
            view.note(f"job {data['job_id']}")  # known at once: Ctrl-C from here on can name it
        session.job_id = data.get("job_id") or session.job_id
        while not result.is_error and (data.get("status") not in TERMINAL or (save_to and "files" not in data)):
            follow = {"job_id": data["job_id"], "timeout_s": 600, "save_to": save_to}
            follow = {k: v for k, v in follow.items() if v is not None}
            result = await client.call_tool("wait_for_job", follow, progress_callback=view.on_progress)
            data = result.structured_content or {}
            if data.get("status") in TERMINAL:
                break
        tg.cancel_scope.cancel()
    view.finish()
    return _print_result(result, data, as_json=as_json)


#: Tool words in error texts, and what a person at a terminal types instead.
_CLI_WORDS = (
    (re.compile(r"\blist_models\b( with model=<id>)?"), "`krea-mcp models`"),
    (re.compile(r'\b(?:wait_for_job|get_job) with job_id="?([A-Za-z0-9_-]+)"?'), r"`krea-mcp wait \1`"),
    (re.compile(r"\b(?:call )?wait_for_job\b"), "`krea-mcp wait JOB_ID`"),
    (
        re.compile(r'\bgenerate_image\(styles=\[\{"id": \.\.\., "strength": 1\}\]\)'),
        "`krea-mcp generate PROMPT --style ID`",
    ),
    (re.compile(r"^styles: "), "--style: "),
    (re.compile(r"\bdrop styles\b"), "drop --style"),
    (re.compile(r"\bgenerate_image\b"), "`krea-mcp generate`"),
    (re.compile(r"\bgenerate_video\b"), "`krea-mcp video`"),
    (re.compile(r"\bduration_s="), "--duration "),
    (re.compile(r"\bstart_image\b"), "--image"),
    (re.compile(r"\bend_image\b"), "--end-image"),
    (re.compile(r"\bgenerate_audio\b"), "--audio"),
    (re.compile(r"\blist_models with kind='video'"), "`krea-mcp models`"),
    (re.compile(r"\benhance_image's scale or long_side argument\b"), "--scale or --long-side"),
    (re.compile(r"\blong_side="), "--long-side "),
    (re.compile(r"\blong_side\b"), "--long-side"),
    (re.compile(r"\b(scale|enhancer)="), r"--\1 "),
    (re.compile(r"\boptions\.(\w+)"), r"--option \1"),
    (re.compile(r'\bpass cursor="([^"]+)"'), r"run it again with --cursor \1"),
    (re.compile(r"\bsave_to\b"), "--out"),
    (re.compile(r"\baspect_ratio\b"), "--aspect-ratio"),
    (re.compile(r"\bimages=\[\.\.\.\]|\bimages\b(?=[=:]| must| has)"), "--image"),
    (re.compile(r"(?<![\w.])(width|height|seed|resolution|model)="), r"--\1 "),
    (re.compile(r"(?<![-\w])(width|height|seed|resolution) and (width|height)\b"), r"--\1 and --\2"),
)


def for_people(text: str) -> str:
    """An error written for an agent (tool and argument names), reworded with this command's flags."""
    text = text.removeprefix("Error executing tool ").split(": ", 1)[-1] if text.startswith("Error executing") else text
    for pattern, replacement in _CLI_WORDS:
        text = pattern.sub(replacement, text)
    return text


def _print_result(result: Any, data: dict[str, Any], *, as_json: bool) -> int:
    text = "\n".join(block.text for block in result.content if getattr(block, "type", "") == "text")
    if as_json:
        print(json.dumps(data, indent=2))
    if result.is_error:
        print(f"krea-mcp: {for_people(text)}", file=sys.stderr)
        return 1
    if not as_json:
        lines = for_people(text).splitlines()
        print(lines[0], file=sys.stderr)
        for line in lines[1:]:
            if not line.startswith(("Saved: ", "http://", "https://")):  # every note, not only some
                print(line, file=sys.stderr)
        for path in data.get("files") or []:
            print(path)
        for url in data.get("urls", []):
            print(url)
    return 0


def models() -> int:
    """The catalog as a table."""
    from krea_mcp.catalog.views import table

    print(table(load_catalog()))
    return 0


async def doctor(settings: Settings) -> int:
    """Effective settings (token masked), a token check with a harmless call, the output directory, a host snippet."""
    ok = True
    token = settings.api_token
    print("krea-mcp doctor")
    if settings.sandbox:
        print("  API           sandbox: the built-in Krea emulator, in this process (no token, no network)")
    else:
        print(f"  base URL      {shown_url(settings.base_url)}")
        print(f"  API token     {'set (hidden)' if token else 'NOT SET'}")
    print(f"  default model {settings.default_model}")
    print(f"  wait          {settings.wait_s:g} s per call; preview {settings.preview}; auto-save {settings.auto_save}")
    print(f"  input dirs    {', '.join(str(d) for d in settings.input_dirs())}")
    ok &= await _check_api(settings)
    ok &= _check_output_dir(settings.resolved_output_dir())
    command, args = _launch()
    env = {} if settings.sandbox else {"env": {"KREA_API_TOKEN": "<token>"}}
    args = [*args, "--sandbox"] if settings.sandbox else args
    print("\nClaude Desktop / Cursor config (claude_desktop_config.json, .cursor/mcp.json), for this installation:")
    print(json.dumps({"mcpServers": {"krea": {"command": command, "args": args, **env}}}, indent=2))
    token_env = "" if settings.sandbox else "--env KREA_API_TOKEN=<token> "
    print(f"Claude Code: claude mcp add krea {token_env}-- {' '.join([command, *args])}")
    return 0 if ok else 1


def _launch() -> tuple[str, list[str]]:
    """How a host starts the krea-mcp that is running now: its absolute executable, which works today."""
    import shutil

    found = shutil.which("krea-mcp")
    here = Path(sys.executable).with_name("krea-mcp")
    if here.exists():
        return str(here), []
    if found:
        return str(Path(found).resolve()), []
    return sys.executable, ["-m", "krea_mcp"]


async def _check_api(settings: Settings) -> bool:
    """GET /jobs?limit=1: costs nothing, and proves the token and base URL work."""
    if settings.api_token is None and not settings.sandbox:
        print("  token check   SKIPPED: set KREA_API_TOKEN (or use --sandbox)")
        return False
    from krea_mcp.krea.client import KreaClient
    from krea_mcp.workflow.assembly import connection

    transport, base_url, token, _ = connection(settings)
    try:
        async with KreaClient(
            base_url=base_url, token=token, timeout_s=settings.request_timeout_s, transport=transport
        ) as client:
            jobs = await client.list_jobs(limit=1)
    except KreaError as exc:
        print(f"  token check   FAILED: {exc}")
        return False
    print(f"  token check   OK (GET /jobs answered; {len(jobs)} recent job{'s' if len(jobs) != 1 else ''} listed)")
    return True


def _check_output_dir(path: Path) -> bool:
    try:
        path.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=path, prefix=".krea-doctor-"):
            pass
    except OSError as exc:
        print(f"  output dir    NOT WRITABLE: {path} ({exc.strerror}); set KREA_OUTPUT_DIR")
        return False
    print(f"  output dir    {path} (writable)")
    return True
