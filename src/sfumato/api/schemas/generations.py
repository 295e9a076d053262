"""POST /generations body and the generation responses."""

from __future__ import annotations

from typing import Any, ClassVar

from pydantic import Field, field_validator

from sfumato.api.openapi import FALSE_ONLY, NOT_BLANK, TRUE_ONLY, WRONG_KIND
from sfumato.api.schemas.common import Cost, TolerantBody, WireModel, upper_enum
from sfumato.api.wire.options import NO_OP_FIELDS, options_from_wire
from sfumato.services.canvas import CANVAS_TYPES, CanvasParams
from sfumato.services.catalog import SD_VERSIONS
from sfumato.services.control import LEGACY_TYPES, MAX_CONTROLNETS, LegacyControl
from sfumato.services.generations import GenerationParams
from sfumato.services.generations.service import MAX_IMAGE_PROMPTS, MAX_PROMPT, MAX_SEED, SCHEDULERS
from sfumato.services.styles import STYLE_TEMPLATES

_NULL = {"type": "null"}
_NO_ID = {"anyOf": [_NULL, {"const": ""}]}  # an id left out (null or empty)
_AN_ID = {"type": "string", "minLength": 1}


def _generation_rules() -> dict[str, Any]:
    """POST /generations' rules across fields (services/generations, control.py, canvas.py)."""
    init = {
        "anyOf": [{"required": [f], "properties": {f: _AN_ID}} for f in ("init_image_id", "init_generation_image_id")]
    }
    no_init = {"properties": {"init_image_id": _NO_ID, "init_generation_image_id": _NO_ID}}
    return {
        "allOf": [
            # More than 4 images only at 768x768 or less (sent: a model's default size may be larger).
            {
                "anyOf": [
                    {"properties": {"num_images": {"anyOf": [_NULL, {"maximum": 4}]}}},
                    {
                        "required": ["width", "height"],
                        "properties": {"width": {"maximum": 768}, "height": {"maximum": 768}},
                    },
                ]
            },
            # One init image at most; init_strength counts (0.1-0.9) only with one (ignored without).
            {
                "anyOf": [
                    {"properties": {"init_image_id": _NO_ID}},
                    {"properties": {"init_generation_image_id": _NO_ID}},
                ]
            },
            {
                "anyOf": [
                    no_init,
                    {"properties": {"init_strength": {"anyOf": [_NULL, {"minimum": 0.1, "maximum": 0.9}]}}},
                ]
            },
            # imagePromptWeight (0-1) counts only with imagePrompts.
            {
                "anyOf": [
                    {"properties": {"imagePrompts": {"anyOf": [_NULL, {"maxItems": 0}]}}},
                    {"properties": {"imagePromptWeight": {"anyOf": [_NULL, {"minimum": 0, "maximum": 1}]}}},
                ]
            },
            # The deprecated controlNet: true needs controlNetType and an init image, and no controlnets[];
            # without it, controlNetType and weighting are refused (they would do nothing).
            {
                "anyOf": [
                    {
                        "properties": {
                            "controlNet": FALSE_ONLY,
                            "controlNetType": _NULL,
                            "weighting": _NULL,
                        }
                    },
                    {
                        "required": ["controlNet", "controlNetType"],
                        "properties": {
                            "controlNet": TRUE_ONLY,
                            "controlNetType": {"enum": list(LEGACY_TYPES)},
                            "controlnets": {"anyOf": [_NULL, {"maxItems": 0}]},
                        },
                        **init,
                    },
                ]
            },
            # The canvas keys act only on a canvas request, which sends its type and canvasInitId and no init
            # image. The second branch states their presence, not their values: Schemathesis's generator gave
            # up on the full rule beside the ones above (the description says it).
            {
                "anyOf": [
                    {
                        "properties": {
                            "canvasRequest": FALSE_ONLY,
                            "canvasRequestType": _NULL,
                            "canvasInitId": _NULL,
                            "canvasMaskId": _NULL,
                        }
                    },
                    {
                        "required": ["canvasRequest", "canvasRequestType", "canvasInitId"],
                        "properties": {
                            **no_init["properties"],
                        },
                    },
                ]
            },
        ]
    }


class CreateGenerationBody(TolerantBody):
    WIRE_REQUIRED: ClassVar[tuple[str, ...]] = ("prompt",)
    WIRE_ENUMS: ClassVar[dict[str, tuple[str, ...]]] = {
        "scheduler": tuple(SCHEDULERS),
        "presetStyle": ("", *STYLE_TEMPLATES),  # "": the default, as null
        "sd_version": tuple(SD_VERSIONS),
        "transparency": ("disabled", "foreground_only"),
        "controlNetType": tuple(LEGACY_TYPES),
        "canvasRequestType": CANVAS_TYPES,
    }
    WIRE_RANGES: ClassVar[dict[str, tuple[float, float]]] = {
        "width": (32, 1536),
        "height": (32, 1536),
        "num_images": (1, 8),
        "guidance_scale": (1, 20),
        "seed": (0, MAX_SEED),
        "weighting": (0, 2),
    }
    WIRE_FIELDS: ClassVar[dict[str, dict[str, Any]]] = {
        "prompt": {"pattern": NOT_BLANK, "maxLength": MAX_PROMPT},
        "width": {"multipleOf": 8},
        "height": {"multipleOf": 8},
        # 0 means the default, as a missing value does
        "num_inference_steps": {
            "schema": {"anyOf": [{"type": "integer", "minimum": 10, "maximum": 60}, {"const": 0}, _NULL]}
        },
        "imagePrompts": {"maxItems": MAX_IMAGE_PROMPTS},
        "controlnets": {"maxItems": MAX_CONTROLNETS},
    }
    WIRE_RULES: ClassVar[dict[str, Any]] = {
        **_generation_rules(),
        "description": "A canvas request (canvasRequest: true) needs canvasRequestType (INPAINT, OUTPAINT, "
        "SKETCH2IMG or IMG2IMG) and canvasInitId, and takes no init_image_id or init_generation_image_id; without "
        "one, the canvas keys are refused. The schema says which keys are present, not all of their values.",
    }
    WIRE_SEMANTIC: ClassVar[dict[str, str]] = {
        **dict.fromkeys(
            ("modelId", "init_image_id", "init_generation_image_id", "imagePrompts", "canvasInitId"), WRONG_KIND
        ),
        "canvasMaskId": "INPAINT needs a mask other than the canvas image, OUTPAINT a mask or a canvas image with "
        "transparent pixels (what the uploaded files hold); " + WRONG_KIND,
        "controlnets": "each entry's preprocessorId must be one this model serves, its strengthType one that "
        "preprocessor takes, its initImageType the kind its initImageId is (a 400 names the entry); " + WRONG_KIND,
        "elements": "each akUUID must be an element this server has for this model's family (a 400 lists them)",
        "userElements": "each userLoraId must be a finished element of yours for this model's family; " + WRONG_KIND,
    }
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
