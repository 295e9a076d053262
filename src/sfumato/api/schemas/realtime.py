"""The realtime canvas (LCM) endpoints: wire shapes (keys as Leonardo's SDKs send and read them)."""

from __future__ import annotations

from typing import Any, ClassVar

from pydantic import field_validator

from sfumato.api.openapi import NOT_BLANK, SPACE
from sfumato.api.schemas.common import Cost, TolerantBody, WireModel, upper_enum
from sfumato.services.imaging import MAX_UPLOAD_BYTES
from sfumato.services.realtime_inputs import (
    GUIDANCE_RANGE,
    LCM_STYLES,
    MAX_PROMPT,
    MAX_SEED,
    MAX_SIDE,
    REFINE_STRENGTH_RANGE,
    SIZE_RANGE,
    STEPS_RANGE,
    STRENGTH_RANGE,
    CanvasParams,
)

# The shape the server reads (services/realtime_inputs.decode_data_url): the prefix in any case, then base64.
DATA_URL_PATTERN = (
    f"^[{SPACE}]*"
    r"[dD][aA][tT][aA]:[iI][mM][aA][gG][eE]/([pP][nN][gG]|[jJ][pP][eE]?[gG]|[wW][eE][bB][pP]);[bB][aA][sS][eE]64,"
    r"([A-Za-z0-9+/]{4})*([A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?"
    f"[{SPACE}]*$"
)
_PICTURE = (
    f"a PNG, JPEG or WEBP picture of at most {MAX_SIDE} pixels a side and {MAX_UPLOAD_BYTES // (1024 * 1024)} MiB"
)
_DATA_URL = {
    "pattern": DATA_URL_PATTERN,
    "description": f"a data URL (data:image/jpeg;base64,/9j/...) of {_PICTURE}",
}
_DECODED = f"the server decodes the data URL: bytes that are not {_PICTURE} get a 400 (no schema can see inside)"


class LcmBody(TolerantBody):
    """POST /generations-lcm and /lcm-instant-refine (the other two add their own keys below)."""

    WIRE_REQUIRED: ClassVar[tuple[str, ...]] = ("imageDataUrl", "prompt")
    WIRE_ENUMS: ClassVar[dict[str, tuple[str, ...]]] = {"style": ("", *LCM_STYLES)}  # "": the default
    WIRE_RANGES: ClassVar[dict[str, tuple[float, float]]] = {
        "guidance": GUIDANCE_RANGE,
        "steps": STEPS_RANGE,
        "strength": STRENGTH_RANGE,
        "seed": (0, MAX_SEED),
        "width": SIZE_RANGE,
        "height": SIZE_RANGE,
    }
    WIRE_FIELDS: ClassVar[dict[str, dict[str, Any]]] = {
        "imageDataUrl": _DATA_URL,
        "prompt": {"pattern": NOT_BLANK, "maxLength": MAX_PROMPT},
        "width": {"multipleOf": 8},
        "height": {"multipleOf": 8},
    }
    WIRE_SEMANTIC: ClassVar[dict[str, str]] = {"imageDataUrl": _DECODED}
    imageDataUrl: str | None = None
    prompt: str | None = None
    guidance: float | None = None
    height: int | None = None
    width: int | None = None
    requestTimestamp: str | None = None
    seed: int | None = None
    steps: int | None = None
    strength: float | None = None
    style: str | None = None

    @field_validator("style", mode="before")
    @classmethod
    def _upper(cls, value: Any) -> Any:
        return upper_enum(value)

    @field_validator("requestTimestamp", mode="before")
    @classmethod
    def _timestamp_text(cls, value: Any) -> Any:
        # Scripts send Date.now() as a number; it is echoed back as the string the SDKs read.
        return str(value) if isinstance(value, int | float) and not isinstance(value, bool) else value

    def params(self) -> CanvasParams:
        return CanvasParams(
            image_data_url=self.imageDataUrl,
            prompt=self.prompt,
            mask_data_url=getattr(self, "maskDataUrl", None),
            guidance=self.guidance,
            width=self.width,
            height=self.height,
            seed=self.seed,
            steps=self.steps,
            strength=self.strength,
            style=self.style,
            request_timestamp=self.requestTimestamp,
            refine_creative=getattr(self, "refineCreative", None),
            refine_strength=getattr(self, "refineStrength", None),
        )


class LcmInpaintingBody(LcmBody):
    """POST /lcm-inpainting: white in the mask is repainted, black kept."""

    WIRE_REQUIRED: ClassVar[tuple[str, ...]] = ("imageDataUrl", "maskDataUrl", "prompt")
    WIRE_FIELDS: ClassVar[dict[str, dict[str, Any]]] = {**LcmBody.WIRE_FIELDS, "maskDataUrl": _DATA_URL}
    WIRE_SEMANTIC: ClassVar[dict[str, str]] = {**LcmBody.WIRE_SEMANTIC, "maskDataUrl": _DECODED}
    maskDataUrl: str | None = None


class LcmUpscaleBody(LcmBody):
    """POST /lcm-upscale."""

    WIRE_RANGES: ClassVar[dict[str, tuple[float, float]]] = {
        **LcmBody.WIRE_RANGES,
        "refineStrength": REFINE_STRENGTH_RANGE,
    }
    refineCreative: bool | None = None
    refineStrength: float | None = None


class LcmJob(WireModel):
    imageDataUrl: list[str]
    requestTimestamp: str | None = None
    apiCreditCost: int  # what the job was charged, from the price table (services/credits/)
    cost: Cost
    generationId: list[str] | None = None  # /lcm-upscale: arrays, as Leonardo answers
    variationId: list[str] | None = None
    generatedImageId: str | None = None


class LcmResponse(WireModel):
    lcmGenerationJob: LcmJob
