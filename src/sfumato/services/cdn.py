"""Files behind unguessable CDN URLs (generated images, variations, uploaded init images): they need no auth
header, never expire, and stop working when their row (and with it the token) is deleted. Local disk only:
object storage serves its files itself."""

from __future__ import annotations

import hmac
from dataclasses import dataclass
from pathlib import Path
from typing import cast

from sfumato.jobs.core.status import JobStatus
from sfumato.services.errors import NotFound
from sfumato.services.imaging import EXTENSIONS
from sfumato.store.database import Database
from sfumato.store.files import FileStore
from sfumato.store.media import ImageVariation, InitImage, MotionVariation
from sfumato.store.models import GeneratedImage
from sfumato.store.training import DatasetImage


@dataclass(frozen=True)
class CdnFile:
    path: Path
    media_type: str


class CdnFiles:
    def __init__(self, db: Database, files: FileStore) -> None:
        self._db = db
        self._files = files

    def _found(self, key: str | None, media_type: str) -> CdnFile:
        path = self._files.local_path(key) if key else None
        if path is None:
            raise NotFound("no such image")
        return CdnFile(path, media_type)

    def generated_image(self, token: str, filename: str) -> CdnFile:
        """`ID.png`: the image (a motion generation's poster); `ID.mp4`: a motion generation's video."""
        image_id, _, ext = filename.rpartition(".")
        with self._db.session() as s:
            image = s.get(GeneratedImage, image_id)
            if image is None or not hmac.compare_digest(image.token, token):
                raise NotFound("no such image")
            if ext == "mp4":
                return self._found(image.video_key, "video/mp4")
            return self._found(image.file_key if ext == "png" else None, "image/png")

    def variation(self, token: str, filename: str) -> CdnFile:
        variation_id, _, ext = filename.rpartition(".")
        with self._db.session() as s:
            row = s.get(ImageVariation, variation_id)
            ok = row is not None and ext == "png" and row.status == JobStatus.COMPLETE and bool(row.file_key)
            ok = ok and row is not None and hmac.compare_digest(row.token, token)
            return self._found(row.file_key if row is not None and ok else None, "image/png")

    def init_image(self, token: str, filename: str, table: type[InitImage] | type[DatasetImage] = InitImage) -> CdnFile:
        """An uploaded init image, or (`table` DatasetImage) a dataset image: `ID.extension`."""
        image_id, _, ext = filename.rpartition(".")
        with self._db.session() as s:
            row = cast(InitImage | DatasetImage | None, s.get(table, image_id))
            if row is None or row.status != "UPLOADED" or ext != row.extension:
                raise NotFound("no such image")
            if not hmac.compare_digest(row.token, token):
                raise NotFound("no such image")
            return self._found(row.file_key, EXTENSIONS[row.extension][1])

    def motion_variation(self, token: str, filename: str) -> CdnFile:
        variation_id, _, ext = filename.rpartition(".")
        with self._db.session() as s:
            row = s.get(MotionVariation, variation_id)
            ok = row is not None and ext == "mp4" and row.status == JobStatus.COMPLETE
            ok = ok and row is not None and hmac.compare_digest(row.token, token)
            return self._found(row.file_key if row is not None and ok else None, "video/mp4")
