"""POST /generations body and the generation responses."""

from __future__ import annotations

from typing import Any, ClassVar

from pydantic import Field, field_validator

from sfumato.api.schemas.common import Cost, TolerantBody, WireModel, upper_enum
from sfumato.api.wire.options import NO_OP_FIELDS, options_from_wire
from sfumato.services.canvas import CanvasParams
from sfumato.services.control import LegacyControl
from sfumato.services.generations import GenerationParams


class CreateGenerationBody(TolerantBody):
    WIRE_REQUIRED: ClassVar[tuple[str, ...]] = ("prompt",)
    """Every field may be missing or null (null means 'use the default')."""

    prompt: str | None = None
    negative_prompt: str | None = None
    modelId: str | None = None
    width: int | None = None
    height: int | None = None
    num_images: int | None = None
    num_inference_steps: int | None = None
    guidance_scale: float | None = None
    seed: int | None = None
    scheduler: str | None = Field(default=None, description="SdGenerationSchedulers value")
    presetStyle: str | None = Field(default=None, description="SdGenerationStyle value (default DYNAMIC)")
    sd_version: str | None = None
    public: bool | None = None
    tiling: bool | None = None
    init_image_id: str | None = None
    init_generation_image_id: str | None = None
    init_strength: float | None = None
    imagePrompts: list[str | None] | None = None
    imagePromptWeight: float | None = None
    transparency: str | None = None
    alchemy: bool | None = None
    photoReal: bool | None = None
    photoRealVersion: str | None = None
    photoRealStrength: float | None = None
    promptMagic: bool | None = None
    promptMagicStrength: float | None = None
    promptMagicVersion: str | None = None
    contrastRatio: float | None = None
    contrast: float | None = None
    expandedDomain: bool | None = None
    fantasyAvatar: bool | None = None
    highContrast: bool | None = None
    highResolution: bool | None = None
    enhancePrompt: bool | None = None
    enhancePromptInstruction: str | None = None
    ultra: bool | None = None
    upscaleRatio: float | None = None
    weighting: float | None = Field(default=None, description="deprecated: the weight of controlNet (0-2)")
    controlNet: bool | None = Field(default=None, description="deprecated: guide by the init image (controlNetType)")
    controlNetType: str | None = Field(default=None, description="deprecated: POSE, CANNY or DEPTH (ids 21, 19, 20)")
    controlnets: list[Any] | None = Field(
        default=None, description="image guidance: initImageId, initImageType, preprocessorId, weight/strengthType"
    )
    elements: list[Any] | None = None
    userElements: list[Any] | None = None
    canvasInitId: str | None = None
    canvasMaskId: str | None = None
    canvasRequest: bool | None = None
    canvasRequestType: str | None = None
    unzoom: bool | None = None
    unzoomAmount: float | None = None
    isInitImage: bool | None = None

    @field_validator("scheduler", "presetStyle", "sd_version", "controlNetType", "canvasRequestType", mode="before")
    @classmethod
    def _enum_case(cls, value: Any) -> Any:
        value = upper_enum(value)
        # sd_version's values are mixed case (v1_5, SDXL_1_0): match them case-insensitively.
        return {"V1_5": "v1_5", "V2": "v2", "V3": "v3"}.get(value, value) if isinstance(value, str) else value

    @field_validator("transparency", mode="before")
    @classmethod
    def _lower(cls, value: Any) -> Any:
        return value.strip().lower() if isinstance(value, str) else value

    def to_params(self) -> GenerationParams:
        options = options_from_wire({name: getattr(self, name) for name in NO_OP_FIELDS})
        return GenerationParams(
            prompt=self.prompt,
            negative_prompt=self.negative_prompt,
            model_id=self.modelId,
            width=self.width,
            height=self.height,
            num_images=self.num_images,
            num_inference_steps=self.num_inference_steps,
            guidance_scale=self.guidance_scale,
            seed=self.seed,
            scheduler=self.scheduler,
            preset_style=self.presetStyle,
            sd_version=self.sd_version,
            public=self.public,
            tiling=self.tiling,
            init_image_id=self.init_image_id,
            init_generation_image_id=self.init_generation_image_id,
            init_strength=self.init_strength,
            image_prompts=[i for i in self.imagePrompts or [] if i] or None,
            image_prompt_weight=self.imagePromptWeight,
            transparency=self.transparency,
            elements=self.elements,
            user_elements=self.userElements,
            options=options,
            controlnets=self.controlnets,
            legacy_control=LegacyControl(self.controlNet, self.controlNetType, self.weighting),
            canvas=CanvasParams(self.canvasRequest, self.canvasRequestType, self.canvasInitId, self.canvasMaskId),
        )


class SdGenerationJob(WireModel):
    generationId: str
    apiCreditCost: int  # what the job was charged, from the price table (services/credits/)
    cost: Cost


class CreateGenerationResponse(WireModel):
    sdGenerationJob: SdGenerationJob


class VariationGeneric(WireModel):
    id: str
    status: str
    transformType: str
    url: str | None = None  # omitted until COMPLETE (routes drop None values)
    # Not in Leonardo's schema (the SDKs ignore unknown keys): which upscaler / background remover ran.
    method: str | None = None


class GeneratedImageOut(WireModel):
    id: str
    url: str
    nsfw: bool = False
    likeCount: int = 0
    motion: bool = False
    # Motion generations only (omitted otherwise): the MP4, the model that made it, the strength asked for.
    motionMP4URL: str | None = None
    motionModel: str | None = None
    motionStrength: int | None = None
    imageToVideo: bool | None = None
    generated_image_variation_generics: list[VariationGeneric] = []


class GenerationOut(WireModel):
    id: str
    createdAt: str
    status: str
    prompt: str
    negativePrompt: str | None = None
    modelId: str
    imageWidth: int
    imageHeight: int
    inferenceSteps: int
    guidanceScale: float
    seed: int
    scheduler: str
    sdVersion: str | None = None  # omitted for motion generations (Leonardo's null there broke the TS SDK)
    presetStyle: str
    public: bool
    tiling: bool = False
    initStrength: float | None = None
    photoReal: bool = False
    promptMagic: bool = False
    generated_images: list[GeneratedImageOut] = []
    generation_elements: list[Any] = []
    # Not in Leonardo's schema (the SDKs ignore unknown keys): why a FAILED generation failed, and which
    # image-prompt method ran (ip-adapter, or the built-in one when the model has none).
    failureReason: str | None = None
    imagePromptMethod: str | None = None


class GetGenerationResponse(WireModel):
    generations_by_pk: GenerationOut | None


class ListGenerationsResponse(WireModel):
    generations: list[GenerationOut]


class DeletedId(WireModel):
    id: str


class DeleteGenerationResponse(WireModel):
    delete_generations_by_pk: DeletedId
