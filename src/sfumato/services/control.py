"""ControlNets on POST /generations: Leonardo's preprocessor ids, what each is on this server, and the checks
that turn `controlnets[]` (and the deprecated controlNet/controlNetType/weighting keys) into what the job runs.

Two families (docs/control.md):
- references (Style, Character, Content): the picture steers the look through the image-prompt machinery
  (IP-Adapter when the model has one, else the built-in latent AdaIN + colour match), at a scale from
  strengthType or weight;
- structural guidance (edge, depth, pose): a diffusers ControlNet for the model family, the preprocessor run in
  the engine. Served only where a ControlNet folder of that kind is installed (engine/control.py).
An id this server cannot serve for the model is refused with the ids it does serve, never ignored.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy.orm import Session

from sfumato.engine.control import unservable_reason
from sfumato.services.errors import InvalidRequest
from sfumato.services.image_inputs import classify_id, resolve_image

MAX_CONTROLNETS = 4  # Leonardo: up to 4 image guidance entries


@dataclass(frozen=True)
class Preprocessor:
    name: str  # Leonardo's name for it
    kind: str  # style | character | content (references) or edge | depth | pose (structural)
    strengths: tuple[str, ...] = ()  # the strengthType values Leonardo takes for it (references only)

    @property
    def is_reference(self) -> bool:
        return self.kind in ("style", "character", "content")


_ALL = ("Low", "Mid", "High", "Ultra", "Max")
_LOW_HIGH = ("Low", "Mid", "High")
# Leonardo's preprocessorId values (its image-guidance guide and model guides; docs/control.md cites them).
PREPROCESSORS: dict[int, Preprocessor] = {
    67: Preprocessor("Style Reference", "style", _ALL),  # SDXL models
    166: Preprocessor("Style Reference (Phoenix)", "style", _ALL),
    431: Preprocessor("Style Reference (Lucid)", "style", _ALL),
    133: Preprocessor("Character Reference", "character", _LOW_HIGH),  # SDXL models
    397: Preprocessor("Character Reference (Phoenix)", "character", _LOW_HIGH),
    100: Preprocessor("Content Reference", "content", _LOW_HIGH),  # SDXL models
    364: Preprocessor("Content Reference (Phoenix)", "content", _LOW_HIGH),
    430: Preprocessor("Content Reference (Lucid)", "content", _LOW_HIGH),
    19: Preprocessor("Edge to Image", "edge"),
    20: Preprocessor("Depth to Image", "depth"),
    21: Preprocessor("Pose to Image", "pose"),
}
# The deprecated controlNetType values and the ids they stand for.
LEGACY_TYPES: dict[str, int] = {"CANNY": 19, "DEPTH": 20, "POSE": 21}
# strengthType -> the weight it stands for (the top of Leonardo's bucket: Low 0-0.4 ... Max 1.6-2).
STRENGTH_WEIGHTS: dict[str, float] = {"Low": 0.4, "Mid": 0.8, "High": 1.2, "Ultra": 1.6, "Max": 2.0}
DEFAULT_STRUCTURAL_WEIGHT = 1.0
DEFAULT_REFERENCE_STRENGTH = "Mid"


def reference_scale(weight: float) -> float:
    """Leonardo's reference weight (0..2) -> the image-prompt weight (0..1) the engine takes."""
    return round(weight / 2.0, 4)


@dataclass(frozen=True)
class ControlRecord:
    """One checked controlnets[] entry, in our names; `scale` is what the engine runs it at."""

    preprocessor_id: int
    kind: str
    image_id: str
    image_type: str  # GENERATED | UPLOADED
    file_key: str
    weight: float
    strength_type: str | None
    scale: float

    @property
    def is_reference(self) -> bool:
        return PREPROCESSORS[self.preprocessor_id].is_reference

    def to_record(self) -> dict[str, Any]:
        return {
            "preprocessor_id": self.preprocessor_id,
            "kind": self.kind,
            "image_id": self.image_id,
            "image_type": self.image_type,
            "file_key": self.file_key,
            "weight": self.weight,
            "strength_type": self.strength_type,
            "scale": self.scale,
        }


def served_ids(model_path: Path) -> list[int]:
    """The preprocessor ids this server serves for the model at `model_path`."""
    return sorted(
        i for i, p in PREPROCESSORS.items() if p.is_reference or unservable_reason(model_path, p.kind) is None
    )


def _served_list(model_path: Path) -> str:
    return ", ".join(f"{i} ({PREPROCESSORS[i].name})" for i in served_ids(model_path))


def _preprocessor_id(value: Any, field: str, model_path: Path) -> int:
    # Python's SDK sends 133.0: an integral float is the integer; anything else is refused
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise InvalidRequest(
            f"{field} must be an integer preprocessor id, got {value!r}; this server serves {_served_list(model_path)}",
            field=field,
        )
    if value != int(value):
        raise InvalidRequest(f"{field} must be a whole number (e.g. 133 or 133.0), got {value!r}", field=field)
    pid = int(value)
    if pid not in PREPROCESSORS:
        raise InvalidRequest(
            f"{field} {pid} is not a preprocessor id this server knows; it serves {_served_list(model_path)}",
            field=field,
        )
    reason = None if PREPROCESSORS[pid].is_reference else unservable_reason(model_path, PREPROCESSORS[pid].kind)
    if reason:
        raise InvalidRequest(
            f"{field} {pid} ({PREPROCESSORS[pid].name}) cannot run on this model: {reason}; "
            f"this server serves {_served_list(model_path)}",
            field=field,
        )
    return pid


def _number(value: Any, field: str, low: float, high: float) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not low <= value <= high:
        raise InvalidRequest(f"{field} must be a number from {low:g} to {high:g}, got {value!r}", field=field)
    return float(value)


_TYPE_OF: dict[str, str] = {"init_image": "UPLOADED", "generated_image": "GENERATED", "variation": "GENERATED"}


def _image(s: Session, user_id: str, entry: dict[str, Any], at: str) -> tuple[str, str, str]:
    """(image id, GENERATED|UPLOADED, file key) of one entry."""
    image_id = entry.get("initImageId")
    if not isinstance(image_id, str) or not image_id:
        raise InvalidRequest(
            f"{at}.initImageId is missing: send the id of an image uploaded by POST /init-image "
            "(initImageType UPLOADED) or of a generated image (initImageType GENERATED)",
            field=f"{at}.initImageId",
        )
    image_type = entry.get("initImageType")
    if isinstance(image_type, str):
        image_type = image_type.strip().upper()
    if image_type is not None and image_type not in ("GENERATED", "UPLOADED"):
        raise InvalidRequest(
            f"{at}.initImageType must be GENERATED or UPLOADED, got {image_type!r}", field=f"{at}.initImageType"
        )
    actual = _TYPE_OF.get(classify_id(s, user_id, image_id))
    if image_type and actual and actual != image_type:
        what = "an uploaded init image" if actual == "UPLOADED" else "a generated image (or a variation)"
        raise InvalidRequest(
            f"{at}.initImageId {image_id} is {what}, not a{'n uploaded' if image_type == 'UPLOADED' else ' generated'} "
            f"one: send initImageType {actual}",
            field=f"{at}.initImageType",
        )
    ref = resolve_image(
        s, user_id, image_id, f"{at}.initImageId", accept=("init_image", "generated_image", "variation")
    )
    kind_type = "UPLOADED" if ref.kind == "init_image" else "GENERATED"
    return ref.id, kind_type, ref.file_key


def check_controlnets(s: Session, user_id: str, model_path: Path, entries: Any) -> list[ControlRecord]:
    """The checked controlnets[] list (a 400 naming the entry's field for anything it cannot honour)."""
    if entries is None:
        return []
    if not isinstance(entries, list):
        raise InvalidRequest("controlnets must be a list of objects", field="controlnets")
    if len(entries) > MAX_CONTROLNETS:
        raise InvalidRequest(
            f"controlnets takes at most {MAX_CONTROLNETS} entries, got {len(entries)}", field="controlnets"
        )
    out = []
    for i, entry in enumerate(entries):
        at = f"controlnets[{i}]"
        if not isinstance(entry, dict):
            raise InvalidRequest(
                f"{at} must be an object with initImageId, initImageType, preprocessorId and weight or strengthType",
                field=at,
            )
        if entry.get("preprocessorId") is None:
            raise InvalidRequest(
                f"{at}.preprocessorId is missing; this server serves {_served_list(model_path)}",
                field=f"{at}.preprocessorId",
            )
        pid = _preprocessor_id(entry["preprocessorId"], f"{at}.preprocessorId", model_path)
        pre = PREPROCESSORS[pid]
        image_id, image_type, key = _image(s, user_id, entry, at)
        weight, strength = entry.get("weight"), entry.get("strengthType")
        if pre.is_reference:
            if weight is not None and strength is not None:
                raise InvalidRequest(
                    f"{at}: send weight (0-2) or strengthType ({', '.join(pre.strengths)}), not both",
                    field=f"{at}.weight",
                )
            if strength is not None:
                if strength not in pre.strengths:
                    raise InvalidRequest(
                        f"{at}.strengthType {strength!r} is not one {pre.name} takes; send one of "
                        f"{', '.join(pre.strengths)}",
                        field=f"{at}.strengthType",
                    )
                weight = STRENGTH_WEIGHTS[strength]
            elif weight is None:
                strength, weight = DEFAULT_REFERENCE_STRENGTH, STRENGTH_WEIGHTS[DEFAULT_REFERENCE_STRENGTH]
            weight = _number(weight, f"{at}.weight", 0, 2)
            scale = reference_scale(weight)
        else:
            if strength is not None:
                raise InvalidRequest(
                    f"{at}.strengthType is for Style, Character and Content Reference only; for {pre.name} "
                    "send weight (0-2, default 1)",
                    field=f"{at}.strengthType",
                )
            weight = _number(DEFAULT_STRUCTURAL_WEIGHT if weight is None else weight, f"{at}.weight", 0, 2)
            scale = weight
        out.append(ControlRecord(pid, pre.kind, image_id, image_type, key, weight, strength, scale))
    return out


@dataclass(frozen=True)
class LegacyControl:
    """The deprecated keys, as sent."""

    control_net: bool | None
    control_net_type: str | None
    weighting: float | None


def legacy_entries(legacy: LegacyControl, init_image_id: str | None, init_generation_image_id: str | None) -> list:
    """controlNet: true + controlNetType + weighting, on the init image, as one controlnets[] entry."""
    if not legacy.control_net:
        if legacy.control_net_type is not None or legacy.weighting is not None:
            field = "controlNetType" if legacy.control_net_type is not None else "weighting"
            raise InvalidRequest(
                f"{field} only acts with controlNet: true (deprecated); send controlnets: [{{initImageId, "
                "initImageType, preprocessorId, weight}] instead",
                field=field,
            )
        return []
    if legacy.control_net_type not in LEGACY_TYPES:
        raise InvalidRequest(
            f"controlNet: true needs controlNetType POSE, CANNY or DEPTH, got {legacy.control_net_type!r}; "
            "or send controlnets[] instead",
            field="controlNetType",
        )
    image_id = init_image_id or init_generation_image_id
    if not image_id:
        raise InvalidRequest(
            "controlNet: true guides by the init image: send init_image_id or init_generation_image_id (or "
            "send controlnets[] with initImageId instead)",
            field="controlNet",
        )
    entry: dict[str, Any] = {
        "initImageId": image_id,
        "initImageType": "UPLOADED" if init_image_id else "GENERATED",
        "preprocessorId": LEGACY_TYPES[legacy.control_net_type],
    }
    if legacy.weighting is not None:
        entry["weight"] = legacy.weighting
    return [entry]
