"""The sdist and wheel, built once per session from a snapshot of the checkout."""

from __future__ import annotations

import shutil
import sys

import pytest

from ._support import REPO, Dists, base_env, require_build, run

#: Never copied into the build snapshot: environments, caches, git, earlier builds, a developer's secrets.
SNAPSHOT_IGNORE = shutil.ignore_patterns(
    ".git",
    ".venv",
    ".ci",
    ".env",
    "__pycache__",
    ".mypy_cache",
    ".pytest_cache",
    ".ruff_cache",
    ".hypothesis",
    "dist",
    "build",
    "*.egg-info",
)


@pytest.fixture(scope="session")
def dists(tmp_path_factory: pytest.TempPathFactory) -> Dists:
    """``python -m build`` (sdist, then the wheel from the sdist, as PyPA build does) on a copy of the checkout.

    The copy keeps other people's concurrent edits and the local .venv out, and leaves nothing in the checkout.
    """
    require_build()
    source = tmp_path_factory.mktemp("checkout") / "krea-mcp"
    shutil.copytree(REPO, source, ignore=SNAPSHOT_IGNORE)
    out = tmp_path_factory.mktemp("dist")
    run([sys.executable, "-m", "build", "--outdir", out, source], cwd=out, env=base_env(), timeout=180)
    [sdist] = out.glob("*.tar.gz")
    [wheel] = out.glob("*.whl")
    return Dists(source=source, sdist=sdist, wheel=wheel)
