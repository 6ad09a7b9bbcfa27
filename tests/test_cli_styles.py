"""``krea-mcp styles`` and ``krea-mcp generate --style``: the styles tools from a shell."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.helpers import TOKEN, free_port, run_cli, running


@pytest.fixture(scope="module")
def api() -> Iterator[dict[str, str]]:
    port = free_port()
    with running(["-m", "krea_mcp.fake_api", "--port", str(port), "--token", TOKEN, "--job-duration", "0.3"], port):
        yield {"KREA_API_TOKEN": TOKEN, "KREA_BASE_URL": f"http://127.0.0.1:{port}", "KREA_POLL_INTERVAL_S": "0.1"}


def test_styles_prints_one_line_each_and_how_to_go_on(tmp_path: Path, api: dict[str, str]) -> None:
    first = run_cli("styles", "--filter", "krea", "--limit", "2", cwd=tmp_path, **api)
    assert first.returncode == 0, first.stderr
    lines = first.stdout.splitlines()
    assert len(lines) == 2 and all(" · Krea · " in line for line in lines)
    assert "`krea-mcp generate PROMPT --style ID`" in first.stderr
    cursor = first.stderr.split("--cursor ", 1)[1].split()[0]
    second = run_cli("styles", "--filter", "krea", "--limit", "2", "--cursor", cursor, cwd=tmp_path, **api)
    assert second.returncode == 0, second.stderr
    assert set(second.stdout.splitlines()).isdisjoint(lines) and second.stdout.strip()


def test_styles_json_and_a_style_applied_by_generate(tmp_path: Path, api: dict[str, str]) -> None:
    page = run_cli("styles", "--filter", "mine", "--title", "brand", "--json", cwd=tmp_path, **api)
    assert page.returncode == 0, page.stderr
    (style,) = json.loads(page.stdout)["styles"]
    assert style["title"] == "Our Brand Look"
    made = run_cli("generate", "a mug", "--style", f"{style['id']}:0.6", "--no-save", cwd=tmp_path, **api)
    assert made.returncode == 0, made.stderr
    assert f"Styles applied: Our Brand Look (id {style['id']}, strength 0.6)." in made.stderr


@pytest.mark.parametrize(
    ("args", "words"),
    [
        (["styles", "--model", "dall-e"], "--model 'dall-e' is neither a style base"),
        (["generate", "a fox", "--model", "imagen", "--style", "abc"], "--style: model google/imagen-4 takes no"),
        (["generate", "a fox", "--style", "abc:strong"], "the strength after ':' must be a number"),
    ],
)
def test_style_errors_are_plain(tmp_path: Path, api: dict[str, str], args: list[str], words: str) -> None:
    proc = run_cli(*args, "--no-save" if args[0] == "generate" else "--limit=5", cwd=tmp_path, **api)
    assert proc.returncode != 0 and words in proc.stderr, proc.stderr
    assert "Traceback" not in proc.stderr


def test_styles_stdout_holds_only_style_lines(tmp_path: Path, api: dict[str, str]) -> None:
    """A note (here: GPT Image has no documented base, so every style is listed) goes to stderr with the head."""
    proc = run_cli("styles", "--model", "gpt-image", "--limit", "3", cwd=tmp_path, **api)
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.splitlines()
    assert len(lines) == 3 and all(len(line.split(" · ")) == 5 for line in lines)
    assert "Krea documents no style base for openai/gpt-image" in proc.stderr
    assert "Krea documents no style base" not in proc.stdout
