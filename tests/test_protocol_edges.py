"""Every malformed JSON-RPC message gets a JSON-RPC error, over stdio and HTTP; bodies past the limit get a clear 413.

The first tests document what SDK 2.3 does on its own (drops such stdio lines, answers big HTTP bodies with plain
text): if an SDK upgrade changes that, they fail, and ``krea_mcp.server.edge`` can be revisited.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from pathlib import Path
from typing import Any

import anyio
import httpx
import pytest
from anyio.streams.memory import MemoryObjectReceiveStream, MemoryObjectSendStream
from mcp.server import MCPServer

from krea_mcp.http_app import build_app
from krea_mcp.server.app import create_server
from krea_mcp.server.edge import MAX_BODY_BYTES, MAX_DEPTH, check_message, serve_stdio
from tests.helpers import ACCEPT, asgi_client, bare_settings, initialize, make_settings, run_cli

META = {"io.modelcontextprotocol/protocolVersion": "2026-07-28", "io.modelcontextprotocol/clientCapabilities": {}}
INIT = initialize("2025-11-25", request_id=0)
#: The three messages the review found dropped, plus invalid JSON: (line, id, words the answer must contain).
BAD_LINES = [
    ('{"jsonrpc": "2.0", "id": 1, "method": "tools/list", "params": "x"}', 1, '"params" must be a JSON object'),
    (
        '{"jsonrpc": "2.0", "id": 2, "method": "tools/call", "params": {"name": "get_job", "arguments": {"job_id": '
        + "[" * 500
        + "]" * 500
        + "}}}",
        2,
        f"nested 503 levels deep; at most {MAX_DEPTH}",
    ),
    (
        '{"jsonrpc": "2.0", "id": "s", "method": "tools/call", "params": {"name": "get_job", '
        '"arguments": {"job_id": "\\ud800"}}}',
        "s",
        "params.arguments.job_id contains a lone UTF-16 surrogate",
    ),
    ("not json", None, "Parse error: the message is not valid JSON"),
]


# --- what the SDK does on its own ---------------------------------------------------------------------------------


class Pipe:
    """stdin and stdout for ``stdio_server``: lines go in through ``send``, answers collect in ``lines``."""

    def __init__(self) -> None:
        self._in: MemoryObjectSendStream[str]
        self._out: MemoryObjectReceiveStream[str]
        self._in, self._out = anyio.create_memory_object_stream[str](100)
        self.lines: list[dict[str, Any]] = []
        self._arrived = anyio.Event()

    # stdin side
    def __aiter__(self) -> Pipe:
        return self

    async def __anext__(self) -> str:
        try:
            return await self._out.receive()
        except anyio.EndOfStream:
            raise StopAsyncIteration from None

    def send(self, line: str) -> None:
        self._in.send_nowait(line + "\n")

    def close(self) -> None:
        self._in.close()

    def dispose(self) -> None:
        self._out.close()

    # stdout side
    async def write(self, text: str) -> None:
        for line in text.splitlines():
            self.lines.append(json.loads(line))
        self._arrived.set()

    async def flush(self) -> None:
        pass

    async def answer_to(self, request_id: Any) -> dict[str, Any]:
        with anyio.fail_after(10):
            while True:
                for line in self.lines:
                    if line.get("id") == request_id and "method" not in line:
                        return line
                self._arrived = anyio.Event()
                await self._arrived.wait()


@asynccontextmanager
async def stdio(serve: Any) -> AsyncIterator[Pipe]:
    pipe = Pipe()
    try:
        async with anyio.create_task_group() as tg:
            tg.start_soon(serve, pipe)
            try:
                yield pipe
            finally:
                pipe.close()
    finally:
        pipe.dispose()


async def sdk_stdio(pipe: Pipe) -> None:
    """The SDK's own stdio serving (``MCPServer.run_stdio_async``) of a bare server, on the test's pipe."""
    from mcp.server.stdio import stdio_server

    bare = MCPServer("bare")
    lowlevel = bare._lowlevel_server
    async with stdio_server(pipe, pipe) as (read_stream, write_stream):  # type: ignore[arg-type]
        await lowlevel.run(read_stream, write_stream, lowlevel.create_initialization_options())


@pytest.mark.anyio
async def test_sdk_stdio_drops_malformed_lines_without_an_answer() -> None:
    """SDK 2.3 behaviour, kept so an upgrade that changes it is noticed: every bad line is dropped."""
    async with stdio(sdk_stdio) as pipe:
        pipe.send(json.dumps(INIT))
        await pipe.answer_to(0)
        for line, _, _ in BAD_LINES:
            pipe.send(line)
        pipe.send(json.dumps({"jsonrpc": "2.0", "id": 9, "method": "tools/list"}))
        await pipe.answer_to(9)  # answered in order: every bad line before it was already handled
    assert [line.get("id") for line in pipe.lines] == [0, 9]


@pytest.mark.anyio
async def test_sdk_http_answers_a_body_over_4_mib_in_plain_text() -> None:
    """SDK 2.3 behaviour: 413 with the body ``Request body too large``, no limit and no next step."""
    app = MCPServer("bare").streamable_http_app(stateless_http=True)
    async with asgi_client(app) as http:
        response = await http.post("/mcp", content=b" " * (4 * 1024 * 1024 + 1), headers=ACCEPT)
    assert response.status_code == 413 and response.text == "Request body too large"


# --- stdio, guarded -------------------------------------------------------------------------------------------------


async def guarded_stdio(pipe: Pipe) -> None:
    await serve_stdio(create_server(make_settings()), stdin=pipe, stdout=pipe)


@pytest.mark.anyio
async def test_stdio_answers_every_malformed_line_with_its_id() -> None:
    """Before: no answer at all (see the SDK test above); the client waited forever."""
    async with stdio(guarded_stdio) as pipe:
        pipe.send(json.dumps(INIT))
        await pipe.answer_to(0)
        for line, request_id, words in BAD_LINES:
            pipe.send(line)
            answer = await pipe.answer_to(request_id)
            assert words in answer["error"]["message"], answer
            assert answer["error"]["code"] == (-32700 if request_id is None else -32600)
        pipe.send('{"jsonrpc": "2.0", "method": "notifications/x", "params": "x"}')  # a notification: no answer
        pipe.send(json.dumps({"jsonrpc": "2.0", "id": 9, "method": "tools/list"}))
        tools = await pipe.answer_to(9)
    assert tools["result"]["tools"]
    assert [line.get("id") for line in pipe.lines] == [0, 1, 2, "s", None, 9]


def test_the_stdio_server_process_answers_malformed_lines(tmp_path: Path) -> None:
    """The console script serves stdio through the guard."""
    lines = [json.dumps(INIT), *(line for line, _, _ in BAD_LINES)]
    proc = run_cli("--sandbox", cwd=tmp_path, stdin="\n".join(lines) + "\n")
    answers = [json.loads(line) for line in proc.stdout.splitlines()]
    by_id = {answer.get("id"): answer for answer in answers}
    for _, request_id, words in BAD_LINES:
        assert words in by_id[request_id]["error"]["message"], by_id.get(request_id)
    assert set(by_id) == {0, 1, 2, "s", None}, proc.stderr[-2000:]


# --- HTTP, guarded --------------------------------------------------------------------------------------------------


def served() -> AbstractAsyncContextManager[httpx.AsyncClient]:
    """An HTTP client of the sandbox server's ASGI app, in-process."""
    return asgi_client(build_app(bare_settings(sandbox=True)))


def era_headers(era: str, line: str) -> dict[str, str]:
    if era == "legacy":
        return {**ACCEPT, "mcp-protocol-version": "2025-11-25"}
    return {**ACCEPT, "mcp-protocol-version": "2026-07-28", "mcp-method": "tools/call", "mcp-name": "get_job"}


@pytest.mark.anyio
@pytest.mark.parametrize("era", ["legacy", "2026-07-28"])
async def test_http_answers_malformed_messages_with_a_clear_json_rpc_error(era: str) -> None:
    """Before: pydantic's words and a link (legacy), or the message reached the tool (2026-07-28)."""
    async with served() as http:
        for line, request_id, words in BAD_LINES:
            body = line if era == "legacy" or request_id is None else _with_meta(line)
            response = await http.post("/mcp", content=body.encode(), headers=era_headers(era, line))
            assert response.status_code == 400, response.text
            answer = response.json()
            assert answer["id"] == request_id and words in answer["error"]["message"], answer
            assert "pydantic" not in response.text


def _with_meta(line: str) -> str:
    """The line with the 2026-07-28 envelope keys added to its params (kept as raw text: json would re-escape)."""
    return line.replace('"params": {', '"params": {"_meta": ' + json.dumps(META) + ", ", 1)


@pytest.mark.anyio
async def test_http_refuses_a_body_over_the_limit_saying_the_limit_and_what_to_do() -> None:
    """Before: a bare ``Request body too large`` at 4 MiB, below one image the schema admits (14 MB data: URI)."""
    async with served() as http:
        declared = await http.post("/mcp", content=b" " * (MAX_BODY_BYTES + 1), headers=ACCEPT)

        async def chunks() -> AsyncIterator[bytes]:  # no Content-Length: counted as it streams
            for _ in range(MAX_BODY_BYTES // 65536 + 1):
                yield b" " * 65536

        streamed = await http.post("/mcp", content=chunks(), headers=ACCEPT)
    for response in (declared, streamed):
        assert response.status_code == 413
        message = response.json()["error"]["message"]
        assert "16,777,216 bytes (16 MiB)" in message and "https URLs" in message and "data: URIs" in message


@pytest.mark.anyio
async def test_http_takes_a_body_with_one_image_at_the_schemas_largest_data_uri() -> None:
    uri = "data:image/png;base64," + "A" * (14_000_000 - 22)
    call = {
        "jsonrpc": "2.0",
        "id": 7,
        "method": "tools/call",
        "params": {"name": "generate_image", "arguments": {"prompt": "x", "images": [uri]}},
    }
    async with served() as http:
        response = await http.post("/mcp", content=json.dumps(call).encode(), headers=era_headers("legacy", ""))
    assert response.status_code != 413
    assert "Request body too large" not in response.text


# --- the rules ------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("message", "code", "request_id", "words"),
    [
        ([{"jsonrpc": "2.0", "id": 1, "method": "ping"}], -32600, None, "batches are not supported"),
        ({"jsonrpc": "1.0", "id": 1, "method": "ping"}, -32600, 1, '"jsonrpc" must be "2.0"'),
        ({"jsonrpc": "2.0", "id": True, "method": "ping"}, -32600, None, '"id" must be a string or an integer'),
        ({"jsonrpc": "2.0", "id": 4, "method": 5}, -32600, 4, '"method" must be a string'),
        ({"jsonrpc": "2.0", "id": 4, "method": "ping", "params": [1]}, -32600, 4, '"params" must be a JSON object'),
        ({"jsonrpc": "2.0", "id": 4}, -32600, 4, "Send a JSON-RPC 2.0 request"),
        ({"jsonrpc": "2.0", "id": 4, "method": "m", "params": {"\ud800": 1}}, -32600, 4, "a key in params"),
    ],
)
def test_the_rules_name_the_problem_and_keep_the_id(message: Any, code: int, request_id: Any, words: str) -> None:
    refused = check_message(json.dumps(message))
    assert refused is not None and refused.code == code and refused.id == request_id
    assert words in refused.message, refused.message


def test_well_formed_messages_and_the_depth_limit_itself_pass() -> None:
    nested: Any = 1
    for _ in range(MAX_DEPTH - 2):  # inside the message object and params: exactly MAX_DEPTH levels
        nested = [nested]
    deep_enough = {"jsonrpc": "2.0", "id": 1, "method": "m", "params": {"a": nested}}
    assert check_message(json.dumps(deep_enough)) is None
    assert check_message(json.dumps({"jsonrpc": "2.0", "id": 1, "result": {}})) is None
    assert check_message(json.dumps({"jsonrpc": "2.0", "method": "notifications/initialized"})) is None
    assert (
        check_message(json.dumps({"jsonrpc": "2.0", "id": "a", "method": "m", "params": {"t": "\U0001f600"}})) is None
    )
    too_deep = {"jsonrpc": "2.0", "id": 1, "method": "m", "params": {"a": [nested]}}
    refused = check_message(json.dumps(too_deep))
    assert refused is not None and f"nested {MAX_DEPTH + 1} levels" in refused.message
    assert check_message(b'{"jsonrpc": "2.0", "id": 1, "method": "m", "params": {"t": "\xed\xa0\x80"}}') is not None


@pytest.mark.anyio
async def test_a_foreign_host_or_origin_is_refused_before_the_body_is_read() -> None:
    """DNS-rebinding protection still answers first (421/403), whatever the body: it is never parsed or counted."""
    async with served() as http:
        host = await http.post("/mcp", content=b"not json", headers={**ACCEPT, "host": "evil.example"})
        big = await http.post(
            "/mcp", content=b" " * (MAX_BODY_BYTES + 1), headers={**ACCEPT, "origin": "http://evil.example"}
        )
    assert host.status_code == 421
    assert big.status_code == 403
