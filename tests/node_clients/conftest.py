"""Reports the conformance suite's tally at the end of the run (the numbers come from test_conformance.py)."""

from __future__ import annotations

import pytest

from tests.node_clients._node import CONFORMANCE_TALLY


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter, config: pytest.Config) -> None:
    tally = config.stash.get(CONFORMANCE_TALLY, None)
    if not tally:
        return
    counts = {outcome: sorted(name for name, o in tally.items() if o == outcome) for outcome in set(tally.values())}
    terminalreporter.section("MCP conformance suite")
    for outcome, names in sorted(counts.items()):
        terminalreporter.line(f"{outcome}: {len(names)} ({', '.join(names)})")
