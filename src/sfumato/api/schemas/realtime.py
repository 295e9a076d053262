"""The realtime canvas (LCM) endpoints: wire shapes (keys as Leonardo's SDKs send and read them)."""

from __future__ import annotations

from typing import Any

from pydantic import field_validator

from sfumato.api.schemas.common import Cost, TolerantBody, WireModel, upper_enum
from sfumato.services.realtime_inputs import CanvasParams


class LcmBody(TolerantBody):
    imageDataUrl: str | None = None
    maskDataUrl: str | None = None  # /lcm-inpainting only
    prompt: str | None = None
    guidance: float | None = None
    height: int | None = None
    width: int | None = None
    requestTimestamp: str | None = None
    seed: int | None = None
    steps: int | None = None
    strength: float | None = None
    style: str | None = None
    refineCreative: bool | None = None  # /lcm-upscale only
    refineStrength: float | None = None  # /lcm-upscale only

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
            mask_data_url=self.maskDataUrl,
            guidance=self.guidance,
            width=self.width,
            height=self.height,
            seed=self.seed,
            steps=self.steps,
            strength=self.strength,
            style=self.style,
            request_timestamp=self.requestTimestamp,
            refine_creative=self.refineCreative,
            refine_strength=self.refineStrength,
        )


class LcmJob(WireModel):
    imageDataUrl: list[str]
    requestTimestamp: str | None = None
    apiCreditCost: int = 0  # a self-hosted server charges no credits
    cost: Cost = Cost()
    generationId: list[str] | None = None  # /lcm-upscale: arrays, as Leonardo answers
    variationId: list[str] | None = None
    generatedImageId: str | None = None


class LcmResponse(WireModel):
    lcmGenerationJob: LcmJob
