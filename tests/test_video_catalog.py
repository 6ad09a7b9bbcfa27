"""The packaged catalog's 31 video operations: aliases, run times and prices (issue 14, item 2)."""

from __future__ import annotations

import json
import math
import re
from pathlib import Path

import pytest

from krea_mcp.catalog.models import Operation, load_catalog
from krea_mcp.errors import UnknownModelError
from tests.test_catalog import NEEDS_SPEC, SPEC, gen_catalog

CATALOG = load_catalog()
VIDEO = CATALOG.of_kind("video")
USD_PER_CU = 0.0025  # the generator's conservative compute-unit rate


def _description(op: Operation) -> str:
    spec = json.loads(Path(SPEC).read_text(encoding="utf-8"))
    text: str = spec["paths"][op.path]["post"]["description"]
    return text


def _rows(op: Operation) -> list[tuple[float, float]]:
    """(seconds, compute units) of every row of the spec's table that names a duration."""
    lines = [ln.strip() for ln in _description(op).splitlines() if ln.strip().startswith("|")]
    if len(lines) < 3:
        return []
    header = [c.strip() for c in lines[0].strip("|").split("|")]
    if "Duration" not in header:
        return []
    at, cu = header.index("Duration"), header.index("Compute Units")
    rows = []
    for line in lines[2:]:
        cells = [c.strip() for c in line.strip("|").split("|")]
        seconds = re.fullmatch(r"(\d+)s", cells[at])
        if seconds:
            rows.append((float(seconds.group(1)), float(re.findall(r"[\d.]+", cells[cu])[0])))
    return rows


def test_the_package_holds_31_video_operations_and_image_tools_see_none_of_them() -> None:
    assert len(VIDEO) == 31
    assert {(op.kind, op.result) for op in VIDEO.values()} == {("video", "video/*")}
    assert all(op.path == f"/generate/video/{op.id}" and "prompt" in op.required for op in VIDEO.values())
    assert all(op.kind == "image" for op in CATALOG.models.values()) and len(CATALOG.models) == 24


def test_every_video_model_has_aliases_and_each_alias_means_one_model() -> None:
    owners: dict[str, str] = {}
    for op in VIDEO.values():
        assert op.aliases, f"{op.id} has no short alias"
        for alias in op.aliases:
            assert alias not in owners, f"{alias!r} names both {owners[alias]} and {op.id}"
            owners[alias] = op.id
            assert CATALOG.find(alias, "video").id == op.id
            assert CATALOG.find(alias.upper(), "video").id == op.id
    image_names = {a for op in CATALOG.models.values() for a in op.aliases} | set(CATALOG.models)
    assert not set(owners) & image_names  # no name means an image model to one tool and a video to another
    tails = {op.id.split("/", 1)[1]: op.id for op in VIDEO.values()}
    assert all(tails.get(alias, owner) == owner for alias, owner in owners.items())  # no alias is another's name
    assert not {"kling", "veo", "wan", "seedance", "runway"} & set(owners)  # family names could mean several


@pytest.mark.parametrize(
    ("alias", "model"),
    [
        ("kling-2.5", "kling/kling-2.5"),
        ("veo-3", "google/veo-3"),
        ("veo-3-fast", "google/veo-3-fast"),
        ("hailuo-02", "minimax/hailuo-02"),
        ("wan-2.5", "alibaba/wan-2.5"),
        ("seedance-pro", "bytedance/seedance-1.0-pro"),
        ("ltx", "lightricks/ltx-video-2.3-22b"),
        ("ray-2", "luma/ray-2"),
        ("gen-4-video", "runway/gen-4-video"),
        ("aleph", "runway/aleph"),
        ("grok-video", "xai/grok-video"),
        ("/generate/video/kling/kling-o1", "kling/kling-o1"),
    ],
)
def test_the_names_agents_reach_for(alias: str, model: str) -> None:
    assert CATALOG.find(alias, "video").id == model


def test_gen_4_stays_the_image_model_and_video_names_are_not_image_models() -> None:
    assert CATALOG.find("gen-4").id == "runway/gen-4-image"
    with pytest.raises(UnknownModelError):
        CATALOG.find("veo-3")  # generate_image looks among image models only


def test_run_times_documented_or_marked_as_estimates() -> None:
    documented = {op.id: op.typical_s for op in VIDEO.values() if not op.typical_s_estimated}
    assert documented == {
        "bytedance/seedance-1.0-pro": 133,  # the spec's table: 57-133 s, the top taken
        "bytedance/seedance-1.0-pro-fast": 91,
        "alibaba/wan-2.1": 97,
        "alibaba/wan-2.2": 113,
        "google/veo-3": 300,  # docs.krea.ai: ~5 minutes
        "alibaba/wan-2.5": 180,  # docs.krea.ai: ~3 minutes
    }
    assert all(30 <= op.typical_s <= 600 for op in VIDEO.values())
    for fast, base in [
        ("google/veo-3-fast", "google/veo-3"),
        ("google/veo-3.1-fast", "google/veo-3.1"),
        ("google/veo-3.1-lite", "google/veo-3.1-fast"),
        ("minimax/hailuo-2.3-fast", "minimax/hailuo-2.3"),
        ("bytedance/seedance-1.0-pro-fast", "bytedance/seedance-1.0-pro"),
    ]:
        assert VIDEO[fast].typical_s < VIDEO[base].typical_s


def test_documented_usd_prices_per_second() -> None:
    """docs.krea.ai/api-reference/video/*: "Fixed API prices in USD"; the top rate of each page is kept."""
    per_second = {mid: VIDEO[mid].usd_per_second for mid in VIDEO if VIDEO[mid].usd}
    assert per_second == {
        "kling/kling-1": 0.0772,
        "kling/kling-o1": 0.1764,  # $0.1176/s, $0.1764/s with a video reference
        "kling/kling-3.0": 0.441,
        "google/veo-2": 0.50,
        "google/veo-3": 0.42,
        "google/veo-3.1-fast": 0.315,
        "minimax/hailuo-02": 0.0945,
        "minimax/hailuo-2.3": 0.08575,
        "lightricks/ltx-video-2.3-22b": 0.04044,
        "xai/grok-video": 0.07,
    }
    assert "$0.1176/s" in (VIDEO["kling/kling-o1"].usd or "")
    assert VIDEO["kling/kling-o1"].usd_estimate == pytest.approx(0.1764 * 10)  # its longest call, 10 s
    assert VIDEO["kling/kling-3.0"].usd_estimate == pytest.approx(0.441 * 15)
    assert VIDEO["google/veo-3.1-fast"].usd_estimate == 2.52  # its dearest clip: 4K, audio, 8 s


@NEEDS_SPEC
def test_per_second_prices_bound_every_row_of_the_spec() -> None:
    """Every model whose table prices durations has a rate, and rate x seconds covers each row at USD_PER_CU."""
    for op in VIDEO.values():
        rows = _rows(op)
        if not rows:
            assert op.usd_per_second is None and op.id in {"alibaba/wan-2.1", "alibaba/wan-2.2", "runway/aleph"}
            continue
        assert op.usd_per_second is not None, op.id
        if op.usd:  # Krea's USD page: its rates sit below the conservative compute-unit conversion
            continue
        for seconds, units in rows:
            assert op.usd_per_second * seconds >= units * USD_PER_CU - 1e-9, (op.id, seconds, units)
        top = max(units / seconds for seconds, units in rows) * USD_PER_CU
        assert op.usd_per_second == math.ceil(top * 10_000 - 1e-6) / 10_000
    kling = VIDEO["kling/kling-2.5"]  # 401 CU for 10 s
    assert kling.usd_per_second == 0.1003 and kling.usd_per_second * 10 >= 401 * USD_PER_CU
    assert VIDEO["runway/aleph"].usd_estimate is None  # Krea prices Aleph nowhere: the spend guard's default


def test_frame_counts_have_a_frame_rate() -> None:
    rates = {op.id: op.frame_rate for op in VIDEO.values() if op.frame_rate}
    assert rates == {"alibaba/wan-2.1": 16, "alibaba/wan-2.2": 16, "lightricks/ltx-video-2.3-22b": 24}
    for mid in rates:
        assert {"frame_num", "num_frames"} & set(VIDEO[mid].properties)


@NEEDS_SPEC
def test_the_generator_refuses_tables_that_name_models_the_spec_lacks(monkeypatch: pytest.MonkeyPatch) -> None:
    module = gen_catalog()
    spec = json.loads(Path(SPEC).read_text(encoding="utf-8"))
    monkeypatch.setitem(module.VIDEO_ALIASES, "google/veo-9", ["veo-9"])
    with pytest.raises(SystemExit, match="veo-9"):
        module.build(spec, ("video",))
