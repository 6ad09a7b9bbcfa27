"""The human side of ``krea-mcp``: ``generate`` (through the same tools an agent calls), ``models``, ``doctor``."""

from __future__ import annotations

import json
import sys
import tempfile
import time
from pathlib import Path
from typing import Any, TextIO

import anyio

from .catalog import load_catalog
from .errors import KreaError
from .jobs import TERMINAL
from .settings import Settings

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
        status = (message or "").split(" · ", 1)[0] or self._status
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

    def _line(self, text: str) -> None:
        self._last_line = text
        print(f"  {text}", file=self._stream, flush=True)


async def generate(settings: Settings, arguments: dict[str, Any], *, as_json: bool) -> int:
    """Run generate_image (then wait_for_job until done, since a terminal has no 60 s cap) over in-memory MCP."""
    from mcp import Client

    from .params import resolve_model
    from .server import create_server
    from .wiring import SANDBOX_TIME_SCALE

    model = arguments.get("model") or settings.default_model
    try:
        typical = resolve_model(load_catalog(), model).typical_s * (SANDBOX_TIME_SCALE if settings.sandbox else 1)
    except KreaError:
        typical = 20.0  # the tool call reports the real problem
    view = ProgressView(sys.stderr, typical)
    print(f"krea-mcp: {model}{' (sandbox)' if settings.sandbox else ''}: {arguments['prompt']!r}", file=sys.stderr)
    async with Client(create_server(settings)) as client, anyio.create_task_group() as tg:
        tg.start_soon(view.tick)
        result = await client.call_tool("generate_image", arguments, progress_callback=view.on_progress)
        data: dict[str, Any] = result.structured_content or {}
        while not result.is_error and data.get("status") not in TERMINAL:
            follow = {"job_id": data["job_id"], "timeout_s": 600, "save_to": arguments.get("save_to")}
            follow = {k: v for k, v in follow.items() if v is not None}
            result = await client.call_tool("wait_for_job", follow, progress_callback=view.on_progress)
            data = result.structured_content or {}
        tg.cancel_scope.cancel()
    view.finish()
    return _print_result(result, data, as_json=as_json)


def _print_result(result: Any, data: dict[str, Any], *, as_json: bool) -> int:
    text = "\n".join(block.text for block in result.content if getattr(block, "type", "") == "text")
    if as_json:
        print(json.dumps(data, indent=2))
    if result.is_error:
        print(f"krea-mcp: {text}", file=sys.stderr)
        return 1
    if not as_json:
        print(text.splitlines()[0], file=sys.stderr)
        for line in text.splitlines()[1:]:
            if line.startswith(("Saving failed", "Preview")):
                print(line, file=sys.stderr)
        for path in data.get("files") or []:
            print(path)
        for url in data.get("urls", []):
            print(url)
    return 0


def models() -> int:
    """The catalog as a table."""
    catalog = load_catalog()
    rows = [("MODEL", "ALIASES", "TIME", "PRICE", "INPUTS")]
    for info in catalog.models.values():
        seconds = f"~{info.typical_s:g}s" + ("?" if info.typical_s_estimated else "")
        rows.append(
            (info.id, ", ".join(info.aliases), seconds, info.price_hint or "-", "/".join(info.inputs) or "text")
        )
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]) - 1)]
    for row in rows:
        print("  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=False)) + "  " + row[-1])
    print("\n? = estimated time. Retired: " + ", ".join(s.id for s in catalog.sunset.values()))
    return 0


async def doctor(settings: Settings) -> int:
    """Effective settings (token masked), a token check with a harmless call, the output directory, a host snippet."""
    ok = True
    token = settings.api_token
    print("krea-mcp doctor")
    print(f"  base URL      {settings.base_url}{'  (sandbox emulator)' if settings.sandbox else ''}")
    print(f"  API token     {'set (hidden)' if token else 'NOT SET'}{' (sandbox needs none)' * settings.sandbox}")
    print(f"  default model {settings.default_model}")
    print(f"  wait          {settings.wait_s:g} s per call; preview {settings.preview}; auto-save {settings.auto_save}")
    print(f"  input dirs    {', '.join(str(d) for d in settings.input_dirs())}")
    ok &= await _check_api(settings)
    ok &= _check_output_dir(settings.resolved_output_dir())
    print("\nClaude Desktop / Cursor config (claude_desktop_config.json, .cursor/mcp.json):")
    snippet = {"mcpServers": {"krea": {"command": "uvx", "args": ["krea-mcp"], "env": {"KREA_API_TOKEN": "<token>"}}}}
    print(json.dumps(snippet, indent=2))
    print("Claude Code: claude mcp add krea --env KREA_API_TOKEN=<token> -- uvx krea-mcp")
    return 0 if ok else 1


async def _check_api(settings: Settings) -> bool:
    """GET /jobs?limit=1: costs nothing, and proves the token and base URL work."""
    if settings.api_token is None and not settings.sandbox:
        print("  token check   SKIPPED: set KREA_API_TOKEN (or use --sandbox)")
        return False
    from .client import KreaClient
    from .wiring import connection

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
