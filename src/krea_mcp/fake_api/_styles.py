"""The emulator's styles (trained LoRAs): a seeded library, who may see and use each style, and ``GET /styles``.

Who owns a style decides who sees it, as on Krea: Krea-official styles (``owner`` null) and community styles are
public; the caller's own styles are private to the token that trained them (with one token, or any token, the
sandbox has a single user, who owns every user style); a teammate's style shared with the workspace is usable by
everyone else; a stranger's private style is visible to nobody (404, and refused in generation bodies).

As Krea's spec says of ``GET /styles/{id}`` ("Returns public styles or your own private styles"), a teammate's
shared style answers 404 there, while ``GET /styles`` lists it (``filter=shared``, ``ids=``) and generation takes it.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Literal

from starlette.requests import Request

from krea_mcp.fake_api._http import paginate
from krea_mcp.fake_api._state import iso, parse_iso

#: Who a style belongs to: Krea itself, a community member (public), the caller, a teammate (shared with the
#: workspace) or a stranger (private: nobody else may see or use it).
OwnerKind = Literal["krea", "community", "user", "teammate", "stranger"]
FILTERS = ("all", "user", "community", "krea", "shared", "unapproved", "editor", "gallery", "public")
_NAMESPACE = uuid.UUID("6f1c8a52-3d0e-4c7b-9a55-2b1e7d4f0c11")
_USER_NAME = "Sandbox User"
_PREVIEWS = 2


def style_uuid(seed: str) -> str:
    """A stable id for a seeded style or an owner (so ids survive restarts of the sandbox)."""
    return str(uuid.uuid5(_NAMESPACE, seed))


@dataclass(eq=False)
class FakeStyle:
    """One style (LoRA) in the emulator's library."""

    style_id: str
    title: str
    prompt: str
    models: list[str]
    kind: OwnerKind
    created: datetime
    public: bool = False
    owner_name: str = ""
    #: The token that trained it (user styles, when the emulator knows several users).
    owner_token: str = ""
    like_count: int = 0
    liked: bool = False
    shared: bool = False
    #: Preview image URLs (empty: the emulator serves generated previews under ``/_fake/styles/``).
    urls: list[str] = field(default_factory=list)
    #: The training job that made it, if any.
    job_id: str | None = None


# (title, suggested prompt, compatible models, owner kind, owner name, like count, liked by the caller)
_SEEDS: tuple[tuple[str, str, tuple[str, ...], OwnerKind, str, int, bool], ...] = (
    ("Krea Watercolor", "a harbour at dawn, soft watercolor washes", ("flux_dev",), "krea", "", 4210, True),
    ("Krea Film Noir", "a detective in a rainy alley, film noir", ("flux_dev", "wan"), "krea", "", 3120, False),
    ("Krea Claymation", "a claymation fox in a tiny workshop", ("flux_dev", "qwen"), "krea", "", 2890, False),
    ("Krea Isometric", "an isometric city block, vector shading", ("z-image", "flux_dev"), "krea", "", 1975, False),
    ("Risograph Print", "a risograph poster of mountains", ("flux_dev",), "community", "Ana Ruiz", 812, True),
    ("Neon Tokyo", "a neon-lit street at night", ("flux_dev", "wan", "wan22"), "community", "Kenji Mori", 640, False),
    ("Botanical Ink", "an ink drawing of a fern, cross-hatching", ("qwen",), "community", "Lea Fischer", 233, False),
    ("Pixel Quest", "a 16-bit pixel art castle on a hill", ("z-image",), "community", "Sam Okafor", 97, False),
    ("Our Brand Look", "brandlook product shot, pastel background", ("flux_dev",), "user", _USER_NAME, 0, False),
    ("My Sketchbook", "sketchbk pencil sketch of a cat", ("flux_dev", "flux_schnell"), "user", _USER_NAME, 0, False),
    ("Team Mascot", "teammascot waving, flat colours", ("flux_dev",), "teammate", "Jo Teammate", 3, False),
    ("Private Experiment", "prvexp abstract shapes", ("flux_dev",), "stranger", "Someone Else", 0, False),
)


def seeded_styles(origin: datetime, first_user: str) -> list[FakeStyle]:
    """The library the emulator starts with, oldest first, each created an hour apart before ``origin``."""
    out = []
    for i, (title, prompt, models, kind, owner, likes, liked) in enumerate(_SEEDS):
        style = FakeStyle(
            style_id=style_uuid(f"style:{title}"),
            title=title,
            prompt=prompt,
            models=list(models),
            kind=kind,
            created=origin - timedelta(hours=len(_SEEDS) - i),
            public=kind in ("krea", "community"),
            owner_name=owner,
            owner_token=first_user if kind == "user" else "",
            like_count=likes,
            liked=liked,
            shared=kind == "teammate",
        )
        out.append(style)
    return out


def trained_style(job_id: str, body: dict[str, Any], created: datetime, owner_token: str) -> FakeStyle:
    """The style a completed training job leaves in its owner's library (private, previews = training images)."""
    name = str(body.get("name") or "Untitled style")
    trigger = body.get("trigger_word")
    urls = [u for u in body.get("urls", []) if isinstance(u, str)][:4]
    return FakeStyle(
        style_id=style_uuid(f"trained:{job_id}"),
        title=name,
        prompt=f"{trigger} {name}".strip() if isinstance(trigger, str) else name,
        models=[str(body.get("model") or "flux_dev")],
        kind="user",
        created=created,
        owner_name=_USER_NAME,
        owner_token=owner_token,
        urls=urls,
        job_id=job_id,
    )


class StyleLibrary:
    """Every style the emulator knows, with the visibility rules and the ``GET /styles`` filters."""

    def __init__(self, styles: Iterable[FakeStyle], *, multi_user: bool, base_url: str) -> None:
        self.styles: dict[str, FakeStyle] = {s.style_id: s for s in styles}
        self.multi_user = multi_user
        self.base_url = base_url

    def add(self, style: FakeStyle) -> None:
        self.styles[style.style_id] = style

    def mine(self, style: FakeStyle, caller: str) -> bool:
        """Whether ``caller`` (a bearer token) owns the style."""
        return style.kind == "user" and (not self.multi_user or style.owner_token == caller)

    def usable(self, style: FakeStyle, caller: str) -> bool:
        """Public, the caller's own, or shared with the caller's workspace."""
        return style.public or self.mine(style, caller) or (style.shared and style.kind != "stranger")

    def visible(self, style_id: str, caller: str) -> FakeStyle | None:
        """The style, if it exists and the caller may see and use it (listings, generation bodies)."""
        style = self.styles.get(style_id)
        return style if style is not None and self.usable(style, caller) else None

    def readable(self, style_id: str, caller: str) -> FakeStyle | None:
        """The style ``GET /styles/{id}`` shows the caller: a public one or the caller's own (not a shared one)."""
        style = self.styles.get(style_id)
        return style if style is not None and (style.public or self.mine(style, caller)) else None

    def owner_id(self, style: FakeStyle) -> str | None:
        if style.kind == "krea":
            return None
        if style.kind == "user":
            return style_uuid(f"user:{style.owner_token}")
        return style_uuid(f"owner:{style.owner_name}")

    def to_json(self, style: FakeStyle) -> dict[str, Any]:
        """A style as ``GET /styles`` and ``GET /styles/{id}`` show it."""
        urls = style.urls or [f"{self.base_url}/_fake/styles/{style.style_id}/{i}.png" for i in range(_PREVIEWS)]
        owner_id = self.owner_id(style)
        owner = None if owner_id is None else {"id": owner_id, "name": style.owner_name, "avatar_url": None}
        return {
            "id": style.style_id,
            "title": style.title,
            "urls": urls,
            "public": style.public,
            "cover_url": urls[0] if urls else None,
            "prompt": style.prompt,
            "models": list(style.models),
            "owner": owner,
            "like_count": style.like_count,
            "created_at": iso(style.created),
        }

    def _matches(self, style: FakeStyle, kind: str, caller: str) -> bool:
        if not self.usable(style, caller):
            return False
        mine = self.mine(style, caller)
        return {
            "all": True,
            "user": mine,
            "community": style.public and style.kind == "community",
            "krea": style.kind == "krea",
            "editor": style.kind == "krea",
            "shared": style.shared and not mine,
            "unapproved": False,  # the sandbox approves every style at once
            "gallery": style.public,
            "public": style.public,
        }[kind]

    def query(self, request: Request, caller: str) -> dict[str, Any] | None:
        """The ``GET /styles`` answer for this request, or None if its query is invalid."""
        params = request.query_params
        kind = params.get("filter", "all")
        liked = params.get("liked", "false").lower()
        raw_limit, raw_cursor = params.get("limit", "100"), params.get("cursor")
        if kind not in FILTERS or liked not in ("true", "false") or not raw_limit.strip().isdigit():
            return None
        limit = int(raw_limit)
        cursor = parse_iso(raw_cursor) if raw_cursor else None
        if not 1 <= limit <= 1000 or (raw_cursor and cursor is None):
            return None
        ids = {i.strip() for i in params.get("ids", "").split(",") if i.strip()}
        model, user = params.get("model"), params.get("user")
        checks: list[Callable[[FakeStyle], bool]] = [lambda s: self._matches(s, kind, caller)]
        if liked == "true":
            checks.append(lambda s: s.liked)
        if ids:
            checks.append(lambda s: s.style_id in ids)
        if model:
            checks.append(lambda s: model in s.models)
        if user:
            checks.append(lambda s: self.owner_id(s) == user)
        found = [s for s in self.styles.values() if all(check(s) for check in checks)]
        page, next_cursor = paginate(found, limit, cursor)
        return {"items": [self.to_json(s) for s in page], "next_cursor": next_cursor}

    def body_error(self, body: dict[str, Any], caller: str) -> str | None:
        """None if every style a generation body applies exists and the caller may use it, else the first bad id."""
        entries = body.get("styles")
        for entry in entries if isinstance(entries, list) else []:
            style_id = entry.get("id") if isinstance(entry, dict) else None
            if isinstance(style_id, str) and self.visible(style_id, caller) is None:
                return f"Style not found or not accessible: {style_id}"
        return None
