"""The HTTP gate fails closed: no usable token, no server; one Authorization header, the one a tool reads."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from pydantic import SecretStr
from starlette.datastructures import Headers

from krea_mcp.errors import ConfigError
from krea_mcp.http_app import MIN_HTTP_TOKEN_CHARS, BearerGate, build_app
from krea_mcp.krea.caller import bearer_from
from krea_mcp.settings import Settings
from tests.helpers import ACCEPT, asgi_client, bare_settings, initialize, run_cli

pytestmark = pytest.mark.anyio

GOOD = "gate-0f3c9a7e5b1d4c2a8e6f0b9d7c5a3e1f"
INIT = initialize("2025-11-25")


async def refuses_to_build(**values: Any) -> str:
    with pytest.raises(ConfigError) as caught:
        build_app(bare_settings(sandbox=True, **values))
    return str(caught.value)


@pytest.mark.parametrize("token", ["", "   ", "\t\n"])
async def test_token_mode_refuses_an_empty_or_blank_token(token: str) -> None:
    """Before: an empty token passed the start-up check and the gate then let ``Bearer anything`` in."""
    message = await refuses_to_build(http_auth="token", http_token=token)
    assert "KREA_HTTP_TOKEN is empty" in message
    assert f"at least {MIN_HTTP_TOKEN_CHARS} random characters" in message and "token_urlsafe" in message


async def test_token_mode_refuses_a_short_token_and_says_how_long_it_must_be() -> None:
    short = "hunter2-hunter2"
    message = await refuses_to_build(http_auth="token", http_token=short)
    assert f"KREA_HTTP_TOKEN is {len(short)} characters" in message and f"at least {MIN_HTTP_TOKEN_CHARS}" in message
    assert short not in message  # the secret itself is never shown, only its length
    assert await refuses_to_build(http_auth="token", http_token="x" * (MIN_HTTP_TOKEN_CHARS - 1))
    assert build_app(bare_settings(sandbox=True, http_auth="token", http_token="x" * MIN_HTTP_TOKEN_CHARS))


async def test_an_empty_token_line_in_dotenv_refuses_to_start(tmp_path: Path) -> None:
    (tmp_path / ".env").write_text("KREA_HTTP_AUTH=token\nKREA_HTTP_TOKEN=\nKREA_SANDBOX=true\n", encoding="utf-8")
    with pytest.raises(ConfigError, match="KREA_HTTP_TOKEN is empty"):
        build_app(Settings())


def test_the_server_exits_with_the_reason_on_an_empty_token(tmp_path: Path) -> None:
    proc = run_cli("--transport", "http", "--sandbox", cwd=tmp_path, KREA_HTTP_AUTH="token", KREA_HTTP_TOKEN="")
    assert proc.returncode == 2
    assert "KREA_HTTP_TOKEN is empty" in proc.stderr and "Traceback" not in proc.stderr


@pytest.mark.parametrize(
    "values",
    [
        {"http_auth": "token", "http_token": SecretStr("")},
        {"http_auth": "token", "http_token": SecretStr("   ")},
        {"http_auth": "token", "http_token": None},
        {"http_auth": "token", "http_token": "short"},
        {"http_auth": "Token", "http_token": None},  # an unknown mode is token mode, not an open door
    ],
)
def test_the_gate_fails_closed_whatever_the_settings_object_holds(values: dict[str, Any]) -> None:
    """Settings built without validation (model_construct, model_copy) cannot open the gate either."""
    unchecked = Settings.model_construct(**values)

    async def app(scope: Any, receive: Any, send: Any) -> None:  # pragma: no cover - never reached
        raise AssertionError("the gate let a request through")

    with pytest.raises(ConfigError, match="KREA_HTTP_TOKEN"):
        BearerGate(app, settings=unchecked)


async def test_surrounding_whitespace_in_the_configured_token_is_not_part_of_it() -> None:
    app = build_app(bare_settings(sandbox=True, http_auth="token", http_token=f"  {GOOD}\n"))
    async with asgi_client(app) as http:
        ok = await http.post("/mcp", json=INIT, headers={**ACCEPT, "authorization": f"Bearer {GOOD}"})
    assert ok.status_code == 200


async def test_two_authorization_headers_are_refused_not_resolved_by_position() -> None:
    """Before: the gate checked the last header (the right token) while a tool reads the first (anything)."""
    app = build_app(bare_settings(sandbox=True, http_auth="token", http_token=GOOD))
    async with asgi_client(app) as http:
        both = await http.post(
            "/mcp",
            json=INIT,
            headers=[*ACCEPT.items(), ("authorization", "Bearer anything"), ("authorization", f"Bearer {GOOD}")],
        )
        one = await http.post("/mcp", json=INIT, headers={**ACCEPT, "authorization": f"Bearer {GOOD}"})
        wrong = await http.post("/mcp", json=INIT, headers={**ACCEPT, "authorization": "Bearer anything"})
    assert both.status_code == 400
    assert both.json() == {"error": "Bad request: 2 Authorization headers; send exactly one."}
    assert one.status_code == 200
    assert wrong.status_code == 401


async def test_passthrough_refuses_two_callers_tokens_in_one_request() -> None:
    app = build_app(bare_settings(sandbox=True, http_auth="bearer-passthrough"))
    async with asgi_client(app) as http:
        both = await http.post(
            "/mcp",
            json=INIT,
            headers=[*ACCEPT.items(), ("authorization", "Bearer alice"), ("authorization", "Bearer bob")],
        )
    assert both.status_code == 400


def test_a_tool_reads_no_caller_token_from_a_repeated_header() -> None:
    """The tool side agrees with the gate: several Authorization values name no caller at all."""
    repeated = Headers(raw=[(b"authorization", b"Bearer alice"), (b"authorization", b"Bearer bob")])
    single = Headers(raw=[(b"authorization", b"Bearer  alice ")])
    assert bearer_from(repeated) is None
    token = bearer_from(single)
    assert token is not None and token.get_secret_value() == "alice"
    assert bearer_from({"Authorization": "bearer carol"}).get_secret_value() == "carol"  # type: ignore[union-attr]
    assert bearer_from({"authorization": "Basic Y2Fyb2w="}) is None
