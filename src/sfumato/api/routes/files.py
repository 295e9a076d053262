"""Generated image files: unguessable URLs that need no auth header (like a CDN), never expire, and stop
working when the generation or the user is deleted (the row, and with it the token, is gone)."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import FileResponse

from sfumato.api.deps import CdnDep

router = APIRouter(include_in_schema=False)
CACHE_FOREVER = {"Cache-Control": "public, max-age=31536000"}


@router.get("/cdn/{token}/{filename}")
def image_file(token: str, filename: str, cdn: CdnDep) -> FileResponse:
    found = cdn.generated_image(token, filename)
    return FileResponse(found.path, media_type=found.media_type, headers=CACHE_FOREVER)
