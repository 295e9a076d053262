"""/generations-texture: start a texture generation for a model asset, read, list per asset, delete; and the
texture files (atlas, preview render, mesh with UVs). `/generations-texture/model/{modelId}` is declared
before `/generations-texture/{id}`."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Body, Query
from fastapi.responses import FileResponse

from sfumato.api.deps import BaseUrlDep, CreditsDep, PrincipalDep, TexturesDep, UrlsDep
from sfumato.api.openapi import PAGING, PAGING_CHECK, WRONG_KIND, semantic_refusals
from sfumato.api.routes.files import CACHE_FOREVER
from sfumato.api.routes.pricing import cost_fields
from sfumato.api.schemas.common import timestamp
from sfumato.api.schemas.generations import DeletedId
from sfumato.api.schemas.three_d import (
    DeleteTextureGenerationResponse,
    GetTextureGenerationResponse,
    ListTextureGenerationsResponse,
    TextureGenerationBody,
    TextureGenerationJob,
    TextureGenerationOut,
    TextureGenerationResponse,
    TextureImageOut,
)
from sfumato.jobs.core.status import wire_status
from sfumato.services.three_d import TextureView
from sfumato.services.urls import FileUrls

router = APIRouter(tags=["Texture"])
files_router = APIRouter(include_in_schema=False)


def texture_file_url(base: str, v: TextureView, name: str, urls: FileUrls) -> str | None:
    key = v.keys.get(name)
    if key is None:
        return None
    if urls.direct:
        return urls.direct(key)
    return f"{base.rstrip('/')}/cdn/textures/{v.token}/{name}"


def texture_out(v: TextureView, base: str, urls: FileUrls) -> TextureGenerationOut:
    images = [
        TextureImageOut(id=i.id, type=i.type, url=texture_file_url(base, v, i.name, urls) or "") for i in v.images
    ]
    return TextureGenerationOut(
        id=v.id,
        createdAt=timestamp(v.created_at),
        prompt=v.prompt,
        negativePrompt=v.negative_prompt,
        seed=v.seed,
        status=wire_status(v.status),
        model_asset_texture_images=images,
        previewUrl=texture_file_url(base, v, "preview.png", urls),
        meshUrl=texture_file_url(base, v, "mesh.obj", urls),
        materialUrl=texture_file_url(base, v, "mesh.mtl", urls),
        modelAssetId=v.model_asset_id,
        preview=v.preview,
        previewDirection=v.preview_direction,
        frontRotationOffset=v.front_rotation_offset,
        failureReason=v.failure_reason,
        method=v.method,
    )


@router.post(
    "/generations-texture",
    response_model=TextureGenerationResponse,
    response_model_exclude_none=True,
    operation_id="createTextureGeneration",
)
def create_texture_generation(
    textures: TexturesDep,
    credits: CreditsDep,
    who: PrincipalDep,
    body: Annotated[TextureGenerationBody | None, Body()] = None,
) -> TextureGenerationResponse:
    body = body or TextureGenerationBody()
    body.log_unknown_keys("POST /generations-texture")
    texture_id = textures.create(who.user_id, who.api_key_id, body.to_params())
    job = TextureGenerationJob(id=texture_id, **cost_fields(credits, texture_id))  # type: ignore[arg-type]
    return TextureGenerationResponse(textureGenerationJob=job)


@router.get(
    "/generations-texture/model/{modelId}",
    response_model=ListTextureGenerationsResponse,
    response_model_exclude_none=True,
    operation_id="getTextureGenerationsByModelId",
    dependencies=PAGING_CHECK,
    openapi_extra={**PAGING, **semantic_refusals(modelId=WRONG_KIND)},
)
def list_texture_generations(
    modelId: str,  # noqa: N803 — Leonardo's path parameter name
    textures: TexturesDep,
    urls: UrlsDep,
    base: BaseUrlDep,
    who: PrincipalDep,
    offset: Annotated[int, Query()] = 0,
    limit: Annotated[int, Query()] = 10,
) -> ListTextureGenerationsResponse:
    views = textures.list_for_asset(who.user_id, modelId, offset=offset, limit=limit)
    return ListTextureGenerationsResponse(model_asset_texture_generations=[texture_out(v, base, urls) for v in views])


@router.get(
    "/generations-texture/{id}",
    response_model=GetTextureGenerationResponse,
    response_model_exclude_none=True,
    operation_id="getTextureGenerationById",
)
def get_texture_generation(  # noqa: A002
    id: str, textures: TexturesDep, urls: UrlsDep, base: BaseUrlDep, who: PrincipalDep
) -> GetTextureGenerationResponse:
    view = textures.get(who.user_id, id)
    return GetTextureGenerationResponse(model_asset_texture_generations_by_pk=texture_out(view, base, urls))


@router.delete(
    "/generations-texture/{id}",
    response_model=DeleteTextureGenerationResponse,
    operation_id="deleteTextureGenerationById",
)
def delete_texture_generation(id: str, textures: TexturesDep, who: PrincipalDep) -> DeleteTextureGenerationResponse:  # noqa: A002
    textures.delete(who.user_id, id)
    return DeleteTextureGenerationResponse(delete_model_asset_texture_generations_by_pk=DeletedId(id=id))


@files_router.get("/cdn/textures/{token}/{filename}")
def texture_file(token: str, filename: str, textures: TexturesDep) -> FileResponse:
    path, media_type = textures.file(token, filename)
    return FileResponse(path, media_type=media_type, headers=CACHE_FOREVER)
