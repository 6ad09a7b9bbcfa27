""".env.example lists every setting the server reads, and nothing else."""

from __future__ import annotations

import re
from pathlib import Path

from krea_mcp.settings import Settings

ROOT = Path(__file__).resolve().parent.parent


def test_env_example_names_every_setting_once() -> None:
    text = (ROOT / ".env.example").read_text(encoding="utf-8")
    named = re.findall(r"^#? ?(KREA_[A-Z0-9_]+)=", text, flags=re.MULTILINE)
    expected = {f"KREA_{field.upper()}" for field in Settings.model_fields}
    assert sorted(named) == sorted(expected)
