"""Hypothesis-generated arguments for every tool, sent through the in-memory MCP client.

Whatever arrives, every call ends within a bounded time as a ``CallToolResult``: a job result, or an error the
model can read. The masked crash text (``Error executing tool <name>`` and nothing after it) means an unexpected
exception inside the server, and fails the test with the server-side exception attached.

Budget: ``KREA_FUZZ_EXAMPLES`` examples per tool (default 150). ``KREA_FUZZ_SLOW=1`` also runs the slow test with
``KREA_FUZZ_SLOW_EXAMPLES`` (default 2000) per tool. Both are read at import time: the autouse fixture in
conftest clears every ``KREA_*`` variable before a test runs.
"""

from __future__ import annotations

import base64
import logging
import math
import os
import re
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import anyio
import pytest
from anyio.from_thread import BlockingPortal, start_blocking_portal
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from mcp import Client
from mcp.types import CallToolResult

from krea_mcp.catalog.models import load_catalog
from krea_mcp.fake_api import FakeKrea
from tests.helpers import TOKEN, connect, make_settings, text_of

FUZZ_EXAMPLES = int(os.environ.get("KREA_FUZZ_EXAMPLES", "150"))
FUZZ_SLOW = os.environ.get("KREA_FUZZ_SLOW") == "1"
FUZZ_SLOW_EXAMPLES = int(os.environ.get("KREA_FUZZ_SLOW_EXAMPLES", "2000"))
CALL_TIMEOUT_S = 10

#: Every call made by this module, over all tests (printed by the slow test).
CALLS = {"total": 0}

PNG_1X1 = base64.b64decode(
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAQAAAC1HAwCAAAAC0lEQVR42mNkYAAAAAYAAjCB0C8AAAAASUVORK5CYII="
)
DATA_PNG = "data:image/png;base64," + base64.b64encode(PNG_1X1).decode()
LOCAL_PNG = "in.png"  # written into the working directory (an allowed input directory) by the fuzzer


class _Known:
    """Stands for the id of a real job on the emulator; replaced at call time."""

    def __repr__(self) -> str:
        return "<known job id>"


KNOWN_JOB = _Known()

# --- strategies: building blocks ---------------------------------------------------------------------------------

ODD_PIECES = [
    "🦊",
    "👩‍👩‍👧",
    "\u202e",  # right-to-left override
    "مرحبا",
    "שלום",
    "\x00",
    "\ud800",  # lone surrogates: JSON can carry them as escapes
    "\udfff",
    "\ufeff",
    "e\u0301",
    "𝔘",
    "\r\n",
    "\u2028",
    "%00",
    "%2e%2e%2f",
    "../",
    "..\\",
    "'",
    '"',
    "\\",
    "{}",
    "${HOME}",
    "$(id)",
    "<script>",
    "\x1b[31m",
]

odd_text = st.lists(
    st.sampled_from(ODD_PIECES) | st.text(max_size=5) | st.characters(categories=["Cs"]), max_size=8
).map("".join)


def huge_text(max_chars: int = 100_000) -> st.SearchStrategy[str]:
    """Long strings built by repetition: cheap for Hypothesis to draw, up to ``max_chars``."""
    pieces = st.text(min_size=1, max_size=4) | st.sampled_from(ODD_PIECES)
    return st.builds(lambda piece, n: (piece * n)[:n], pieces, st.integers(1_000, max_chars))


texts = st.text(max_size=40) | odd_text | huge_text()


def _nest(depth: int, shape: str) -> Any:
    value: Any = "leaf"
    for i in range(depth):
        as_dict = shape == "dict" or (shape == "mixed" and i % 2 == 0)
        value = {"a": value} if as_dict else [value]
    return value


deep = st.builds(_nest, st.integers(50, 150), st.sampled_from(["dict", "list", "mixed"]))

EDGE_INTS = [0, -1, 1, 15, 16, 17, 8191, 8192, 8193, 2**31, 2**32 - 1, 2**32, 2**63, -(2**63), 10**30, -(10**30)]
ints_all = st.integers() | st.integers(-(2**200), 2**200) | st.sampled_from(EDGE_INTS)
EDGE_FLOATS = [math.nan, math.inf, -math.inf, 1e308, -1e308, 5e-324, -0.0, 0.0, 2.0000001, 600.0, 600.0000001]
floats_all = st.floats(allow_nan=True, allow_infinity=True) | st.sampled_from(EDGE_FLOATS)
scalars = st.none() | st.booleans() | ints_all | floats_all | texts

#: Any wrong type: null, bools, numbers, strings, small nested lists/dicts, and very deep nesting.
junk = (
    st.recursive(
        scalars,
        lambda kids: st.lists(kids, max_size=4) | st.dictionaries(st.text(max_size=8), kids, max_size=4),
        max_leaves=8,
    )
    | deep
)


def either(valid: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    """Half valid values, half anything."""
    return valid | junk


PATHS = [
    "../../../etc/passwd",
    "..",
    "../",
    "/etc/passwd",
    "/etc",
    "/",
    "~",
    "~/",
    "~root/.ssh/id_rsa",
    "~nosuchuser-krea/x.png",
    "/dev/zero",
    "/dev/stdin",
    "/proc/self/environ",
    "/proc/self/fd/0",
    "file:///etc/passwd",
    "file:///dev/zero",
    "file://localhost/etc/hosts",
    "file:///%00",
    "file:///tmp/../etc/passwd",
    "\\\\server\\share\\x.png",
    "C:\\Windows\\win.ini",
    "..%2f..%2fetc%2fpasswd",
    "a/../../../b.png",
    "images/../../x.png",
    LOCAL_PNG,
    "./" + LOCAL_PNG,
    LOCAL_PNG + "/",
    LOCAL_PNG + "\x00.txt",
    "NUL",
    "CON",
    ".",
    "",
    " ",
    "x" * 300,
    "a/" * 600,
    "sub/dir/",
    "out.png",
    "out.jpg",
    "out.PNG",
    "out.webp",
    ".png",
    "...png",
    "x" * 250 + ".png",
]
PATH_PREFIXES = ["", "~", "~/", "/", "./", "../", "file://", "file:///", "\\\\", "C:\\"]
PATH_PARTS = ["..", ".", "a", "~", "", "x.png", "🦊", "\x00", "x" * 256, LOCAL_PNG]
paths = (
    st.sampled_from(PATHS)
    | st.builds(
        str.__add__, st.sampled_from(PATH_PREFIXES), st.lists(st.sampled_from(PATH_PARTS), max_size=6).map("/".join)
    )
    | st.builds(str.__add__, st.sampled_from(PATH_PREFIXES), st.text(max_size=20))
)

data_uris = (
    st.sampled_from(
        [
            DATA_PNG,
            "data:",
            "data:,",
            "data:image/png;base64,",
            "data:image/png;base64,!!!!",
            "data:image/png,rawbytes",
            "data:text/plain;base64,aGVsbG8=",
            "data:;base64,====",
            "data:image/png;base64," + "A" * 100_001,
        ]
    )
    | st.builds(lambda b: "data:image/png;base64," + base64.b64encode(b).decode(), st.binary(max_size=64))
    | st.builds(lambda b: "data:image/png;base64," + base64.b64encode(PNG_1X1[:8] + b).decode(), st.binary())
    | st.builds(lambda s: "data:" + s, texts)
)

urls = st.sampled_from(
    [
        "https://example.com/a.png",
        "http://127.0.0.1:1/a.png",
        "https://",
        "http://",
        "https://exa mple.com/a.png",
        "javascript:alert(1)",
        "ftp://example.com/a.png",
        "https://example.com/" + "a" * 5_000,
    ]
)

image_ref = paths | data_uris | urls | texts
image_list = st.lists(image_ref, min_size=1, max_size=2) | st.lists(image_ref, max_size=20)

CATALOG = load_catalog()
MODEL_NAMES = sorted(
    {name for info in CATALOG.models.values() for name in (info.id, *info.aliases)} | set(CATALOG.sunset)
)
OPTION_KEYS = sorted({key for info in CATALOG.models.values() for key in info.properties})
models = st.sampled_from(MODEL_NAMES) | st.sampled_from(["", " flux ", "FLUX", "/bfl/flux-1-dev", "generate/image/x"])

option_values = scalars | st.lists(scalars, max_size=4) | st.dictionaries(st.text(max_size=6), scalars, max_size=3)
options = st.dictionaries(
    st.sampled_from(OPTION_KEYS) | st.text(max_size=10) | st.sampled_from(["guidanceScale", "__proto__", "prompt"]),
    option_values | deep,
    max_size=5,
)

job_ids = (
    st.just(KNOWN_JOB)
    | st.from_regex(r"\A[A-Za-z0-9_-]{1,100}\Z")
    | st.sampled_from(["job-1", "3c90c3cc-0d44-4b50-8888-8dd25736052a", "a" * 100, "a" * 101])
    | paths
)

# --- strategies: one argument dict per tool ----------------------------------------------------------------------


@dataclass(frozen=True)
class ToolSpec:
    required: dict[str, st.SearchStrategy[Any]]
    optional: dict[str, st.SearchStrategy[Any]] = field(default_factory=dict)

    @property
    def names(self) -> set[str]:
        return set(self.required) | set(self.optional)

    def arguments(self) -> st.SearchStrategy[dict[str, Any]]:
        """Valid calls plus one (maybe junk) argument, valid calls, any field replaced by junk, missing required keys;
        each maybe with unknown keys."""
        everything = {**self.required, **self.optional}
        valid = st.fixed_dictionaries(self.required, optional=self.optional)
        mixed = st.fixed_dictionaries(
            {k: either(v) for k, v in self.required.items()}, optional={k: either(v) for k, v in self.optional.items()}
        )
        one_more = [st.fixed_dictionaries({**self.required, k: either(v)}) for k, v in self.optional.items()]
        focused = st.one_of(one_more) if one_more else valid
        missing = st.fixed_dictionaries({}, optional={k: either(v) for k, v in everything.items()})
        unknown = st.dictionaries(st.text(max_size=12).filter(lambda k: k not in everything), junk, max_size=3)
        return st.builds(
            lambda known, extra: {**extra, **known}, focused | valid | mixed | missing, st.just({}) | unknown
        )


SAVE_TO = paths | texts
TOOLS: dict[str, ToolSpec] = {
    "generate_image": ToolSpec(
        required={"prompt": st.text(min_size=1, max_size=50) | odd_text | huge_text(10_000)},
        optional={
            "model": models,
            "width": st.integers(16, 8192) | ints_all,
            "height": st.integers(16, 8192) | ints_all,
            "aspect_ratio": st.sampled_from(["16:9", "1:1", "9:16", "4:3", "0:1", "1:0", "16x9", " 3 / 2 "]) | texts,
            "resolution": st.sampled_from(["1K", "2K", "4K", "8K", "1k", ""]),
            "seed": st.integers(0, 2**32 - 1) | ints_all,
            "steps": st.integers(1, 200) | ints_all,
            "negative_prompt": texts,
            "strength": st.floats(-2, 2) | floats_all,
            "images": image_list,
            "style_images": image_list,
            "options": options,
            "wait": st.booleans(),
            "save_to": SAVE_TO,
        },
    ),
    "get_job": ToolSpec(required={"job_id": job_ids}),
    "wait_for_job": ToolSpec(
        required={"job_id": job_ids},
        optional={"timeout_s": st.floats(0.001, 600) | floats_all | ints_all, "save_to": SAVE_TO},
    ),
    "cancel_job": ToolSpec(required={"job_id": job_ids}),
    "list_models": ToolSpec(required={}, optional={"model": models | texts}),
}

# --- the client side -------------------------------------------------------------------------------------------

CRASH_LOGGER = "mcp.server.mcpserver.server"
_WORD = re.compile(r"[A-Za-z_]+")


class _Crashes(logging.Handler):
    """Keeps the exceptions the SDK logs when a tool crashes, to show them in a failure message."""

    def __init__(self) -> None:
        super().__init__(logging.ERROR)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)

    def last(self) -> str:
        if not self.records or not self.records[-1].exc_info:
            return "(no exception logged)"
        exc = self.records[-1].exc_info[1]
        cause = exc.__cause__ if exc is not None else None
        return f"{exc!r} caused by {cause!r}"


@dataclass
class Fuzzer:
    """One server and client for a whole test, driven from Hypothesis' synchronous examples through a portal."""

    portal: BlockingPortal
    client: Client
    crashes: _Crashes
    known_job: str = ""
    calls: int = 0

    def call(self, tool: str, arguments: dict[str, Any]) -> CallToolResult:
        arguments = {k: self.known_job if v is KNOWN_JOB else v for k, v in arguments.items()}
        self.calls += 1
        CALLS["total"] += 1
        result: CallToolResult = self.portal.call(self._call, tool, arguments)
        return result

    async def _call(self, tool: str, arguments: dict[str, Any]) -> CallToolResult:
        with anyio.fail_after(CALL_TIMEOUT_S):
            return await self.client.call_tool(tool, arguments)

    def check(self, tool: str, arguments: dict[str, Any]) -> CallToolResult:
        """One fuzzed call: a result, never the masked crash, and a readable error that names its argument."""
        result = self.call(tool, arguments)
        assert isinstance(result, CallToolResult)
        text = text_of(result)
        if not result.is_error:
            assert result.content, f"{tool} returned no content"
            if tool != "list_models":
                assert {"job_id", "status"} <= set(result.structured_content or {})
            return result
        prefix = f"Error executing tool {tool}"
        assert text.strip() != prefix, f"{tool} crashed: {self.crashes.last()}"
        assert text.startswith(prefix + ": ") and text.removeprefix(prefix + ": ").strip(), text[:500]
        assert "validation error" not in text and "pydantic" not in text, f"library text reached the agent: {text}"
        if text.endswith("Nothing was started or charged."):  # an argument error: it names the argument
            named = set(_WORD.findall(text))
            assert named & TOOLS[tool].names or "is not an argument" in text, f"names no argument: {text[:500]}"
        return result

    def assert_healthy(self) -> None:
        """After the fuzzing, a plain call still works."""
        result = self.call("generate_image", {"prompt": "a red fox in the snow"})
        assert result.is_error is False, text_of(result)
        assert result.structured_content["status"] == "completed"
        assert self.call("get_job", {"job_id": self.known_job}).is_error is False


@contextmanager
def fuzzing(mode: str = "auto") -> Iterator[Fuzzer]:
    """A server on a fresh instant-job emulator, a connected client, a real job id, a local PNG to upload."""
    Path(LOCAL_PNG).write_bytes(PNG_1X1)
    make_settings().resolved_output_dir().mkdir(parents=True, exist_ok=True)  # as on a machine that has saved before
    fake = FakeKrea(token=TOKEN, job_duration_s=0)
    connection = connect(fake, mode=mode, wait_s=0.5, poll_interval_s=0.01, preview="off")
    crashes = _Crashes()
    logging.getLogger(CRASH_LOGGER).addHandler(crashes)
    failure: Exception | None = None
    try:
        with (
            start_blocking_portal("asyncio") as portal,
            portal.wrap_async_context_manager(connection) as client,
        ):
            fuzzer = Fuzzer(portal, client, crashes)
            first = fuzzer.call("generate_image", {"prompt": "a fox", "wait": False})
            assert first.is_error is False, text_of(first)
            fuzzer.known_job = first.structured_content["job_id"]
            try:
                yield fuzzer
            except Exception as exc:  # re-raised once the client is closed, so not wrapped in an ExceptionGroup
                failure = exc
    finally:
        logging.getLogger(CRASH_LOGGER).removeHandler(crashes)
    if failure is not None:
        raise failure


def run_fuzz(fuzzer: Fuzzer, tool: str, examples: int) -> None:
    @settings(
        max_examples=examples,
        deadline=None,
        database=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
    )
    @given(arguments=TOOLS[tool].arguments())
    def one_call(arguments: dict[str, Any]) -> None:
        fuzzer.check(tool, arguments)

    one_call()


# --- tests -------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("tool", list(TOOLS))
def test_fuzzed_arguments_always_get_a_readable_result_and_the_server_stays_healthy(tool: str) -> None:
    """Each tool answers every generated argument dict without a crash or hang, then a normal call succeeds."""
    with fuzzing() as fuzzer:
        run_fuzz(fuzzer, tool, FUZZ_EXAMPLES)
        fuzzer.assert_healthy()


def test_fuzzed_arguments_in_the_legacy_protocol_era_get_a_readable_result() -> None:
    """The same properties over the 2025-11-25 initialize handshake, a smaller budget shared by all tools."""
    with fuzzing("legacy") as fuzzer:
        for tool in TOOLS:
            run_fuzz(fuzzer, tool, max(1, FUZZ_EXAMPLES // 4))
        fuzzer.assert_healthy()


#: Crashes the fuzzer found (each an unexpected exception inside the server, masked as the bare error text).
FOUND_BY_FUZZING = {
    "save_to_unknown_home_generate": ("generate_image", {"prompt": "a fox", "save_to": "~nosuchuser-krea/x.png"}),
    "save_to_unknown_home_wait": ("wait_for_job", {"job_id": KNOWN_JOB, "save_to": "~nosuchuser-krea"}),
    "save_to_name_too_long_generate": ("generate_image", {"prompt": "a fox", "save_to": "x" * 300}),
    "save_to_name_too_long_wait": ("wait_for_job", {"job_id": KNOWN_JOB, "save_to": "x" * 300}),
    "image_path_with_nul": ("generate_image", {"prompt": "a fox", "images": ["in\x00.png"]}),
    "image_file_uri_with_nul": ("generate_image", {"prompt": "a fox", "images": ["file:///%00"]}),
    "image_unknown_home": ("generate_image", {"prompt": "a fox", "images": ["~nosuchuser-krea/x.png"]}),
    "style_image_unknown_home": (
        "generate_image",
        {"prompt": "a fox", "model": "z-image", "style_images": ["~nosuchuser-krea/x.png"]},
    ),
}


@pytest.mark.parametrize(("tool", "arguments"), FOUND_BY_FUZZING.values(), ids=FOUND_BY_FUZZING.keys())
def test_awkward_paths_found_by_fuzzing_get_a_readable_error_not_a_crash(tool: str, arguments: dict[str, Any]) -> None:
    """Unknown ~user, over-long names and NUL bytes in save_to or images are the caller's mistake, reported as such."""
    with fuzzing() as fuzzer:
        result = fuzzer.check(tool, arguments)
        assert result.is_error is True


@pytest.mark.slow
@pytest.mark.skipif(not FUZZ_SLOW, reason="set KREA_FUZZ_SLOW=1 to run the large fuzzing budget")
def test_fuzzed_arguments_with_a_large_budget_never_crash_any_tool() -> None:
    """KREA_FUZZ_SLOW_EXAMPLES examples per tool (default 2000) against one long-lived server."""
    with fuzzing() as fuzzer:
        for tool in TOOLS:
            run_fuzz(fuzzer, tool, FUZZ_SLOW_EXAMPLES)
        fuzzer.assert_healthy()
        print(f"fuzz: {fuzzer.calls} calls in this test, {CALLS['total']} in this module")
