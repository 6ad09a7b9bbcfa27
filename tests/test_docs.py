"""The README, server.json and the README's host-config snippets agree with the real code."""

from __future__ import annotations

import argparse
import json
import re
import shlex
import tomllib
from functools import cache
from pathlib import Path
from typing import Any

import pytest

import krea_mcp
from krea_mcp.__main__ import (
    _enhance_parser,
    _generate_parser,
    _serve_parser,
    _simple_parser,
    _styles_parser,
    _video_parser,
)
from krea_mcp.catalog.models import load_catalog
from krea_mcp.fake_api.__main__ import _parser as _fake_api_parser
from krea_mcp.server.tools import build_tools
from krea_mcp.settings import Settings

ROOT = Path(__file__).resolve().parent.parent  # not the cwd: conftest chdirs every test to a tmp dir
NAME = "io.github.krea-mcp/krea-mcp"
SCHEMA = "https://static.modelcontextprotocol.io/schemas/2025-12-11/server.schema.json"
SHELL_OPERATORS = {"&&", "||", ";", "|", "&"}


@cache
def readme() -> str:
    return (ROOT / "README.md").read_text(encoding="utf-8")


@cache
def server_json() -> dict[str, Any]:
    data: dict[str, Any] = json.loads((ROOT / "server.json").read_text(encoding="utf-8"))
    return data


def fences(lang: str | None = None) -> list[str]:
    """Bodies of the README's fenced code blocks, in order, optionally only those tagged ``lang``."""
    found = re.findall(r"^```(\w*)\n(.*?)^```", readme(), flags=re.MULTILINE | re.DOTALL)
    return [body for tag, body in found if lang is None or tag == lang]


def env_name(field: str) -> str:
    return "KREA_" + field.upper()


def setting_names() -> set[str]:
    """Every variable Settings reads: ``KREA_`` + field name, plus the token's ``KREA_API_KEY`` alias."""
    return {env_name(f) for f in Settings.model_fields} | {"KREA_API_KEY"}


def field_of(variable: str) -> str:
    return "api_token" if variable == "KREA_API_KEY" else variable.removeprefix("KREA_").lower()


def matches_default(field: str, text: str | None) -> bool:
    """Whether a documented default (a string, or None for "no default") is the field's real default."""
    default = Settings.model_fields[field].get_default(call_default_factory=True)
    if default is None or default == []:
        return text in (None, "none", "unset")
    if text is None:
        return False
    if isinstance(default, list):
        return text == ",".join(str(item) for item in default)
    if isinstance(default, bool):
        return text == str(default).lower()
    if isinstance(default, float):
        return float(text) == default
    return text == str(default)


def parse(parser: argparse.ArgumentParser, args: list[str]) -> argparse.Namespace:
    """Parse like the CLI does, turning argparse's exit into a readable test failure."""
    try:
        return parser.parse_args(args)
    except SystemExit:
        pytest.fail(f"{parser.prog} rejects {args}")


def commands(line: str) -> list[list[str]]:
    """The argv of each ``krea-mcp`` / ``python -m krea_mcp.fake_api`` invocation in a shell line."""
    tokens = shlex.split(line, comments=True)
    found = []
    for i, token in enumerate(tokens):
        if Path(token).name == "krea-mcp":
            program, start = "krea-mcp", i + 1
        elif token == "-m" and tokens[i + 1 : i + 2] == ["krea_mcp.fake_api"]:
            program, start = "krea_mcp.fake_api", i + 2
        else:
            continue
        args = []
        for t in tokens[start:]:
            if t in SHELL_OPERATORS:
                break
            args.append(t)
        found.append([program, *args])
    return found


def check_cli(argv: list[str]) -> None:
    program, *args = argv
    if program == "krea_mcp.fake_api":
        parse(_fake_api_parser(), args)
    elif args in (["generate"], ["enhance"], ["video"], ["styles"], ["wait"], ["cancel"]):
        pass  # the subcommand named in prose, not an invocation
    elif args[:1] == ["generate"]:
        parse(_generate_parser(), args[1:])
    elif args[:1] == ["enhance"]:
        parse(_enhance_parser(), args[1:])
    elif args[:1] == ["styles"]:
        parse(_styles_parser(), args[1:])
    elif args[:1] == ["video"]:
        parse(_video_parser(), args[1:])
    elif args[:1] and args[0] in ("models", "doctor"):
        parse(_simple_parser(args[0], ""), args[1:])
    elif args[:1] and args[0] in ("wait", "cancel"):
        assert len(args) >= 2 and not args[1].startswith("-"), f"{args[0]} needs a JOB_ID: {argv}"
    else:
        parse(_serve_parser(), args)


def server_entries() -> list[tuple[str, dict[str, Any]]]:
    entries = []
    for body in fences("json"):
        config = json.loads(body)
        for key in ("mcpServers", "servers"):
            entries += [(key, entry) for entry in config.get(key, {}).values()]
    return entries


def test_readme_opens_with_a_sandbox_run_and_a_test_command() -> None:
    """The first two fenced blocks, before any section, are one-line bash commands: sandbox run, then tests."""
    opening = readme().split("\n## ", 1)[0]
    blocks = re.findall(r"^```(\w*)\n(.*?)^```", opening, flags=re.MULTILINE | re.DOTALL)
    assert [tag for tag, _ in blocks[:2]] == ["bash", "bash"]
    run, test = (body.strip() for _, body in blocks[:2])
    assert "\n" not in run
    assert "\n" not in test
    assert "generate" in run
    assert "--sandbox" in run
    assert "pytest" in test
    assert 'pip install -e ".[dev]"' in test


def test_readme_opening_commands_use_real_cli_arguments() -> None:
    """The sandbox command's ``krea-mcp generate ...`` part parses with the real generate parser."""
    argv = commands(fences("bash")[0])
    assert argv
    assert argv[0][1] == "generate"
    args = parse(_generate_parser(), argv[0][2:])
    assert args.sandbox


def test_readme_carries_the_registry_ownership_marker() -> None:
    """PyPI's README must contain ``mcp-name: <server.json name>`` for the registry to accept it."""
    marker = re.search(r"<!--\s*mcp-name:\s*(\S+)\s*-->", readme())
    assert marker is not None
    assert marker.group(1) == NAME == server_json()["name"]


def test_server_json_follows_the_registry_schema_limits() -> None:
    """Name pattern, description length, current schema, one PyPI stdio package and no remotes."""
    data = server_json()
    assert data["$schema"] == SCHEMA
    assert re.fullmatch(r"[a-zA-Z0-9.-]+/[a-zA-Z0-9._-]+", data["name"])
    assert 1 <= len(data["description"]) <= 100
    assert len(data.get("title", "")) <= 100
    assert "remotes" not in data
    [package] = data["packages"]
    assert package["registryType"] == "pypi"
    assert package["identifier"] == "krea-mcp"
    assert package["runtimeHint"] == "uvx"
    assert package["transport"] == {"type": "stdio"}


def test_server_json_versions_equal_the_project_version() -> None:
    """server.json, its package and pyproject.toml all name the version that gets published."""
    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    version = pyproject["project"]["version"]
    data = server_json()
    assert data["version"] == version
    assert [p["version"] for p in data["packages"]] == [version]
    assert krea_mcp.__version__ == version


def test_server_json_environment_variables_are_real_settings_with_real_defaults() -> None:
    """Every variable is one Settings reads, and every documented default is the real one."""
    variables = server_json()["packages"][0]["environmentVariables"]
    names = [v["name"] for v in variables]
    assert len(names) == len(set(names))
    assert set(names) <= setting_names()
    token = next(v for v in variables if v["name"] in ("KREA_API_TOKEN", "KREA_API_KEY"))
    assert token["isRequired"] is True
    assert token["isSecret"] is True
    for v in variables:
        if "default" in v:
            assert matches_default(field_of(v["name"]), v["default"]), v


def test_readme_json_snippets_parse_and_include_both_host_shapes() -> None:
    """Every ```json block is valid JSON; both the mcpServers and the VS Code servers shape appear."""
    assert fences("json")
    for body in fences("json"):
        json.loads(body)
    assert {key for key, _ in server_entries()} == {"mcpServers", "servers"}


def test_readme_json_server_entries_run_the_real_cli() -> None:
    """Each host entry runs ``uvx krea-mcp`` or an installed ``krea-mcp`` with flags the server parser accepts."""
    for key, entry in server_entries():
        assert entry["command"] == "uvx" or Path(entry["command"]).name == "krea-mcp", entry
        args = entry.get("args", [])
        if entry["command"] == "uvx":
            assert "krea-mcp" in args, entry
            args = args[args.index("krea-mcp") + 1 :]
        parse(_serve_parser(), args)
        if key == "servers":
            assert entry["type"] == "stdio", entry


def test_readme_json_server_entries_only_set_real_settings() -> None:
    """Every env key in a host entry is a variable Settings reads."""
    for _, entry in server_entries():
        assert set(entry.get("env", {})) <= setting_names(), entry


def test_readme_shell_commands_use_real_cli_arguments() -> None:
    """Every krea-mcp and emulator command in bash blocks and inline code parses with the real parser."""
    lines = [line for body in fences("bash") for line in body.splitlines()]
    lines += re.findall(r"`((?:\S*/)?krea-mcp(?: [^`]*)?)`", readme())
    argvs = [argv for line in lines for argv in commands(line)]
    assert any(argv[0] == "krea_mcp.fake_api" for argv in argvs)
    assert any("--transport" in argv for argv in argvs)
    for argv in argvs:
        check_cli(argv)


def test_readme_mentions_only_real_settings() -> None:
    """Every KREA_* name anywhere in the README is a variable Settings reads."""
    mentioned = set(re.findall(r"\bKREA_[A-Z0-9_]+", readme()))
    assert mentioned
    assert mentioned <= setting_names()


def test_readme_settings_table_lists_every_setting_with_its_default() -> None:
    """The settings table has one row per Settings field (by its KREA_ name) and the real default."""
    section = readme().split("### Settings", 1)[1].split("\n## ", 1)[0]
    rows = re.findall(r"^\| `(KREA_[A-Z0-9_]+)` \| ([^|]+) \|", section, flags=re.MULTILINE)
    assert sorted(name for name, _ in rows) == sorted(env_name(f) for f in Settings.model_fields)
    for name, default in rows:
        assert matches_default(field_of(name), default.strip().strip("`")), name


@pytest.mark.parametrize(
    ("name", "ends"),
    [("generate_image", "get_job"), ("enhance_image", "generate_video"), ("generate_video", "list_styles")],
)
def test_readme_tool_tables_list_the_real_parameters(name: str, ends: str) -> None:
    """Each tool's parameter table names exactly the tool's input properties."""
    all_tools = build_tools(Settings(_env_file=None, tools=["all"]))  # type: ignore[call-arg]
    [tool] = [t for t in all_tools if t.name == name]
    section = readme().split(f"**`{name}`**", 1)[1].split(f"**{'`' if ends.islower() else ''}{ends}", 1)[0]
    cells = re.findall(r"^\| ([^|]+) \|", section, flags=re.MULTILINE)
    documented = {name for cell in cells for name in re.findall(r"`(\w+)`", cell)}
    assert documented == set(tool.parameters["properties"])


def test_readme_model_list_is_the_catalog() -> None:
    """The README's model list names exactly the catalog's models."""
    paragraph = readme().split("\nModels: ", 1)[1].split("\n\n", 1)[0]
    assert set(re.findall(r"`([\w.-]+/[\w./-]+)`", paragraph)) == set(load_catalog().models)
