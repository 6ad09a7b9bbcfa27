"""The style-training adapter (a train_style request as the body of ``POST /styles/train``), and style bases.

A style (LoRA) is trained on a *base* (Krea's ``model`` field of the training body: ``flux_dev``, ``qwen``, ...)
and fits the image models of that base only. Krea's schemas say which image models take ``styles``; which base
each of them takes is written here, from Krea's model pages: Flux dev takes ``flux_dev`` styles, Qwen ``qwen``,
Z-Image ``z-image``. For openai/gpt-image and Krea 2, which also take ``styles``, Krea documents no base: they are
sent any style the caller may use, and the result says the fit was not checked (see ``workflow.style_book``).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any, ClassVar

from krea_mcp.catalog.models import Catalog, Kind, Operation
from krea_mcp.errors import InvalidRequestError

if TYPE_CHECKING:
    from jsonschema.exceptions import ValidationError as SchemaError

    from krea_mcp.job import Job

#: The catalog id of the training operation (its POST path is ``/styles/train``).
TRAIN_OPERATION = "styles/train"
#: The image model each base's styles are applied with.
IMAGE_MODEL_OF_BASE = {"flux_dev": "bfl/flux-1-dev", "qwen": "qwen/2512", "z-image": "z-image/z-image"}
#: The short name generate_image knows each of those image models by.
ALIAS_OF_BASE = {"flux_dev": "flux", "qwen": "qwen", "z-image": "z-image"}
#: Bases of Krea's video models (styles for them exist; this server runs no video model).
VIDEO_MODELS_OF_BASE = {"wan": "alibaba/wan-2.1", "wan22": "alibaba/wan-2.2"}
#: Average compute units per training step by base, from the description of ``POST /styles/train`` in Krea's
#: OpenAPI (2026-05-25). The spend guard reserves the top of the range (``Operation.usd_per_step``) whatever the base.
CU_PER_STEP = {"qwen": 8.3, "wan22": 5.3, "flux_schnell": 3.4, "wan": 3.4, "flux_dev": 3.0, "z-image": 2.4}
#: Where train_style's arguments go in Krea's body (the rest keep their names).
_ARGUMENT_OF = {"urls": "images", "max_train_steps": "steps"}
#: What a style id looks like: the one form generate_image's ``styles`` takes, so a training's result is only
#: reported as usable, and a lookup only made, for an id that a generation would accept.
STYLE_ID = re.compile(r"^[A-Za-z0-9_-]{1,100}$")
#: The job ``type`` Krea gives style trainings (``GET /jobs/{id}``), which tells a training this server did not start.
TRAINING_JOB_TYPE = "loraTraining"
#: Where a training's note turns to what only matters while it runs (the estimate, how to wait): its lines start so.
_WHILE_RUNNING = "Estimated up to "


def base_of(model_id: str) -> str | None:
    """The style base an image model takes (None: it takes no styles, or Krea documents no base for it)."""
    return next((base for base, model in IMAGE_MODEL_OF_BASE.items() if model == model_id), None)


def styled_models(catalog: Catalog) -> list[str]:
    """Every image model whose schema takes ``styles``, each with its short alias when it has one."""
    return [
        f"{info.id} ({info.aliases[0]})" if info.aliases else info.id
        for info in catalog.models.values()
        if "styles" in info.properties
    ]


def training_bases(operation: Operation) -> list[str]:
    """The bases Krea trains on: the ``model`` values of every body the training schema allows, in order."""
    return [base for branch in _branches(operation) for base in branch["properties"]["model"]["enum"]]


def trained_style_id(result: dict[str, Any] | None) -> str | None:
    """The ``style_id`` a finished training job's result carries (None for any other result, or an unusable one:
    not a string, or not of the form generate_image's ``styles`` takes)."""
    style_id = (result or {}).get("style_id")
    return style_id if isinstance(style_id, str) and STYLE_ID.match(style_id) else None


def is_training(job: Job, model: str | None = None) -> bool:
    """Whether ``job`` is a style training: started here (``model`` is the training operation), or so by Krea's own
    words (its job ``type``, or a ``style_id`` key in its result), for jobs another process started."""
    kind = (job.model_extra or {}).get("type")
    return model == TRAIN_OPERATION or kind == TRAINING_JOB_TYPE or "style_id" in (job.result or {})


def unusable_style_id(result: dict[str, Any] | None) -> str:
    """What a completed training's result holds instead of a usable ``style_id``, in words (for its result)."""
    raw = (result or {}).get("style_id")
    if raw is None:
        return "no style_id at all"
    if not isinstance(raw, str):
        return f"a style_id that is not text ({type(raw).__name__})"
    shown = raw if len(raw) <= 40 else raw[:40] + "…"
    return f"style_id {shown!r}, which is not of a style id's form (1-100 letters, digits, '-', '_')"


@dataclass(frozen=True, slots=True)
class TrainParams:
    """What train_style asked for: a style trained on ``base`` from ``images`` (URLs once uploaded)."""

    name: str
    images: list[str] = field(default_factory=list)
    #: Krea's ``model`` field: the base the style is trained on (and then fits).
    base: str = "flux_dev"
    #: Style, Object, Character or Default (flux and wan bases only); None lets Krea choose.
    type: str | None = None
    trigger_word: str | None = None
    #: ``max_train_steps``; None lets Krea choose.
    steps: int | None = None

    kind: ClassVar[Kind] = "style-training"

    @property
    def model(self) -> str:
        return TRAIN_OPERATION

    @property
    def prompt(self) -> str:
        return self.name

    def references(self) -> dict[str, list[str]]:
        return {"images": self.images}

    def with_references(self, refs: dict[str, list[str]]) -> TrainParams:
        return replace(self, images=refs["images"])


def build_body(operation: Operation, request: TrainParams) -> dict[str, Any]:
    """The body for ``request``, checked against the one body variant its base selects (``oneOf`` in the schema).

    The generic check that follows would only say "not valid under any of the given schemas"; this one names
    train_style's own arguments (``steps``, not ``max_train_steps``) and what the chosen base allows.
    """
    if not request.name.strip():
        raise InvalidRequestError("name: the style needs a name (any text).", field="name")
    body: dict[str, Any] = {"name": request.name, "urls": list(request.images), "model": request.base}
    if request.type is not None:
        body["type"] = request.type
    if request.trigger_word:
        body["trigger_word"] = request.trigger_word
    if request.steps is not None:
        body["max_train_steps"] = request.steps
    branch = next((b for b in _branches(operation) if request.base in b["properties"]["model"]["enum"]), None)
    if branch is None:
        allowed = ", ".join(training_bases(operation))
        message = f"model={request.base!r} is not a base Krea trains; allowed: {allowed}."
        raise InvalidRequestError(message, field="model")
    from jsonschema import Draft202012Validator  # deferred: not needed to list tools

    errors = sorted(Draft202012Validator(branch).iter_errors(body), key=lambda e: [str(p) for p in e.absolute_path])
    if errors:
        first = errors[0]
        where = _ARGUMENT_OF.get(str(first.absolute_path[0]), str(first.absolute_path[0])) if first.path else "body"
        raise InvalidRequestError(
            " ".join(dict.fromkeys(_describe(e, request.base) for e in errors[:3])), field=where.split("[")[0]
        )
    return body


def body_note(operation: Operation, request: TrainParams, body: dict[str, Any]) -> str:
    """What was asked for (first line), then what it may cost (the spend guard's estimate, explained) and how to
    wait for it: that second line only matters while the training runs (``finished_note`` leaves it out)."""
    images = len(body["urls"])
    details = [f"{images} image{'s' if images != 1 else ''}"]
    if "type" in body:
        details.append(f"type {body['type']}")
    if "trigger_word" in body:
        details.append(f"trigger word {body['trigger_word']!r}")
    head = f"Training style {request.name!r} on {request.base} ({', '.join(details)})."
    where = base_note(request.base)
    head = f"{head} {where}" if where else head
    running = f"{price_note(operation, request.base, body.get('max_train_steps'))} {WAIT_NOTE}"
    return f"{head}\n{running}"


def finished_note(note: str) -> str | None:
    """A training's note once it has ended (completed, failed or cancelled): what was asked for, without the
    estimate and the advice to wait, which only mattered while it ran. Other notes (a recovered create) are kept."""
    kept = [line for line in note.splitlines() if not line.startswith(_WHILE_RUNNING)]
    return "\n".join(kept) or None


def price_note(operation: Operation, base: str, steps: int | None) -> str:
    """The estimate the spend guard reserves for a training of ``steps`` (None: Krea chooses), in words."""
    per_step = operation.usd_per_step or 0.0
    top_cu = _top_cu(operation.compute_units)
    counted = steps if steps is not None else max(_maxima(operation), default=2000)
    rate = f" at ${per_step / top_cu:.4g}/CU" if top_cu else ""
    work = f"{counted} steps × up to {top_cu:g} CU{rate}"
    if steps is None:
        work = f"Krea chooses the number of steps, so this assumes the most, {work}"
    typical = CU_PER_STEP.get(base)
    likely = ""
    if typical and top_cu and typical < top_cu:
        likely = f", ~{typical:g} for {base}: about ${counted * typical * per_step / top_cu:,.2f}"
    documented = (operation.compute_units or "").replace("-", "–")
    return f"Estimated up to ${per_step * counted:,.2f}: {work} (Krea documents {documented}{likely})."


#: Said while a training runs (never once it has ended).
WAIT_NOTE = "Training takes many minutes: wait_for_job (again as needed) reports the style_id."


def base_note(base: str) -> str | None:
    """Where a style of ``base`` can be used, when that is not one of generate_image's models (None when it is)."""
    if base in VIDEO_MODELS_OF_BASE:
        return f"A {base} style is for Krea's video model {VIDEO_MODELS_OF_BASE[base]}, not run by this server."
    if base not in ALIAS_OF_BASE:
        return f"Krea documents no image model that takes {base} styles."
    return None


def _branches(operation: Operation) -> list[dict[str, Any]]:
    branches: list[dict[str, Any]] = operation.schema.get("oneOf") or [operation.schema]
    return branches


def _maxima(operation: Operation) -> list[int]:
    return [
        int(b["properties"]["max_train_steps"]["maximum"])
        for b in _branches(operation)
        if "maximum" in b.get("properties", {}).get("max_train_steps", {})
    ]


def _top_cu(text: str | None) -> float:
    """The upper end of a compute-unit range like ``2.4-8.3 CU per step`` (0 when there is none)."""
    numbers = [float(n) for n in (text or "").split(" ", 1)[0].replace("~", "").split("-") if _is_number(n)]
    return max(numbers, default=0.0)


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def _describe(err: SchemaError, base: str) -> str:
    """One sentence for a schema violation, in train_style's argument names."""
    path = [str(p) for p in err.absolute_path]
    name = _ARGUMENT_OF.get(path[0], path[0]) if path else "body"
    where = name + "".join(f"[{p}]" if p.isdigit() else f".{p}" for p in path[1:])
    schema = err.schema if isinstance(err.schema, dict) else {}
    if err.validator == "enum":
        allowed = ", ".join(str(x) for x in schema.get("enum", []))
        return f"{where}={err.instance!r} is not allowed when training on {base}; allowed: {allowed}."
    if err.validator in ("minimum", "maximum"):
        return f"{where}={err.instance!r} is out of range; allowed: {schema.get('minimum')}–{schema.get('maximum')}."
    return f"{where}: {err.message} (training on {base})."
