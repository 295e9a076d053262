"""/init-image (reserve, read, delete), the S3-compatible receiver the presigned form is posted to, and
the init image files. The receiver needs no auth header (an Authorization header is ignored): the signed
policy in the form is the authorisation, as with S3."""

from __future__ import annotations

import json
from typing import Annotated

from fastapi import APIRouter, Body, Depends, Request, Response
from fastapi.responses import FileResponse
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import UploadFile

from sfumato.api.deps import BaseUrlDep, CdnDep, InitImagesDep, PrincipalDep, UrlsDep
from sfumato.api.errors import error_response
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
from sfumato.services.uploads import InitImageView, UploadRefused
from sfumato.services.urls import FileUrls

router = APIRouter(tags=["Init Images"])
files_router = APIRouter(include_in_schema=False)
UPLOAD_PATH = "/uploads"
_FORM_OVERHEAD = 64 * 1024  # the policy fields around the file in a multipart body


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


@router.get("/init-image/{id}", response_model=GetInitImageResponse, operation_id="getInitImageById")
def get_init_image(  # noqa: A002
    id: str, init_images: InitImagesDep, urls: UrlsDep, base: BaseUrlDep, who: PrincipalDep
) -> GetInitImageResponse:
    v = init_images.get(who.user_id, id)
    url = init_image_url(base, v, urls)
    out = InitImageOut(id=v.id, url=url, createdAt=timestamp(v.created_at))
    return GetInitImageResponse(init_images_by_pk=out)


@router.delete("/init-image/{id}", response_model=DeleteInitImageResponse, operation_id="deleteInitImageById")
def delete_init_image(id: str, init_images: InitImagesDep, who: PrincipalDep) -> DeleteInitImageResponse:  # noqa: A002
    init_images.delete(who.user_id, id)
    return DeleteInitImageResponse(delete_init_images_by_pk=DeletedId(id=id))


@files_router.post(UPLOAD_PATH, status_code=204)
async def receive_upload(request: Request, init_images: InitImagesDep) -> Response:
    """The presigned POST target: fields + `file` in multipart/form-data, 204 on success, JSON 4xx else."""
    declared = int(request.headers.get("content-length") or 0)
    if declared > MAX_UPLOAD_BYTES + _FORM_OVERHEAD:  # refuse before reading a byte of it
        message = f"EntityTooLarge: the upload is {declared} bytes, the most is {MAX_UPLOAD_BYTES}; send less"
        return error_response(400, message, "bad-request", "$.file")
    if not request.headers.get("content-type", "").lower().startswith("multipart/form-data"):
        return error_response(
            400,
            "send multipart/form-data: every entry of `fields` from POST /init-image, then the file as `file`",
            "bad-request",
            "$",
        )
    try:
        form = await request.form(max_part_size=MAX_UPLOAD_BYTES + _FORM_OVERHEAD)
    except Exception as exc:  # malformed multipart: a client error, never a 500
        return error_response(400, f"the multipart body could not be read ({exc})", "bad-request", "$")
    fields = {k: v for k, v in form.multi_items() if isinstance(v, str)}
    upload = next((v for k, v in form.multi_items() if k.lower() == "file"), None)
    if upload is None:
        await form.close()
        return error_response(
            400, "the form has no `file` part; add the image bytes as `file` after the fields", "bad-request", "$.file"
        )
    data = await upload.read() if isinstance(upload, UploadFile) else upload.encode("latin-1", "replace")
    await form.close()
    try:
        # SQL, a PIL decode of up to 20 MB and an fsync: on a worker thread, never on the event loop.
        await run_in_threadpool(init_images.receive, fields, data)
    except UploadRefused as exc:
        return error_response(exc.status, exc.message, exc.code, "$.file")
    return Response(status_code=204)


@files_router.get("/cdn/init/{token}/{filename}")
def init_image_file(token: str, filename: str, cdn: CdnDep) -> FileResponse:
    found = cdn.init_image(token, filename)
    return FileResponse(found.path, media_type=found.media_type, headers=CACHE_FOREVER)
