"""POST /generations body and the generation responses."""

from __future__ import annotations

from typing import Any, ClassVar

from pydantic import Field, field_validator

from sfumato.api.openapi import FALSE_ONLY, NOT_BLANK, SPACE, TRUE_ONLY, WRONG_KIND
from sfumato.api.schemas.common import Cost, TolerantBody, WireModel, upper_enum
from sfumato.api.wire.options import NO_OP_FIELDS, options_from_wire
from sfumato.services.canvas import CANVAS_TYPES, CanvasParams
from sfumato.services.catalog import SD_VERSIONS
from sfumato.services.control import LEGACY_TYPES, MAX_CONTROLNETS, PREPROCESSORS, STRENGTH_WEIGHTS, LegacyControl
from sfumato.services.generations import GenerationParams
from sfumato.services.generations.service import MAX_IMAGE_PROMPTS, MAX_PROMPT, MAX_SEED, SCHEDULERS
from sfumato.services.styles import STYLE_TEMPLATES
from sfumato.services.training.adapters import ELEMENT_NUMBER_MAX, MAX_ELEMENTS, USER_ELEMENT_WEIGHTS

_NULL = {"type": "null"}
_NO_ID = {"anyOf": [_NULL, {"const": ""}]}  # an id left out (null or empty)
_AN_ID = {"type": "string", "minLength": 1}
_AT_MOST_768 = {"type": "integer", "maximum": 768}


def _any_case(*words: str) -> str:
    """A pattern for these words in any case, with the whitespace Python's strip() removes around them."""
    spelled = "|".join("".join(f"[{c.upper()}{c.lower()}]" for c in word) for word in words)
    return f"^[{SPACE}]*({spelled})[{SPACE}]*$"


def _list_of(item: dict[str, Any], most: int) -> dict[str, Any]:
    return {"type": "array", "maxItems": most, "items": item}


_WEIGHT = {"anyOf": [_NULL, {"type": "number", "minimum": 0, "maximum": 2}]}
# controlnets[] entries as services/control.py reads them (initImageType in any case, trimmed; 133.0 is 133).
_CONTROLNET: dict[str, Any] = {
    "type": "object",
    "required": ["initImageId", "preprocessorId"],
    "properties": {
        "initImageId": _AN_ID,
        "initImageType": {"anyOf": [_NULL, {"type": "string", "pattern": _any_case("GENERATED", "UPLOADED")}]},
        "preprocessorId": {"type": "number", "enum": sorted(PREPROCESSORS)},
        "weight": _WEIGHT,
        "strengthType": {"anyOf": [_NULL, {"enum": list(STRENGTH_WEIGHTS)}]},
    },
    # weight or strengthType, not both
    "anyOf": [{"properties": {"weight": _NULL}}, {"properties": {"strengthType": _NULL}}],
}
_ELEMENT: dict[str, Any] = {  # a platform element (its weight range is its own: GET /elements)
    "type": "object",
    "required": ["akUUID"],
    "properties": {"akUUID": _AN_ID, "weight": {"anyOf": [_NULL, {"type": "number"}]}},
}
_USER_ELEMENT: dict[str, Any] = {  # one of the caller's trained elements, by its number
    "type": "object",
    "required": ["userLoraId"],
    "properties": {
        "userLoraId": {"type": "integer", "minimum": 1, "maximum": ELEMENT_NUMBER_MAX},
        "weight": {
            "anyOf": [_NULL, {"type": "number", "minimum": USER_ELEMENT_WEIGHTS[0], "maximum": USER_ELEMENT_WEIGHTS[1]}]
        },
    },
}


def _generation_rules() -> dict[str, Any]:
    """POST /generations' rules across fields (services/generations, control.py, canvas.py).

    The image sources are spelled as one choice of modes (plain, canvas, one init image with or without the
    deprecated controlNet) rather than one rule per pair of fields: the same set of bodies, but a form Schemathesis's
    generator can draw from (a product of six two-way rules was past what it canonicalises)."""
    no_init = {"init_image_id": _NO_ID, "init_generation_image_id": _NO_ID}
    strength = {"init_strength": {"anyOf": [_NULL, {"minimum": 0.1, "maximum": 0.9}]}}
    # The canvas keys act only on a canvas request, which sends its type and canvasInitId and no init image.
    canvas_off = {"canvasRequest": FALSE_ONLY, "canvasRequestType": _NULL, "canvasInitId": _NULL, "canvasMaskId": _NULL}
    canvas_on = {"canvasRequest": TRUE_ONLY, "canvasRequestType": {"enum": list(CANVAS_TYPES)}, "canvasInitId": _AN_ID}
    # The deprecated controlNet: true needs controlNetType and an init image, and no controlnets[]; without it,
    # controlNetType and weighting are refused (they would do nothing).
    legacy_off = {"controlNet": FALSE_ONLY, "controlNetType": _NULL, "weighting": _NULL}
    legacy_on = {
        "controlNet": TRUE_ONLY,
        "controlNetType": {"enum": list(LEGACY_TYPES)},
        "controlnets": {"anyOf": [_NULL, {"maxItems": 0}]},
    }
    modes: list[dict[str, Any]] = [
        # init_strength counts (0.1-0.9) only with an image to start from: ignored without one
        {"properties": {**no_init, **canvas_off, **legacy_off}},
        {
            "required": ["canvasRequest", "canvasRequestType", "canvasInitId"],
            "properties": {**no_init, **strength, **canvas_on, **legacy_off},
        },
    ]
    for field, other in (("init_image_id", "init_generation_image_id"), ("init_generation_image_id", "init_image_id")):
        one_init = {field: _AN_ID, other: _NO_ID, **strength, **canvas_off}  # one init image at most
        modes.append({"required": [field], "properties": {**one_init, **legacy_off}})
        modes.append({"required": [field, "controlNet", "controlNetType"], "properties": {**one_init, **legacy_on}})
    return {
        "allOf": [
            # More than 4 images only at 768x768 or less (sent: a model's default size may be larger).
            {
                "anyOf": [
                    {"properties": {"num_images": {"anyOf": [_NULL, {"maximum": 4}]}}},
                    {
                        "required": ["width", "height"],
                        # numbers, not null: a null size is the model's default, which may be larger
                        "properties": {"width": _AT_MOST_768, "height": _AT_MOST_768},
                    },
                ]
            },
            {"anyOf": modes},
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
        "imagePromptWeight": (0, 1),  # refused outside, with or without imagePrompts
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
        "controlnets": {"schema": {"anyOf": [_NULL, _list_of(_CONTROLNET, MAX_CONTROLNETS)]}},
        "elements": {"schema": {"anyOf": [_NULL, _list_of(_ELEMENT, MAX_ELEMENTS)]}},
        "userElements": {"schema": {"anyOf": [_NULL, _list_of(_USER_ELEMENT, MAX_ELEMENTS)]}},
    }
    WIRE_RULES: ClassVar[dict[str, Any]] = {
        **_generation_rules(),
        "description": "A canvas request (canvasRequest: true) needs canvasRequestType (INPAINT, OUTPAINT, "
        "SKETCH2IMG or IMG2IMG) and canvasInitId, and takes no init_image_id or init_generation_image_id; without "
        "one, the canvas keys are refused.",
    }
    WIRE_SEMANTIC: ClassVar[dict[str, str]] = {
        **dict.fromkeys(
            ("modelId", "init_image_id", "init_generation_image_id", "imagePrompts", "canvasInitId"), WRONG_KIND
        ),
        "canvasMaskId": "INPAINT needs a mask other than the canvas image, OUTPAINT a mask or a canvas image with "
        "transparent pixels (what the uploaded files hold); " + WRONG_KIND,
        "controlnets": "each entry's preprocessorId must be one this model serves, its strengthType one that "
        "preprocessor takes, its initImageType the kind its initImageId is (a 400 names the entry); " + WRONG_KIND,
        "elements": "each akUUID must be an element this server has for this model's family (a 400 lists them), "
        "its weight within that element's range; at most 5 elements and userElements together",
        "userElements": "each userLoraId must be a finished element of yours for this model's family; at most 5 "
        "elements and userElements together; " + WRONG_KIND,
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
