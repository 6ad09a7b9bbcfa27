"""Trained styles (LoRAs): list_styles, and generate_image's styles checked against Krea before anything is spent."""

from __future__ import annotations

import base64
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import anyio
import httpx
import pytest
from mcp import Client
from pydantic import SecretStr

from krea_mcp.catalog.models import load_catalog
from krea_mcp.errors import InvalidRequestError
from krea_mcp.fake_api import FakeKrea
from krea_mcp.fake_api._png import prompt_image
from krea_mcp.fake_api._styles import FakeStyle, style_uuid
from krea_mcp.krea.caller import as_caller
from krea_mcp.krea.client import KreaClient
from krea_mcp.workflow import style_book
from krea_mcp.workflow.style_book import StyleBook
from tests.helpers import TOKEN, Around, FakeClock, connect, text_of

pytestmark = pytest.mark.anyio

KREA = {"Krea Watercolor", "Krea Film Noir", "Krea Claymation", "Krea Isometric"}
COMMUNITY = {"Risograph Print", "Neon Tokyo", "Botanical Ink", "Pixel Quest"}
MINE = {"Our Brand Look", "My Sketchbook"}
EVERY_USABLE = KREA | COMMUNITY | MINE | {"Team Mascot"}


def ids(fake: FakeKrea) -> dict[str, str]:
    """Every seeded style's id, by title."""
    return {style.title: style.style_id for style in fake.styles.styles.values()}


def lookups(fake: FakeKrea) -> list[str]:
    """The paths of every ``GET /styles/{id}`` the server made."""
    return [path for method, path in fake.requests if method == "GET" and path.startswith("/styles/")]


def titles(result: Any) -> set[str]:
    return {row["title"] for row in result.structured_content["styles"]}


# --- list_styles ------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("filter_", "expected"),
    [
        ("all", EVERY_USABLE),
        ("mine", MINE),
        ("krea", KREA),
        ("community", COMMUNITY),
        ("shared", {"Team Mascot"}),
        ("liked", {"Krea Watercolor", "Risograph Print"}),
    ],
)
async def test_list_styles_filters(client: Client, filter_: str, expected: set[str]) -> None:
    """Each filter lists what Krea's own filter gives (mine is Krea's 'user', liked its liked=true); a stranger's
    private style never shows."""
    result = await client.call_tool("list_styles", {"filter": filter_})
    assert result.is_error is False, text_of(result)
    assert titles(result) == expected
    assert result.structured_content["next_cursor"] is None
    lines = text_of(result).splitlines()
    assert len(lines) == 1 + len(expected)  # a head line, then one line per style
    for row in result.structured_content["styles"]:
        assert set(row) == {"id", "title", "models", "prompt", "owner"}
        assert any(line.startswith(f"{row['id']} · {row['title']} · ") for line in lines)


async def test_list_styles_lines_carry_bases_owner_and_a_short_prompt(client: Client, fake: FakeKrea) -> None:
    long_prompt = "a very long suggested prompt " * 10
    fake.styles.styles[ids(fake)["Neon Tokyo"]].prompt = long_prompt
    result = await client.call_tool("list_styles", {"filter": "all"})
    rows = {row["title"]: row for row in result.structured_content["styles"]}
    assert rows["Krea Watercolor"]["owner"] == "Krea" and rows["Krea Watercolor"]["models"] == ["flux_dev"]
    assert rows["Neon Tokyo"]["owner"] == "Kenji Mori" and rows["Neon Tokyo"]["prompt"] == long_prompt.strip()
    assert rows["Our Brand Look"]["owner"] == "Sandbox User, not public"
    neon = next(line for line in text_of(result).splitlines() if " · Neon Tokyo · " in line)
    assert neon.startswith(f"{ids(fake)['Neon Tokyo']} · Neon Tokyo · flux_dev,wan,wan22 · Kenji Mori · ")
    assert len(neon.split(" · ")[-1]) <= 82 and neon.endswith('…"')


@pytest.mark.parametrize(
    ("model", "expected"),
    [
        ("qwen", {"Krea Claymation", "Botanical Ink"}),  # a base (and the alias of qwen/2512: the same base)
        ("z-image", {"Krea Isometric", "Pixel Quest"}),
        ("wan", {"Krea Film Noir", "Neon Tokyo"}),  # a video base: listed, though generate_image cannot apply it
        ("flux", EVERY_USABLE - {"Botanical Ink", "Pixel Quest"}),  # an image model's alias: its base, flux_dev
        ("bfl/flux-1-dev", EVERY_USABLE - {"Botanical Ink", "Pixel Quest"}),
        ("Qwen/2512", {"Krea Claymation", "Botanical Ink"}),
    ],
)
async def test_list_styles_model_filter_takes_a_base_or_an_image_model(
    client: Client, model: str, expected: set[str]
) -> None:
    result = await client.call_tool("list_styles", {"model": model})
    assert result.is_error is False, text_of(result)
    assert titles(result) == expected


async def test_a_model_with_styles_but_no_documented_base_lists_every_style_and_says_so(client: Client) -> None:
    result = await client.call_tool("list_styles", {"model": "gpt-image"})
    assert titles(result) == EVERY_USABLE
    assert "Krea documents no style base for openai/gpt-image" in text_of(result)


@pytest.mark.parametrize(
    ("model", "words"),
    [
        ("imagen-4", "google/imagen-4 takes no styles; image models that do: bfl/flux-1-dev (flux)"),
        ("sdxl", "model='sdxl' is neither a style base (flux_dev, flux_schnell, wan, wan22, qwen, z-image)"),
    ],
)
async def test_list_styles_refuses_a_model_filter_that_cannot_match(
    client: Client, fake: FakeKrea, model: str, words: str
) -> None:
    result = await client.call_tool("list_styles", {"model": model})
    assert result.is_error is True
    assert words in text_of(result)
    assert not [path for _, path in fake.requests if path == "/styles"]


@pytest.mark.parametrize(
    ("title", "expected"),
    [("KREA", KREA), ("ink", {"Botanical Ink"}), (" noir ", {"Krea Film Noir"}), ("no such title", set())],
)
async def test_title_search_matches_a_substring_in_any_case(client: Client, title: str, expected: set[str]) -> None:
    result = await client.call_tool("list_styles", {"title": title})
    assert result.is_error is False
    assert titles(result) == expected
    if not expected:
        assert text_of(result).startswith("No styles found.")


async def test_pagination_with_the_cursor_walks_every_style_once(client: Client) -> None:
    seen: list[str] = []
    arguments: dict[str, Any] = {"limit": 4}
    pages = 0
    while True:
        result = await client.call_tool("list_styles", arguments)
        assert result.is_error is False, text_of(result)
        pages += 1
        seen += [row["title"] for row in result.structured_content["styles"]]
        cursor = result.structured_content["next_cursor"]
        if cursor is None:
            break
        assert f'pass cursor="{cursor}"' in text_of(result)
        arguments["cursor"] = cursor
    assert sorted(seen) == sorted(EVERY_USABLE) and pages == 3


async def test_title_search_pages_resume_inside_a_krea_page(client: Client) -> None:
    """A title search stops mid-page when it has enough; its cursor resumes right after the last style shown."""
    first = await client.call_tool("list_styles", {"title": "krea", "limit": 3})
    assert len(first.structured_content["styles"]) == 3
    rest = await client.call_tool(
        "list_styles", {"title": "krea", "limit": 3, "cursor": first.structured_content["next_cursor"]}
    )
    assert titles(first) | titles(rest) == KREA and len(rest.structured_content["styles"]) == 1
    assert rest.structured_content["next_cursor"] is None


async def test_title_search_is_bounded_and_says_where_it_stopped(fake: FakeKrea, mode: str) -> None:
    """Krea has no text search: a title is matched over at most 5 pages of 100 per call, and the result says so."""
    start = datetime.now(UTC).replace(microsecond=0) + timedelta(days=1)
    for i in range(560):  # newer than the seeded library: listed first
        style_id = style_uuid(f"filler:{i}")
        created = start + timedelta(seconds=i)
        fake.styles.add(FakeStyle(style_id, f"Filler {i}", "x", ["flux_dev"], "community", created, public=True))
    async with connect(fake, mode=mode) as client:
        first = await client.call_tool("list_styles", {"title": "watercolor"})
        listed = sum(1 for method, path in fake.requests if method == "GET" and path == "/styles")
        cursor = first.structured_content["next_cursor"]
        second = await client.call_tool("list_styles", {"title": "watercolor", "cursor": cursor})
    assert first.is_error is False and titles(first) == set() and listed == 5
    assert cursor is not None
    assert f'Searched 500 styles without reaching the end of the list; pass cursor="{cursor}"' in text_of(first)
    assert titles(second) == {"Krea Watercolor"} and second.structured_content["next_cursor"] is None
    assert "Searched" not in text_of(second)


@pytest.mark.parametrize("cursor", ["not-a-cursor", "W251bGwsIC0xXQ", "e30"])
async def test_a_cursor_list_styles_did_not_give_is_refused(client: Client, cursor: str) -> None:
    result = await client.call_tool("list_styles", {"cursor": cursor})
    assert result.is_error is True
    assert "cursor: not a cursor list_styles gave" in text_of(result)


# --- generate_image with styles ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("model", "title", "checked"),
    [
        ("flux", "Krea Watercolor", True),
        ("qwen", "Botanical Ink", True),
        ("z-image", "Pixel Quest", True),
        ("gpt-image", "Neon Tokyo", False),  # Krea documents no base for GPT Image or Krea 2: sent unchecked
        ("krea-2", "Botanical Ink", False),
        ("krea-2-medium", "Krea Watercolor", False),
    ],
)
async def test_a_style_is_applied_on_every_model_that_takes_styles(
    client: Client, fake: FakeKrea, model: str, title: str, checked: bool
) -> None:
    style_id = ids(fake)[title]
    result = await client.call_tool(
        "generate_image", {"prompt": "a fox", "model": model, "styles": [{"id": style_id, "strength": 0.5}]}
    )
    assert result.is_error is False, text_of(result)
    (job,) = fake.jobs.values()
    assert job.body["styles"] == [{"id": style_id, "strength": 0.5}]
    assert f"Styles applied: {title} (id {style_id}, strength 0.5)." in text_of(result)
    assert ("fit was not checked" in text_of(result)) is not checked


async def test_strength_defaults_to_one_and_several_styles_are_sent_in_order(client: Client, fake: FakeKrea) -> None:
    chosen = [{"id": ids(fake)["Krea Watercolor"]}, {"id": ids(fake)["Team Mascot"], "strength": -1.5}]
    result = await client.call_tool("generate_image", {"prompt": "a fox", "styles": chosen, "wait": False})
    assert result.is_error is False, text_of(result)
    (job,) = fake.jobs.values()
    assert job.body["styles"] == [{"id": chosen[0]["id"], "strength": 1.0}, {**chosen[1]}]
    assert "Krea Watercolor (id" in text_of(result) and "Team Mascot (id" in text_of(result)


async def test_a_model_without_styles_is_refused_naming_the_models_that_take_them(
    client: Client, fake: FakeKrea
) -> None:
    result = await client.call_tool(
        "generate_image", {"prompt": "a fox", "model": "imagen-4", "styles": [{"id": ids(fake)["Krea Watercolor"]}]}
    )
    assert result.is_error is True
    text = text_of(result)
    assert "styles: model google/imagen-4 takes no trained styles (LoRAs)." in text
    for model in ("bfl/flux-1-dev (flux)", "openai/gpt-image", "qwen/2512", "z-image/z-image", "krea/krea-2/large"):
        assert model in text
    assert text.endswith("Nothing was started or charged.")
    assert fake.generate_posts == 0 and lookups(fake) == []


@pytest.mark.parametrize("who", ["unknown", "stranger"])
async def test_a_style_the_caller_cannot_use_is_refused_after_asking_krea(
    client: Client, fake: FakeKrea, who: str
) -> None:
    """Krea answers 404 both for an unknown id and for someone else's private style: both are refused, unsent."""
    style_id = "no-such-style" if who == "unknown" else ids(fake)["Private Experiment"]
    result = await client.call_tool("generate_image", {"prompt": "a fox", "styles": [{"id": style_id}]})
    assert result.is_error is True
    assert (
        f"styles: no style {style_id!r} you can use (not found, or private to someone else); list_styles shows yours"
        in text_of(result)
    )
    assert "Nothing was started or charged." in text_of(result)
    assert fake.generate_posts == 0 and lookups(fake) == [f"/styles/{style_id}"]


async def test_a_teammates_shared_style_is_accepted(client: Client, fake: FakeKrea) -> None:
    result = await client.call_tool("generate_image", {"prompt": "a fox", "styles": [{"id": ids(fake)["Team Mascot"]}]})
    assert result.is_error is False, text_of(result)
    assert fake.generate_posts == 1


@pytest.mark.parametrize(
    ("model", "title", "words"),
    [
        (
            "flux",
            "Botanical Ink",
            "was trained for qwen; model bfl/flux-1-dev takes flux_dev styles. Image models that take it: qwen/2512 "
            '(qwen). For bfl/flux-1-dev, pick a flux_dev style: list_styles(model="flux_dev").',
        ),
        ("qwen", "Neon Tokyo", "was trained for flux_dev, wan, wan22; model qwen/2512 takes qwen styles."),
        ("z-image", "Krea Watercolor", "Image models that take it: bfl/flux-1-dev (flux)."),
    ],
)
async def test_a_style_of_another_base_is_refused_naming_where_it_fits(
    client: Client, fake: FakeKrea, model: str, title: str, words: str
) -> None:
    result = await client.call_tool(
        "generate_image", {"prompt": "a fox", "model": model, "styles": [{"id": ids(fake)[title]}]}
    )
    assert result.is_error is True
    assert f"styles: style {title!r} ({ids(fake)[title]})" in text_of(result) and words in text_of(result)
    assert fake.generate_posts == 0


async def test_a_video_only_style_is_refused_as_one(client: Client, fake: FakeKrea) -> None:
    fake.styles.styles[ids(fake)["Neon Tokyo"]].models = ["wan", "wan22"]
    result = await client.call_tool("generate_image", {"prompt": "a fox", "styles": [{"id": ids(fake)["Neon Tokyo"]}]})
    assert "It is for Krea's video models (alibaba/wan-2.1, alibaba/wan-2.2)" in text_of(result)


@pytest.mark.parametrize(
    ("arguments", "words"),
    [
        ({"styles": [{"id": "x", "strength": 2.5}]}, "styles[0].strength=2.5 is out of range; allowed: -2 to 2."),
        ({"styles": [{"strength": 1}]}, "styles[0].id is required."),
        ({"styles": [{"id": "x", "weight": 1}]}, "styles[0].weight"),
        ({"styles": [{"id": "../jobs"}]}, "styles[0].id='../jobs' does not have the expected form."),
        ({"options": {"styles": [{"id": "x", "strength": 1}]}}, "set through generate_image's own argument 'styles'"),
        (
            {"model": "gpt-image", "styles": [{"id": f"s{i}"} for i in range(6)]},
            "styles has 6 items; model openai/gpt-image allows 0–5.",
        ),
    ],
)
async def test_malformed_styles_are_refused_before_any_lookup(
    client: Client, fake: FakeKrea, arguments: dict[str, Any], words: str
) -> None:
    result = await client.call_tool("generate_image", {"prompt": "a fox", **arguments})
    assert result.is_error is True
    assert words in text_of(result), text_of(result)
    assert fake.generate_posts == 0 and lookups(fake) == []


async def test_a_style_once_looked_up_is_not_asked_for_again(client: Client, fake: FakeKrea) -> None:
    """The second generation with the same style makes no GET /styles/{id}."""
    style_id = ids(fake)["Krea Claymation"]
    for _ in range(2):
        result = await client.call_tool("generate_image", {"prompt": "a fox", "styles": [{"id": style_id}]})
        assert result.is_error is False, text_of(result)
    assert lookups(fake) == [f"/styles/{style_id}"]
    assert fake.generate_posts == 2


async def test_styles_listed_need_no_lookup_to_be_applied(client: Client, fake: FakeKrea) -> None:
    listed = await client.call_tool("list_styles", {"filter": "mine"})
    style_id = listed.structured_content["styles"][0]["id"]
    result = await client.call_tool("generate_image", {"prompt": "a fox", "styles": [{"id": style_id}]})
    assert result.is_error is False and lookups(fake) == []


async def test_a_refused_style_reserves_nothing_and_uploads_nothing(fake: FakeKrea, mode: str) -> None:
    Path("cat.png").write_bytes(prompt_image("input", 32, 32))  # the working directory is an allowed one
    async with connect(fake, mode=mode, max_jobs=1) as client:
        refused = await client.call_tool(
            "generate_image", {"prompt": "a fox", "images": ["cat.png"], "styles": [{"id": "no-such-style"}]}
        )
        ok = await client.call_tool("generate_image", {"prompt": "a fox", "images": ["cat.png"], "wait": False})
    assert refused.is_error is True and ok.is_error is False, text_of(ok)
    assert len(fake.assets) == 1 and fake.generate_posts == 1  # the upload happened for the second call only


async def test_a_failed_lookup_says_nothing_was_started(fake: FakeKrea, mode: str) -> None:
    """Krea failing to answer a style lookup (the emulator injects no faults on /styles): no job, no charge."""

    async def styles_down(request: httpx.Request, inner: httpx.AsyncBaseTransport) -> httpx.Response:
        if request.url.path.startswith("/styles/"):
            return httpx.Response(500, json={"error": "Internal server error"})
        return await inner.handle_async_request(request)

    async with connect(Around(fake, styles_down), mode=mode) as client:
        result = await client.call_tool("generate_image", {"prompt": "a fox", "styles": [{"id": "any-style"}]})
    assert result.is_error is True
    assert "styles: looking up the styles failed, so no job was started and nothing was charged." in text_of(result)
    assert "Krea had a server error (500" in text_of(result)
    assert fake.generate_posts == 0


# --- the style book on its own: per caller, for a while ---------------------------------------------------------


async def test_the_style_book_remembers_per_caller_and_for_ten_minutes() -> None:
    fake = FakeKrea(token=["alice-token-0001", "bob-token-00002"], job_duration_s=0)
    clock = FakeClock()
    async with KreaClient(base_url=fake.base_url, token=None, transport=fake.transport()) as krea:
        book = StyleBook(krea, load_catalog(), clock=clock)
        watercolor = ids(fake)["Krea Watercolor"]
        brand = ids(fake)["Our Brand Look"]  # alice's own (the first user owns the seeded user styles)
        with as_caller(SecretStr("alice-token-0001")):
            assert (await book.get(watercolor)).title == "Krea Watercolor"
            assert (await book.get(brand)).owner == "Sandbox User"
            await book.get(watercolor)
        assert len(lookups(fake)) == 2
        with as_caller(SecretStr("bob-token-00002")):
            await book.get(watercolor)  # another caller: asked again, never served alice's answer
            assert len(lookups(fake)) == 3
            with pytest.raises(InvalidRequestError, match=r"no style '.+' you can use"):
                await book.get(brand)
        clock.advance(style_book.LOOKUP_TTL_S + 1)
        with as_caller(SecretStr("alice-token-0001")):
            await book.get(watercolor)
        assert len(lookups(fake)) == 5


async def test_the_style_book_keeps_a_bounded_number_of_styles() -> None:
    fake = FakeKrea(token=TOKEN)
    async with KreaClient(base_url=fake.base_url, token=SecretStr(TOKEN), transport=fake.transport()) as krea:
        book = StyleBook(krea, load_catalog(), max_cached=3)
        for title in ("Krea Watercolor", "Krea Film Noir", "Krea Claymation", "Krea Isometric"):
            await book.get(ids(fake)[title])
        await book.get(ids(fake)["Krea Isometric"])  # the newest is still known
        assert len(lookups(fake)) == 4
        await book.get(ids(fake)["Krea Watercolor"])  # the oldest was dropped
        assert len(lookups(fake)) == 5


def test_list_models_shows_the_styles_argument_for_models_that_take_it() -> None:
    from krea_mcp.catalog.models import load_catalog
    from krea_mcp.catalog.views import model_detail

    catalog = load_catalog()
    assert "styles → styles (trained styles: list_styles)" in model_detail(catalog.find("flux"))
    assert "styles →" not in model_detail(catalog.find("imagen-4"))


# --- after the review: shared styles, unnamed bases, deadlines, refusals, cursors --------------------------------


def listings(fake: FakeKrea) -> int:
    """How many ``GET /styles`` (the listing) the server made."""
    return sum(1 for method, path in fake.requests if method == "GET" and path == "/styles")


async def test_a_teammates_shared_style_is_found_in_the_listing_when_get_style_answers_404(
    client: Client, fake: FakeKrea
) -> None:
    """Krea's GET /styles/{id} shows public styles and the caller's own only (the emulator answers 404 for a shared
    one, as the spec says): the style is then found through GET /styles?ids=, and the generation goes ahead."""
    team = ids(fake)["Team Mascot"]
    result = await client.call_tool("generate_image", {"prompt": "a fox", "styles": [{"id": team}], "wait": False})
    assert result.is_error is False, text_of(result)
    assert f"Styles applied: Team Mascot (id {team}, strength 1)." in text_of(result)
    assert lookups(fake) == [f"/styles/{team}"] and listings(fake) == 1  # found under filter=shared
    again = await client.call_tool("generate_image", {"prompt": "a cat", "styles": [{"id": team}], "wait": False})
    assert again.is_error is False and lookups(fake) == [f"/styles/{team}"] and listings(fake) == 1  # remembered
    assert fake.jobs_created == 2


async def test_a_style_in_neither_the_lookup_nor_the_listing_is_refused(client: Client, fake: FakeKrea) -> None:
    stranger = ids(fake)["Private Experiment"]
    result = await client.call_tool("generate_image", {"prompt": "a fox", "styles": [{"id": stranger}]})
    assert result.is_error is True
    assert f"styles: no style {stranger!r} you can use" in text_of(result)
    assert 'those shared with you (filter="shared")' in text_of(result)
    assert listings(fake) == 2 and fake.generate_posts == 0  # looked for under shared, then all


@pytest.mark.parametrize("model", ["flux", "qwen", "z-image"])
@pytest.mark.parametrize("models", ["missing", None, []])
async def test_a_style_whose_bases_krea_does_not_name_is_sent_and_said_unchecked(
    fake: FakeKrea, mode: str, model: str, models: Any
) -> None:
    """``models`` is not a required field of Krea's style: without it the fit cannot be told, so the style is sent
    and the result says its fit was not checked (as for GPT Image and Krea 2)."""
    style_id = ids(fake)["Krea Watercolor"]

    async def no_bases(request: httpx.Request, inner: httpx.AsyncBaseTransport) -> httpx.Response:
        response = await inner.handle_async_request(request)
        if request.url.path == f"/styles/{style_id}":
            await response.aread()
            style = json.loads(response.content)
            style.pop("models") if models == "missing" else style.update(models=models)
            return httpx.Response(200, json=style)
        return response

    async with connect(Around(fake, no_bases), mode=mode) as client:
        result = await client.call_tool(
            "generate_image", {"prompt": "a fox", "model": model, "styles": [{"id": style_id}], "wait": False}
        )
    assert result.is_error is False, text_of(result)
    assert f"Krea names no base for Krea Watercolor (id {style_id}), so whether it fits" in text_of(result)
    assert "was not checked" in text_of(result)
    (job,) = fake.jobs.values()
    assert job.body["styles"] == [{"id": style_id, "strength": 1.0}]


@pytest.mark.parametrize("model", ["gpt-image", "krea-2"])
async def test_a_video_only_style_is_refused_on_models_without_a_documented_base(
    client: Client, fake: FakeKrea, model: str
) -> None:
    fake.styles.styles[ids(fake)["Neon Tokyo"]].models = ["wan", "wan22"]
    result = await client.call_tool(
        "generate_image", {"prompt": "a fox", "model": model, "styles": [{"id": ids(fake)["Neon Tokyo"]}]}
    )
    assert result.is_error is True
    assert "was trained for wan, wan22, the bases of Krea's video models (alibaba/wan-2.1, alibaba/wan-2.2)" in (
        text_of(result)
    )
    assert text_of(result).endswith("Nothing was started or charged.") and fake.generate_posts == 0


async def test_a_style_given_twice_is_refused_naming_the_duplicate(client: Client, fake: FakeKrea) -> None:
    watercolor = ids(fake)["Krea Watercolor"]
    chosen = [{"id": watercolor}, {"id": ids(fake)["Krea Film Noir"]}, {"id": watercolor, "strength": -1}]
    result = await client.call_tool("generate_image", {"prompt": "a fox", "styles": chosen})
    assert result.is_error is True
    assert f"styles[2].id={watercolor!r} is already styles[0].id: give each style once" in text_of(result)
    assert lookups(fake) == [] and fake.generate_posts == 0


async def test_styles_are_looked_up_several_at_once_and_no_more_than_four(fake: FakeKrea) -> None:
    at_once = most = 0

    async def slow_lookups(request: httpx.Request, inner: httpx.AsyncBaseTransport) -> httpx.Response:
        nonlocal at_once, most
        if not request.url.path.startswith("/styles/"):
            return await inner.handle_async_request(request)
        at_once += 1
        most = max(most, at_once)
        try:
            await anyio.sleep(0.2)
            return await inner.handle_async_request(request)
        finally:
            at_once -= 1

    titles_ = [
        "Krea Watercolor",
        "Krea Film Noir",
        "Krea Claymation",
        "Krea Isometric",
        "Risograph Print",
        "Neon Tokyo",
    ]
    async with connect(Around(fake, slow_lookups)) as client:
        with anyio.fail_after(1.0):  # one after another would take 1.2 s
            result = await client.call_tool(
                "generate_image", {"prompt": "a fox", "styles": [{"id": ids(fake)[t]} for t in titles_], "wait": False}
            )
    assert result.is_error is False, text_of(result)
    assert most == style_book.LOOKUPS_AT_ONCE
    assert [s["id"] for s in fake.jobs.popitem()[1].body["styles"]] == [ids(fake)[t] for t in titles_]


async def test_a_remembered_style_krea_refuses_is_forgotten_and_the_refusal_says_so(fake: FakeKrea, mode: str) -> None:
    """A style unshared after it was looked up: Krea refuses the create (400 "Style not found or not accessible");
    the error names the style, says nothing was charged and points to list_styles; the next call asks Krea again."""
    team = ids(fake)["Team Mascot"]
    async with connect(fake, mode=mode) as client:
        first = await client.call_tool("generate_image", {"prompt": "a", "styles": [{"id": team}], "wait": False})
        fake.styles.styles[team].shared = False
        refused = await client.call_tool("generate_image", {"prompt": "b", "styles": [{"id": team}], "wait": False})
        asked = len(lookups(fake))
        again = await client.call_tool("generate_image", {"prompt": "c", "styles": [{"id": team}], "wait": False})
    assert first.is_error is False and asked == 1
    assert refused.is_error is True
    text = text_of(refused)
    assert f"styles: Krea refused style 'Team Mascot' ({team}): Krea rejected the request (400: Style not found" in text
    assert "No job was started and nothing was charged. list_styles shows the styles you may use now" in text
    assert again.is_error is True and f"no style {team!r} you can use" in text_of(again)
    assert len(lookups(fake)) == 2 and fake.jobs_created == 1  # asked again, not served from memory


async def test_a_429_on_a_style_lookup_is_said_as_a_read(fake: FakeKrea) -> None:
    async def limited(request: httpx.Request, inner: httpx.AsyncBaseTransport) -> httpx.Response:
        if request.url.path.startswith("/styles"):
            return httpx.Response(429, json={"error": "Too many requests"})
        return await inner.handle_async_request(request)

    async with connect(Around(fake, limited)) as client:
        looked = await client.call_tool("generate_image", {"prompt": "a", "styles": [{"id": "any-style"}]})
        listed = await client.call_tool("list_styles", {})
    for result, path in ((looked, "/styles/any-style"), (listed, "/styles")):
        assert result.is_error is True
        text = text_of(result)
        assert f"Krea is limiting how often this account may ask (429 on GET {path}: Too many requests)." in text
        assert "nothing was started or charged" in text and "concurrency limit" not in text
    assert fake.generate_posts == 0


async def test_list_styles_ends_within_the_calls_deadline(fake: FakeKrea, mode: str) -> None:
    async def hang(request: httpx.Request, inner: httpx.AsyncBaseTransport) -> httpx.Response:
        if request.url.path == "/styles":
            await anyio.sleep(3600)
        return await inner.handle_async_request(request)

    async with connect(Around(fake, hang), mode=mode, wait_s=1) as client:
        with anyio.fail_after(3):
            result = await client.call_tool("list_styles", {"title": "krea"})
    assert result.is_error is True
    assert "list_styles: Krea did not answer within the 1 s this call may take (KREA_WAIT_S)." in text_of(result)


async def test_a_title_search_stops_at_the_deadline_and_says_where(fake: FakeKrea) -> None:
    """Slow pages: the search stops at the call's deadline with what it found, and its cursor goes on from there."""
    start = datetime.now(UTC).replace(microsecond=0) + timedelta(days=1)
    for i in range(300):  # newer than the seeded library: listed first, newest (Slow 299) first
        created = start + timedelta(seconds=i)
        fake.styles.add(FakeStyle(style_uuid(f"slow:{i}"), f"Slow {i}", "x", ["flux_dev"], "community", created))
        fake.styles.styles[style_uuid(f"slow:{i}")].public = True

    async def slow_pages(request: httpx.Request, inner: httpx.AsyncBaseTransport) -> httpx.Response:
        if request.url.path == "/styles":
            await anyio.sleep(0.6)
        return await inner.handle_async_request(request)

    async with connect(Around(fake, slow_pages), wait_s=1.5) as client:
        first = await client.call_tool("list_styles", {"title": "slow 15"})  # pages end at 0.6 s, 1.2 s, (1.8 s)
        cursor = first.structured_content["next_cursor"]
        rest = await client.call_tool("list_styles", {"title": "slow 15", "cursor": cursor})
    assert first.is_error is False, text_of(first)
    assert titles(first) == {f"Slow {i}" for i in range(150, 160)}  # pages 299-200 and 199-100
    assert "Stopped at the 1.5 s this call may take (KREA_WAIT_S) after searching 200 styles" in text_of(first)
    assert f'pass cursor="{cursor}"' in text_of(first)
    assert rest.is_error is False, text_of(rest)
    assert titles(rest) == {"Slow 15"} and rest.structured_content["next_cursor"] is None


def cursor_of(*parts: Any) -> str:
    return base64.urlsafe_b64encode(json.dumps(list(parts)).encode()).decode().rstrip("=")


async def test_a_cursor_whose_position_krea_refuses_gets_the_cursor_error(client: Client, fake: FakeKrea) -> None:
    result = await client.call_tool("list_styles", {"cursor": cursor_of("garbage", 0, "all", None, None)})
    assert result.is_error is True
    assert "cursor: not a cursor list_styles gave; pass next_cursor from its previous result" in text_of(result)
    assert "Krea rejected" not in text_of(result) and listings(fake) == 1


@pytest.mark.parametrize(
    ("first", "then", "words"),
    [
        (
            {"filter": "all"},
            {"filter": "mine"},
            "it continues a listing with filter='all', but this call has filter='mine'.",
        ),
        ({"title": "krea"}, {"title": "ink"}, "with title='krea', but this call has title='ink'."),
        ({"title": "krea"}, {}, "with title='krea', but this call has no title."),
        (
            {"model": "flux"},
            {"model": "qwen", "title": "x"},
            "with model='flux', no title, but this call has model='qwen', title='x'.",
        ),
    ],
)
async def test_a_cursor_reused_with_another_filter_model_or_title_is_refused_saying_which(
    client: Client, fake: FakeKrea, first: dict[str, Any], then: dict[str, Any], words: str
) -> None:
    page = await client.call_tool("list_styles", {**first, "limit": 1})
    cursor = page.structured_content["next_cursor"]
    assert cursor is not None
    same = await client.call_tool("list_styles", {**first, "limit": 1, "cursor": cursor})
    assert same.is_error is False, text_of(same)
    other = await client.call_tool("list_styles", {**then, "limit": 1, "cursor": cursor})
    assert other.is_error is True
    assert words in text_of(other), text_of(other)
    assert "Pass the same filter, model and title with the cursor, or leave cursor out" in text_of(other)


async def test_a_cursor_past_the_end_of_a_shorter_list_says_so(client: Client, fake: FakeKrea) -> None:
    """Styles removed since the cursor was given: its offset is beyond Krea's page, and the result says so."""
    result = await client.call_tool("list_styles", {"cursor": cursor_of(None, 60, "all", None, None)})
    assert result.is_error is False
    assert result.structured_content == {"styles": [], "next_cursor": None}
    assert "The cursor points past the end of the list (styles were removed since it was given)" in text_of(result)


async def test_the_style_book_forgets_a_style_for_its_caller_only() -> None:
    fake = FakeKrea(token=["alice-token-0001", "bob-token-00002"], job_duration_s=0)
    async with KreaClient(base_url=fake.base_url, token=None, transport=fake.transport()) as krea:
        book = StyleBook(krea, load_catalog())
        watercolor = ids(fake)["Krea Watercolor"]
        for token in ("alice-token-0001", "bob-token-00002"):
            with as_caller(SecretStr(token)):
                await book.get(watercolor)
        with as_caller(SecretStr("alice-token-0001")):
            assert book.forget(watercolor) is not None and book.forget(watercolor) is None
            await book.get(watercolor)
        with as_caller(SecretStr("bob-token-00002")):
            await book.get(watercolor)
        assert len(lookups(fake)) == 3  # alice asked again; bob's was still remembered


@pytest.mark.parametrize(
    ("styles", "words"),
    [
        (
            ["b6f06d05-3d57-5695-a983-709862bfd7ea"],
            'styles[0] must be an object with the fields id, strength, e.g. {"id": "...", "strength": 1}',
        ),
        ([{"styleId": "b6f06d05"}], "styles[0].styleId is not a field here; the fields are: id, strength."),
    ],
)
async def test_a_style_in_the_wrong_shape_is_shown_the_right_one(styles: list[Any], words: str) -> None:
    from krea_mcp.fake_api import FakeKrea
    from tests.helpers import TOKEN, connect, text_of

    fake = FakeKrea(token=TOKEN, job_duration_s=0.05)
    async with connect(fake) as client:
        result = await client.call_tool("generate_image", {"prompt": "a fox", "styles": styles})
    assert result.is_error is True and words in text_of(result), text_of(result)
    assert "StyleChoice" not in text_of(result) and fake.generate_posts == 0
