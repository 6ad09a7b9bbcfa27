"""The gallery view (``ui://krea/gallery.html``) in a real browser, driven the way an MCP Apps host drives it.

``tests/gallery_host/`` is a minimal host page: it renders the view in a sandboxed iframe (``allow-scripts`` only)
under the Content-Security-Policy the resource declares, answers ``ui/initialize``, pushes tool input and results,
and forwards the view's ``tools/call`` and ``resources/read`` to a real MCP client (Playwright's ``expose_function``)
connected over stdio to ``krea-mcp --sandbox`` (or to the standalone emulator, for a job made to fail). The client
advertises the Apps extension, as a host that renders apps does.

Every test also checks that the view broke no CSP rule, sent no request to the network (the host page is served by
``page.route``; any other request is refused and recorded), threw no uncaught error and made no call the server
refused. Screenshots go to ``.ci/artifacts/gallery/``, with each test's log of messages and calls (``<test>.log.json``).

Needs Debian's ``chromium`` (``/usr/bin/chromium``; ``.ci/run`` installs it) and ``playwright`` from PyPI (the dev
extra). Browsers are never downloaded (no ``playwright install``). Without either the tests are skipped, or fail
when ``KREA_THIRD_PARTY_REQUIRED=1`` (as ``.ci/run`` sets it).
"""

from __future__ import annotations

import json
import os
import shutil
import sys
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import anyio
import httpx
import pytest
from mcp import Client, MCPError, StdioServerParameters
from mcp.client import advertise

from tests.helpers import TOKEN, child_env, free_port, running

try:
    from playwright.async_api import Browser, FrameLocator, Page, Request, Route, async_playwright
except ImportError:  # pragma: no cover - the dev extra installs it
    async_playwright = None

pytestmark = pytest.mark.anyio

#: Read at import: the autouse ``clean_env`` fixture removes every KREA_* variable before each test runs.
REQUIRED = os.environ.get("KREA_THIRD_PARTY_REQUIRED") == "1"
CHROMIUM = os.environ.get("GALLERY_CHROMIUM") or shutil.which("chromium") or "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
    "--disable-sync",
    "--disable-quic",
    # Chromium otherwise runs a sandboxed iframe in a process of its own whose requests Playwright's routes never
    # see; in the page's process, every request of the view reaches the route that refuses and records it.
    "--disable-features=IsolateSandboxedIframes",
    # Nothing resolves, should a request ever get past the route.
    "--host-resolver-rules=MAP * ~NOTFOUND",
]
HOST_DIR = Path(__file__).parent / "gallery_host"
HOST_ORIGIN = "https://gallery-host.test"
HOST_FILES = {f"{HOST_ORIGIN}/host.html": "host.html", f"{HOST_ORIGIN}/host.js": "host.js"}
ARTIFACTS = Path(__file__).resolve().parent.parent / ".ci" / "artifacts" / "gallery"
VIEW_URI = "ui://krea/gallery.html"
APP_MIME = "text/html;profile=mcp-app"
APPS = advertise("io.modelcontextprotocol/ui", {"mimeTypes": [APP_MIME]})
TERMINAL = ("completed", "failed", "cancelled")
WIDTH, HEIGHT = 768, 512  # the emulator draws each image at the size asked for


def _missing() -> str | None:
    if async_playwright is None:
        return "playwright is not installed (pip install -e .[dev])"
    if not Path(CHROMIUM).is_file():
        return f"no chromium at {CHROMIUM} (apt-get install chromium)"
    return None


@pytest.fixture(autouse=True)
def browser_available() -> None:
    missing = _missing()
    if missing is None:
        return
    if REQUIRED:
        pytest.fail(f"{missing}, and KREA_THIRD_PARTY_REQUIRED=1: .ci/run should have installed it")
    pytest.skip(f"{missing}: the gallery's browser tests need playwright and chromium")


# --- the host ------------------------------------------------------------------------------------------------------


def _short(value: Any) -> Any:
    """``value`` with long strings (image blobs) cut, for logs."""
    if isinstance(value, str):
        return value if len(value) <= 300 else f"{value[:120]}…({len(value)} chars)"
    if isinstance(value, dict):
        return {k: _short(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_short(v) for v in value]
    return value


@dataclass(repr=False)
class Gallery:
    """One view in the test host, its MCP client, and what the page did."""

    client: Client
    page: Page
    output_dir: Path
    calls: list[tuple[str, dict[str, Any], dict[str, Any]]] = field(default_factory=list)  # method, params, answer
    refused: list[str] = field(default_factory=list)  # MCP errors the bridge passed back to the view
    requests: list[str] = field(default_factory=list)  # requests from the page that were not the host's own files
    page_errors: list[str] = field(default_factory=list)
    console_errors: list[str] = field(default_factory=list)

    # the bridge: the page's window.kreaMcp(method, paramsJson) -> answerJson

    async def bridge(self, method: str, params_json: str) -> str:
        params = json.loads(params_json)
        answer: dict[str, Any]
        try:
            if method == "tools/call":
                result = await self.client.call_tool(params["name"], params.get("arguments") or {})
            else:
                result = await self.client.read_resource(params["uri"])
            answer = {"result": result.model_dump(mode="json", by_alias=True, exclude_none=True)}
        except MCPError as error:
            self.refused.append(f"{method} {_short(params)}: {error}")
            answer = {"error": {"code": error.code, "message": str(error)}}
        except Exception as error:  # the view still gets an answer; the test fails on it at the end
            self.refused.append(f"{method} {_short(params)}: {error!r}")
            answer = {"error": {"code": -32603, "message": repr(error)}}
        self.calls.append((method, params, answer))
        return json.dumps(answer)

    def tool_calls(self, name: str) -> list[tuple[dict[str, Any], dict[str, Any]]]:
        """The view's calls of tool ``name``: (arguments, answer)."""
        return [(p.get("arguments") or {}, a) for m, p, a in self.calls if m == "tools/call" and p.get("name") == name]

    # the view

    async def open(self, theme: str = "light") -> None:
        """Load the view from the server's resource into the host with ``theme``, and wait for its handshake."""
        read = await self.client.read_resource(VIEW_URI)
        (content,) = read.contents
        assert content.mime_type == APP_MIME, content.mime_type
        html = getattr(content, "text", None)
        assert isinstance(html, str), "the gallery resource is text"
        dumped = content.model_dump(mode="json", by_alias=True, exclude_none=True)
        meta = dumped.get("_meta") or {}
        await self.page.goto(f"{HOST_ORIGIN}/host.html")
        await self.page.evaluate("([html, meta, theme]) => window.host.load(html, meta, theme)", [html, meta, theme])
        await self.page.wait_for_function("window.host.initialized === true", timeout=10_000)
        init = await self.page.evaluate("window.host.initializeParams")
        assert init.get("protocolVersion") == "2026-01-26", init
        assert await self.theme() == theme

    @property
    def view(self) -> FrameLocator:
        return self.page.frame_locator("iframe#view")

    async def theme(self) -> str | None:
        return await self.view.locator("html").get_attribute("data-theme")

    async def show(self, arguments: dict[str, Any], result: Any) -> None:
        """Push a tool call's input and result to the view, as a host does after the model called a tool."""
        dumped = result.model_dump(mode="json", by_alias=True, exclude_none=True)
        await self.page.evaluate("([a, r]) => window.host.pushTool(a, r)", [arguments, dumped])

    def card(self, job_id: str) -> Any:
        return self.view.locator(f'article.card[data-job-id="{job_id}"]')

    async def status_of(self, job_id: str) -> str | None:
        return await self.card(job_id).get_attribute("data-status")

    async def wait_status(self, job_id: str, statuses: tuple[str, ...], within: float = 15) -> str:
        with anyio.fail_after(within):
            while True:
                if await self.card(job_id).count() == 1 and (status := await self.status_of(job_id)) in statuses:
                    return status
                await anyio.sleep(0.1)

    async def decoded_width(self, card: Any) -> int:
        """The natural width of the card's first image, once it is decoded (0 while it is not)."""
        img = card.locator("img.result").first
        await img.wait_for(state="attached", timeout=15_000)
        width: int = await img.evaluate("el => (el.complete && el.naturalWidth) || 0")
        return width

    async def wait_decoded(self, card: Any, width: int, within: float = 15) -> None:
        with anyio.fail_after(within):
            while await self.decoded_width(card) != width:
                await anyio.sleep(0.1)

    async def host_state(self, name: str) -> Any:
        """What the host page recorded under ``name`` (None before the host page is loaded)."""
        return await self.page.evaluate(f"window.host ? window.host.{name} : null")

    async def shot(self, name: str) -> Path:
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        path = ARTIFACTS / f"{name}.png"
        await self.page.locator("#frame-box").screenshot(path=str(path))
        return path

    async def check_clean(self) -> None:
        """The view broke no CSP rule, reached for no network, threw nothing, and the server refused nothing."""
        violations = await self.host_state("violations") or []
        errors = await self.host_state("errors") or []
        assert violations == [], f"CSP violations in the view: {violations}"
        assert self.requests == [], f"requests left the page: {self.requests}"
        unloaded = [text for text in self.console_errors if "Failed to load resource" in text]
        assert unloaded == [], f"the page tried to load something: {unloaded}"
        assert self.page_errors == [], f"uncaught errors: {self.page_errors}"
        assert self.refused == [], f"calls the server refused: {self.refused}"
        assert errors == [], f"host errors: {errors}"

    async def dump_log(self, name: str) -> None:
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        try:
            messages = await self.host_state("messages")
        except Exception as error:  # the page may be gone
            messages = [repr(error)]
        log = {
            "messages": _short(messages),
            "calls": _short(self.calls),
            "refused": self.refused,
            "requests": self.requests,
            "page_errors": self.page_errors,
            "console_errors": self.console_errors,
        }
        (ARTIFACTS / f"{name}.log.json").write_text(json.dumps(log, indent=1, default=str))


async def _host_files(route: Route, request: Request, gallery: Gallery) -> None:
    name = HOST_FILES.get(request.url)
    if name is None:
        gallery.requests.append(f"{request.method} {request.url} (from {request.frame.url[:60]})")
        await route.abort("blockedbyclient")
        return
    kind = "text/html" if name.endswith(".html") else "text/javascript"
    await route.fulfill(status=200, content_type=f"{kind}; charset=utf-8", body=(HOST_DIR / name).read_text())


@asynccontextmanager
async def open_gallery(
    request: pytest.FixtureRequest, cwd: Path, args: list[str], **env: str
) -> AsyncIterator[Gallery]:
    """A browser with the test host, and an Apps-advertising MCP client of ``python -m krea_mcp args…``."""
    output_dir = cwd / "images"
    params = StdioServerParameters(
        command=sys.executable,
        args=["-m", "krea_mcp", *args],
        env=child_env(KREA_OUTPUT_DIR=str(output_dir), **env),
        cwd=str(cwd),
    )
    assert async_playwright is not None
    async with AsyncExitStack() as stack:
        client = await stack.enter_async_context(Client(params, extensions=[APPS]))
        playwright = await stack.enter_async_context(async_playwright())
        browser: Browser = await playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        stack.push_async_callback(browser.close)
        context = await browser.new_context(viewport={"width": 800, "height": 2000}, service_workers="block")
        page = await context.new_page()
        gallery = Gallery(client, page, output_dir)
        page.on("pageerror", lambda error: gallery.page_errors.append(str(error)))
        page.on(
            "console",
            lambda message: gallery.console_errors.append(message.text) if message.type == "error" else None,
        )
        page.on("websocket", lambda ws: gallery.requests.append(f"websocket {ws.url}"))
        await context.route("**/*", lambda route, req: _host_files(route, req, gallery))
        await page.expose_function("kreaMcp", gallery.bridge)
        try:
            yield gallery
        finally:
            await gallery.dump_log(request.node.name)
        await gallery.check_clean()


@pytest.fixture
async def gallery(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Gallery]:
    """The view of a ``krea-mcp --sandbox`` child; its tools that wait give up after 4 s (then the view polls)."""
    async with open_gallery(request, tmp_path, ["--sandbox"], KREA_WAIT_S="4") as g:
        yield g


async def generate(gallery: Gallery, **arguments: Any) -> tuple[dict[str, Any], Any]:
    """Call generate_image as the model would; (arguments, result)."""
    arguments = {"width": WIDTH, "height": HEIGHT, **arguments}
    result = await gallery.client.call_tool("generate_image", arguments)
    return arguments, result


# --- tests ---------------------------------------------------------------------------------------------------------


async def test_a_finished_job_shows_its_image_and_caption_in_light_and_dark(gallery: Gallery) -> None:
    with anyio.fail_after(60):
        arguments, result = await generate(gallery, prompt="a red fox in the snow, light")
        assert result.is_error is False, result
        job = result.structured_content
        assert job["status"] == "completed"
        for theme in ("light", "dark"):
            await gallery.open(theme)
            await gallery.show(arguments, result)
            card = gallery.card(job["job_id"])
            assert await gallery.wait_status(job["job_id"], ("completed",)) == "completed"
            await gallery.wait_decoded(card, WIDTH)
            assert "completed" in (await card.locator(".status").inner_text()).lower()
            assert await card.locator("img.result").first.get_attribute("alt") == arguments["prompt"]
            caption = await card.locator(".caption").inner_text()
            assert arguments["prompt"] in caption
            assert job["model"] in caption
            await gallery.shot(f"finished-{theme}")
        # The dark view turns light when the host says so.
        await gallery.page.evaluate("window.host.setTheme('light')")
        with anyio.fail_after(3):
            while await gallery.theme() != "light":
                await anyio.sleep(0.05)
        sizes = await gallery.host_state("sizes")
        assert sizes, "the view reported its size"
        assert gallery.tool_calls("gallery_details"), "the caption comes from gallery_details"


async def test_a_running_job_updates_itself_until_completed(gallery: Gallery) -> None:
    with anyio.fail_after(60):
        # A slow model in the sandbox (~6.6 s), returned at once.
        arguments, result = await generate(gallery, prompt="a lighthouse at dusk", model="qwen/2512", wait=False)
        assert result.is_error is False, result
        job = result.structured_content
        assert job["status"] not in TERMINAL, job
        await gallery.open("light")
        await gallery.show(arguments, result)
        card = gallery.card(job["job_id"])
        await card.wait_for(state="attached", timeout=10_000)
        assert await gallery.status_of(job["job_id"]) not in TERMINAL
        status_text = (await card.locator(".status").inner_text()).strip()
        assert status_text, "a running card says how it stands"
        assert await card.locator(".status").get_attribute("aria-live") == "polite" or (
            await gallery.view.locator("[aria-live=polite]").count() > 0
        )
        await gallery.shot("running-light")
        await gallery.page.evaluate("window.host.setTheme('dark')")  # the host switches theme mid-run
        with anyio.fail_after(3):
            while await gallery.theme() != "dark":
                await anyio.sleep(0.05)
        await gallery.shot("running-dark")
        pushed = len([m for m in await gallery.host_state("messages") if m["dir"] == "out"])
        # Nothing more is pushed: the view polls get_job itself.
        assert await gallery.wait_status(job["job_id"], TERMINAL, within=30) == "completed"
        await gallery.wait_decoded(card, WIDTH)
        out = [m for m in await gallery.host_state("messages") if m["dir"] == "out"]
        assert all("method" not in m["msg"] for m in out[pushed:]), "the host pushed nothing after the result"
        polls = gallery.tool_calls("get_job")
        assert polls, "the view polled get_job"
        assert all(call[0].get("job_id") == job["job_id"] for call in polls)
        await gallery.shot("running-then-completed")


async def test_a_failed_job_shows_failed_and_the_error(request: pytest.FixtureRequest, tmp_path: Path) -> None:
    error = "Content moderation: the prompt was flagged (gallery test)"
    port = free_port()
    emulator = ["-m", "krea_mcp.fake_api", "--port", str(port), "--token", TOKEN, "--quiet", "--time-scale", "0.1"]
    with running(emulator, port, env=child_env()):
        headers = {"Authorization": f"Bearer {TOKEN}"}
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", headers=headers) as http:
            answer = await http.post("/_fake/control", json={"fail_next_jobs": 1, "error": error})
            assert answer.status_code == 200, answer.text
        env = {"KREA_API_TOKEN": TOKEN, "KREA_BASE_URL": f"http://127.0.0.1:{port}", "KREA_POLL_INTERVAL_S": "0.1"}
        async with open_gallery(request, tmp_path, [], **env) as gallery:
            with anyio.fail_after(60):
                arguments, result = await generate(gallery, prompt="a flagged prompt")
                job = result.structured_content
                assert job is not None and job["status"] == "failed", result
                await gallery.open("light")
                await gallery.show(arguments, result)
                card = gallery.card(job["job_id"])
                assert await gallery.wait_status(job["job_id"], TERMINAL) == "failed"
                assert "failed" in (await card.locator(".status").inner_text()).lower()
                await card.locator(".error").wait_for(state="visible", timeout=5_000)
                assert error in await card.locator(".error").inner_text()
                assert await card.locator("img.result").count() == 0
                assert await card.locator('button[data-action="save"]').is_hidden()  # nothing to save
                await gallery.shot("failed-light")
                await gallery.page.evaluate("window.host.setTheme('dark')")
                with anyio.fail_after(3):
                    while await gallery.theme() != "dark":
                        await anyio.sleep(0.05)
                await gallery.shot("failed-dark")


async def test_each_action_makes_its_call_and_a_new_card(gallery: Gallery) -> None:
    with anyio.fail_after(80):
        arguments, result = await generate(gallery, prompt="a paper boat on a pond")
        assert result.is_error is False, result
        first = result.structured_content
        await gallery.page.context.grant_permissions(["clipboard-read", "clipboard-write"], origin=HOST_ORIGIN)
        await gallery.open("light")
        await gallery.show(arguments, result)
        card = gallery.card(first["job_id"])
        assert await gallery.wait_status(first["job_id"], ("completed",)) == "completed"
        await gallery.wait_decoded(card, WIDTH)
        cards = gallery.view.locator("article.card")

        async def act(action: str, tool: str) -> str:
            """Click ``action`` on the first card's first image; the job id of the card it adds at the top."""
            before = await cards.count()
            button = card.locator(f'button[data-action="{action}"]').first
            assert await button.get_attribute("aria-label") or (await button.inner_text()).strip(), action
            await button.click()
            busy = False  # seen disabled with aria-busy while the call runs (each of these takes seconds)
            with anyio.fail_after(30):
                while not gallery.tool_calls(tool):
                    state = await button.evaluate("b => b.disabled && b.getAttribute('aria-busy') === 'true'")
                    busy = busy or state
                    await anyio.sleep(0.05)
                while await cards.count() <= before:
                    await anyio.sleep(0.1)
            assert busy, f"{action}: the button is disabled with aria-busy while its call runs"
            with anyio.fail_after(5):
                while await button.is_disabled():
                    await anyio.sleep(0.05)
            ((args, answer),) = gallery.tool_calls(tool)
            assert args.get("job_id") == first["job_id"], args
            new_id: str = answer["result"]["structuredContent"]["job_id"]
            assert await cards.first.get_attribute("data-job-id") == new_id, "the new card is at the top"
            return new_id

        varied = await act("vary", "gallery_vary")
        assert await gallery.wait_status(varied, ("completed",)) == "completed"
        await gallery.wait_decoded(gallery.card(varied), WIDTH)
        # The variation keeps the prompt and model.
        caption = await gallery.card(varied).locator(".caption").inner_text()
        assert arguments["prompt"] in caption

        upscaled = await act("upscale", "gallery_upscale")
        ((upscale_args, _),) = gallery.tool_calls("gallery_upscale")
        assert upscale_args.get("index", 0) == 0
        animated = await act("animate", "gallery_animate")
        assert await gallery.card(animated).count() == 1
        await gallery.shot("actions")

        # save: the job's files land in KREA_OUTPUT_DIR
        await card.locator('button[data-action="save"]').first.click()
        with anyio.fail_after(20):
            while not gallery.tool_calls("gallery_save"):
                await anyio.sleep(0.05)
        ((save_args, saved),) = gallery.tool_calls("gallery_save")
        assert save_args.get("job_id") == first["job_id"]
        assert saved["result"].get("isError") is not True, saved
        files = saved["result"]["structuredContent"]["files"]
        assert files, saved
        for file in files:
            path = Path(file)
            assert path.is_file(), path
            assert gallery.output_dir.resolve() in path.resolve().parents, path
        # one card per job: the saved job's result updates its card, it adds no second one (watched for 1.5 s)
        with anyio.move_on_after(1.5):
            while True:
                ids = [await c.get_attribute("data-job-id") for c in await cards.all()]
                assert len(ids) == len(set(ids)), f"a job has two cards: {ids}"
                await anyio.sleep(0.1)

        # open, from the keyboard: a ui/open-link request to the host
        await card.locator('button[data-action="open"]').first.focus()
        await gallery.page.keyboard.press("Enter")
        with anyio.fail_after(5):
            while not await gallery.host_state("openedLinks"):
                await anyio.sleep(0.05)
        (link,) = await gallery.host_state("openedLinks")
        assert link == first["urls"][0]

        # copy: to the clipboard, or into a selected text field when the sandbox has no clipboard
        await card.locator('button[data-action="copy"]').first.click()
        with anyio.fail_after(5):
            while True:
                copied = await gallery.page.evaluate("navigator.clipboard.readText().catch(() => '')")
                fields = card.locator("input, textarea")
                values = [await fields.nth(i).input_value() for i in range(await fields.count())]
                if first["urls"][0] in (copied, *values):
                    break
                await anyio.sleep(0.1)
        alerts = [text.strip() for text in await gallery.view.locator("[role=alert]").all_inner_texts()]
        assert not any(alerts), alerts

        # the upscale (enhance, ~9 s) finishes on its own; the video keeps running a while
        assert await gallery.wait_status(upscaled, TERMINAL, within=25) == "completed"
        await gallery.wait_decoded(gallery.card(upscaled), WIDTH * 2)
        await gallery.shot("actions-done")


async def test_the_view_offers_only_what_can_work_and_stops_when_torn_down(
    request: pytest.FixtureRequest, tmp_path: Path
) -> None:
    """Without the enhance and video groups there is no Upscale or Animate; a link that is not a web link is neither
    opened nor copied; a refused action leaves keyboard focus on its button; after ui/resource-teardown the view
    polls no more."""
    env = {"KREA_WAIT_S": "4", "KREA_TOOLS": "generate,jobs", "KREA_MAX_JOBS": "2"}
    async with open_gallery(request, tmp_path, ["--sandbox"], **env) as gallery:
        with anyio.fail_after(60):
            arguments, result = await generate(gallery, prompt="a quiet harbour")
            job = result.structured_content
            await gallery.open("light")
            await gallery.show(arguments, result)
            card = gallery.card(job["job_id"])
            await gallery.wait_decoded(card, WIDTH)
            with anyio.fail_after(10):  # the details say which buttons can work here
                while not gallery.tool_calls("gallery_details"):
                    await anyio.sleep(0.05)
            await card.locator('button[data-action="vary"]').wait_for(state="visible", timeout=10_000)
            assert await card.locator('button[data-action="upscale"]').is_hidden()
            assert await card.locator('button[data-action="animate"]').is_hidden()
            assert await card.locator('button[data-action="save"]').is_visible()

            # KREA_MAX_JOBS=2: a second job (shown below) takes the last slot, so Vary is refused; focus stays on it.
            arguments, running = await generate(gallery, prompt="a slow one", model="qwen/2512", wait=False)
            assert running.is_error is False, running
            vary = card.locator('button[data-action="vary"]')
            await vary.focus()
            await gallery.page.keyboard.press("Enter")
            with anyio.fail_after(20):
                while not gallery.tool_calls("gallery_vary"):
                    await anyio.sleep(0.05)
                while "KREA_MAX_JOBS" not in (await gallery.view.locator("#alert").inner_text()):
                    await anyio.sleep(0.05)
            focused = await gallery.view.locator(":focus").get_attribute("data-action")
            assert focused == "vary"

            # A result whose link is not a web link: no Open or Copy link, and nothing reaches ui/open-link.
            odd = {
                "content": [{"type": "text", "text": "x"}],
                "isError": False,
                "structuredContent": {
                    "job_id": "not-a-web-link",
                    "status": "completed",
                    "model": "m",
                    "urls": ["javascript:alert(1)//.png"],
                },
            }
            await gallery.page.evaluate("([a, r]) => window.host.pushTool(a, r)", [{}, odd])
            odd_card = gallery.card("not-a-web-link")
            await odd_card.wait_for(state="attached", timeout=5_000)
            assert await odd_card.locator('button[data-action="open"]').is_hidden()
            assert await odd_card.locator('button[data-action="copy"]').is_hidden()
            assert await gallery.host_state("openedLinks") == []

            # A running job polls get_job until the host tears the view down.
            await gallery.show(arguments, running)
            run_id = running.structured_content["job_id"]
            with anyio.fail_after(10):
                while not [c for c in gallery.tool_calls("get_job") if c[0].get("job_id") == run_id]:
                    await anyio.sleep(0.1)
            await gallery.page.evaluate("window.host.teardown()")
            await anyio.sleep(0.3)
            polled = len(gallery.tool_calls("get_job"))
            await anyio.sleep(3.5)  # two poll intervals
            assert len(gallery.tool_calls("get_job")) == polled
    # The view recorded nothing refused by the server beyond the limit, and no request left the page (check_clean).
