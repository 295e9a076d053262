"""Generated image files: unguessable URLs that need no auth header (like a CDN), never expire, and stop
working when the generation or the user is deleted (the row, and with it the token, is gone).

Platform models' sample images too (GET /platformModels' `generated_image`): the same picture for every user,
so their URL is stable rather than secret, named by a digest of the file so a new sample gets a new URL."""

from __future__ import annotations

import hashlib
import uuid
from functools import lru_cache
from pathlib import Path

from fastapi import APIRouter
from fastapi.responses import FileResponse

from sfumato.api.deps import CatalogDep, CdnDep
from sfumato.services.catalog import SAMPLE_TYPES, ModelEntry
from sfumato.services.errors import NotFound

router = APIRouter(include_in_schema=False)
CACHE_FOREVER = {"Cache-Control": "public, max-age=31536000"}


@router.get("/cdn/{token}/{filename}")
def image_file(token: str, filename: str, cdn: CdnDep) -> FileResponse:
    found = cdn.generated_image(token, filename)
    return FileResponse(found.path, media_type=found.media_type, headers=CACHE_FOREVER)


# uuid5 namespace of model sample ids: the same model and the same file give the same id on every server.
_SAMPLE_NAMESPACE = uuid.UUID("0b6f3d0e-5a47-4c1e-9d2f-6a7c8e1b2d34")


@lru_cache(maxsize=256)
def _sample_id(model_id: str, path: Path, mtime_ns: int, size: int) -> str:
    digest = hashlib.sha256(path.read_bytes()).hexdigest()  # mtime/size in the key: a replaced file is read anew
    return str(uuid.uuid5(_SAMPLE_NAMESPACE, f"{model_id}/{digest}"))


def model_sample_id(entry: ModelEntry) -> str | None:
    """A stable id for the model's sample image (it changes only when the file does); None: no sample."""
    if entry.sample is None:
        return None
    try:
        stat = entry.sample.stat()
    except OSError:
        return None
    return _sample_id(entry.id, entry.sample, stat.st_mtime_ns, stat.st_size)


def model_sample_url(base: str, entry: ModelEntry, sample_id: str) -> str:
    assert entry.sample is not None
    return f"{base.rstrip('/')}/cdn/model-samples/{entry.id}/{sample_id}{entry.sample.suffix.lower()}"


@router.get("/cdn/model-samples/{model_id}/{filename}")
def model_sample_file(model_id: str, filename: str, catalog: CatalogDep) -> FileResponse:
    entry = catalog.get(model_id)
    sample_id = model_sample_id(entry)
    if sample_id is None or entry.sample is None or filename != f"{sample_id}{entry.sample.suffix.lower()}":
        raise NotFound("no such sample image; GET /api/rest/v1/platformModels lists the current URLs")
    media_type = SAMPLE_TYPES[entry.sample.suffix.lower()]
    return FileResponse(entry.sample, media_type=media_type, headers=CACHE_FOREVER)
