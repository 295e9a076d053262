"""The LoRAs a generation applies: a custom model's (weight 1, whenever its id is the modelId), platform elements
(`elements: [{akUUID, weight}]`) and the user's own elements (`userElements: [{userLoraId, weight}]`). Checked
here when the generation is created (owner, finished, base model, weight range, trigger tokens); the job hands
them to the engine, which sets them on the cached pipeline for that request only."""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import Any

from sqlalchemy.orm import Session

from sfumato.jobs.core.status import JobStatus
from sfumato.services.catalog import ModelEntry
from sfumato.services.errors import InvalidRequest
from sfumato.services.training.elements_catalog import PlatformElement, PlatformElements
from sfumato.services.training.trainings import Trainings, TrainingView
from sfumato.services.training.trigger import substitute
from sfumato.store.training import ELEMENT_NUMBER_MAX

MAX_ELEMENTS = 5
USER_ELEMENT_WEIGHTS = (-1.0, 2.0)  # user elements publish no range: this server's, documented


@dataclass(frozen=True)
class AppliedAdapter:
    """One LoRA of one generation, as recorded on its row (`to_record`) and echoed in generation_elements."""

    source: str  # model | element | user_element
    ref: str  # the custom model's id, the element's akUUID, or the user element's number
    weight: float
    name: str
    description: str
    base_model: str  # Leonardo's SdVersions value
    key: str | None = None  # a user LoRA: its storage key
    path: str | None = None  # a platform element: its file on this server
    weight_min: float | None = None
    weight_max: float | None = None
    weight_default: float | None = None

    def to_record(self) -> dict[str, Any]:
        return asdict(self)

    @staticmethod
    def from_record(record: dict[str, Any]) -> AppliedAdapter:
        fields: dict[str, Any] = {k: record.get(k) for k in AppliedAdapter.__dataclass_fields__}
        return AppliedAdapter(**fields)


@dataclass(frozen=True)
class ResolvedAdapters:
    adapters: tuple[AppliedAdapter, ...]
    prompt: str  # the engine prompt, instance prompts replaced by their tokens


def _number(value: Any, field: str, what: str) -> float:
    """A number sent as a number or a numeric string ("0.8", "23890")."""
    if isinstance(value, bool) or value is None:
        raise InvalidRequest(f"{field}: {what} must be a number, got {value!r}", field=field)
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise InvalidRequest(f"{field}: {what} must be a number, got {value!r}", field=field) from None
    if not math.isfinite(number):
        raise InvalidRequest(f"{field}: {what} must be a finite number, got {value!r}", field=field)
    return number


def _entries(raw: Any, field: str) -> list[dict[str, Any]]:
    if raw is None:
        return []
    if not isinstance(raw, list) or not all(isinstance(e, dict) for e in raw):
        example = '[{"akUUID": "...", "weight": 1}]' if field == "elements" else '[{"userLoraId": 12, "weight": 1}]'
        raise InvalidRequest(f"{field} must be a list of objects like {example}", field=field)
    return raw


def _weight(entry: dict[str, Any], field: str, low: float, high: float, default: float, name: str) -> float:
    weight = default if entry.get("weight") is None else _number(entry["weight"], field, "weight")
    if not low <= weight <= high:
        raise InvalidRequest(
            f"{field}: weight {weight:g} of {name} is out of its range; send a weight from {low:g} to {high:g} "
            f"(default {default:g})",
            field=field,
        )
    return weight


def _fits(base_model_id: str, model: ModelEntry, field: str, name: str) -> None:
    if base_model_id != model.id:
        raise InvalidRequest(
            f"{field}: {name} was made for model {base_model_id}, not for {model.id} ({model.name}); generate with "
            f"modelId {base_model_id}, or pick an element made for this model (GET /elements shows each one's model)",
            field=field,
        )


def _platform(e: PlatformElement, weight: float) -> AppliedAdapter:
    return AppliedAdapter(
        source="element",
        ref=e.ak_uuid,
        weight=weight,
        name=e.name,
        description=e.description,
        base_model=e.base_model,
        path=str(e.path),
        weight_min=e.weight_min,
        weight_max=e.weight_max,
        weight_default=e.weight_default,
    )


def _trained(view: TrainingView, source: str, ref: str, weight: float, base_model: str) -> AppliedAdapter:
    return AppliedAdapter(
        source=source,
        ref=ref,
        weight=weight,
        name=view.name,
        description=view.description,
        base_model=base_model,
        key=view.adapter_key,
        weight_min=USER_ELEMENT_WEIGHTS[0] if source == "user_element" else None,
        weight_max=USER_ELEMENT_WEIGHTS[1] if source == "user_element" else None,
        weight_default=1.0 if source == "user_element" else None,
    )


def resolve_adapters(
    s: Session,
    user_id: str,
    model: ModelEntry,
    custom_model: TrainingView | None,
    elements: Any,
    user_elements: Any,
    prompt: str,
    platform: PlatformElements,
    trainings: Trainings,
) -> ResolvedAdapters:
    """`model` is the base the generation runs on (a custom model's base when `custom_model` is set)."""
    applied: list[AppliedAdapter] = []
    tokens: list[tuple[str, str, str]] = []  # (instance prompt, token, whose)
    if custom_model is not None:
        applied.append(_trained(custom_model, "model", custom_model.id, 1.0, model.sd_version))
        if custom_model.instance_token:
            tokens.append((custom_model.instance_prompt, custom_model.instance_token, f"model {custom_model.id}"))
    wanted = _entries(elements, "elements")
    mine = _entries(user_elements, "userElements")
    if len(wanted) + len(mine) > MAX_ELEMENTS:
        raise InvalidRequest(
            f"at most {MAX_ELEMENTS} elements per generation (elements and userElements together), got "
            f"{len(wanted) + len(mine)}",
            field="elements",
        )
    for entry in wanted:
        ak_uuid = entry.get("akUUID")
        element = platform.get(str(ak_uuid)) if ak_uuid else None
        if element is None:
            known = ", ".join(f"{e.ak_uuid} ({e.name})" for e in platform.all()) or "none"
            raise InvalidRequest(
                f"elements: no platform element {ak_uuid!r}; GET /elements lists them (this server has: {known}); "
                "your own trained elements go in userElements with their userLoraId",
                field="elements",
            )
        _fits(element.base_model_id, model, "elements", f"element {element.name} ({element.ak_uuid})")
        weight = _weight(
            entry, "elements", element.weight_min, element.weight_max, element.weight_default, element.name
        )
        applied.append(_platform(element, weight))
    numbers: list[int] = []
    for entry in mine:
        value = _number(entry.get("userLoraId"), "userElements", "userLoraId")
        if value != int(value):
            raise InvalidRequest(f"userElements: userLoraId must be an integer, got {value:g}", field="userElements")
        if not 1 <= value <= ELEMENT_NUMBER_MAX:
            shown = str(int(value)) if abs(value) < 1e15 else f"{value:g}"
            raise InvalidRequest(
                f"userElements: no element {shown} of yours; GET /elements/user/{{userId}} lists your elements",
                field="userElements",
            )
        numbers.append(int(value))
    found = trainings.user_elements(s, user_id, numbers)
    for entry, number in zip(mine, numbers, strict=True):
        view = found.get(number)
        if view is None:
            raise InvalidRequest(
                f"userElements: no element {number} of yours; GET /elements/user/{{userId}} lists your elements",
                field="userElements",
            )
        if view.status != JobStatus.COMPLETE or not view.adapter_key:
            state = "still training" if view.status == JobStatus.PENDING else f"{view.status}, it has no weights"
            raise InvalidRequest(
                f"userElements: element {number} is {state}; wait until GET /elements/{number} shows COMPLETE",
                field="userElements",
            )
        _fits(view.base_model_id, model, "userElements", f"element {number} ({view.name})")
        low, high = USER_ELEMENT_WEIGHTS
        weight = _weight(entry, "userElements", low, high, 1.0, f"element {number}")
        applied.append(_trained(view, "user_element", str(number), weight, model.sd_version))
        if view.instance_token:
            tokens.append((view.instance_prompt, view.instance_token, f"element {number}"))
    seen: dict[str, str] = {}
    for instance_prompt, token, whose in tokens:
        # A reserved token stands for one adapter's concept; a plain word (token == instance prompt) may be shared.
        if token in seen and token != instance_prompt:
            raise InvalidRequest(
                f"{whose} and {seen[token]} were trained on the same trigger slot {token} of this model, so one "
                "generation cannot tell them apart; apply one of them per generation",
                field="userElements",
            )
        seen[token] = whose
    for instance_prompt, token, _ in tokens:
        prompt = substitute(prompt, instance_prompt, token)
    return ResolvedAdapters(tuple(applied), prompt)
