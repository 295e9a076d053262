"""Image files: unguessable URLs that need no auth header (like a CDN), never expire, and stop working
when the generation or the user is deleted (the row, and with it the token, is gone)."""

from __future__ import annotations

import hmac

from fastapi import APIRouter
from fastapi.responses import FileResponse

from sfumato.api.deps import ContainerDep
from sfumato.services.errors import NotFound
from sfumato.store.models import GeneratedImage

router = APIRouter(include_in_schema=False)


@router.get("/cdn/{token}/{filename}")
def image_file(token: str, filename: str, c: ContainerDep) -> FileResponse:
    image_id, _, ext = filename.rpartition(".")
    with c.db.session() as s:
        image = s.get(GeneratedImage, image_id)
    if image is None or ext != "png" or not hmac.compare_digest(image.token, token):
        raise NotFound("no such image")
    path = c.files.local_path(image.file_key)
    if path is None:
        raise NotFound("no such image")
    return FileResponse(path, media_type="image/png", headers={"Cache-Control": "public, max-age=31536000"})
