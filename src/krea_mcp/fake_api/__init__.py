"""A faithful in-memory emulator of the Krea image API (a Starlette ASGI app) for tests and ``--sandbox``.

Besides image generation it runs Topaz enhance jobs (result images of exactly the body's width x height), a styles
library (``GET /styles`` with its filters and cursor pages, ``GET /styles/{id}``) and style training
(``POST /styles/train``, ending with ``result.style_id``); enhance and training bodies are checked against the
spec's schemas in ``operations.json``, and styles named in generation bodies must exist and be usable by the caller.

Job progress is computed lazily from an injectable clock, so nothing in the app sleeps; result URLs point at
deterministic PNGs the emulator serves itself under ``/_fake/``. ``FakeKrea.inject`` (or ``POST /_fake/control``)
injects the faults a real deployment produces: error statuses, malformed bodies, dropped connections and hangs.
"""

from __future__ import annotations

from krea_mcp.fake_api._app import FakeKrea, create_app
from krea_mcp.fake_api._state import FakeAsset, FakeJob

__all__ = ["FakeAsset", "FakeJob", "FakeKrea", "create_app"]
