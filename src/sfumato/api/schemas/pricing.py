"""POST /pricing-calculator: wire shapes. `serviceParams` is keyed by the UPPER_CASE service name, as both SDKs
send it; its inner keys are checked by services/credits/calculator.py (a 400 that names the field)."""

from __future__ import annotations

from typing import Any, ClassVar

from sfumato.api.schemas.common import TolerantBody, WireModel
from sfumato.services.credits import SERVICES
from sfumato.services.credits.calculator import IMAGE_FLAGS, IMAGE_SIDE, LCM_SIDE, MAX_IMAGES, MAX_MEGAPIXELS, STEPS


def _int(low: int, high: int) -> dict[str, Any]:
    return {"type": "integer", "minimum": low, "maximum": high}


def _side(low: int, high: int) -> dict[str, Any]:
    return {**_int(low, high), "multipleOf": 8}


def _number(low: float, high: float) -> dict[str, Any]:
    return {"type": "number", "minimum": low, "maximum": high}


_FLAG = {"type": "boolean"}  # the calculator reads its inner booleans strictly: true or false
_TEXT = {"type": "string"}
# A resolution of the operator's price table: RESOLUTION_480, ... (an operator may add one).
_RESOLUTION = {"type": "string", "pattern": r"^\s*[rR][eE][sS][oO][lL][uU][tT][iI][oO][nN]_[0-9]+\s*$"}
_TABLE_RESOLUTION = (
    "one of this server's price table (an operator setting; by default RESOLUTION_480/720/1080 for MOTION_VIDEO, "
    "RESOLUTION_720 for VEO3, 512/768/1024 for MODEL_TRAINING); another gets a 400 that lists them"
)
_AT_MOST_4_ABOVE_768 = {  # numImages above 4 only when both sides are at most 768 (absent: 512)
    "anyOf": [
        {"properties": {"numImages": {"anyOf": [{"type": "null"}, {"maximum": 4}]}}},
        {
            "properties": {
                "imageWidth": {"anyOf": [{"type": "null"}, {"maximum": 768}]},
                "imageHeight": {"anyOf": [{"type": "null"}, {"maximum": 768}]},
            }
        },
    ]
}
_IMAGES = {"imageWidth": _side(*IMAGE_SIDE), "imageHeight": _side(*IMAGE_SIDE), "numImages": _int(1, MAX_IMAGES)}
# Each service's parameters (services/credits/calculator.py): (properties, required); null means the default.
_SERVICE_PARAMS: dict[str, tuple[dict[str, Any], tuple[str, ...]]] = {
    "IMAGE_GENERATION": (
        {
            **_IMAGES,
            **dict.fromkeys(IMAGE_FLAGS, _FLAG),
            "inferenceSteps": _int(*STEPS),
            "controlnetsCost": _int(0, 10_000),
            "loraCount": _int(0, 20),
            "photoRealStrength": _number(0.0, 1.0),
            "promptMagicStrength": _number(0.1, 1.0),
            "photoRealVersion": _TEXT,
            "promptMagicVersion": _TEXT,
        },
        (),
    ),
    "FANTASY_AVATAR_GENERATION": (_IMAGES, ()),
    "MOTION_SVD_GENERATION": ({}, ()),
    "MOTION_VIDEO_GENERATION": ({"resolution": _RESOLUTION}, ()),
    "VEO3_MOTION_VIDEO_GENERATION": ({"resolution": _RESOLUTION}, ()),
    "LCM_GENERATION": (
        {"width": _side(*LCM_SIDE), "height": _side(*LCM_SIDE), "instantRefine": _FLAG, "refine": _FLAG},
        (),
    ),
    "MODEL_TRAINING": (
        {
            "resolution": {"anyOf": [{"type": "integer", "minimum": 1}, {"type": "string", "pattern": "^[0-9]+$"}]},
            "sd_version": {"const": "FLUX_DEV"},
            "datasetImageCount": _int(1, 50),
        },
        ("resolution",),
    ),
    "TEXTURE_GENERATION": ({"preview": _FLAG}, ()),
    "UNIVERSAL_UPSCALER": ({"megapixel": _int(1, MAX_MEGAPIXELS)}, ("megapixel",)),
    "UNIVERSAL_UPSCALER_ULTRA": (
        {"inputWidth": _int(1, 16384), "inputHeight": _int(1, 16384), "upscaleMultiplier": _number(1.0, 2.0)},
        ("inputWidth", "inputHeight", "upscaleMultiplier"),
    ),
}
_RULES: dict[str, dict[str, Any]] = {
    "IMAGE_GENERATION": _AT_MOST_4_ABOVE_768,
    "FANTASY_AVATAR_GENERATION": _AT_MOST_4_ABOVE_768,
    "MODEL_TRAINING": {  # datasetImageCount applies to FLUX_DEV trainings only
        "anyOf": [{"properties": {"datasetImageCount": {"type": "null"}}}, {"required": ["sd_version"]}]
    },
}


def _service_rule(service: str) -> dict[str, Any]:
    """What `serviceParams` must hold when `service` is this one: only serviceParams[service] is read."""
    properties, required = _SERVICE_PARAMS[service]
    params: dict[str, Any] = {
        "type": "object",
        "properties": {k: {"anyOf": [v, {"type": "null"}]} if k not in required else v for k, v in properties.items()},
        "additionalProperties": False,  # an unknown parameter is refused, naming it
        **({"required": list(required)} if required else {}),
        **_RULES.get(service, {}),
    }
    own: dict[str, Any] = {
        "type": "object",
        "properties": {service: params if required else {"anyOf": [params, {"type": "null"}]}},
    }
    if required:
        own["required"] = [service]
        rule: dict[str, Any] = {"required": ["serviceParams"], "properties": {"serviceParams": own}}
    else:
        rule = {"properties": {"serviceParams": {"anyOf": [own, {"type": "null"}]}}}
    rule["properties"]["service"] = {"const": service}
    return rule


class PricingCalculatorBody(TolerantBody):
    # The SDKs let the body be left out; the server cannot price nothing (a 400 naming `service`), so the spec
    # says what the server needs.
    WIRE_REQUIRED: ClassVar[tuple[str, ...]] = ("service",)
    WIRE_ENUMS: ClassVar[dict[str, tuple[str, ...]]] = {"service": SERVICES}
    WIRE_FIELDS: ClassVar[dict[str, dict[str, Any]]] = {
        "serviceParams": {
            "schema": {"anyOf": [{"type": "object"}, {"type": "null"}]},
            "description": "keyed by the service name, {SERVICE: {parameter: value}}; only `service`'s is read",
        }
    }
    WIRE_RULES: ClassVar[dict[str, Any]] = {"anyOf": [_service_rule(name) for name in SERVICES]}
    WIRE_SEMANTIC: ClassVar[dict[str, str]] = {
        f"serviceParams.{name}.resolution": _TABLE_RESOLUTION
        for name in ("MOTION_VIDEO_GENERATION", "VEO3_MOTION_VIDEO_GENERATION", "MODEL_TRAINING")
    }
    service: Any = None  # PricingCalculatorServices; checked by the service, so a wrong one is a 400 naming it
    serviceParams: Any = None


class CalculatedCost(WireModel):
    cost: int  # whole credits, as the reference says (an integer, not the {amount, unit} object)


class PricingCalculatorResponse(WireModel):
    calculateProductionApiServiceCost: CalculatedCost
