"""A faithful in-memory emulator of the Krea API (a Starlette ASGI app) for tests and ``--sandbox``.

Besides image generation it runs video jobs on Krea's 31 video paths (each ending with a small, valid MP4 whose
header states the duration and size the body asked for), Topaz enhance jobs (result images of exactly the body's
width x height), a styles library (``GET /styles`` with its filters and cursor pages, ``GET /styles/{id}``) and
style training (``POST /styles/train``, ending with ``result.style_id``). Video, enhance and training bodies are
checked against the spec's schemas (the packaged catalog for video, ``operations.json`` for the others), and styles
named in generation bodies must exist and be usable by the caller.

Job progress is computed lazily from an injectable clock, so nothing in the app sleeps; result URLs point at
deterministic PNGs and MP4s the emulator serves itself under ``/_fake/``. ``FakeKrea.inject`` (or
``POST /_fake/control``) injects the faults a real deployment produces: error statuses, malformed bodies, dropped
connections and hangs.
"""

from __future__ import annotations

from krea_mcp.fake_api._app import FakeKrea, create_app
from krea_mcp.fake_api._state import FakeAsset, FakeJob

__all__ = ["FakeAsset", "FakeJob", "FakeKrea", "create_app"]
