"""Fuzz every krea-mcp tool through the in-memory MCP client with a large budget; print calls run and crashes found.

Unlike the test (which stops at the first failure), this keeps going and groups failures by what went wrong.

    .venv/bin/python scripts/fuzz.py [--examples 2000] [--tool generate_image ...] [--mode auto|legacy]

Exit status: 0 if nothing failed, 1 otherwise. Uses the same strategies as tests/test_fuzz.py; loopback only.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "src"))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--examples", type=int, default=2000, help="examples per tool (default 2000)")
    parser.add_argument("--tool", action="append", help="only this tool (repeatable; default: every tool)")
    parser.add_argument("--mode", choices=["auto", "legacy"], default="auto", help="protocol era (default auto)")
    args = parser.parse_args()

    for key in [k for k in os.environ if k.startswith("KREA_")]:
        del os.environ[key]
    work = Path(tempfile.mkdtemp(prefix="krea-fuzz-"))
    os.chdir(work)  # the server's allowed input directory; nothing outside it is written
    os.environ["KREA_OUTPUT_DIR"] = str(work / "images")
    from tests import test_fuzz

    logging.disable(logging.WARNING)  # quiet the server's INFO lines
    logging.getLogger(test_fuzz.CRASH_LOGGER).propagate = False  # crash tracebacks: summarised below instead

    failures: dict[str, list[tuple[str, Any]]] = defaultdict(list)
    started = time.monotonic()
    with test_fuzz.fuzzing(args.mode) as fuzzer:
        check = fuzzer.check

        def recording_check(tool: str, arguments: dict[str, Any]) -> None:
            try:
                check(tool, arguments)
            except AssertionError as exc:
                failures[str(exc).split("\n")[0][:300]].append((tool, arguments))
            except Exception as exc:  # a JSON-RPC error or a timeout: also a failure
                failures[f"{tool}: {type(exc).__name__}: {exc}"[:300]].append((tool, arguments))

        fuzzer.check = recording_check  # type: ignore[method-assign,assignment]
        for tool in args.tool or list(test_fuzz.TOOLS):
            before = fuzzer.calls
            test_fuzz.run_fuzz(fuzzer, tool, args.examples)
            print(f"{tool}: {fuzzer.calls - before} calls", flush=True)
        fuzzer.assert_healthy()

    elapsed = time.monotonic() - started
    crashes = sum(len(v) for v in failures.values())
    print(f"\n{fuzzer.calls} calls in {elapsed:.1f} s; {crashes} failing calls, {len(failures)} distinct failures")
    for what, examples in sorted(failures.items(), key=lambda item: -len(item[1])):
        tool, arguments = min(examples, key=lambda e: len(repr(e[1])))
        print(f"\n[{len(examples)}x] {what}\n    smallest: {tool}({arguments!r:.500})")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
