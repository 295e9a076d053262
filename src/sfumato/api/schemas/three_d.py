"""Wire shapes of 3D model assets and texture generations (leonardo-api.md 3.2.12, 3.2.13, Appendix B).

Answers carry Leonardo's keys; a few keys of our own are added where the reference has none (the SDKs ignore
unknown keys): an asset's `status` and why its upload was refused, a texture's preview render, its mesh with
generated UVs, and why it failed."""

from __future__ import annotations

from typing import Any, ClassVar

from pydantic import Field, field_validator

from sfumato.api.openapi import NOT_BLANK, WRONG_KIND
from sfumato.api.schemas.common import Cost, TolerantBody, WireModel
from sfumato.api.schemas.generations import DeletedId
from sfumato.api.schemas.motion import whole_number
from sfumato.services.three_d.assets import NAME_MAX
from sfumato.services.three_d.textures import PREVIEW_DIRECTIONS, PROMPT_MAX, TextureParams


class UploadModelAssetBody(TolerantBody):
    WIRE_REQUIRED: ClassVar[tuple[str, ...]] = ("modelExtension",)
    WIRE_ENUMS: ClassVar[dict[str, tuple[str, ...]]] = {"modelExtension": ("obj", "glb", "gltf")}
    WIRE_FIELDS: ClassVar[dict[str, dict[str, Any]]] = {"name": {"maxLength": NAME_MAX}}
    modelExtension: Any = Field(default=None, description="obj, glb or gltf: the extension only, without the dot")
    name: str | None = Field(default=None, description="a name for the model (up to 200 characters)")


class UploadModelAsset(WireModel):
    modelId: str
    modelUrl: str = Field(description="where to POST the multipart form (no Authorization header needed)")
    modelKey: str
    modelFields: str = Field(description="JSON-encoded STRING of the form fields to send with the file")


class UploadModelAssetResponse(WireModel):
    uploadModelAsset: UploadModelAsset


class ModelAssetOut(WireModel):
    id: str
    name: str | None = None
    meshUrl: str | None = Field(default=None, description="the uploaded mesh; absent until the upload passed")
    userId: str | None = None
    createdAt: str | None = None
    updatedAt: str | None = None
    status: str | None = Field(default=None, description="Sfumato: RESERVED (no mesh yet) or READY")
    uploadRefusedReason: str | None = Field(default=None, description="Sfumato: why the last upload was refused")


class GetModelAssetResponse(WireModel):
    model_assets_by_pk: ModelAssetOut | None


class ListModelAssetsResponse(WireModel):
    model_assets: list[ModelAssetOut]


class DeleteModelAssetResponse(WireModel):
    delete_model_assets_by_pk: DeletedId


class TextureGenerationBody(TolerantBody):
    WIRE_REQUIRED: ClassVar[tuple[str, ...]] = ("modelAssetId", "prompt")
    WIRE_ENUMS: ClassVar[dict[str, tuple[str, ...]]] = {"preview_direction": PREVIEW_DIRECTIONS}
    WIRE_RANGES: ClassVar[dict[str, tuple[float, float]]] = {
        "front_rotation_offset": (-360, 360),
        "seed": (0, 9_999_999_998),
    }
    WIRE_FIELDS: ClassVar[dict[str, dict[str, Any]]] = {"prompt": {"pattern": NOT_BLANK, "maxLength": PROMPT_MAX}}
    WIRE_SEMANTIC: ClassVar[dict[str, str]] = {
        "modelAssetId": WRONG_KIND,
        # The texture model is the operator's choice (SFUMATO_TEXTURE_MODEL_ID), which a static spec cannot name.
        "sd_version": "must be this server's texture model's own version (a deployment setting): another gets a "
        "400 that names it; leave it out",
    }
    modelAssetId: str | None = Field(default=None, description="uploadModelAsset.modelId of POST /models-3d/upload")
    prompt: str | None = Field(default=None, description="what the texture shows")
    negative_prompt: str | None = None
    front_rotation_offset: int | None = Field(
        default=None, description="degrees the cameras turn about the vertical axis (the mesh's front side)"
    )
    preview: bool | None = Field(default=None, description="true: paint only the preview side (one view, faster)")
    preview_direction: str | None = Field(default=None, description="side of the preview render; default front")
    seed: int | None = None
    sd_version: str | None = Field(default=None, description="must be the texture model's own, or left out")

    @field_validator("front_rotation_offset", "seed", mode="before")
    @classmethod
    def _integer(cls, value: Any) -> Any:
        return whole_number(value, "an integer")

    def to_params(self) -> TextureParams:
        return TextureParams(
            self.modelAssetId,
            self.prompt,
            self.negative_prompt,
            self.front_rotation_offset,
            self.preview,
            self.preview_direction,
            self.seed,
            self.sd_version,
        )


class TextureGenerationJob(WireModel):
    id: str
    apiCreditCost: int = 0
    cost: Cost = Cost()


class TextureGenerationResponse(WireModel):
    textureGenerationJob: TextureGenerationJob


class TextureImageOut(WireModel):
    id: str
    type: str = "ALBEDO"
    url: str


class TextureGenerationOut(WireModel):
    id: str
    createdAt: str
    prompt: str
    negativePrompt: str | None = None
    seed: int
    status: str
    model_asset_texture_images: list[TextureImageOut] = []
    # Sfumato's own keys (ignored by the SDKs): the render of the textured mesh, the mesh with the UVs the
    # atlas follows when the asset had none (OBJ + MTL), the asset, and why a FAILED job failed.
    previewUrl: str | None = None
    meshUrl: str | None = None
    materialUrl: str | None = None
    modelAssetId: str | None = None
    preview: bool | None = None
    previewDirection: str | None = None
    frontRotationOffset: int | None = None
    failureReason: str | None = None
    method: str | None = Field(default=None, description="Sfumato: how the views were painted")


class GetTextureGenerationResponse(WireModel):
    model_asset_texture_generations_by_pk: TextureGenerationOut | None


class ListTextureGenerationsResponse(WireModel):
    model_asset_texture_generations: list[TextureGenerationOut]


class DeleteTextureGenerationResponse(WireModel):
    delete_model_asset_texture_generations_by_pk: DeletedId
