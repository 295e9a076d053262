"""/init-image (reserve, read, delete), the S3-compatible receiver the presigned form is posted to, and
the init image files. The receiver needs no auth header (an Authorization header is ignored): the signed
policy in the form is the authorisation, as with S3."""

from __future__ import annotations

import json
from typing import Annotated

from fastapi import APIRouter, Body, Depends, Request, Response
from fastapi.responses import FileResponse

from sfumato.api.deps import BaseUrlDep, CdnDep, InitImagesDep, PrincipalDep, UrlsDep
from sfumato.api.openapi import ID_OF_ANOTHER_KIND
from sfumato.api.presigned_form import receive_form
from sfumato.api.routes.files import CACHE_FOREVER
from sfumato.api.schemas.common import timestamp
from sfumato.api.schemas.generations import DeletedId
from sfumato.api.schemas.media import (
    DeleteInitImageResponse,
    GetInitImageResponse,
    InitImageOut,
    UploadCanvasInitImage,
    UploadCanvasInitImageBody,
    UploadCanvasInitImageResponse,
    UploadInitImage,
    UploadInitImageBody,
    UploadInitImageResponse,
)
from sfumato.services.errors import InvalidRequest
from sfumato.services.imaging import MAX_UPLOAD_BYTES
from sfumato.services.uploads import InitImageView
from sfumato.services.urls import FileUrls

router = APIRouter(tags=["Init Images"])
files_router = APIRouter(include_in_schema=False)
UPLOAD_PATH = "/uploads"


def init_image_url(base: str, v: InitImageView, file_urls: FileUrls) -> str:
    return file_urls.init_image(base, v.id, v.token, v.extension, v.file_key)


def refuse_multipart(request: Request) -> None:
    """Runs before the body is validated: a file posted here gets the two steps explained."""
    if not request.headers.get("content-type", "").lower().startswith("multipart/"):
        return
    if request.url.path.endswith("/canvas-init-image"):
        raise InvalidRequest(
            'POST /canvas-init-image takes JSON {"initExtension": "png", "maskExtension": "png"}, not the files. '
            "The answer's uploadCanvasInitImage has initUrl/initFields and maskUrl/maskFields: POST each file as a "
            "multipart form to its url with every entry of its parsed fields plus the file as `file` (answer: "
            "204); then send initImageId as canvasInitId and maskImageId as canvasMaskId",
            field="initExtension",
        )
    raise InvalidRequest(
        'POST /init-image takes JSON {"extension": "png"} (png, jpg, jpeg or webp), not the file. Uploading '
        "takes two steps: 1) POST /init-image with the extension; the answer's uploadInitImage has `url` and "
        "`fields` (a JSON string); 2) POST a multipart form to that `url` with every entry of the parsed "
        "`fields` plus the file as `file`, without an Authorization header (answer: 204). Then use "
        "uploadInitImage.id as init_image_id or in imagePrompts",
        field="extension",
    )


@router.post(
    "/init-image",
    response_model=UploadInitImageResponse,
    operation_id="uploadInitImage",
    dependencies=[Depends(refuse_multipart)],
)
def upload_init_image(
    init_images: InitImagesDep,
    base: BaseUrlDep,
    who: PrincipalDep,
    body: Annotated[UploadInitImageBody | None, Body()] = None,
) -> UploadInitImageResponse:
    body = body or UploadInitImageBody()
    body.log_unknown_keys("POST /init-image")
    r = init_images.reserve(who.user_id, body.extension)
    # Object storage: S3's own URL (the client posts to the bucket); else our receiver below.
    url = r.url or base + UPLOAD_PATH
    return UploadInitImageResponse(
        uploadInitImage=UploadInitImage(id=r.id, url=url, fields=json.dumps(r.fields), key=r.key)
    )


@router.post(
    "/canvas-init-image",
    response_model=UploadCanvasInitImageResponse,
    operation_id="uploadCanvasInitImage",
    dependencies=[Depends(refuse_multipart)],
)
def upload_canvas_init_image(
    init_images: InitImagesDep,
    base: BaseUrlDep,
    who: PrincipalDep,
    body: Annotated[UploadCanvasInitImageBody | None, Body()] = None,
) -> UploadCanvasInitImageResponse:
    """Two init images for the canvas editor: the picture and its mask (white = repaint), each uploaded as
    POST /init-image's is; their ids go to canvasInitId and canvasMaskId."""
    body = body or UploadCanvasInitImageBody()
    body.log_unknown_keys("POST /canvas-init-image")
    init, mask = init_images.reserve_canvas(who.user_id, body.initExtension, body.maskExtension)
    return UploadCanvasInitImageResponse(
        uploadCanvasInitImage=UploadCanvasInitImage(
            initImageId=init.id,
            initUrl=init.url or base + UPLOAD_PATH,
            initKey=init.key,
            initFields=json.dumps(init.fields),
            maskImageId=mask.id,
            maskUrl=mask.url or base + UPLOAD_PATH,
            maskKey=mask.key,
            maskFields=json.dumps(mask.fields),
        )
    )


@router.get(
    "/init-image/{id}",
    response_model=GetInitImageResponse,
    operation_id="getInitImageById",
    openapi_extra=ID_OF_ANOTHER_KIND,
)
def get_init_image(  # noqa: A002
    id: str, init_images: InitImagesDep, urls: UrlsDep, base: BaseUrlDep, who: PrincipalDep
) -> GetInitImageResponse:
    v = init_images.get(who.user_id, id)
    url = init_image_url(base, v, urls)
    out = InitImageOut(id=v.id, url=url, createdAt=timestamp(v.created_at))
    return GetInitImageResponse(init_images_by_pk=out)


@router.delete(
    "/init-image/{id}",
    response_model=DeleteInitImageResponse,
    operation_id="deleteInitImageById",
    openapi_extra=ID_OF_ANOTHER_KIND,
)
def delete_init_image(id: str, init_images: InitImagesDep, who: PrincipalDep) -> DeleteInitImageResponse:  # noqa: A002
    init_images.delete(who.user_id, id)
    return DeleteInitImageResponse(delete_init_images_by_pk=DeletedId(id=id))


@files_router.post(UPLOAD_PATH, status_code=204)
async def receive_upload(request: Request, init_images: InitImagesDep) -> Response:
    """The presigned POST target: fields + `file` in multipart/form-data, 204 on success, JSON 4xx else."""
    # The receiver decodes up to 20 MB with PIL and fsyncs: receive_form runs it on a worker thread.
    return await receive_form(request, MAX_UPLOAD_BYTES, init_images.receive, "`fields` from POST /init-image", "image")


@files_router.get("/cdn/init/{token}/{filename}")
def init_image_file(token: str, filename: str, cdn: CdnDep) -> FileResponse:
    found = cdn.init_image(token, filename)
    return FileResponse(found.path, media_type=found.media_type, headers=CACHE_FOREVER)
