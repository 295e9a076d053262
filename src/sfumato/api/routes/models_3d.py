"""/models-3d: reserve an upload (POST /models-3d/upload), read, list and delete model assets; the receiver
the presigned form is posted to (/uploads/models-3d: the mesh is parsed before a byte is kept) and the mesh
files. Static segments are declared before `/models-3d/{id}`."""

from __future__ import annotations

import json
from typing import Annotated

from fastapi import APIRouter, Body, Depends, Query, Request, Response
from fastapi.responses import FileResponse

from sfumato.api.deps import BaseUrlDep, ModelAssetsDep, PrincipalDep, UrlsDep
from sfumato.api.openapi import ID_OF_ANOTHER_KIND, PAGING, PAGING_CHECK
from sfumato.api.presigned_form import receive_form
from sfumato.api.routes.files import CACHE_FOREVER
from sfumato.api.schemas.common import timestamp
from sfumato.api.schemas.generations import DeletedId
from sfumato.api.schemas.three_d import (
    DeleteModelAssetResponse,
    GetModelAssetResponse,
    ListModelAssetsResponse,
    ModelAssetOut,
    UploadModelAsset,
    UploadModelAssetBody,
    UploadModelAssetResponse,
)
from sfumato.services.errors import InvalidRequest, NotFound
from sfumato.services.three_d import ModelAssetView
from sfumato.services.urls import FileUrls

router = APIRouter(tags=["3D Model Assets"])
files_router = APIRouter(include_in_schema=False)
UPLOAD_PATH = "/uploads/models-3d"


def mesh_url(base: str, v: ModelAssetView, urls: FileUrls) -> str | None:
    if v.status != "READY":
        return None
    if urls.direct:
        return urls.direct(v.file_key)
    return f"{base.rstrip('/')}/cdn/models-3d/{v.token}/{v.file_name}"


def asset_out(v: ModelAssetView, base: str, urls: FileUrls) -> ModelAssetOut:
    return ModelAssetOut(
        id=v.id,
        name=v.name,
        meshUrl=mesh_url(base, v, urls),
        userId=v.user_id,
        createdAt=timestamp(v.created_at),
        updatedAt=timestamp(v.updated_at),
        status=v.status,
        uploadRefusedReason=v.refusal,
    )


def refuse_multipart(request: Request) -> None:
    """A file posted to the reservation endpoint gets the two steps explained."""
    if request.headers.get("content-type", "").lower().startswith("multipart/"):
        raise InvalidRequest(
            'POST /models-3d/upload takes JSON {"modelExtension": "obj", "name": "chair"} (obj, glb or gltf), not '
            "the file. Then POST a multipart form to the answer's uploadModelAsset.modelUrl with every entry of "
            "the parsed modelFields plus the file as `file` (answer: 204); uploadModelAsset.modelId is the "
            "modelAssetId for POST /generations-texture",
            field="modelExtension",
        )


@router.post(
    "/models-3d/upload",
    response_model=UploadModelAssetResponse,
    operation_id="uploadModelAsset",
    dependencies=[Depends(refuse_multipart)],
)
def upload_model_asset(
    assets: ModelAssetsDep,
    base: BaseUrlDep,
    who: PrincipalDep,
    body: Annotated[UploadModelAssetBody | None, Body()] = None,
) -> UploadModelAssetResponse:
    body = body or UploadModelAssetBody()
    body.log_unknown_keys("POST /models-3d/upload")
    r = assets.reserve(who.user_id, body.name, body.modelExtension)
    return UploadModelAssetResponse(
        uploadModelAsset=UploadModelAsset(
            modelId=r.id, modelUrl=base + UPLOAD_PATH, modelKey=r.key, modelFields=json.dumps(r.fields)
        )
    )


@router.get(
    "/models-3d/user/{userId}",
    response_model=ListModelAssetsResponse,
    response_model_exclude_none=True,
    operation_id="get3DModelsByUserId",
    dependencies=PAGING_CHECK,
    openapi_extra=PAGING,
)
def list_model_assets(
    userId: str,  # noqa: N803 — Leonardo's path parameter name
    assets: ModelAssetsDep,
    urls: UrlsDep,
    base: BaseUrlDep,
    who: PrincipalDep,
    offset: Annotated[int, Query()] = 0,
    limit: Annotated[int, Query()] = 10,
) -> ListModelAssetsResponse:
    if userId not in (who.user_id, who.username):
        raise NotFound(f"user {userId} not found; GET /me shows your user id")
    views = assets.list_for_user(who.user_id, offset=offset, limit=limit)
    return ListModelAssetsResponse(model_assets=[asset_out(v, base, urls) for v in views])


@router.get(
    "/models-3d/{id}",
    response_model=GetModelAssetResponse,
    response_model_exclude_none=True,
    operation_id="get3DModelById",
    openapi_extra=ID_OF_ANOTHER_KIND,
)
def get_model_asset(  # noqa: A002
    id: str, assets: ModelAssetsDep, urls: UrlsDep, base: BaseUrlDep, who: PrincipalDep
) -> GetModelAssetResponse:
    return GetModelAssetResponse(model_assets_by_pk=asset_out(assets.get(who.user_id, id), base, urls))


@router.delete(
    "/models-3d/{id}",
    response_model=DeleteModelAssetResponse,
    operation_id="delete3DModelById",
    openapi_extra=ID_OF_ANOTHER_KIND,
)
def delete_model_asset(id: str, assets: ModelAssetsDep, who: PrincipalDep) -> DeleteModelAssetResponse:  # noqa: A002
    assets.delete(who.user_id, id)
    return DeleteModelAssetResponse(delete_model_assets_by_pk=DeletedId(id=id))


@files_router.post(UPLOAD_PATH, status_code=204)
async def receive_model_upload(request: Request, assets: ModelAssetsDep) -> Response:
    """The presigned POST target: fields + `file` in multipart/form-data, 204 on success, JSON 4xx else."""
    fields_from = "modelFields from POST /models-3d/upload"
    return await receive_form(request, assets.limits.max_bytes, assets.receive, fields_from, "mesh")


@files_router.get("/cdn/models-3d/{token}/{filename}")
def model_asset_file(token: str, filename: str, assets: ModelAssetsDep) -> FileResponse:
    path, media_type = assets.file(token, filename)
    return FileResponse(path, media_type=media_type, headers=CACHE_FOREVER)
