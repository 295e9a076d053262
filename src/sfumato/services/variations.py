"""Variations of generated images (upscale, unzoom, no-background): validate the source, record a PENDING
row, hand it to the dispatcher; read them by id or by the images they belong to."""

from __future__ import annotations

import secrets
import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select

from sfumato.jobs.core.status import JobStatus
from sfumato.jobs.dispatch import Dispatcher, JobKind
from sfumato.services.errors import Busy, InvalidRequest, NotFound
from sfumato.services.image_inputs import classify_id, resolve_image
from sfumato.services.limits import QUEUE_CAP, check_queue_cap
from sfumato.store.database import Database
from sfumato.store.media import ImageVariation
from sfumato.store.models import GeneratedImage

# Leonardo's endpoint name -> its VariationType value.
TRANSFORMS: dict[str, str] = {"upscale": "UPSCALE", "unzoom": "UNZOOM", "nobg": "NOBG"}
MAX_PENDING_PER_USER = 100  # Leonardo's documented default for pending upscales


@dataclass(frozen=True)
class VariationView:
    id: str
    generated_image_id: str
    created_at: datetime
    status: str
    transform_type: str
    token: str
    has_file: bool
    failure_reason: str | None
    method: str | None
    file_key: str | None = None


def _view(r: ImageVariation) -> VariationView:
    has_file = r.status == JobStatus.COMPLETE and bool(r.file_key)
    return VariationView(
        r.id,
        r.generated_image_id,
        r.created_at,
        r.status,
        r.transform_type,
        r.token,
        has_file,
        r.failure_reason,
        r.method,
        r.file_key,
    )


class Variations:
    def __init__(self, db: Database, dispatcher: Dispatcher) -> None:
        self._db = db
        self._dispatcher = dispatcher
        self.max_pending = QUEUE_CAP  # the composition root sets SFUMATO_MAX_PENDING_PER_USER

    def create(
        self,
        user_id: str,
        api_key_id: str | None,
        transform: str,
        source_id: str | None,
        is_variation: bool | None = None,
    ) -> str:
        """`source_id`: a generated image id, or (with or without isVariation: we can tell) a variation id."""
        kind = TRANSFORMS[transform]
        source_id = (source_id or "").strip()
        if not source_id:
            raise InvalidRequest(
                'send {"id": "<generated image id>"}: the id of one of generated_images[] '
                "from GET /generations/{id} (or of a variation, with isVariation: true)",
                field="id",
            )
        with self._db.session() as s:
            ref = resolve_image(s, user_id, source_id, "id", accept=("generated_image", "variation"))
            if ref.kind == "variation":
                source = s.get(ImageVariation, ref.id)
                assert source is not None
                generation_id, image_id, source_variation = source.generation_id, source.generated_image_id, ref.id
            else:
                image = s.get(GeneratedImage, ref.id)
                assert image is not None
                generation_id, image_id, source_variation = image.generation_id, image.id, None
            check_queue_cap(s, user_id, self.max_pending)  # every kind of job, across API hosts
            pending = (
                s.scalar(
                    select(func.count())
                    .select_from(ImageVariation)
                    .where(ImageVariation.user_id == user_id, ImageVariation.status == JobStatus.PENDING)
                )
                or 0
            )
            if pending >= MAX_PENDING_PER_USER:
                raise Busy(
                    f"you have {pending} variations pending, the most allowed is {MAX_PENDING_PER_USER}; "
                    "wait for some to finish"
                )
            row = ImageVariation(
                id=str(uuid.uuid4()),
                user_id=user_id,
                api_key_id=api_key_id,
                generation_id=generation_id,
                generated_image_id=image_id,
                source_variation_id=source_variation,
                transform_type=kind,
                status=JobStatus.PENDING,
                attempts=0,
                token=secrets.token_urlsafe(24),
                transparent=False,
            )
            s.add(row)
        self._dispatcher.submit(JobKind.VARIATION, row.id)
        return row.id

    def get(self, user_id: str, variation_id: str) -> list[VariationView]:
        with self._db.session() as s:
            row = s.get(ImageVariation, variation_id)
            if row is not None and row.user_id == user_id:
                return [_view(row)]
            kind = classify_id(s, user_id, variation_id)
        if kind in ("generated_image", "generation"):
            raise InvalidRequest(
                f"{variation_id} is a {kind.replace('_', ' ')} id; GET /variations/{{id}} takes the id returned "
                "by POST /variations/upscale, /unzoom or /nobg (variations of an image are also listed under "
                "generated_images[].generated_image_variation_generics of GET /generations/{id})",
                field="id",
            )
        raise NotFound(f"variation {variation_id} not found")

    def for_images(self, image_ids: Iterable[str]) -> dict[str, list[VariationView]]:
        """Variations by the generated image they belong to, oldest first (one query for a whole page)."""
        ids = list(image_ids)
        found: dict[str, list[VariationView]] = {}
        if not ids:
            return found
        with self._db.session() as s:
            rows = s.scalars(
                select(ImageVariation)
                .where(ImageVariation.generated_image_id.in_(ids))
                .order_by(ImageVariation.created_at, ImageVariation.id)
            )
            for r in rows:
                found.setdefault(r.generated_image_id, []).append(_view(r))
        return found
