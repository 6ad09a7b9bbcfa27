"""Trained styles (LoRAs) as this server sees them: looked up on Krea and remembered per caller, checked against
the image model before a generation is sent, listed with a bounded title search, and explained once trained.

* **Checked before anything is spent.** Every style of a generation is looked up (``GET /styles/{id}``, several at
  once). That answers only for public styles and the caller's own (Krea's spec): on a 404 the style is looked for
  in the listing (``GET /styles?ids=``, shared then all), where a teammate's style shared with the workspace shows.
  One still unknown (or someone else's private style), one trained on a base the model does not take, or a style of
  Krea's video models sent to an image model, is refused before the spend guard reserves, before any upload and
  before the POST. A style whose bases Krea does not name is sent, and the result says its fit was not checked.
* **Remembered per caller.** A style found stays known for ``LOOKUP_TTL_S`` to the same caller (the key holds the
  caller's token hash), so a second generation with it asks Krea nothing; at most ``MAX_CACHED`` are kept. Krea
  refusing a remembered style (400, e.g. it was deleted or unshared since) drops it (``refused``).
* **Bounded search.** Krea has no text search: a title is matched here over at most ``SEARCH_PAGES`` pages of
  ``SEARCH_PAGE`` styles per call and within the call's deadline (KREA_WAIT_S), and the page says where it stopped.
  The cursor holds the filter, model and title it was given for, and is refused with others.
"""

from __future__ import annotations

import base64
import binascii
import json
import logging
import math
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import anyio

from krea_mcp.catalog.training_params import (
    ALIAS_OF_BASE,
    IMAGE_MODEL_OF_BASE,
    STYLE_ID,
    TRAIN_OPERATION,
    VIDEO_MODELS_OF_BASE,
    base_of,
    styled_models,
    trained_style_id,
    training_bases,
)
from krea_mcp.errors import (
    BadRequestError,
    InvalidRequestError,
    KreaAPIError,
    KreaConnectionError,
    KreaError,
    NotFoundError,
    ServerError,
)
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
#: The longest a finished training job's result waits for its style's details before answering without them (less
#: when less is left of the call's deadline).
TRAINED_LOOKUP_S = 5.0
#: Style lookups of one generation made at once.
LOOKUPS_AT_ONCE = 4
#: What ``list_styles``' filters mean in Krea's ``GET /styles`` query.
FILTERS: dict[str, dict[str, Any]] = {
    "all": {"filter": "all"},
    "mine": {"filter": "user"},
    "krea": {"filter": "krea"},
    "community": {"filter": "community"},
    "shared": {"filter": "shared"},
    "liked": {"filter": "all", "liked": True},
}
#: Krea's listing filters a style unknown to ``GET /styles/{id}`` is looked for in: shared with the workspace first.
_LISTED_IN = ("shared", "all")
_STYLE_ID = STYLE_ID
_BAD_CURSOR = "cursor: not a cursor list_styles gave; pass next_cursor from its previous result, or leave it out."


@dataclass(frozen=True, slots=True)
class Style:
    """One style as Krea describes it, cut to what this server shows (bounded lengths)."""

    id: str
    title: str
    #: The bases it was trained on (``flux_dev``, ``qwen``, ...): the image models it fits. Empty when Krea's answer
    #: names none (``models`` is not a required field): its fit is then unknown.
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
            models=tuple(m for m in (_text(m, 40) for m in models[:16] if isinstance(m, str)) if m)
            if isinstance(models, list)
            else (),
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
    #: About the model filter, when it is not applied as asked; or about a cursor that no longer points anywhere.
    note: str | None = None
    #: The title search stopped at the call's deadline (these seconds) before Krea's list ended.
    stopped_s: float | None = None


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
        """The style, if the caller may use it: remembered, else ``GET /styles/{id}``, else (404: that answers only
        for public styles and the caller's own) the listing, where styles shared with the workspace show.
        InvalidRequestError if it is in neither."""
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
            raw: dict[str, Any] | None = await self._client.get_style(style_id)
        except NotFoundError:
            raw = await self._listed(style_id)
        style = Style.parse(raw) if raw is not None else None
        if raw is not None and (style is None or style.id != style_id):
            raise ServerError(
                f"Krea's answer for style {style_id!r} is not that style (its id is {str(raw.get('id'))[:100]!r}).",
                status_code=200,
            )
        if style is None:
            raise InvalidRequestError(
                f"styles: no style {style_id!r} you can use (not found, or private to someone else); "
                'list_styles shows yours (filter="mine"), those shared with you (filter="shared") and every one you '
                "may use.",
                field="styles",
            )
        self._remember(style)
        return style

    async def _listed(self, style_id: str) -> dict[str, Any] | None:
        """The style as Krea's listing shows it to the caller (``ids=``), or None when it is not there."""
        for krea_filter in _LISTED_IN:
            items, _ = await self._client.list_styles(filter=krea_filter, ids=style_id, limit=10)
            found = next((item for item in items if item.get("id") == style_id), None)
            if found is not None:
                return found
        return None

    def _remember(self, style: Style) -> None:
        key = (caller_key(), style.id)
        self._known[key] = (self._clock() + self._ttl_s, style)
        self._known.move_to_end(key)
        while len(self._known) > self._max:
            self._known.popitem(last=False)

    def forget(self, style_id: str) -> Style | None:
        """Drop a style from what the current caller is remembered to use; the style it was, if it was known."""
        known = self._known.pop((caller_key(), style_id), None)
        return known[1] if known is not None else None

    async def check(self, operation: Operation, entries: list[dict[str, Any]], *, deadline: float) -> str:
        """Refuse styles the caller may not use or that do not fit ``operation``; else say which are applied.

        ``deadline`` (anyio time) bounds the lookups (several at once); nothing has been started or reserved when
        this raises.
        """
        ids = [str(entry.get("id")) for entry in entries]
        for index, style_id in enumerate(ids):
            if style_id in ids[:index]:
                first = ids.index(style_id)
                raise InvalidRequestError(
                    f"styles[{index}].id={style_id!r} is already styles[{first}].id: give each style once, with the "
                    "strength you want for it.",
                    field="styles",
                )
        found: list[Style | KreaError | None] = [None] * len(ids)
        limiter = anyio.CapacityLimiter(LOOKUPS_AT_ONCE)

        async def look_up(index: int) -> None:
            async with limiter:
                try:
                    found[index] = await self.get(ids[index])
                except KreaError as exc:
                    found[index] = exc

        try:
            with anyio.fail_after(max(0.0, deadline - anyio.current_time())):
                async with anyio.create_task_group() as group:
                    for index in range(len(ids)):
                        group.start_soon(look_up, index)
        except TimeoutError:
            raise KreaConnectionError(
                "styles: Krea did not answer the style lookups in time, so no job was started and nothing was "
                "charged. Try again shortly.",
                sent=True,
            ) from None
        for item in found:  # the first failure in the order the styles were given
            if isinstance(item, InvalidRequestError):
                raise item
            if isinstance(item, KreaError):
                raise _before_any_job(item) from item
        chosen = [
            (s, entry.get("strength", 1.0)) for s, entry in zip(found, entries, strict=True) if isinstance(s, Style)
        ]
        base = base_of(operation.id)
        unnamed: list[Style] = []
        for style, _ in chosen:
            if not style.models:  # Krea names no base: the fit cannot be told, so the style is sent and it is said
                unnamed.append(style)
            elif base is not None and base not in style.models:
                raise InvalidRequestError(_misfit(style, operation.id, base), field="styles")
            elif base is None and all(b in VIDEO_MODELS_OF_BASE for b in style.models):
                raise InvalidRequestError(_video_only(style, operation.id), field="styles")
        applied = ", ".join(f"{s.title} (id {s.id}, strength {_num(strength)})" for s, strength in chosen)
        # Krea documents which style bases Flux dev, Qwen and Z-Image take, but not those of GPT Image or Krea 2:
        # refusing every style there would block what may work, so they are sent and the fit is left to Krea.
        if base is None:
            unchecked = f" Krea documents no style base for {operation.id}, so their fit was not checked."
        elif unnamed:
            which = ", ".join(f"{s.title} (id {s.id})" for s in unnamed)
            unchecked = (
                f" Krea names no base for {which}, so whether it fits {operation.id} ({base} styles) was not checked;"
                " if the image shows no trace of it, it may be for another base."
            )
        else:
            unchecked = ""
        return f"Styles applied: {applied}.{unchecked}"

    def refused(self, exc: KreaAPIError, entries: list[dict[str, Any]]) -> KreaError:
        """Krea refused a create that carried ``entries`` (400, e.g. "Style not found or not accessible: <id>"):
        the styles it names (else all of them) are forgotten, so the next call looks them up again, and the error
        says which style, that nothing was charged, and where to find the styles the caller may use now."""
        ids = list(dict.fromkeys(str(entry.get("id")) for entry in entries))
        named = [style_id for style_id in ids if style_id in str(exc)] or ids
        forgotten = {style_id: self.forget(style_id) for style_id in named}
        which = ", ".join(f"{s.title!r} ({i})" if s is not None else repr(i) for i, s in forgotten.items())
        plural = "s" if len(forgotten) > 1 else ""
        return BadRequestError(
            f"styles: Krea refused style{plural} {which}: {exc} It may have been deleted, made private or no longer "
            "shared since it was looked up. No job was started and nothing was charged. list_styles shows the styles "
            "you may use now: pass one of those in styles, or leave styles out.",
            status_code=exc.status_code,
            body=exc.body,
        )

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
        self,
        *,
        filter: str,
        model: str | None,
        title: str | None,
        limit: int,
        cursor: str | None,
        deadline_s: float | None = None,
    ) -> StylePage:
        """One page of the styles the caller may use: Krea's filters, then (client-side) the title substring.

        The whole call ends within ``deadline_s`` (KREA_WAIT_S): a title search that has read a page by then stops
        there and its cursor goes on from the page it was reading; one that has read nothing fails clearly.
        """
        base, note = self.model_filter(model)
        query = {**FILTERS[filter], "model": base}
        needle = title.strip().casefold() if title and title.strip() else None
        scope = [filter, model.strip().lower() if model and model.strip() else None, needle]
        krea_cursor, skip = _position(cursor, scope) if cursor else (None, 0)
        found: list[Style] = []
        page = StylePage(found, None, note=note)
        limit_s = deadline_s if deadline_s is not None else math.inf
        deadline = anyio.current_time() + limit_s
        pages = 0
        while True:
            size = SEARCH_PAGE if needle else min(SEARCH_PAGE, skip + limit)
            answer: tuple[list[dict[str, Any]], str | None] | None = None
            with anyio.move_on_after(max(0.0, deadline - anyio.current_time())):
                answer = await self._list(query, size, krea_cursor)
            if answer is None:  # the call's deadline passed while Krea was asked
                if pages == 0:
                    raise KreaConnectionError(
                        f"list_styles: Krea did not answer within the {limit_s:g} s this call may take "
                        "(KREA_WAIT_S). Nothing changed; try again shortly.",
                        sent=True,
                    )
                page.next_cursor, page.stopped_s = _cursor(krea_cursor, skip, scope), limit_s
                return page
            items, krea_next = answer
            pages += 1
            if skip and skip >= len(items):  # the page is shorter than when the cursor was given
                if krea_next is None:
                    page.note = _joined(
                        page.note,
                        "The cursor points past the end of the list (styles were removed since it was given): "
                        "nothing more to show. Leave cursor out to list from the start.",
                    )
                    return page
                krea_cursor, skip = krea_next, 0
                continue
            for index in range(skip, len(items)):
                page.searched += 1 if needle else 0
                style = Style.parse(items[index])
                if style is None or (needle is not None and needle not in style.title.casefold()):
                    continue
                found.append(style)
                self._remember(style)  # listed to this caller: usable by it, no lookup needed to apply it
                if len(found) == limit:  # continue after this style: later in this page, or on the next one
                    rest = _cursor(krea_cursor, index + 1, scope) if index + 1 < len(items) else None
                    page.next_cursor = rest or (_cursor(krea_next, 0, scope) if krea_next else None)
                    return page
            skip = 0
            if krea_next is None:
                return page
            if not needle or pages >= SEARCH_PAGES:
                page.next_cursor, page.bounded = _cursor(krea_next, 0, scope), needle is not None
                return page
            krea_cursor = krea_next

    async def _list(
        self, query: dict[str, Any], size: int, krea_cursor: str | None
    ) -> tuple[list[dict[str, Any]], str | None]:
        """One page of Krea's listing; a position Krea refuses (400) is the cursor's fault, said as such."""
        try:
            return await self._client.list_styles(**query, limit=size, cursor=krea_cursor)
        except BadRequestError:
            if krea_cursor is None:
                raise
            raise InvalidRequestError(_BAD_CURSOR, field="cursor") from None

    async def trained_note(
        self, job: Job, *, deadline: float | None = None, generate_offered: bool = True
    ) -> str | None:
        """For a completed training job: how to use its style (None for any other job). Never fails the result.

        The style's details are looked up for at most ``TRAINED_LOOKUP_S``, and never past ``deadline`` (anyio time,
        the call's own): without them the note says what holds for any style.
        """
        style_id = trained_style_id(job.result) if job.status == "completed" else None
        if style_id is None:
            return None
        style: Style | None = None
        seconds = TRAINED_LOOKUP_S if deadline is None else min(TRAINED_LOOKUP_S, deadline - anyio.current_time())
        if seconds > 0:
            with anyio.move_on_after(seconds):
                try:
                    style = await self.get(style_id)
                except KreaError as exc:  # the note falls back to what holds for any style
                    log.info("could not look up trained style %s: %s", style_id, exc)
        return usage_note(style_id, style, generate_offered=generate_offered)


def usage_note(style_id: str, style: Style | None, *, generate_offered: bool = True) -> str:
    """How to apply a just-trained style: the image model of its base, its trigger word (from Krea's prompt).

    ``generate_offered``: whether this server offers generate_image (KREA_TOOLS); when not, the note says so.
    """
    styles = f'styles=[{{"id": "{style_id}", "strength": 1.0}}]'
    needs = (
        ""
        if generate_offered
        else " generate_image is in the generate tool group, which this server does not offer: add generate to "
        "KREA_TOOLS to use it here."
    )
    if style is None or not style.models:
        unknown = "" if style is None else " (Krea names no base for it)"
        return (
            f'Use it: generate_image(prompt="<trigger word> ...", model="flux" for a flux_dev style ("qwen", '
            f'"z-image" for those), {styles}); list_styles(filter="mine") shows its base{unknown}.{needs}'
        )
    for base in style.models:
        if base in ALIAS_OF_BASE:
            hint = json.dumps(f"{style.prompt[:60]} ..." if style.prompt else "<trigger word> ...", ensure_ascii=False)
            return f'Use it: generate_image(prompt={hint}, model="{ALIAS_OF_BASE[base]}", {styles}).{needs}'
    video = [b for b in style.models if b in VIDEO_MODELS_OF_BASE]
    if video:
        return (
            f"{style.title!r} is a {video[0]} style, for Krea's video model {VIDEO_MODELS_OF_BASE[video[0]]}, which "
            "this server does not run; generate_image cannot apply it."
        )
    return f"{style.title!r} is for {', '.join(style.models)}; no image model Krea documents takes it."


def _misfit(style: Style, model_id: str, base: str) -> str:
    """Why a style does not fit the model, where it fits instead, and what to pick for this model."""
    bases = ", ".join(style.models)
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


def _video_only(style: Style, model_id: str) -> str:
    """Why a style of Krea's video bases only is refused on an image model whose own base Krea does not document."""
    video = ", ".join(VIDEO_MODELS_OF_BASE[b] for b in style.models)
    image = ", ".join(f'"{alias}"' for alias in ALIAS_OF_BASE.values())
    return (
        f"styles: style {style.title!r} ({style.id}) was trained for {', '.join(style.models)}, the bases of Krea's "
        f"video models ({video}), which this server does not run; model {model_id} makes images. Pick an image "
        f'style: list_styles(model="{model_id}") lists them, or use a model of its own base ({image}).'
    )


def _before_any_job(exc: KreaError) -> KreaError:
    """A failed lookup, said as what it is: nothing was started."""
    message = f"styles: looking up the styles failed, so no job was started and nothing was charged. {exc}"
    if isinstance(exc, KreaAPIError):
        return KreaAPIError(message, status_code=exc.status_code, body=exc.body)
    return KreaConnectionError(message, sent=getattr(exc, "sent", True))


def _cursor(krea_cursor: str | None, skip: int, scope: list[str | None]) -> str:
    """list_styles' own cursor: Krea's page cursor, how many styles of that page were already shown, and the filter,
    model and title of the listing it continues."""
    return base64.urlsafe_b64encode(json.dumps([krea_cursor, skip, *scope]).encode()).decode().rstrip("=")


#: The arguments a cursor is bound to, in its order.
_SCOPE = ("filter", "model", "title")


def _position(cursor: str, scope: list[str | None]) -> tuple[str | None, int]:
    """Where ``cursor`` resumes: Krea's cursor and how many styles of its page to skip. Refused if it is not one
    list_styles gave, or if it continues a listing of another filter, model or title (saying which)."""
    try:
        decoded = json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
    except (ValueError, TypeError, binascii.Error):
        decoded = None
    if not isinstance(decoded, list) or len(decoded) != 2 + len(_SCOPE):
        raise InvalidRequestError(_BAD_CURSOR, field="cursor")
    krea_cursor, skip, *given = decoded
    if (
        not (krea_cursor is None or (isinstance(krea_cursor, str) and krea_cursor))
        or not isinstance(skip, int)
        or isinstance(skip, bool)
        or not 0 <= skip < SEARCH_PAGE
        or not all(value is None or isinstance(value, str) for value in given)
    ):
        raise InvalidRequestError(_BAD_CURSOR, field="cursor")
    differ = [i for i, (was, now) in enumerate(zip(given, scope, strict=True)) if was != now]
    if differ:
        was = ", ".join(_said(_SCOPE[i], given[i]) for i in differ)
        now = ", ".join(_said(_SCOPE[i], scope[i]) for i in differ)
        raise InvalidRequestError(
            f"cursor: it continues a listing with {was}, but this call has {now}. Pass the same filter, model and "
            "title with the cursor, or leave cursor out to start a new listing.",
            field="cursor",
        )
    return krea_cursor, skip


def _said(name: str, value: str | None) -> str:
    return f"{name}={value!r}" if value is not None else f"no {name}"


def _joined(*notes: str | None) -> str | None:
    return " ".join(n for n in notes if n) or None


def _text(value: Any, limit: int) -> str:
    return value.strip()[:limit] if isinstance(value, str) else ""


def _num(value: Any) -> str:
    return f"{value:g}" if isinstance(value, int | float) else str(value)
