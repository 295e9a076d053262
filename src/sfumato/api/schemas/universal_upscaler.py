"""POST /variations/universal-upscaler: wire shapes (keys as Leonardo's SDKs send them)."""

from __future__ import annotations

from typing import Any, ClassVar

from sfumato.api.openapi import NOT_BLANK, WRONG_KIND
from sfumato.api.schemas.common import Cost, TolerantBody, WireModel
from sfumato.services.variations_universal import ULTRA_STYLES, UPSCALER_STYLES, UniversalParams

_SOURCES = ("generatedImageId", "initImageId", "variationId")
_GIVEN = {"type": "string", "pattern": NOT_BLANK}


class UniversalUpscalerBody(TolerantBody):
    WIRE_ENUMS: ClassVar[dict[str, tuple[str, ...]]] = {
        "upscalerStyle": ("", *UPSCALER_STYLES),  # "": the default, as null
        "ultraUpscaleStyle": ("", *ULTRA_STYLES),
    }
    WIRE_RANGES: ClassVar[dict[str, tuple[float, float]]] = {
        "upscaleMultiplier": (1.0, 2.0),
        "creativityStrength": (1, 10),
        "similarity": (1, 10),
        "detailContrast": (1, 10),
    }
    WIRE_RULES: ClassVar[dict[str, Any]] = {
        "allOf": [
            # Exactly one source: a text with something in it (null or blank counts as not sent).
            {
                "oneOf": [
                    {"required": [f], "properties": {f: {"type": "string", "pattern": NOT_BLANK}}} for f in _SOURCES
                ]
            },
            # similarity and detailContrast tune Ultra upscales only.
            {
                "anyOf": [
                    {"properties": {"similarity": {"type": "null"}, "detailContrast": {"type": "null"}}},
                    {
                        "required": ["ultraUpscaleStyle"],
                        "properties": {"ultraUpscaleStyle": {"enum": list(ULTRA_STYLES)}},
                    },
                ]
            },
        ],
        "description": "Send exactly one of generatedImageId, initImageId and variationId.",
    }
    WIRE_SEMANTIC: ClassVar[dict[str, str]] = dict.fromkeys(_SOURCES, WRONG_KIND)
    generatedImageId: str | None = None
    initImageId: str | None = None
    variationId: str | None = None
    upscaleMultiplier: float | None = None
    creativityStrength: int | None = None
    upscalerStyle: str | None = None
    ultraUpscaleStyle: str | None = None
    similarity: int | None = None
    detailContrast: int | None = None
    prompt: str | None = None

    def params(self) -> UniversalParams:
        return UniversalParams(
            generated_image_id=self.generatedImageId,
            init_image_id=self.initImageId,
            variation_id=self.variationId,
            upscale_multiplier=self.upscaleMultiplier,
            creativity_strength=self.creativityStrength,
            upscaler_style=self.upscalerStyle,
            ultra_upscale_style=self.ultraUpscaleStyle,
            similarity=self.similarity,
            detail_contrast=self.detailContrast,
            prompt=self.prompt,
        )


class UniversalUpscalerJob(WireModel):
    id: str
    apiCreditCost: int  # what the job was charged, from the price table (services/credits/)
    cost: Cost


class UniversalUpscalerResponse(WireModel):
    universalUpscaler: UniversalUpscalerJob
