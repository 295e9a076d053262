"""Wire shapes of init images (presigned uploads) and variations (leonardo-api.md 3.1 b/e, 3.2.2, 3.2.7)."""

from __future__ import annotations

from typing import Any, ClassVar

from pydantic import Field

from sfumato.api.openapi import WRONG_KIND
from sfumato.api.schemas.common import Cost, TolerantBody, WireModel
from sfumato.api.schemas.generations import DeletedId


class UploadInitImageBody(TolerantBody):
    WIRE_REQUIRED: ClassVar[tuple[str, ...]] = ("extension",)
    WIRE_ENUMS: ClassVar[dict[str, tuple[str, ...]]] = {"extension": ("png", "jpg", "jpeg", "webp")}
    extension: Any = Field(default=None, description="png, jpg, jpeg or webp (the extension only, any case)")


class UploadInitImage(WireModel):
    id: str
    url: str = Field(description="where to POST the multipart form (no Authorization header needed)")
    fields: str = Field(description="JSON-encoded STRING of the form fields to send with the file")
    key: str


class UploadInitImageResponse(WireModel):
    uploadInitImage: UploadInitImage


class InitImageOut(WireModel):
    id: str
    url: str
    createdAt: str


class GetInitImageResponse(WireModel):
    init_images_by_pk: InitImageOut | None


class DeleteInitImageResponse(WireModel):
    delete_init_images_by_pk: DeletedId


class VariationBody(TolerantBody):
    WIRE_REQUIRED: ClassVar[tuple[str, ...]] = ("id",)
    # Leonardo answers "couldn't access image" for an uploaded init image; here a 400 says what to do instead.
    WIRE_SEMANTIC: ClassVar[dict[str, str]] = {
        "id": "an uploaded init image's id gets a 400 that says to generate from it first, or to upscale it with "
        "POST /variations/universal-upscaler (initImageId); " + WRONG_KIND
    }
    id: str | None = Field(default=None, description="a generated image id (generated_images[].id)")
    isVariation: bool | None = Field(default=None, description="true when `id` is a variation id")


class VariationJob(WireModel):
    id: str
    apiCreditCost: int  # what the job was charged, from the price table (services/credits/)
    cost: Cost


class UpscaleResponse(WireModel):
    sdUpscaleJob: VariationJob


class UnzoomResponse(WireModel):
    sdUnzoomJob: VariationJob


class NobgResponse(WireModel):
    sdNobgJob: VariationJob


class VariationGenericOut(WireModel):
    id: str
    createdAt: str
    status: str
    transformType: str
    url: str | None = None
    # Not in Leonardo's schema (the SDKs ignore unknown keys): why a FAILED variation failed, and which
    # upscaler / background remover ran.
    failureReason: str | None = None
    method: str | None = None


class GetVariationResponse(WireModel):
    generated_image_variation_generic: list[VariationGenericOut]


class UploadCanvasInitImageBody(TolerantBody):
    WIRE_REQUIRED: ClassVar[tuple[str, ...]] = ("initExtension", "maskExtension")
    WIRE_ENUMS: ClassVar[dict[str, tuple[str, ...]]] = {
        "initExtension": ("png", "jpg", "jpeg", "webp"),
        "maskExtension": ("png", "jpg", "jpeg", "webp"),
    }
    initExtension: Any = Field(default=None, description="the canvas image's extension: png, jpg, jpeg or webp")
    maskExtension: Any = Field(default=None, description="the mask's extension (white = repaint): png, jpg, jpeg, webp")


class UploadCanvasInitImage(WireModel):
    initImageId: str
    initUrl: str = Field(description="where to POST the canvas image's multipart form")
    initKey: str
    initFields: str = Field(description="JSON-encoded STRING of the form fields to send with the canvas image")
    maskImageId: str
    maskUrl: str = Field(description="where to POST the mask's multipart form")
    maskKey: str
    maskFields: str = Field(description="JSON-encoded STRING of the form fields to send with the mask")


class UploadCanvasInitImageResponse(WireModel):
    uploadCanvasInitImage: UploadCanvasInitImage
