"""The built distributions install and run where no checkout is in sight: pip into a fresh venv, and uvx.

Every command runs with the cwd a fresh temporary directory and without PYTHONPATH, so only the installed
wheel can answer.
"""

from __future__ import annotations

import json
import re
import sys
import tarfile
import tomllib
import zipfile
from pathlib import Path
from typing import Any

import pytest

from ._support import Dists, base_env, executable, run, uv_tool

pytestmark = pytest.mark.third_party

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
SANDBOX_IMAGE = re.compile(r"http://krea\.sandbox/_fake/images/[\w-]+/\d+\.png")


def project(dists: Dists) -> dict[str, Any]:
    data: dict[str, Any] = tomllib.loads((dists.source / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    return data


def package_files(dists: Dists) -> set[str]:
    """Every file of the import package in the source snapshot, as a path inside the wheel."""
    root = dists.source / "src"
    return {
        path.relative_to(root).as_posix()
        for path in (root / "krea_mcp").rglob("*")
        if path.is_file() and "__pycache__" not in path.parts
    }


@pytest.fixture(scope="module")
def fresh_venv(dists: Dists, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A brand-new venv (no system site-packages) with the wheel pip-installed from it, dependencies from PyPI."""
    venv = tmp_path_factory.mktemp("fresh") / "venv"
    cwd = venv.parent
    run([sys.executable, "-m", "venv", venv], cwd=cwd, env=base_env(), timeout=120)
    assert "include-system-site-packages = false" in (venv / "pyvenv.cfg").read_text(encoding="utf-8")
    python = executable(venv, "python")
    run([python, "-m", "pip", "install", "--quiet", dists.wheel], cwd=cwd, env=base_env(), timeout=300)
    return venv


def elsewhere(tmp_path: Path) -> Path:
    """A directory with nothing in it: no checkout, no src/, nothing importable."""
    cwd = tmp_path / "elsewhere"
    cwd.mkdir()
    return cwd


def test_wheel_holds_the_whole_package_with_its_data_and_console_script(dists: Dists) -> None:
    with zipfile.ZipFile(dists.wheel) as wheel:
        names = set(wheel.namelist())
        [entry_points] = [n for n in names if n.endswith(".dist-info/entry_points.txt")]
        scripts = wheel.read(entry_points).decode("utf-8")
    for required in (
        "krea_mcp/catalog/models.json",
        "krea_mcp/py.typed",
        "krea_mcp/fake_api/__init__.py",
        "krea_mcp/fake_api/__main__.py",
    ):
        assert required in names
    assert package_files(dists) <= names, sorted(package_files(dists) - names)
    assert not [n for n in names if n.startswith(("tests/", "src/", "scripts/"))]
    assert re.search(r"^krea-mcp = krea_mcp\.__main__:main$", scripts, flags=re.MULTILINE), scripts


def test_sdist_holds_the_readme_server_json_and_sources(dists: Dists) -> None:
    with tarfile.open(dists.sdist) as sdist:
        members = {m.name.split("/", 1)[1]: m for m in sdist.getmembers() if "/" in m.name}
        for name in ("README.md", "server.json", "pyproject.toml"):
            assert name in members
            extracted = sdist.extractfile(members[name])
            assert extracted is not None
            assert extracted.read() == (dists.source / name).read_bytes(), name
    assert {f"src/{f}" for f in package_files(dists)} <= set(members)


def test_pip_installed_package_is_imported_from_the_fresh_venv(fresh_venv: Path, dists: Dists, tmp_path: Path) -> None:
    code = "import json, krea_mcp; print(json.dumps({'file': krea_mcp.__file__, 'version': krea_mcp.__version__}))"
    proc = run([executable(fresh_venv, "python"), "-c", code], cwd=elsewhere(tmp_path), env=base_env())
    found = json.loads(proc.stdout)
    assert Path(found["file"]).resolve().is_relative_to(fresh_venv.resolve()), found
    assert found["version"] == project(dists)["version"]


def test_pip_installed_console_script_answers_help_version_and_models(
    fresh_venv: Path, dists: Dists, tmp_path: Path
) -> None:
    krea_mcp, cwd, env = executable(fresh_venv, "krea-mcp"), elsewhere(tmp_path), base_env()
    assert run([krea_mcp, "--help"], cwd=cwd, env=env).stdout.startswith("usage: krea-mcp")
    assert run([krea_mcp, "--version"], cwd=cwd, env=env).stdout.strip() == f"krea-mcp {project(dists)['version']}"
    models = run([krea_mcp, "models"], cwd=cwd, env=env).stdout  # reads krea_mcp/catalog/models.json
    assert "bfl/flux-1-dev" in models


def check_generated(stdout: str, output_dir: Path) -> None:
    """``krea-mcp generate --json`` output: a completed job whose image was saved as a PNG in ``output_dir``."""
    result = json.loads(stdout)
    assert result["status"] == "completed", result
    assert result["urls"], result
    assert all(SANDBOX_IMAGE.fullmatch(url) for url in result["urls"]), result
    assert result["files"], result
    for file in map(Path, result["files"]):
        assert file.parent.resolve() == output_dir.resolve(), result
        assert file.read_bytes().startswith(PNG_SIGNATURE), file


def test_pip_installed_generate_in_the_sandbox_saves_a_png(fresh_venv: Path, tmp_path: Path) -> None:
    output_dir = tmp_path / "images"
    proc = run(
        [executable(fresh_venv, "krea-mcp"), "generate", "a red fox", "--sandbox", "--json"],
        cwd=elsewhere(tmp_path),
        env=base_env(KREA_OUTPUT_DIR=str(output_dir)),
    )
    check_generated(proc.stdout, output_dir)


def test_uvx_runs_the_wheel(dists: Dists, tmp_path: Path) -> None:
    """``uvx --from <wheel> krea-mcp``: what a host config's ``uvx krea-mcp`` does once the wheel is on PyPI."""
    uvx = uv_tool("uvx")
    output_dir = tmp_path / "images"
    env = base_env(
        UV_CACHE_DIR=str(tmp_path / "uv-cache"),
        UV_TOOL_DIR=str(tmp_path / "uv-tools"),
        UV_PYTHON=getattr(sys, "_base_executable", sys.executable),
        UV_PYTHON_DOWNLOADS="never",
        UV_NO_CONFIG="1",
        KREA_OUTPUT_DIR=str(output_dir),
    )
    cwd = elsewhere(tmp_path)
    command: list[str | Path] = [uvx, "--from", dists.wheel, "krea-mcp"]
    assert run([*command, "--help"], cwd=cwd, env=env, timeout=300).stdout.startswith("usage: krea-mcp")
    proc = run([*command, "generate", "a red fox", "--sandbox", "--json"], cwd=cwd, env=env)
    check_generated(proc.stdout, output_dir)
