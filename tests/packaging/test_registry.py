"""server.json against the MCP registry's own published schema, and the ownership marker in what PyPI would show.

``server.schema.json`` beside this file is the registry's 2025-12-11 schema, vendored unmodified from
github.com/modelcontextprotocol/registry, ``internal/validators/schemas/2025-12-11.json`` (commit
e361b5ff5a925b36a38eda0544bca8230a84558b): the copy the registry itself validates ``server.json`` files
with, whose ``$id`` is https://static.modelcontextprotocol.io/schemas/2025-12-11/server.schema.json.
It is generated from the registry's openapi.yaml and is JSON Schema draft-07. Its checksum is pinned below
so an edit to it cannot go unnoticed.

tests/test_docs.py checks the checkout's README and the limits restated in the SDK notes; this module
checks against the schema itself, and the README as released (the wheel's and sdist's metadata).
"""

from __future__ import annotations

import copy
import hashlib
import json
import re
import tarfile
import zipfile
from email.message import Message
from email.parser import Parser
from functools import cache
from typing import Any
from urllib.parse import urlsplit

import pytest
from jsonschema import FormatChecker
from jsonschema.protocols import Validator
from jsonschema.validators import validator_for

from ._support import HERE, REPO, Dists

pytestmark = pytest.mark.third_party

SCHEMA_URL = "https://static.modelcontextprotocol.io/schemas/2025-12-11/server.schema.json"
SCHEMA_FILE = HERE / "server.schema.json"
SCHEMA_SHA256 = "d4c163f299ece68b7432f4e44c4108f2fdb663d99dc088c8344142e5b0a4b520"
URI_SCHEME = re.compile(r"[A-Za-z][A-Za-z0-9+.-]*")


@cache
def schema() -> dict[str, Any]:
    data: dict[str, Any] = json.loads(SCHEMA_FILE.read_text(encoding="utf-8"))
    return data


def server_json() -> dict[str, Any]:
    data: dict[str, Any] = json.loads((REPO / "server.json").read_text(encoding="utf-8"))
    return data


def format_checker() -> FormatChecker:
    """Every format jsonschema can check here, plus ``uri`` (the only format the schema uses).

    jsonschema checks ``uri`` only when the optional rfc3987 package is installed; the registry's Go
    validator always asserts formats. This check follows RFC 3986's absolute-URI shape: a scheme, no
    whitespace, and for http(s) a host.
    """
    checker = FormatChecker()

    @checker.checks("uri")
    def is_uri(value: object) -> bool:
        if not isinstance(value, str):
            return True
        parts = urlsplit(value)
        if not URI_SCHEME.fullmatch(parts.scheme) or any(c.isspace() for c in value):
            return False
        return parts.scheme not in ("http", "https") or bool(parts.hostname)

    return checker


def validator() -> Validator:
    """A validator of the draft the schema declares (draft-07), asserting formats."""
    cls = validator_for(schema())
    cls.check_schema(schema())
    return cls(schema(), format_checker=format_checker())


def errors(instance: dict[str, Any]) -> list[str]:
    found = validator().iter_errors(instance)
    return [f"{'/'.join(map(str, e.absolute_path)) or '<root>'}: {e.message}" for e in found]


def test_vendored_schema_is_the_published_2025_12_11_schema() -> None:
    """Unmodified (checksum), identified by the URL server.json declares, and itself a valid draft-07 schema."""
    assert hashlib.sha256(SCHEMA_FILE.read_bytes()).hexdigest() == SCHEMA_SHA256
    assert schema()["$id"] == SCHEMA_URL
    assert schema()["$schema"] == "http://json-schema.org/draft-07/schema#"
    validator_for(schema()).check_schema(schema())


def test_server_json_declares_the_schema_it_is_validated_against() -> None:
    assert server_json()["$schema"] == schema()["$id"] == SCHEMA_URL


def test_server_json_is_valid_against_the_registry_schema() -> None:
    assert errors(server_json()) == []


DELETE = object()


@pytest.mark.parametrize(
    ("path", "value"),
    [
        pytest.param("description", "x" * 101, id="description-over-100"),
        pytest.param("name", "krea-mcp", id="name-without-namespace"),
        pytest.param("version", DELETE, id="no-version"),
        pytest.param("title", "", id="empty-title"),
        pytest.param("packages/0/version", "latest", id="package-version-latest"),
        pytest.param("packages/0/transport", DELETE, id="package-without-transport"),
        pytest.param("packages/0/transport", {"type": "websocket"}, id="unknown-transport"),
        pytest.param("packages/0/environmentVariables/0/isSecret", "yes", id="env-flag-not-boolean"),
        pytest.param("packages/0/environmentVariables/0/format", "secret", id="env-unknown-format"),
        pytest.param("repository/url", "github.com/krea-mcp/krea-mcp", id="repository-url-not-a-uri"),
        pytest.param("packages/0/registryBaseUrl", "https:// pypi.org", id="registry-url-with-space"),
    ],
)
def test_the_schema_check_rejects_what_the_registry_rejects(path: str, value: Any) -> None:
    """The validation above has teeth: each one-field breakage of server.json is reported, at that field."""
    data = copy.deepcopy(server_json())
    *parents, last = path.split("/")
    node: Any = data
    for key in parents:
        node = node[int(key)] if isinstance(node, list) else node[key]
    if value is DELETE:
        del node[last]
        where = "/".join(parents) or "<root>"
    else:
        node[last] = value
        where = path
    found = errors(data)
    assert any(error.startswith(f"{where}: ") for error in found), found


def _metadata_from_wheel(dists: Dists) -> Message:
    with zipfile.ZipFile(dists.wheel) as wheel:
        [name] = [n for n in wheel.namelist() if n.endswith(".dist-info/METADATA")]
        return Parser().parsestr(wheel.read(name).decode("utf-8"))


def _metadata_from_sdist(dists: Dists) -> Message:
    with tarfile.open(dists.sdist) as sdist:
        [member] = [m for m in sdist.getmembers() if m.name.count("/") == 1 and m.name.endswith("/PKG-INFO")]
        extracted = sdist.extractfile(member)
        assert extracted is not None
        return Parser().parsestr(extracted.read().decode("utf-8"))


def _normalize(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


@pytest.mark.parametrize("source", ["wheel", "sdist"])
def test_released_readme_carries_the_ownership_marker_for_the_package_server_json_names(
    dists: Dists, source: str
) -> None:
    """What PyPI shows (the distribution's long description) has ``mcp-name: <name>``, and the distribution is the
    package, at the version, that server.json's PyPI entry names: what the registry checks when publishing."""
    metadata = _metadata_from_wheel(dists) if source == "wheel" else _metadata_from_sdist(dists)
    description = metadata.get_payload()
    assert isinstance(description, str)
    data = json.loads((dists.source / "server.json").read_text(encoding="utf-8"))
    assert re.search(rf"mcp-name:\s*{re.escape(data['name'])}(?:\s|-->|$)", description), description[:500]
    assert metadata["Description-Content-Type"] == "text/markdown"
    [package] = [p for p in data["packages"] if p["registryType"] == "pypi"]
    assert _normalize(metadata["Name"]) == _normalize(package["identifier"])
    assert metadata["Version"] == package["version"] == data["version"]
