"""The API token never shows up anywhere but the Authorization header, and on stdio, stdout is only JSON-RPC.

A sentinel token (``id:SENTINEL-<hex>``) goes through every tool, every error path and DEBUG logging; then every
result, error text, log record, captured output, ``repr``/``str`` and exception chain is searched for it.
"""

from __future__ import annotations

import json
import logging
import queue
import subprocess
import sys
import threading
import time
import traceback
import uuid
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import anyio
import httpx
import pytest
from mcp import Client, StdioServerParameters, stdio_client
from pydantic import SecretStr

from krea_mcp.__main__ import main as cli_main
from krea_mcp.errors import KreaError
from krea_mcp.fake_api import FakeKrea
from krea_mcp.krea.client import KreaClient
from krea_mcp.settings import Settings
from tests.helpers import UNKNOWN_JOB, child_env, connect, make_settings, text_of

SECRET = "SENTINEL-" + uuid.uuid4().hex
SENTINEL = "id:" + SECRET
#: Any of these in any output is a leak (the hex alone catches a token that was sliced or re-formatted).
NEEDLES = (SENTINEL, SECRET, SECRET.removeprefix("SENTINEL-"))
LOGGERS = ("", "krea_mcp", "httpx", "httpcore", "mcp")


def leaks(text: str) -> list[str]:
    return [needle for needle in NEEDLES if needle in text]


def assert_clean(where: str, text: str) -> None:
    assert not leaks(text), f"the token leaked into {where}: {text[:2000]}"


def exception_chain(exc: BaseException) -> Iterator[BaseException]:
    """The exception, its ``__cause__`` and ``__context__``, recursively (suppressed contexts included)."""
    seen: set[int] = set()
    todo = [exc]
    while todo:
        current = todo.pop()
        if id(current) in seen:
            continue
        seen.add(id(current))
        yield current
        todo += [e for e in (current.__cause__, current.__context__) if e is not None]


def describe_exception(exc: BaseException) -> str:
    """Everything a log line or a traceback could show about an exception and its chain."""
    parts = [f"{e!r} {e!s} {e.args!r}" for e in exception_chain(exc)]
    parts.append("".join(traceback.format_exception(exc)))
    parts.append("".join(traceback.format_exception(exc, chain=True)))
    return "\n".join(parts)


def connect_error(request: httpx.Request) -> httpx.Response:
    raise httpx.ConnectError("connection refused", request=request)


def failing_with_500() -> httpx.AsyncBaseTransport:
    """The emulator answering every request with its 500 (a connection error is beyond its fault injection)."""
    fake = FakeKrea(token=SENTINEL)
    fake.inject("*", 500, count=1000)
    return fake.transport()


# --- the whole flow in memory, at DEBUG ----------------------------------------------------------------------------


@dataclass
class Flow:
    """Results of every tool, success and failure, plus the log records and output captured meanwhile."""

    results: dict[str, Any] = field(default_factory=dict)
    records: list[logging.LogRecord] = field(default_factory=list)
    out: str = ""
    err: str = ""


async def _call(transport: httpx.AsyncBaseTransport, mode: str, calls: dict[str, tuple[str, dict[str, Any]]]) -> Any:
    async with connect(transport, mode=mode, api_token=SENTINEL, log_level="DEBUG", preview="off") as client:
        return {label: await client.call_tool(tool, args) for label, (tool, args) in calls.items()}


@pytest.fixture
async def flow(mode: str, caplog: pytest.LogCaptureFixture, capsys: pytest.CaptureFixture[str]) -> Flow:
    """Every tool with the sentinel token: success, 404, 401, connection failure, 500 and invalid arguments."""
    for name in LOGGERS:
        caplog.set_level(logging.DEBUG, logger=name or None)
    fake = FakeKrea(token=SENTINEL, job_duration_s=0.3)
    results: dict[str, Any] = {}
    with anyio.fail_after(30):
        async with connect(fake, mode=mode, api_token=SENTINEL, log_level="DEBUG") as client:
            results["generate"] = await client.call_tool("generate_image", {"prompt": "a red fox in the snow"})
            job = results["generate"].structured_content["job_id"]
            results["get"] = await client.call_tool("get_job", {"job_id": job})
            results["wait"] = await client.call_tool("wait_for_job", {"job_id": job, "timeout_s": 5})
            started = await client.call_tool("generate_image", {"prompt": "a slow fox", "wait": False})
            results["start"] = started
            results["cancel"] = await client.call_tool("cancel_job", {"job_id": started.structured_content["job_id"]})
            results["list"] = await client.call_tool("list_models", {})
            results["detail"] = await client.call_tool("list_models", {"model": "flux"})
            results["404"] = await client.call_tool("get_job", {"job_id": UNKNOWN_JOB})
            results["invalid"] = await client.call_tool("generate_image", {"prompt": "x", "width": "very wide"})
        get = ("get_job", {"job_id": "abc"})
        generate = ("generate_image", {"prompt": "a fox"})
        cancel = ("cancel_job", {"job_id": "abc"})  # a 500 on generate is reconciled for seconds: not here
        for label, transport, calls in [
            ("401", FakeKrea(token="someone-else").transport(), {"get": get, "generate": generate}),
            ("connect", httpx.MockTransport(connect_error), {"get": get, "generate": generate}),
            ("500", failing_with_500(), {"get": get, "cancel": cancel}),
        ]:
            answers = await _call(transport, mode, calls)
            results |= {f"{label} {what}": result for what, result in answers.items()}
    captured = capsys.readouterr()
    return Flow(results=results, records=list(caplog.records), out=captured.out, err=captured.err)


@pytest.mark.anyio
async def test_the_flow_exercises_success_and_every_kind_of_failure(flow: Flow) -> None:
    """Guard against a vacuous pass: the calls did what they are meant to, and DEBUG records were captured."""
    ok = {"generate", "get", "wait", "start", "cancel", "list", "detail"}
    assert {label for label, r in flow.results.items() if not r.is_error} == ok
    assert flow.results["generate"].structured_content["status"] == "completed"
    assert flow.results["cancel"].structured_content["status"] == "cancelled"
    assert "not found" in text_of(flow.results["404"])
    assert "width must be a whole number" in text_of(flow.results["invalid"])
    assert "401" in text_of(flow.results["401 get"])
    assert "could not be reached" in text_of(flow.results["connect generate"])
    assert "500" in text_of(flow.results["500 get"])
    assert "500" in text_of(flow.results["500 cancel"])
    assert any(r.levelno == logging.DEBUG and r.name.startswith("krea_mcp") for r in flow.records)


@pytest.mark.anyio
async def test_no_tool_result_or_error_text_contains_the_token(flow: Flow) -> None:
    """Whole results, as JSON, for every success and every failure."""
    for label, result in flow.results.items():
        assert_clean(f"the {label} result", result.model_dump_json())
        assert_clean(f"the {label} text", text_of(result))


@pytest.mark.anyio
async def test_no_log_record_contains_the_token(flow: Flow) -> None:
    """Messages, arguments, exception text and the fully formatted record, at DEBUG for every logger."""
    formatter = logging.Formatter("%(name)s %(levelname)s %(message)s")
    for record in flow.records:
        where = f"a log record of {record.name} ({record.getMessage()[:80]!r})"
        assert_clean(where, record.getMessage())
        assert_clean(where, repr(record.args))
        assert_clean(where, formatter.format(record))
        assert_clean(where, record.exc_text or "")
        if record.exc_info and record.exc_info[1] is not None:
            assert_clean(where, describe_exception(record.exc_info[1]))


@pytest.mark.anyio
async def test_nothing_printed_contains_the_token(flow: Flow) -> None:
    """Captured stdout and stderr of the whole flow."""
    assert_clean("stdout", flow.out)
    assert_clean("stderr", flow.err)


# --- objects that hold the token -----------------------------------------------------------------------------------


def test_settings_repr_str_and_dumps_hide_the_token(monkeypatch: pytest.MonkeyPatch) -> None:
    """Given directly or through KREA_API_TOKEN / KREA_API_KEY, the token shows only as asterisks."""
    monkeypatch.setenv("KREA_API_KEY", SENTINEL)
    from_env = Settings(_env_file=None)  # type: ignore[call-arg]
    assert from_env.api_token is not None and from_env.api_token.get_secret_value() == SENTINEL
    for settings in (make_settings(api_token=SENTINEL), from_env):
        for text in (repr(settings), str(settings), settings.model_dump_json(), repr(settings.model_dump())):
            assert_clean("the settings", text)


def test_an_invalid_setting_next_to_the_token_is_reported_without_it(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """The entry point prints the configuration error; the token given alongside stays out of it."""
    monkeypatch.setenv("KREA_API_TOKEN", SENTINEL)
    monkeypatch.setenv("KREA_WAIT_S", "-1")
    monkeypatch.setenv("KREA_BASE_URL", "ftp://krea.example")
    with pytest.raises(SystemExit) as exited:
        cli_main([])
    assert exited.value.code == 2
    captured = capsys.readouterr()
    assert "KREA_WAIT_S" in captured.err
    assert_clean("the configuration error", captured.out + captured.err)


@pytest.mark.anyio
@pytest.mark.parametrize("answer", ["401", "500", "connect-error"])
@pytest.mark.parametrize("request_kind", ["get_job", "create_image_job", "cancel_job"])
async def test_client_errors_and_their_exception_chain_hide_the_token(answer: str, request_kind: str) -> None:
    """KreaClient's exception, its __cause__/__context__ chain and the formatted traceback never carry the token."""
    calls: dict[str, Callable[[KreaClient], Awaitable[Any]]] = {
        "get_job": lambda c: c.get_job(UNKNOWN_JOB),
        "create_image_job": lambda c: c.create_job("/generate/image/bfl/flux-1-dev", {"prompt": "a fox"}),
        "cancel_job": lambda c: c.cancel_job(UNKNOWN_JOB),
    }
    transports: dict[str, Callable[[], httpx.AsyncBaseTransport]] = {
        "401": lambda: FakeKrea(token="someone-else").transport(),
        "500": failing_with_500,
        "connect-error": lambda: httpx.MockTransport(connect_error),
    }
    transport = transports[answer]()
    async with KreaClient(base_url="http://krea.sandbox", token=SecretStr(SENTINEL), transport=transport) as client:
        assert_clean("the client", repr(client) + str(client))
        with pytest.raises(KreaError) as info:
            await calls[request_kind](client)
    assert_clean("the raised error", describe_exception(info.value))
    assert_clean("the raised error's attributes", repr(vars(info.value)))


# --- stdio: a real child process -----------------------------------------------------------------------------------


def stdio_env(tmp_path: Path) -> dict[str, str]:
    return child_env(KREA_API_TOKEN=SENTINEL, KREA_OUTPUT_DIR=str(tmp_path / "images"), KREA_PREVIEW="off")


SERVE = ["-m", "krea_mcp", "--sandbox", "--log-level", "DEBUG"]


@pytest.mark.anyio
async def test_stdio_client_lists_tools_and_generates_without_the_token_in_results_or_stderr(tmp_path: Path) -> None:
    """The official client over a real stdio child at DEBUG; the child's stderr is kept and searched too."""
    params = StdioServerParameters(command=sys.executable, args=SERVE, env=stdio_env(tmp_path), cwd=str(tmp_path))
    errlog_path = tmp_path / "stderr.log"
    with errlog_path.open("w") as errlog, anyio.fail_after(60):
        async with Client(stdio_client(params, errlog=errlog)) as client:
            tools = await client.list_tools()
            result = await client.call_tool("generate_image", {"prompt": "a red fox"})
    assert {t.name for t in tools.tools} >= {"generate_image", "get_job", "wait_for_job", "cancel_job"}
    assert result.is_error is False, text_of(result)
    assert result.structured_content["status"] == "completed"
    assert_clean("tools/list", tools.model_dump_json())
    assert_clean("the generate_image result", result.model_dump_json())
    stderr = errlog_path.read_text()
    assert "DEBUG" in stderr
    assert_clean("the child's stderr", stderr)


class RawStdio:
    """A ``python -m krea_mcp`` child driven with hand-written JSON-RPC lines; both pipes drained by threads."""

    def __init__(self, cwd: Path) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, *SERVE],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            env=stdio_env(cwd),
            cwd=cwd,
        )
        self.lines: queue.Queue[bytes | None] = queue.Queue()
        self.stdout: list[bytes] = []
        self.stderr: list[bytes] = []
        self._threads = [
            threading.Thread(target=self._pump, args=(self.proc.stdout, self.lines), daemon=True),
            threading.Thread(target=self._drain, args=(self.proc.stderr, self.stderr), daemon=True),
        ]
        for thread in self._threads:
            thread.start()

    @staticmethod
    def _pump(stream: Any, lines: queue.Queue[bytes | None]) -> None:
        for line in iter(stream.readline, b""):
            lines.put(line)
        lines.put(None)

    @staticmethod
    def _drain(stream: Any, chunks: list[bytes]) -> None:
        for chunk in iter(lambda: stream.read1(65536), b""):
            chunks.append(chunk)

    def send(self, message: dict[str, Any]) -> None:
        assert self.proc.stdin is not None
        self.proc.stdin.write(json.dumps(message).encode() + b"\n")
        self.proc.stdin.flush()

    def read_until(self, request_id: int, timeout_s: float) -> dict[str, Any]:
        """Collect stdout lines until the response to ``request_id`` arrives; fail after ``timeout_s``."""
        deadline = time.monotonic() + timeout_s
        while True:
            line = self.lines.get(timeout=max(0.01, deadline - time.monotonic()))
            assert line is not None, f"stdout closed before response {request_id}: {b''.join(self.stderr)[-2000:]!r}"
            self.stdout.append(line)
            message = json.loads(line)
            if isinstance(message, dict) and message.get("id") == request_id and "method" not in message:
                return message

    def close(self, timeout_s: float = 20) -> None:
        """Close stdin (the stdio way to stop), wait for exit, and collect the rest of both pipes."""
        assert self.proc.stdin is not None
        self.proc.stdin.close()
        try:
            self.proc.wait(timeout=timeout_s)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(timeout=timeout_s)
        for thread in self._threads:
            thread.join(timeout=timeout_s)
        for stream in (self.proc.stdout, self.proc.stderr):
            if stream is not None:
                stream.close()
        while not self.lines.empty():
            line = self.lines.get_nowait()
            if line is not None:
                self.stdout.append(line)


@pytest.fixture(scope="module")
def raw_session(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RawStdio]:
    """initialize (2025-06-18), initialized, tools/call generate_image with a progress token, tools/list."""
    child = RawStdio(tmp_path_factory.mktemp("raw-stdio"))
    try:
        child.send(
            {
                "jsonrpc": "2.0",
                "id": 1,
                "method": "initialize",
                "params": {
                    "protocolVersion": "2025-06-18",
                    "capabilities": {},
                    "clientInfo": {"name": "raw-test", "version": "0"},
                },
            }
        )
        assert child.read_until(1, 30)["result"]["protocolVersion"] == "2025-06-18"
        child.send({"jsonrpc": "2.0", "method": "notifications/initialized"})
        child.send(
            {
                "jsonrpc": "2.0",
                "id": 2,
                "method": "tools/call",
                "params": {
                    "name": "generate_image",
                    "arguments": {"prompt": "a red fox"},
                    "_meta": {"progressToken": "fox-progress"},
                },
            }
        )
        child.send({"jsonrpc": "2.0", "id": 3, "method": "tools/list"})
        generated = child.read_until(2, 60)
        assert generated["result"]["isError"] is False, generated
    finally:
        child.close()
    yield child


def test_raw_stdio_stdout_is_only_json_rpc_lines(raw_session: RawStdio) -> None:
    """Every stdout line, through initialize, a tool call with progress, tools/list and shutdown, is JSON-RPC."""
    output = b"".join(raw_session.stdout)
    assert output.endswith(b"\n")
    lines = output.decode("utf-8").split("\n")[:-1]
    messages = []
    for line in lines:
        assert line.strip(), f"blank line on stdout: {output[-2000:]!r}"
        message = json.loads(line)
        assert isinstance(message, dict) and message.get("jsonrpc") == "2.0", line[:500]
        messages.append(message)
    assert {1, 2, 3} <= {m.get("id") for m in messages}
    progress = [m for m in messages if m.get("method") == "notifications/progress"]
    assert progress and all(m["params"]["progressToken"] == "fox-progress" for m in progress)


def test_raw_stdio_stdout_and_stderr_never_contain_the_token(raw_session: RawStdio) -> None:
    """Both pipes of the child, including DEBUG logging of every HTTP request made with the token."""
    stderr = b"".join(raw_session.stderr).decode("utf-8", "replace")
    assert "DEBUG" in stderr
    assert_clean("the child's stdout", b"".join(raw_session.stdout).decode("utf-8", "replace"))
    assert_clean("the child's stderr", stderr)
