"""The edge in front of the SDK's transports: every malformed JSON-RPC message gets a JSON-RPC error, none is dropped.

What SDK 2.3 does on its own (``tests/test_protocol_edges.py`` keeps a test of it, so an upgrade that changes it is
noticed):

* stdio: a line that is not a valid JSON-RPC message (``params`` a string, nesting deeper than its parser takes, a
  lone surrogate escape, invalid JSON) is logged at DEBUG and dropped, so the client waits for an answer forever.
* streamable HTTP: a body over 4 MiB gets a plain-text ``Request body too large``; malformed messages get errors in
  pydantic's words (with a link), and on 2026-07-28 500-deep nesting or a lone surrogate reaches the tools.

Here, ``check_message`` judges a message once, with one set of rules and messages that say what is wrong, what is
accepted and what to do; ``EdgeGuard`` applies it to HTTP bodies (and answers 413 past ``MAX_BODY_BYTES``), and
``serve_stdio`` answers the stdio lines the SDK would drop.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import anyio
from mcp_types import INVALID_REQUEST, PARSE_ERROR, ErrorData, JSONRPCError, jsonrpc_message_adapter
from pydantic import ValidationError

if TYPE_CHECKING:
    from mcp.server import MCPServer
    from mcp.server.transport_security import TransportSecuritySettings
    from starlette.types import ASGIApp, Message, Receive, Scope, Send

log = logging.getLogger(__name__)

#: The largest HTTP request body accepted: one image at the schema's 14,000,000-character data: URI maximum, plus
#: the rest of the call. More (several large data: URIs) is refused with 413 saying how to send images instead.
MAX_BODY_BYTES = 16 * 1024 * 1024
#: The deepest nesting of objects and arrays a message may have (a tool call needs about six levels).
MAX_DEPTH = 32
#: Bodies larger than this are checked off the event loop.
_THREAD_BYTES = 256 * 1024
_IMAGES_BY_REFERENCE = (
    "Pass large images as https URLs, or as file paths where this server reads local files, instead of data: URIs."
)


@dataclass(frozen=True, slots=True)
class Rejection:
    """Why a message is refused: the JSON-RPC error to answer with, and the HTTP status over HTTP."""

    code: int
    message: str
    id: str | int | None = None
    status: int = 400
    #: A notification (no id): over stdio nothing is answered, as JSON-RPC says.
    notification: bool = False

    def error(self) -> JSONRPCError:
        return JSONRPCError(jsonrpc="2.0", id=self.id, error=ErrorData(code=self.code, message=self.message))

    def body(self) -> bytes:
        return self.error().model_dump_json(by_alias=True, exclude_unset=True).encode()


def check_message(raw: bytes | str) -> Rejection | None:
    """None when ``raw`` is one well-formed JSON-RPC 2.0 message within our limits, else why not."""
    if isinstance(raw, bytes):
        try:
            raw = raw.decode("utf-8")
        except UnicodeDecodeError as exc:
            return Rejection(
                PARSE_ERROR,
                f"Parse error: the message is not valid UTF-8 (byte 0x{exc.object[exc.start]:02x} at offset "
                f"{exc.start}). Send JSON encoded as UTF-8; a lone UTF-16 surrogate cannot be encoded.",
            )
    try:
        message = json.loads(raw)
    except RecursionError:
        return Rejection(PARSE_ERROR, f"Parse error: the message is nested too deeply to read; {_depth_rule()}")
    except ValueError as exc:
        what = f"{exc.msg} at line {exc.lineno} column {exc.colno}" if isinstance(exc, json.JSONDecodeError) else exc
        return Rejection(
            PARSE_ERROR, f"Parse error: the message is not valid JSON ({what}). Send one JSON-RPC 2.0 object."
        )
    return check_parsed(message)


def check_parsed(message: Any) -> Rejection | None:
    """``check_message`` for a message already decoded from JSON."""
    if not isinstance(message, dict):
        kind = "an array (batches are not supported)" if isinstance(message, list) else _kind(message)
        return Rejection(INVALID_REQUEST, f"Invalid request: expected one JSON-RPC 2.0 object, got {kind}.")
    raw_id = message.get("id")
    ok_id = isinstance(raw_id, str) or (isinstance(raw_id, int) and not isinstance(raw_id, bool))
    request_id = raw_id if ok_id else None
    notification = "method" in message and "id" not in message

    def reject(problem: str) -> Rejection:
        return Rejection(INVALID_REQUEST, f"Invalid request: {problem}", request_id, notification=notification)

    depth = _depth(message)
    if depth > MAX_DEPTH:
        return reject(f"the message is nested {depth} levels deep; {_depth_rule()}")
    where = _lone_surrogate(message)
    if where is not None:
        return reject(
            f"{where} contains a lone UTF-16 surrogate, which is not valid Unicode. Send valid text (a surrogate "
            'pair such as "\\ud83d\\ude00" is fine).'
        )
    if message.get("jsonrpc") != "2.0":
        return reject(f'"jsonrpc" must be "2.0"; got {_kind(message.get("jsonrpc"))}.')
    if "id" in message and not ok_id:
        return reject(f'"id" must be a string or an integer; got {_kind(raw_id)}.')
    if "method" in message and not isinstance(message["method"], str):
        return reject(f'"method" must be a string; got {_kind(message["method"])}.')
    if "params" in message and not isinstance(message["params"], dict):
        return reject(
            f'"params" must be a JSON object, e.g. {{"name": "get_job", "arguments": {{...}}}}; '
            f"got {_kind(message['params'])}."
        )
    try:
        jsonrpc_message_adapter.validate_python(message, by_name=False)
    except ValidationError as exc:
        first = exc.errors(include_url=False)[0]
        field = ".".join(str(part) for part in first["loc"][1:]) or "the message"
        return reject(f"{field}: {first['msg']}. Send a JSON-RPC 2.0 request, notification or response.")
    return None


def _depth_rule() -> str:
    return f"at most {MAX_DEPTH} levels of objects and arrays are accepted (tool arguments need only a few)."


def _kind(value: Any) -> str:
    if isinstance(value, str):
        return f"the string {value[:40]!r}"
    if value is None:
        return "null"
    return {bool: "a boolean", int: "an integer", float: "a number", list: "an array", dict: "an object"}.get(
        type(value), type(value).__name__
    )


def _depth(message: Any) -> int:
    """How deeply objects and arrays nest in ``message`` (a scalar is 0, ``{}`` is 1)."""
    deepest = 0
    stack: list[tuple[Any, int]] = [(message, 1)]
    while stack:
        item, level = stack.pop()
        if isinstance(item, dict | list):
            deepest = max(deepest, level)
            stack.extend((child, level + 1) for child in (item.values() if isinstance(item, dict) else item))
    return deepest


def _lone_surrogate(message: Any) -> str | None:
    """Where the first string (a key or a value) holding a lone surrogate is, e.g. ``params.arguments.job_id``."""
    stack: list[tuple[Any, str]] = [(message, "")]
    while stack:
        item, path = stack.pop()
        if isinstance(item, str):
            if not item.isascii() and not _encodable(item):
                return path or "the message"
        elif isinstance(item, dict):
            for key, value in item.items():
                here = f"{path}.{key}" if path else str(key)
                if not _encodable(str(key)):
                    return f"a key in {path or 'the message'}"
                stack.append((value, here))
        elif isinstance(item, list):
            stack.extend((value, f"{path}[{i}]") for i, value in enumerate(item))
    return None


def _encodable(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


# --- HTTP -----------------------------------------------------------------------------------------------------------


class EdgeGuard:
    """ASGI middleware: a POST body over ``MAX_BODY_BYTES`` gets 413, a malformed message a JSON-RPC error (with its
    id when it has one); anything else reaches the SDK unchanged.

    The SDK's Host/Origin checks (``security``) come first, with the SDK's own answers (421, 403): a request from a
    foreign origin is refused before its body is read.
    """

    def __init__(
        self, app: ASGIApp, *, security: TransportSecuritySettings | None = None, max_body_bytes: int = MAX_BODY_BYTES
    ) -> None:
        from mcp.server.transport_security import TransportSecurityMiddleware

        self.app = app
        self.max_body_bytes = max_body_bytes
        self._origin_check = TransportSecurityMiddleware(security)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] != "POST":
            await self.app(scope, receive, send)
            return
        from starlette.requests import Request

        foreign = await self._origin_check.validate_request(Request(scope), is_post=True)
        if foreign is not None:
            await foreign(scope, receive, send)
            return
        body, refused = await self._read(scope, receive)
        if refused is None:
            refused = await _check_in_thread(body) if len(body) > _THREAD_BYTES else check_message(body)
        if refused is not None:
            log.warning("refused an HTTP request: %s", refused.message)
            await _answer(send, refused)
            return
        await self.app(scope, _replay(body, receive), send)

    async def _read(self, scope: Scope, receive: Receive) -> tuple[bytes, Rejection | None]:
        declared = next((v for k, v in scope.get("headers") or [] if k.lower() == b"content-length"), None)
        if declared is not None and declared.isdigit() and int(declared) > self.max_body_bytes:
            return b"", self._too_large(f"{int(declared):,} bytes")
        chunks: list[bytes] = []
        size = 0
        while True:
            message = await receive()
            if message["type"] != "http.request":
                break
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > self.max_body_bytes:
                return b"", self._too_large(f"more than {self.max_body_bytes:,} bytes")
            chunks.append(chunk)
            if not message.get("more_body", False):
                break
        return b"".join(chunks), None

    def _too_large(self, size: str) -> Rejection:
        limit = f"{self.max_body_bytes:,} bytes ({self.max_body_bytes / 2**20:g} MiB)"
        return Rejection(
            INVALID_REQUEST,
            f"Request body too large: {size}; this server accepts at most {limit} per request. {_IMAGES_BY_REFERENCE}",
            status=413,
        )


async def _check_in_thread(body: bytes) -> Rejection | None:
    return await anyio.to_thread.run_sync(check_message, body)


def _replay(body: bytes, receive: Receive) -> Receive:
    """A ``receive`` that hands the app the body already read, then defers to the real one (disconnects)."""
    sent = False

    async def replay() -> Message:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()

    return replay


async def _answer(send: Send, refused: Rejection) -> None:
    await send(
        {"type": "http.response.start", "status": refused.status, "headers": [(b"content-type", b"application/json")]}
    )
    await send({"type": "http.response.body", "body": refused.body()})


# --- stdio ----------------------------------------------------------------------------------------------------------


def run_stdio(server: MCPServer) -> None:
    """``server.run()`` for stdio, with malformed lines answered instead of dropped."""
    anyio.run(serve_stdio, server)


async def serve_stdio(server: MCPServer, stdin: Any = None, stdout: Any = None) -> None:
    """Serve ``server`` over stdio exactly as the SDK does (it claims fds 0 and 1), except that a line the SDK
    cannot read gets a JSON-RPC error on stdout. ``stdin``/``stdout`` replace the process's streams (tests)."""
    from mcp.server.stdio import stdio_server

    lowlevel = server._lowlevel_server  # what MCPServer.run_stdio_async runs; no public handle in SDK 2.3
    async with stdio_server(stdin, stdout) as (read_stream, write_stream):
        answering = _AnsweringReadStream(read_stream, write_stream)
        await lowlevel.run(answering, write_stream, lowlevel.create_initialization_options())


class _AnsweringReadStream:
    """The SDK's stdio read stream, minus the lines it could not read: each is answered here instead.

    The SDK passes such a line on as the exception its parser raised (pydantic keeps the line, or the decoded
    message, as the error's input), and its dispatcher drops it; this stream answers it and reads on.
    """

    def __init__(self, inner: Any, write_stream: Any) -> None:
        self._inner, self._write = inner, write_stream

    @property
    def last_context(self) -> Any:  # the SDK reads the sender's contextvars from here
        return getattr(self._inner, "last_context", None)

    async def receive(self) -> Any:
        from mcp.shared.message import SessionMessage

        while True:
            item = await self._inner.receive()
            if not isinstance(item, Exception):
                return item
            refused = rejection_for(item)
            log.warning("refused a stdio message: %s", refused.message)
            if not refused.notification:
                await self._write.send(SessionMessage(refused.error()))

    def __aiter__(self) -> _AnsweringReadStream:
        return self

    async def __anext__(self) -> Any:
        try:
            return await self.receive()
        except anyio.EndOfStream:
            raise StopAsyncIteration from None

    async def aclose(self) -> None:
        await self._inner.aclose()

    def close(self) -> None:
        self._inner.close()

    async def __aenter__(self) -> _AnsweringReadStream:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()


def rejection_for(exc: Exception) -> Rejection:
    """The answer to a message the SDK's parser refused with ``exc``."""
    if isinstance(exc, ValidationError):
        for error in exc.errors(include_url=False):
            source = error.get("input")
            if error["type"] == "json_invalid" and isinstance(source, str):
                return check_message(source) or _unreadable()
        for error in exc.errors(include_url=False):
            source = error.get("input")
            if isinstance(source, dict) and "jsonrpc" in source:
                return check_parsed(source) or _unreadable(source)
    return _unreadable()


def _unreadable(message: dict[str, Any] | None = None) -> Rejection:
    raw_id = (message or {}).get("id")
    request_id = (
        raw_id if isinstance(raw_id, str) or (isinstance(raw_id, int) and not isinstance(raw_id, bool)) else None
    )
    return Rejection(
        INVALID_REQUEST,
        "Invalid request: the message is not a JSON-RPC 2.0 request, notification or response this server can read.",
        request_id,
        notification=message is not None and "method" in message and "id" not in message,
    )
