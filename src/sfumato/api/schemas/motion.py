"""The motion endpoints' bodies and answers (leonardo-api.md 3.2.6)."""

from __future__ import annotations

from dataclasses import replace
from typing import Any, ClassVar

from pydantic import Field, field_validator

from sfumato.api.openapi import BLANK, FALSE_ONLY, NOT_BLANK, WRONG_KIND
from sfumato.api.schemas.common import Cost, TolerantBody, WireModel, upper_enum
from sfumato.services.motion import VIDEO_UPSCALE_RESOLUTIONS, SvdParams
from sfumato.services.motion_video import (
    IMAGE_TYPES,
    MAX_DURATION,
    MAX_SEED,
    MAX_SIDE,
    MIN_SIDE,
    RESOLUTIONS,
    VIDEO_MODELS,
    VideoParams,
)


def whole_number(value: Any, what: str) -> Any:
    """Integers, integral floats (3.0) and numeric strings ("3", as form-posting scripts send)."""
    if value is None or isinstance(value, bool):
        return value
    try:
        number = float(str(value).strip())
    except ValueError:
        raise ValueError(f"must be {what}, got {value!r}") from None
    if not number.is_integer():
        raise ValueError(f"must be a whole number ({what}), got {value!r}")
    return int(number)


class MotionSvdBody(TolerantBody):
    WIRE_REQUIRED: ClassVar[tuple[str, ...]] = ("imageId",)
    WIRE_RANGES: ClassVar[dict[str, tuple[float, float]]] = {"motionStrength": (1, 10)}
    WIRE_SEMANTIC: ClassVar[dict[str, str]] = {"imageId": WRONG_KIND}
    imageId: str | None = None
    motionStrength: int | None = None
    isInitImage: bool | None = None
    isVariation: bool | None = None
    isPublic: bool | None = None

    @field_validator("motionStrength", mode="before")
    @classmethod
    def _integer(cls, value: Any) -> Any:
        return whole_number(value, "an integer from 1 to 10")

    def to_params(self) -> SvdParams:
        return SvdParams(self.imageId, self.motionStrength, self.isInitImage, self.isVariation, self.isPublic)


class MotionSvdJob(WireModel):
    generationId: str
    apiCreditCost: int  # what the job was charged, from the price table (services/credits/)
    cost: Cost


class MotionSvdResponse(WireModel):
    motionSvdGenerationJob: MotionSvdJob


class MotionElement(TolerantBody):
    akUUID: str | None = None
    weight: float | None = None


class VideoEndFrame(TolerantBody):
    id: str | None = None
    type: str | None = None


def _size_rules() -> dict[str, Any]:
    """width and height together or neither; with `resolution` too, the shorter side is the resolution's."""
    neither = {"properties": {"width": {"type": "null"}, "height": {"type": "null"}}}
    both = {
        "required": ["width", "height"],
        "properties": {"width": {"type": "integer"}, "height": {"type": "integer"}},
    }
    agreeing: list[dict[str, Any]] = [neither, {"properties": {"resolution": {"type": "null"}}}]
    for name, side in RESOLUTIONS.items():
        for short, other in (("width", "height"), ("height", "width")):
            agreeing.append({
                "required": ["resolution", short, other],
                "properties": {"resolution": {"const": name}, short: {"const": side}, other: {"minimum": side}},
            })  # fmt: skip
    return {"allOf": [{"anyOf": [neither, both]}, {"anyOf": agreeing}]}


class TextToVideoBody(TolerantBody):
    """POST /generations-text-to-video (Motion 2.0 on Leonardo; here the motion model the server has)."""

    WIRE_REQUIRED: ClassVar[tuple[str, ...]] = ("prompt",)
    WIRE_ENUMS: ClassVar[dict[str, tuple[str, ...]]] = {"resolution": tuple(RESOLUTIONS), "model": ("", *VIDEO_MODELS)}
    WIRE_RANGES: ClassVar[dict[str, tuple[float, float]]] = {
        "seed": (0, MAX_SEED),
        "duration": (1, MAX_DURATION),
        "width": (MIN_SIDE, MAX_SIDE),
        "height": (MIN_SIDE, MAX_SIDE),
    }
    # What this server does not serve is refused, so the spec offers only "leave it out".
    WIRE_FIELDS: ClassVar[dict[str, dict[str, Any]]] = {
        "width": {"multipleOf": 2},  # H.264 needs even sides
        "height": {"multipleOf": 2},
        "prompt": {"pattern": NOT_BLANK},
        "elements": {"maxItems": 0, "description": "Motion Control elements: not served here; leave them out"},
        "promptEnhance": {"schema": FALSE_ONLY, "description": "prompt enhancement: not served here; false or out"},
        "promptEnhanceInstruction": {**BLANK, "description": "prompt enhancement: not served here; leave it out"},
    }
    WIRE_RULES: ClassVar[dict[str, Any]] = _size_rules()

    prompt: str | None = None
    negativePrompt: str | None = None
    seed: int | None = None
    width: int | None = None
    height: int | None = None
    resolution: str | None = Field(None, description="RESOLUTION_480, RESOLUTION_720 or RESOLUTION_1080")
    frameInterpolation: bool | None = None
    model: str | None = Field(
        None, description="accepted and recorded; this server runs its own motion model (motionModel says which)"
    )
    duration: int | None = Field(None, description="accepted and recorded; the clip length is the motion model's")
    styleIds: list[str] | None = Field(None, description="accepted and recorded")
    elements: list[MotionElement] | None = None
    promptEnhance: bool | None = None
    promptEnhanceInstruction: str | None = None
    isPublic: bool | None = None

    @field_validator("seed", "width", "height", "duration", mode="before")
    @classmethod
    def _integer(cls, value: Any) -> Any:
        return whole_number(value, "an integer")

    @field_validator("resolution", "model", mode="before")
    @classmethod
    def _upper(cls, value: Any) -> Any:
        return upper_enum(value)

    def to_params(self) -> VideoParams:
        return VideoParams(
            prompt=self.prompt,
            negative_prompt=self.negativePrompt,
            seed=self.seed,
            width=self.width,
            height=self.height,
            resolution=self.resolution,
            frame_interpolation=self.frameInterpolation,
            model=self.model,
            duration=self.duration,
            style_ids=tuple(self.styleIds or ()),
            elements=tuple(self.elements or ()),
            prompt_enhance=self.promptEnhance,
            prompt_enhance_instruction=self.promptEnhanceInstruction,
            public=self.isPublic,
        )


class ImageToVideoBody(TextToVideoBody):
    """POST /generations-image-to-video: the text-to-video fields plus the image the video starts from."""

    WIRE_REQUIRED: ClassVar[tuple[str, ...]] = ("imageId", "imageType", "prompt")
    WIRE_ENUMS: ClassVar[dict[str, tuple[str, ...]]] = {
        **TextToVideoBody.WIRE_ENUMS,
        "imageType": IMAGE_TYPES,
    }
    WIRE_FIELDS: ClassVar[dict[str, dict[str, Any]]] = {
        **TextToVideoBody.WIRE_FIELDS,
        "negativePrompt": {**BLANK, "description": "nothing for it to steer here (the picture is given); leave out"},
        "endFrameImage": {"schema": {"type": "null"}, "description": "end frames (KLING2_1): not served; leave out"},
    }
    WIRE_SEMANTIC: ClassVar[dict[str, str]] = {"imageId": WRONG_KIND}

    imageId: str | None = None
    imageType: str | None = Field(None, description="GENERATED (a generated image or variation) or UPLOADED")
    endFrameImage: VideoEndFrame | None = None

    @field_validator("imageType", mode="before")
    @classmethod
    def _upper_type(cls, value: Any) -> Any:
        return upper_enum(value)

    def to_params(self) -> VideoParams:
        return replace(
            super().to_params(), image_id=self.imageId, image_type=self.imageType, end_frame_image=self.endFrameImage
        )


class VideoUpscaleBody(TolerantBody):
    WIRE_REQUIRED: ClassVar[tuple[str, ...]] = ("sourceGenerationId", "resolution")
    WIRE_ENUMS: ClassVar[dict[str, tuple[str, ...]]] = {"resolution": VIDEO_UPSCALE_RESOLUTIONS}
    sourceGenerationId: str | None = None
    resolution: str | None = None

    @field_validator("resolution", mode="before")
    @classmethod
    def _upper(cls, value: Any) -> Any:
        return value.strip().upper() if isinstance(value, str) else value


class MotionVideoJob(WireModel):
    generationId: str
    variationId: str | None = None
    apiCreditCost: int  # what the job was charged, from the price table (services/credits/)
    cost: Cost


class MotionVideoResponse(WireModel):
    """The answer of image-to-video, text-to-video and video upscale (only the upscale sets variationId)."""

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
