"""Trained styles (LoRAs) as this server sees them: looked up on Krea and remembered per caller, checked against
the image model before a generation is sent, listed with a bounded title search, and explained once trained.

* **Checked before anything is spent.** Every style of a generation is looked up (``GET /styles/{id}``): one the
  caller may not use (unknown, or someone else's private style: Krea answers 404 for both) or one trained on a base
  the model does not take is refused before the spend guard reserves, before any upload and before the POST.
* **Remembered per caller.** A style found stays known for ``LOOKUP_TTL_S`` to the same caller (the key holds the
  caller's token hash), so a second generation with it asks Krea nothing; at most ``MAX_CACHED`` are kept.
* **Bounded search.** Krea has no text search: a title is matched here over at most ``SEARCH_PAGES`` pages of
  ``SEARCH_PAGE`` styles per call, and the page says where it stopped.
"""

from __future__ import annotations

import base64
import binascii
import json
import logging
import re
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import anyio

from krea_mcp.catalog.training_params import (
    ALIAS_OF_BASE,
    IMAGE_MODEL_OF_BASE,
    TRAIN_OPERATION,
    VIDEO_MODELS_OF_BASE,
    base_of,
    styled_models,
    trained_style_id,
    training_bases,
)
from krea_mcp.errors import InvalidRequestError, KreaAPIError, KreaConnectionError, KreaError, NotFoundError
from krea_mcp.krea.caller import caller_key

if TYPE_CHECKING:
    from krea_mcp.catalog.models import Catalog, Operation
    from krea_mcp.job import Job
    from krea_mcp.krea.client import KreaClient

log = logging.getLogger(__name__)

#: How long a style looked up stays known without asking Krea again.
LOOKUP_TTL_S = 600.0
#: Styles remembered at most, all callers together (the least recently used go first).
MAX_CACHED = 512
#: A title search reads at most this many pages of this many styles per call.
SEARCH_PAGE, SEARCH_PAGES = 100, 5
#: How long a finished training job's result waits for its style's details before answering without them.
TRAINED_LOOKUP_S = 5.0
#: What ``list_styles``' filters mean in Krea's ``GET /styles`` query.
FILTERS: dict[str, dict[str, Any]] = {
    "all": {"filter": "all"},
    "mine": {"filter": "user"},
    "krea": {"filter": "krea"},
    "community": {"filter": "community"},
    "shared": {"filter": "shared"},
    "liked": {"filter": "all", "liked": True},
}
_STYLE_ID = re.compile(r"^[A-Za-z0-9_-]{1,100}$")


@dataclass(frozen=True, slots=True)
class Style:
    """One style as Krea describes it, cut to what this server shows (bounded lengths)."""

    id: str
    title: str
    #: The bases it was trained on (``flux_dev``, ``qwen``, ...): the image models it fits.
    models: tuple[str, ...]
    #: Krea's suggested prompt (it usually starts with the trigger word).
    prompt: str
    #: The owner's name; None for Krea's own styles.
    owner: str | None
    public: bool

    @classmethod
    def parse(cls, raw: dict[str, Any]) -> Style | None:
        """The style in one of Krea's answers, or None if it has no usable id."""
        style_id = raw.get("id")
        if not isinstance(style_id, str) or not _STYLE_ID.match(style_id):
            return None
        owner = raw.get("owner")
        name = owner.get("name") if isinstance(owner, dict) else None
        models = raw.get("models")
        return cls(
            id=style_id,
            title=_text(raw.get("title"), 120) or "(untitled)",
            models=tuple(_text(m, 40) for m in models[:16] if isinstance(m, str)) if isinstance(models, list) else (),
            prompt=_text(raw.get("prompt"), 1000),
            owner=None if owner is None else (_text(name, 80) or "someone"),
            public=raw.get("public") is True,
        )

    @property
    def owner_label(self) -> str:
        """Krea, or the owner's name (marked when the style is not public: the caller's own, or shared with them)."""
        if self.owner is None:
            return "Krea"
        return self.owner if self.public else f"{self.owner}, not public"


@dataclass(slots=True)
class StylePage:
    """One ``list_styles`` answer."""

    styles: list[Style]
    #: Pass back as ``cursor`` to continue; None at the end.
    next_cursor: str | None
    #: Styles the title search looked at (0 without a title).
    searched: int = 0
    #: The title search stopped at its page bound before Krea's list ended.
    bounded: bool = False
    #: About the model filter, when it is not applied as asked.
    note: str | None = None


class StyleBook:
    """Styles looked up on Krea for the current caller, remembered for a while; one per server lifetime."""

    def __init__(
        self,
        client: KreaClient,
        catalog: Catalog,
        *,
        ttl_s: float = LOOKUP_TTL_S,
        max_cached: int = MAX_CACHED,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._client, self._catalog = client, catalog
        self._ttl_s, self._max, self._clock = ttl_s, max_cached, clock
        self._known: OrderedDict[tuple[str, str], tuple[float, Style]] = OrderedDict()

    async def get(self, style_id: str) -> Style:
        """The style, if the caller may use it: remembered, else ``GET /styles/{id}``. InvalidRequestError if not."""
        if not _STYLE_ID.match(style_id):
            raise InvalidRequestError(
                f"styles: {style_id!r} is not a style id (letters, digits, '-' and '_'); list_styles shows them.",
                field="styles",
            )
        key = (caller_key(), style_id)
        known = self._known.get(key)
        if known is not None and known[0] > self._clock():
            self._known.move_to_end(key)
            return known[1]
        try:
            style = Style.parse(await self._client.get_style(style_id))
        except NotFoundError:
            style = None
        if style is None:
            raise InvalidRequestError(
                f"styles: no style {style_id!r} you can use (not found, or private to someone else); "
                'list_styles shows yours (filter="mine") and every one you may use.',
                field="styles",
            )
        self._remember(style)
        return style

    def _remember(self, style: Style) -> None:
        key = (caller_key(), style.id)
        self._known[key] = (self._clock() + self._ttl_s, style)
        self._known.move_to_end(key)
        while len(self._known) > self._max:
            self._known.popitem(last=False)

    async def check(self, operation: Operation, entries: list[dict[str, Any]], *, deadline: float) -> str:
        """Refuse styles the caller may not use or that do not fit ``operation``; else say which are applied.

        ``deadline`` (anyio time) bounds the lookups; nothing has been started or reserved when this raises.
        """
        chosen: list[tuple[Style, Any]] = []
        try:
            with anyio.fail_after(max(0.0, deadline - anyio.current_time())):
                for entry in entries:
                    chosen.append((await self.get(str(entry.get("id"))), entry.get("strength", 1.0)))
        except TimeoutError:
            raise KreaConnectionError(
                "styles: Krea did not answer the style lookups in time, so no job was started and nothing was "
                "charged. Try again shortly.",
                sent=True,
            ) from None
        except InvalidRequestError:
            raise
        except KreaError as exc:
            raise _before_any_job(exc) from exc
        base = base_of(operation.id)
        for style, _ in chosen:
            if base is not None and base not in style.models:
                raise InvalidRequestError(_misfit(style, operation.id, base), field="styles")
        applied = ", ".join(f"{s.title} (id {s.id}, strength {_num(strength)})" for s, strength in chosen)
        # Krea documents which style bases Flux dev, Qwen and Z-Image take, but not those of GPT Image or Krea 2:
        # refusing every style there would block what may work, so they are sent and the fit is left to Krea.
        unchecked = "" if base else f" Krea documents no style base for {operation.id}, so their fit was not checked."
        return f"Styles applied: {applied}.{unchecked}"

    def model_filter(self, model: str | None) -> tuple[str | None, str | None]:
        """Krea's ``model`` filter for a base or an image model (mapped to its base), and a note when none applies."""
        if model is None or not model.strip():
            return None, None
        bases = training_bases(self._catalog.find(TRAIN_OPERATION, "style-training"))
        key = model.strip().lower()
        if key in bases:
            return key, None
        try:
            info = self._catalog.find(model)
        except InvalidRequestError:
            raise InvalidRequestError(
                f"model={model!r} is neither a style base ({', '.join(bases)}) nor an image model; image models "
                f"that take styles: {', '.join(styled_models(self._catalog))}.",
                field="model",
            ) from None
        if "styles" not in info.properties:
            raise InvalidRequestError(
                f"model: {info.id} takes no styles; image models that do: {', '.join(styled_models(self._catalog))}.",
                field="model",
            )
        base = base_of(info.id)
        if base is None:
            return None, f"Krea documents no style base for {info.id}: styles of every base are listed."
        return base, None

    async def page(
        self, *, filter: str, model: str | None, title: str | None, limit: int, cursor: str | None
    ) -> StylePage:
        """One page of the styles the caller may use: Krea's filters, then (client-side) the title substring."""
        base, note = self.model_filter(model)
        query = {**FILTERS[filter], "model": base}
        krea_cursor, skip = _position(cursor) if cursor else (None, 0)
        needle = title.strip().casefold() if title and title.strip() else None
        found: list[Style] = []
        page = StylePage(found, None, note=note)
        pages = 0
        while True:
            size = SEARCH_PAGE if needle else min(SEARCH_PAGE, skip + limit)
            items, krea_next = await self._client.list_styles(**query, limit=size, cursor=krea_cursor)
            pages += 1
            for index in range(skip, len(items)):
                page.searched += 1 if needle else 0
                style = Style.parse(items[index])
                if style is None or (needle is not None and needle not in style.title.casefold()):
                    continue
                found.append(style)
                self._remember(style)  # listed to this caller: usable by it, no lookup needed to apply it
                if len(found) == limit:  # continue after this style: later in this page, or on the next one
                    rest = _cursor(krea_cursor, index + 1) if index + 1 < len(items) else None
                    page.next_cursor = rest or (_cursor(krea_next, 0) if krea_next else None)
                    return page
            skip = 0
            if krea_next is None:
                return page
            if not needle or pages >= SEARCH_PAGES:
                page.next_cursor, page.bounded = _cursor(krea_next, 0), needle is not None
                return page
            krea_cursor = krea_next

    async def trained_note(self, job: Job) -> str | None:
        """For a completed training job: how to use its style (None for any other job). Never fails the result."""
        style_id = trained_style_id(job.result) if job.status == "completed" else None
        if style_id is None:
            return None
        style: Style | None = None
        with anyio.move_on_after(TRAINED_LOOKUP_S):
            try:
                style = await self.get(style_id)
            except KreaError as exc:  # the note falls back to what holds for any style
                log.info("could not look up trained style %s: %s", style_id, exc)
        return usage_note(style_id, style)


def usage_note(style_id: str, style: Style | None) -> str:
    """How to apply a just-trained style: the image model of its base, its trigger word (from Krea's prompt)."""
    styles = f'styles=[{{"id": "{style_id}", "strength": 1.0}}]'
    if style is None:
        return (
            f'Use it: generate_image(prompt="<trigger word> ...", model="flux" for a flux_dev style ("qwen", '
            f'"z-image" for those), {styles}); list_styles(filter="mine") shows its base.'
        )
    for base in style.models:
        if base in ALIAS_OF_BASE:
            hint = json.dumps(f"{style.prompt[:60]} ..." if style.prompt else "<trigger word> ...", ensure_ascii=False)
            return f'Use it: generate_image(prompt={hint}, model="{ALIAS_OF_BASE[base]}", {styles}).'
    video = [b for b in style.models if b in VIDEO_MODELS_OF_BASE]
    if video:
        return (
            f"{style.title!r} is a {video[0]} style, for Krea's video model {VIDEO_MODELS_OF_BASE[video[0]]}, which "
            "this server does not run; generate_image cannot apply it."
        )
    bases = ", ".join(style.models) or "no base Krea names"
    return f"{style.title!r} is for {bases}; no image model Krea documents takes it."


def _misfit(style: Style, model_id: str, base: str) -> str:
    """Why a style does not fit the model, where it fits instead, and what to pick for this model."""
    bases = ", ".join(style.models) or "no base Krea names"
    fits = [f"{IMAGE_MODEL_OF_BASE[b]} ({ALIAS_OF_BASE[b]})" for b in style.models if b in IMAGE_MODEL_OF_BASE]
    video = [VIDEO_MODELS_OF_BASE[b] for b in style.models if b in VIDEO_MODELS_OF_BASE]
    if fits:
        where = f"Image models that take it: {', '.join(fits)}."
    elif video:
        where = f"It is for Krea's video models ({', '.join(video)}), which this server does not run."
    else:
        where = "No image model Krea documents takes it."
    return (
        f"styles: style {style.title!r} ({style.id}) was trained for {bases}; model {model_id} takes {base} styles. "
        f'{where} For {model_id}, pick a {base} style: list_styles(model="{base}").'
    )


def _before_any_job(exc: KreaError) -> KreaError:
    """A failed lookup, said as what it is: nothing was started."""
    message = f"styles: looking up the styles failed, so no job was started and nothing was charged. {exc}"
    if isinstance(exc, KreaAPIError):
        return KreaAPIError(message, status_code=exc.status_code, body=exc.body)
    return KreaConnectionError(message, sent=getattr(exc, "sent", True))


def _cursor(krea_cursor: str | None, skip: int) -> str:
    """list_styles' own cursor: Krea's page cursor and how many styles of that page were already shown."""
    return base64.urlsafe_b64encode(json.dumps([krea_cursor, skip]).encode()).decode().rstrip("=")


def _position(cursor: str) -> tuple[str | None, int]:
    try:
        krea_cursor, skip = json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
        if (krea_cursor is None or isinstance(krea_cursor, str)) and isinstance(skip, int) and 0 <= skip < SEARCH_PAGE:
            return krea_cursor, skip
    except (ValueError, TypeError, binascii.Error):
        pass
    raise InvalidRequestError(
        "cursor: not a cursor list_styles gave; pass next_cursor from its previous result, or leave it out.",
        field="cursor",
    )


def _text(value: Any, limit: int) -> str:
    return value.strip()[:limit] if isinstance(value, str) else ""


def _num(value: Any) -> str:
    return f"{value:g}" if isinstance(value, int | float) else str(value)
