"""The MCP conformance suite (``@modelcontextprotocol/conformance server``) against krea-mcp over streamable HTTP.

Most of the suite's server scenarios call the fixed tools, prompts and resources of its reference "everything"
server (``test_simple_text``, ``test://static-text``, ...): those cannot apply to krea-mcp and are listed in
``EXCLUDED`` with the reason. Every other scenario runs, one test per scenario. A scenario passes when the suite
records at least one SUCCESS check and no FAILURE (one that only warns checked nothing). Scenarios expected not
to pass are in ``conformance-expected-failures.txt``; the test fails on an unexpected failure and on an expected
failure that passes, so that file cannot rot. ``test_every_scenario_is_classified`` fails when a new suite version
adds a scenario nobody has looked at.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.helpers import child_env, free_port, running
from tests.node_clients import _node

pytestmark = [pytest.mark.third_party]

EXPECTED_FAILURES_FILE = Path(__file__).with_name("conformance-expected-failures.txt")

#: Scenarios that run against krea-mcp: generic protocol behaviour, no fixed names.
APPLICABLE = [
    "server-initialize",
    "ping",
    "tools-list",
    "resources-list",
    "prompts-list",
    "dns-rebinding-protection",
    "logging-set-level",
    "server-sse-multiple-streams",
]

_FIXED_TOOL = "calls the suite's own tool {}, which krea-mcp does not have"
_SPURIOUS = "; it 'passes' spuriously, because calling an unknown tool is an isError text result"
_FIXED_RESOURCE = "reads the suite's own resource {}, which krea-mcp does not have"
_FIXED_PROMPT = "gets the suite's own prompt {}; krea-mcp has no prompts"

#: Scenarios that cannot apply to a server with its own tools, each with the reason.
EXCLUDED = {
    "completion-complete": "completes an argument of the suite's prompt test_prompt_with_arguments; krea-mcp has "
    "no prompts and declares no completions capability",
    "tools-call-simple-text": _FIXED_TOOL.format("test_simple_text") + _SPURIOUS,
    "tools-call-image": _FIXED_TOOL.format("test_image_content"),
    "tools-call-audio": _FIXED_TOOL.format("test_audio_content"),
    "tools-call-embedded-resource": _FIXED_TOOL.format("test_embedded_resource"),
    "tools-call-mixed-content": _FIXED_TOOL.format("test_multiple_content_types"),
    "tools-call-with-logging": _FIXED_TOOL.format("test_tool_with_logging"),
    "tools-call-error": _FIXED_TOOL.format("test_error_handling") + _SPURIOUS,
    "tools-call-with-progress": _FIXED_TOOL.format("test_tool_with_progress"),
    "tools-call-sampling": _FIXED_TOOL.format("test_sampling"),
    "tools-call-elicitation": _FIXED_TOOL.format("test_elicitation"),
    "json-schema-2020-12": _FIXED_TOOL.format("json_schema_2020_12_tool") + " (pending suite)",
    "elicitation-sep1034-defaults": _FIXED_TOOL.format("test_elicitation_sep1034_defaults"),
    "elicitation-sep1330-enums": _FIXED_TOOL.format("test_elicitation_sep1330_enums"),
    "server-sse-polling": _FIXED_TOOL.format("test_reconnection") + " (pending suite)",
    "resources-read-text": _FIXED_RESOURCE.format("test://static-text"),
    "resources-read-binary": _FIXED_RESOURCE.format("test://static-binary"),
    "resources-templates-read": _FIXED_RESOURCE.format("template test://template/{id}/data"),
    "resources-subscribe": "subscribes to the suite's test://watched-resource; krea-mcp advertises "
    "resources.subscribe: false, so a client must not subscribe",
    "resources-unsubscribe": "unsubscribes from the suite's test://watched-resource; krea-mcp advertises "
    "resources.subscribe: false, so a client must not subscribe",
    "prompts-get-simple": _FIXED_PROMPT.format("test_simple_prompt"),
    "prompts-get-with-args": _FIXED_PROMPT.format("test_prompt_with_arguments"),
    "prompts-get-embedded-resource": _FIXED_PROMPT.format("test_prompt_with_embedded_resource"),
    "prompts-get-with-image": _FIXED_PROMPT.format("test_prompt_with_image"),
}

_LINE = re.compile(r"^(?P<name>[a-z0-9][a-z0-9-]*)\s+#\s*(?P<reason>\S.*)$")


def read_expected_failures(path: Path = EXPECTED_FAILURES_FILE) -> dict[str, str]:
    """``scenario-name  # reason`` lines; blank lines and lines starting with ``#`` are comments."""
    expected: dict[str, str] = {}
    for number, raw in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        match = _LINE.match(line)
        if match is None:
            raise ValueError(f"{path.name}:{number}: expected 'scenario-name  # reason', got {raw!r}")
        if match["name"] in expected:
            raise ValueError(f"{path.name}:{number}: {match['name']} is listed twice")
        expected[match["name"]] = match["reason"]
    return expected


EXPECTED_FAILURES = read_expected_failures()


@pytest.fixture(scope="module")
def suite() -> list[str]:
    return _node.conformance_cli()


@pytest.fixture(scope="module")
def server_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """One ``krea-mcp --transport http --sandbox`` serves every scenario (it is stateless)."""
    workdir = tmp_path_factory.mktemp("conformance-server")
    port = free_port()
    args = ["-m", "krea_mcp", "--transport", "http", "--host", "127.0.0.1", "--port", str(port), "--sandbox"]
    with running(args, port, env=child_env(KREA_OUTPUT_DIR=str(workdir / "images")), cwd=workdir):
        yield f"http://127.0.0.1:{port}/mcp"


def listed_scenarios(suite: list[str], home: Path) -> list[str]:
    done = _node.run([*suite, "list", "--server"], env=_node.node_env(home), cwd=home, timeout=30)
    assert done.returncode == 0, done.stderr
    names = re.findall(r"^\s+- ([a-z0-9-]+)(?: \[|$)", done.stdout, flags=re.MULTILINE)
    assert names, done.stdout
    return names


def test_every_scenario_is_classified(suite: list[str], tmp_path: Path) -> None:
    listed = listed_scenarios(suite, tmp_path)
    assert len(listed) == len(set(listed))
    assert not set(APPLICABLE) & set(EXCLUDED)
    unclassified = set(listed) - set(APPLICABLE) - set(EXCLUDED)
    assert not unclassified, f"new scenarios: add each to APPLICABLE or EXCLUDED (with a reason): {unclassified}"
    gone = (set(APPLICABLE) | set(EXCLUDED)) - set(listed)
    assert not gone, f"scenarios no longer in the suite: {gone}"


def test_expected_failures_file_is_well_formed(tmp_path: Path) -> None:
    assert set(EXPECTED_FAILURES) <= set(APPLICABLE), "expected failures must be scenarios that run"
    bad = tmp_path / "bad.txt"
    bad.write_text("ping\n", encoding="utf-8")
    with pytest.raises(ValueError, match="scenario-name  # reason"):
        read_expected_failures(bad)


def run_scenario(suite: list[str], url: str, scenario: str, home: Path) -> tuple[int, list[dict[str, Any]], str]:
    """Run one scenario with ``-o``; returns the exit code, the checks the suite saved, and its output."""
    results = home / "results"
    argv = [*suite, "server", "--url", url, "--scenario", scenario, "-o", str(results)]
    done = _node.run(argv, env=_node.node_env(home), cwd=home, timeout=60)
    output = f"exit {done.returncode}\n{done.stdout}\n{done.stderr}"
    saved = sorted(results.glob("*/checks.json"))
    assert len(saved) == 1, f"expected one checks.json under {results}, found {saved}\n{output}"
    checks = json.loads(saved[0].read_text(encoding="utf-8"))
    assert isinstance(checks, list) and checks, output
    return done.returncode, checks, output


@pytest.mark.parametrize("scenario", APPLICABLE)
def test_scenario(
    suite: list[str], server_url: str, scenario: str, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    code, checks, output = run_scenario(suite, server_url, scenario, tmp_path)
    statuses = [c["status"] for c in checks]
    assert set(statuses) <= {"SUCCESS", "FAILURE", "WARNING", "INFO"}, statuses
    failures = [
        f"{c['id']}: {c.get('errorMessage') or c.get('description')}" for c in checks if c["status"] == "FAILURE"
    ]
    assert (code != 0) == bool(failures), f"exit code disagrees with the saved checks\n{output}"
    passed = not failures and "SUCCESS" in statuses
    summary = ", ".join(f"{c['id']}={c['status']}" for c in checks)

    tally = request.config.stash.setdefault(_node.CONFORMANCE_TALLY, {})
    expected = EXPECTED_FAILURES.get(scenario)
    if expected is None:
        tally[scenario] = "passed" if passed else "FAILED"
    else:
        tally[scenario] = "PASSED, expected to fail" if passed else "expected failure"
    if expected is None:
        assert passed, f"{scenario} failed: {failures or 'no SUCCESS check'} ({summary})\n{output}"
    else:
        assert not passed, (
            f"{scenario} now passes ({summary}): remove it from {EXPECTED_FAILURES_FILE.name} (it said: {expected})"
        )
