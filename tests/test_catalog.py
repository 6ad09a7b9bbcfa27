"""The catalog describes operations (kind, POST path, schema, duration, price, result), generated from Krea's spec."""

from __future__ import annotations

import importlib.util
import json
from dataclasses import dataclass, field, replace
from pathlib import Path
from types import ModuleType
from typing import Any, ClassVar

import httpx
import pytest
from pydantic import SecretStr

from krea_mcp.catalog import job_kinds
from krea_mcp.catalog.image_params import GenerateParams, build_body
from krea_mcp.catalog.job_kinds import BodyAdapter, adapter_for, request_body
from krea_mcp.catalog.models import UNKNOWN_TYPICAL_S, Catalog, Kind, catalog_from, load_catalog
from krea_mcp.catalog.views import table
from krea_mcp.errors import InvalidRequestError, ModelSunsetError, UnknownModelError
from krea_mcp.fake_api import FakeKrea
from krea_mcp.krea.client import KreaClient
from krea_mcp.workflow.job_service import JobService
from tests.helpers import TOKEN, make_settings

pytestmark = pytest.mark.anyio

REPO = Path(__file__).resolve().parents[1]  # not the cwd: conftest chdirs every test to a tmp dir
SPEC = REPO.parent / "shared" / "krea-openapi.json"  # Krea's OpenAPI ships beside the repository, not inside it
CATALOG = load_catalog()
IMG = "https://images.example.com/a.png"
NEEDS_SPEC = pytest.mark.skipif(not SPEC.exists(), reason=f"Krea's OpenAPI document is not at {SPEC}")


def gen_catalog() -> ModuleType:
    """scripts/gen_catalog.py, imported as a module (scripts/ is not a package)."""
    spec = importlib.util.spec_from_file_location("gen_catalog", REPO / "scripts" / "gen_catalog.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def krea_spec() -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads(SPEC.read_text(encoding="utf-8"))
    return loaded


def every_kind() -> Catalog:
    return catalog_from(gen_catalog().build(krea_spec(), gen_catalog().KINDS))


# --- the generator ---------------------------------------------------------------------------------------------


@NEEDS_SPEC
def test_every_job_path_of_the_spec_can_be_emitted() -> None:
    """22 image, 3 enhance and 31 video paths, and style training: every POST that starts a job."""
    spec = krea_spec()
    from_spec = [op for op in gen_catalog().operations(spec) if op["source"] == "openapi"]
    counts: dict[str, int] = {}
    for op in from_spec:
        counts[op["kind"]] = counts.get(op["kind"], 0) + 1
    assert counts == {"image": 22, "enhance": 3, "video": 31, "style-training": 1}
    catalog = every_kind()
    wanted = {p for p, item in spec["paths"].items() if p.startswith("/generate/") and "post" in item}
    assert wanted | {"/styles/train"} <= set(catalog.operations)
    assert set(catalog.operations) - wanted - {"/styles/train"} == {
        "/generate/image/krea/krea-2/large",
        "/generate/image/krea/krea-2/medium",
    }
    for path, op in catalog.operations.items():
        assert op.path == path
        if path in spec["paths"]:
            assert op.schema == spec["paths"][path]["post"]["requestBody"]["content"]["application/json"]["schema"]
    training = catalog.operations["/styles/train"]
    assert (training.kind, training.id, training.result) == ("style-training", "styles/train", "style_id")
    assert {op.result for op in catalog.of_kind("video").values()} == {"video/*"}
    assert {op.result for op in catalog.of_kind("enhance").values()} == {"image/*"}
    assert len(catalog.of_kind("video")) == 31 and len(catalog.of_kind("enhance")) == 3


@NEEDS_SPEC
def test_the_default_run_reproduces_the_packaged_models_json_byte_for_byte(tmp_path: Path) -> None:
    out = tmp_path / "models.json"
    gen_catalog().main([str(SPEC), "--out", str(out)])
    packaged = REPO / "src" / "krea_mcp" / "catalog" / "models.json"
    assert out.read_bytes() == packaged.read_bytes()
    kinds = {op["kind"] for op in json.loads(out.read_text())["models"]}
    assert kinds == {"image", "enhance", "video", "style-training"}


def test_enhancers_and_training_carry_their_limits_and_price() -> None:
    from krea_mcp.catalog.models import load_catalog
    from krea_mcp.workflow.spend import estimate_usd

    catalog = load_catalog()
    limits = {alias: catalog.find(alias, "enhance").max_side for alias in ("generative", "standard", "bloom")}
    assert limits == {"generative": 16_000, "standard": 22_000, "bloom": 10_000}
    training = catalog.find("styles/train", "style-training")
    assert training.usd_per_step == 0.02075  # 8.3 CU x $0.0025, the top of Krea's 2.4-8.3 CU per step
    assert estimate_usd(training, {"max_train_steps": 1000}) == 20.75
    assert estimate_usd(training, {}) == 41.5  # Krea chooses the steps: priced at the most it may take (2000)
    assert len(catalog.models) == 24 and all(op.kind == "image" for op in catalog.models.values())


@NEEDS_SPEC
def test_kinds_are_chosen_by_flag(tmp_path: Path) -> None:
    out = tmp_path / "models.json"
    gen_catalog().main([str(SPEC), "--kinds", "video,style-training", "--out", str(out)])
    kinds = [op["kind"] for op in json.loads(out.read_text())["models"]]
    assert kinds == ["video"] * 31 + ["style-training"]
    with pytest.raises(SystemExit):
        gen_catalog().main([str(SPEC), "--kinds", "audio", "--out", str(out)])


@NEEDS_SPEC
def test_a_video_length_in_prose_is_not_taken_for_the_run_time() -> None:
    """Seedance Pro Fast says "Up to 12 seconds." (its video) above a table of run times (22-91 s)."""
    fast = every_kind().of_kind("video")["bytedance/seedance-1.0-pro-fast"]
    assert fast.typical_s > 12 and not fast.typical_s_estimated
    assert every_kind().of_kind("video")["kling/kling-2.5"].typical_s_estimated  # no time anywhere: said so
    veo = every_kind().of_kind("video")["google/veo-3"]  # none in the spec, "~5 minutes" on docs.krea.ai
    assert (veo.typical_s, veo.typical_s_estimated) == (300, False)


# --- operations ------------------------------------------------------------------------------------------------


def test_every_packaged_operation_sits_at_its_path() -> None:
    assert set(CATALOG.operations) == (
        {f"/generate/image/{model_id}" for model_id in CATALOG.models}
        | {f"/generate/enhance/{op_id}" for op_id in CATALOG.of_kind("enhance")}
        | {f"/generate/video/{op_id}" for op_id in CATALOG.of_kind("video")}
        | {"/styles/train"}
    )
    for op in CATALOG.models.values():
        assert (op.kind, op.result, op.path) == ("image", "image/*", f"/generate/image/{op.id}")
    for op in CATALOG.of_kind("video").values():
        assert (op.kind, op.result, op.path) == ("video", "video/*", f"/generate/video/{op.id}")
    assert len(CATALOG.of_kind("video")) == 31


@pytest.mark.parametrize(
    ("name", "found"),
    [
        ("bfl/flux-1-dev", "bfl/flux-1-dev"),
        ("  FLUX ", "bfl/flux-1-dev"),
        ("/generate/image/bfl/flux-1-dev", "bfl/flux-1-dev"),
        ("generate/image/google/nano-banana", "google/nano-banana"),
        ("nano-banana", "google/nano-banana"),
        ("krea-2", "krea/krea-2/large"),
    ],
)
def test_find_takes_ids_aliases_any_case_and_the_path(name: str, found: str) -> None:
    assert CATALOG.find(name).id == found


@pytest.mark.parametrize(
    ("name", "said"),
    [
        ("bytedance/seedream-3", "bytedance/seedream-3"),
        ("Seedream-3", "seedream-3"),
        ("/generate/image/bytedance/seedream-3", "bytedance/seedream-3"),
    ],
)
def test_find_names_a_retired_model_and_its_replacement(name: str, said: str) -> None:
    with pytest.raises(ModelSunsetError) as caught:
        CATALOG.find(name)
    assert str(caught.value) == (
        f"Model {said!r} was retired by Krea on 2026-05-13. Use model 'bytedance/seedream-5-lite' instead."
    )
    assert caught.value.field == "model"


def test_find_never_falls_back_and_suggests_the_closest() -> None:
    with pytest.raises(UnknownModelError) as caught:
        CATALOG.find("nano")
    assert str(caught.value) == (
        "Unknown model 'nano'. Did you mean 'google/nano-banana'? Call list_models for every model id and alias."
    )
    assert CATALOG.suggest("banana") == ["google/nano-banana", "google/nano-banana-2", "google/nano-banana-pro"]
    with pytest.raises(UnknownModelError):
        CATALOG.find("bfl/flux-1-dev", "video")  # looked up among the kind's own operations only


@NEEDS_SPEC
def test_find_looks_within_a_kind() -> None:
    catalog = every_kind()
    assert catalog.find("/generate/video/kling/kling-2.6", "video").path == "/generate/video/kling/kling-2.6"
    assert catalog.find("topaz/standard-enhance", "enhance").kind == "enhance"
    assert catalog.find("/styles/train", "style-training").path == "/styles/train"
    assert catalog.models.keys() == CATALOG.models.keys()  # the other kinds never leak into generate_image


# --- one expected duration ---------------------------------------------------------------------------------------


def test_expected_duration_is_the_typical_time_times_the_pace() -> None:
    flux = CATALOG.models["bfl/flux-1-dev"]
    assert flux.typical_s == 7.0
    assert CATALOG.expected_s("bfl/flux-1-dev") == 7.0
    assert CATALOG.expected_s("flux", scale=0.3) == pytest.approx(2.1)  # an alias, as the CLI gets it
    assert CATALOG.expected_s(None) == UNKNOWN_TYPICAL_S == 20.0
    assert CATALOG.expected_s("no-such-model", scale=0.5) == 10.0
    assert CATALOG.expected_s("seedream-3") == UNKNOWN_TYPICAL_S  # retired: the tool call reports it


async def test_the_service_paces_polling_by_the_catalogs_expected_duration() -> None:
    async with KreaClient(base_url="http://krea.test", token=SecretStr(TOKEN)) as client:
        service = JobService(client, make_settings(), CATALOG, duration_scale=0.3)
        assert service.typical_s("bfl/flux-1-dev") == CATALOG.expected_s("bfl/flux-1-dev", scale=0.3)
        assert service.typical_s(None) == pytest.approx(6.0)


# --- one renderer ------------------------------------------------------------------------------------------------


def test_the_table_lists_every_model_then_the_legend() -> None:
    lines = table(CATALOG).splitlines()
    assert lines[0].split() == ["IMAGE", "MODEL", "ALIASES", "TIME", "PRICE", "INPUTS"]
    assert [line.split()[0] for line in lines[1 : 1 + len(CATALOG.models)]] == list(CATALOG.models)
    assert lines[-2:] == ["", "? = estimated time. Retired: bytedance/seedream-3"]
    flux = next(line for line in lines if line.startswith("bfl/flux-1-dev "))
    assert "~7s " in flux and "~3 CU" in flux
    videos = lines.index(next(line for line in lines if line.startswith("VIDEO MODEL")))
    assert len([line for line in lines[videos + 1 : -2] if line.strip()]) == len(CATALOG.of_kind("video"))
    veo = next(line for line in lines if line.startswith("google/veo-3 "))
    assert "~300s " in veo and "≤$0.42/s" in veo and "4, 6 or 8 s" in veo


# --- job kinds: the generic workflow, one adapter per kind ------------------------------------------------------


def test_the_image_adapter_maps_and_the_generic_step_checks_the_schema() -> None:
    flux = CATALOG.find("flux")
    params = GenerateParams(prompt="a fox", model="flux", width=100, height=100)
    assert build_body(flux, params) == {"prompt": "a fox", "width": 100, "height": 100}  # mapping only
    with pytest.raises(InvalidRequestError, match=r"width=100 is out of range for model bfl/flux-1-dev"):
        request_body(flux, params)
    assert request_body(flux, replace(params, width=1024, height=768))["width"] == 1024
    for kind in ("image", "enhance", "video", "style-training"):  # each kind with a tool has its adapter
        assert callable(adapter_for(kind).build)
    with pytest.raises(LookupError, match="no request adapter for sculpture jobs"):
        adapter_for("sculpture")  # type: ignore[arg-type]


@dataclass
class EnhanceRequest:
    """A request of another kind, as a later issue's tool would build it."""

    model: str
    prompt: str
    image: str
    extra: dict[str, Any] = field(default_factory=dict)
    kind: ClassVar[Kind] = "enhance"

    def references(self) -> dict[str, list[str]]:
        return {"images": [self.image]}

    def with_references(self, refs: dict[str, list[str]]) -> EnhanceRequest:
        return replace(self, image=refs["images"][0])


@NEEDS_SPEC
async def test_submit_takes_an_operation_of_any_kind(monkeypatch: pytest.MonkeyPatch) -> None:
    """A kind with an adapter flows through the same submit: looked up in its kind, checked, POSTed to its path."""
    adapter = BodyAdapter(build=lambda op, r: {"image_url": r.image, **r.extra}, note=lambda op, r, body: "upscaled")
    monkeypatch.setitem(job_kinds.ADAPTERS, "enhance", adapter)
    posts: list[tuple[str, dict[str, Any]]] = []

    def krea(request: httpx.Request) -> httpx.Response:
        posts.append((request.url.path, json.loads(request.content)))
        job = {"job_id": "3c90c3cc-0d44-4b50-8888-8dd25736052a", "status": "queued", "created_at": "2026-01-01T00:00Z"}
        return httpx.Response(200, json={**job, "completed_at": None, "result": None})

    transport = httpx.MockTransport(krea)
    async with KreaClient(base_url="http://krea.test", token=SecretStr(TOKEN), transport=transport) as client:
        service = JobService(client, make_settings(), every_kind())
        size = {"width": 2048, "height": 2048, "model": "Standard V2"}
        bad = EnhanceRequest("Topaz/Standard-Enhance", "photo", IMG, {**size, "sharpen": 3})
        with pytest.raises(InvalidRequestError, match="sharpen=3 is out of range for model topaz/standard-enhance"):
            await service.submit(bad)
        assert posts == []  # rejected before any POST
        job, model = await service.submit(replace(bad, extra={**size, "sharpen": 0.2}))
    assert posts == [("/generate/enhance/topaz/standard-enhance", {"image_url": IMG, **size, "sharpen": 0.2})]
    assert model == "topaz/standard-enhance"
    assert service.records[job.job_id].note == "upscaled"


async def test_image_jobs_are_posted_to_the_same_url_as_before() -> None:
    fake = FakeKrea(token=TOKEN)
    async with KreaClient(base_url=fake.base_url, token=SecretStr(TOKEN), transport=fake.transport()) as client:
        service = JobService(client, make_settings(), CATALOG)
        _, model = await service.submit(GenerateParams(prompt="a fox", model="flux"))
    assert model == "bfl/flux-1-dev"
    assert ("POST", "/generate/image/bfl/flux-1-dev") in fake.requests
