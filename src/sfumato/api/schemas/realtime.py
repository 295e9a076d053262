"""The realtime canvas (LCM) endpoints: wire shapes (keys as Leonardo's SDKs send and read them)."""

from __future__ import annotations

from typing import Any, ClassVar

from pydantic import field_validator

from sfumato.api.schemas.common import Cost, TolerantBody, WireModel, upper_enum
from sfumato.services.realtime_inputs import (
    GUIDANCE_RANGE,
    LCM_STYLES,
    MAX_SEED,
    REFINE_STRENGTH_RANGE,
    SIZE_RANGE,
    STEPS_RANGE,
    STRENGTH_RANGE,
    CanvasParams,
)


class LcmBody(TolerantBody):
    """POST /generations-lcm and /lcm-instant-refine (the other two add their own keys below)."""

    WIRE_REQUIRED: ClassVar[tuple[str, ...]] = ("imageDataUrl", "prompt")
    WIRE_ENUMS: ClassVar[dict[str, tuple[str, ...]]] = {"style": LCM_STYLES}
    WIRE_RANGES: ClassVar[dict[str, tuple[float, float]]] = {
        "guidance": GUIDANCE_RANGE,
        "steps": STEPS_RANGE,
        "strength": STRENGTH_RANGE,
        "seed": (0, MAX_SEED),
        "width": SIZE_RANGE,
        "height": SIZE_RANGE,
    }
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
