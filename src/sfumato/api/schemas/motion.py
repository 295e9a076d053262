"""The motion endpoints' bodies and answers (leonardo-api.md 3.2.6)."""

from __future__ import annotations

from typing import Any

from pydantic import field_validator

from sfumato.api.schemas.common import Cost, TolerantBody, WireModel
from sfumato.services.motion import SvdParams


class MotionSvdBody(TolerantBody):
    imageId: str | None = None
    motionStrength: int | None = None
    isInitImage: bool | None = None
    isVariation: bool | None = None
    isPublic: bool | None = None

    @field_validator("motionStrength", mode="before")
    @classmethod
    def _integer(cls, value: Any) -> Any:
        """Integers, integral floats (3.0) and numeric strings ("3", as form-posting scripts send)."""
        if value is None or isinstance(value, bool):
            return value
        try:
            number = float(str(value).strip())
        except ValueError:
            raise ValueError(f"motionStrength must be an integer from 1 to 10, got {value!r}") from None
        if not number.is_integer():
            raise ValueError(f"motionStrength must be a whole number from 1 to 10, got {value!r}")
        return int(number)

    def to_params(self) -> SvdParams:
        return SvdParams(self.imageId, self.motionStrength, self.isInitImage, self.isVariation, self.isPublic)


class MotionSvdJob(WireModel):
    generationId: str
    apiCreditCost: int = 0
    cost: Cost = Cost()


class MotionSvdResponse(WireModel):
    motionSvdGenerationJob: MotionSvdJob


class VideoUpscaleBody(TolerantBody):
    sourceGenerationId: str | None = None
    resolution: str | None = None

    @field_validator("resolution", mode="before")
    @classmethod
    def _upper(cls, value: Any) -> Any:
        return value.strip().upper() if isinstance(value, str) else value


class MotionVideoJob(WireModel):
    generationId: str
    variationId: str | None = None
    apiCreditCost: int = 0
    cost: Cost = Cost()


class VideoUpscaleResponse(WireModel):
    motionVideoGenerationJob: MotionVideoJob


class MotionVariationOut(WireModel):
    id: str
    createdAt: str
    status: str
    motionTransformType: str
    resolution: str
    url: str | None = None  # omitted until COMPLETE


class GetMotionVariationResponse(WireModel):
    generated_image_variation_motion: list[MotionVariationOut]
