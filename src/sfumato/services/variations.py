"""Variations of generated images (upscale, unzoom, no-background) and the universal upscaler (also of uploaded
init images): validate the source, record a PENDING row, hand it to the dispatcher; read them by id or by the
images they belong to."""

from __future__ import annotations

import secrets
import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Row, bindparam, func, select
from sqlalchemy.orm import Session

from sfumato.jobs.core.status import JobStatus
from sfumato.jobs.dispatch import Dispatcher, JobKind
from sfumato.services.catalog import Catalog, ModelEntry
from sfumato.services.credits import Credits
from sfumato.services.credits.quotes import stored_image_size, universal_price, variation_price
from sfumato.services.errors import Busy, InvalidRequest, NotFound
from sfumato.services.image_inputs import classify_id, resolve_image
from sfumato.services.limits import QUEUE_CAP, check_queue_cap
from sfumato.services.variations_universal import UniversalParams, settings_for, source_of
from sfumato.store.database import Database
from sfumato.store.files import FileStore
from sfumato.store.media import ImageVariation, InitImage
from sfumato.store.models import GeneratedImage, Generation

# Leonardo's endpoint name -> its VariationType value.
TRANSFORMS: dict[str, str] = {"upscale": "UPSCALE", "unzoom": "UNZOOM", "nobg": "NOBG"}
MAX_PENDING_PER_USER = 100  # Leonardo's documented default for pending upscales


@dataclass(frozen=True)
class VariationView:
    id: str
    generated_image_id: str | None
    created_at: datetime
    status: str
    transform_type: str
    token: str
    has_file: bool
    failure_reason: str | None
    method: str | None
    file_key: str | None = None


def _view(r: ImageVariation | Row[Any]) -> VariationView:
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


def variation_row(**fields: Any) -> ImageVariation:
    """A new variation row: a fresh id and file token, PENDING with no attempt yet, opaque; `fields` add to or
    override these (the realtime canvas's upscale is written COMPLETE at once)."""
    defaults: dict[str, Any] = {
        "id": str(uuid.uuid4()),
        "status": JobStatus.PENDING,
        "attempts": 0,
        "token": secrets.token_urlsafe(24),
        "transparent": False,
    }
    return ImageVariation(**{**defaults, **fields})


# Built once with an expanding parameter: building and cache-keying the IN clause per call cost more than the query.
_VARIATIONS_OF_IMAGES = (
    select(ImageVariation.__table__)
    .where(ImageVariation.generated_image_id.in_(bindparam("ids", expanding=True)))
    .order_by(ImageVariation.created_at, ImageVariation.id)
)


class Variations:
    def __init__(self, db: Database, dispatcher: Dispatcher) -> None:
        self._db = db
        self._dispatcher = dispatcher
        self.max_pending = QUEUE_CAP  # the composition root sets SFUMATO_MAX_PENDING_PER_USER
        self.catalog: Catalog | None = None  # the universal upscaler's model for uploads (the composition root)
        self.credits = Credits(db)  # the composition root sets the one built from SFUMATO_PRICE_TABLE
        self.files: FileStore | None = None  # the universal upscaler's price reads a source variation's size

    def _check_caps(self, s: Session, user_id: str) -> None:
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
            self._check_caps(s, user_id)
            row = variation_row(
                user_id=user_id,
                api_key_id=api_key_id,
                generation_id=generation_id,
                generated_image_id=image_id,
                source_variation_id=source_variation,
                transform_type=kind,
            )
            s.add(row)
            self.credits.charge(s, user_id, JobKind.VARIATION, row.id, variation_price(self.credits.table, transform))
        self._dispatcher.submit(JobKind.VARIATION, row.id)
        return row.id

    def create_universal(self, user_id: str, api_key_id: str | None, p: UniversalParams) -> str:
        """POST /variations/universal-upscaler: a tiled image-to-image upscale (services/variations_universal.py
        maps the request's knobs), polled like every variation (transformType UPSCALE)."""
        field, source_id = source_of(p)
        accept = {"generatedImageId": "generated_image", "initImageId": "init_image", "variationId": "variation"}
        with self._db.session() as s:
            kind = classify_id(s, user_id, source_id)
            right = next((f for f, k in accept.items() if k == kind), None)
            if right is not None and right != field:  # a common mix-up: say which key takes this id
                what = kind.replace("_", " ")
                raise InvalidRequest(f"{field}: {source_id} is {'an' if what[0] in 'aeiou' else 'a'} {what} id; "
                                     f"send it as {right}", field=field)  # fmt: skip
            ref = resolve_image(s, user_id, source_id, field, accept=(accept[field],))  # type: ignore[arg-type]
            generation_id = image_id = source_variation = init_id = model_id = None
            if ref.kind == "variation":
                source = s.get(ImageVariation, ref.id)
                assert source is not None
                generation_id, image_id, source_variation = source.generation_id, source.generated_image_id, ref.id
                init_id, model_id = source.init_image_id, source.model_id
            elif ref.kind == "generated_image":
                image = s.get(GeneratedImage, ref.id)
                assert image is not None
                generation_id, image_id = image.generation_id, image.id
            else:
                init_id = ref.id
            model_path = None
            if generation_id is not None:
                generation = s.get(Generation, generation_id)
                assert generation is not None
                style_words = self._style_words(generation.model_id)
            else:
                model = self._default_model(model_id)
                model_id, model_path, style_words = model.id, str(model.path), model.prompt_styles
            settings = settings_for(p, style_words)
            if model_path is not None:  # no generation to take the model, prompt and seed from
                settings.update(model_path=model_path, seed=secrets.randbelow(2**31))
            self._check_caps(s, user_id)
            row = variation_row(
                user_id=user_id,
                api_key_id=api_key_id,
                generation_id=generation_id,
                generated_image_id=image_id,
                source_variation_id=source_variation,
                init_image_id=init_id,
                model_id=model_id,
                settings=settings,
                transform_type="UPSCALE",
            )
            s.add(row)
            width, height = self._source_size(s, ref.kind, ref.id, ref.file_key)
            amount = universal_price(self.credits.table, width, height, settings["multiplier"], settings["ultra"])
            self.credits.charge(s, user_id, JobKind.VARIATION, row.id, amount)
        self._dispatcher.submit(JobKind.VARIATION, row.id)
        return row.id

    def _source_size(self, s: Session, kind: str, some_id: str, file_key: str) -> tuple[int, int]:
        """The universal upscaler's input size (its price grows with the output's megapixels)."""
        if kind == "generated_image":
            image = s.get(GeneratedImage, some_id)
            generation = s.get(Generation, image.generation_id) if image else None
            if generation is not None and generation.width and generation.height:
                return generation.width, generation.height
        if kind == "init_image":
            upload = s.get(InitImage, some_id)
            if upload is not None and upload.width and upload.height:
                return upload.width, upload.height
        if self.files is not None:
            return stored_image_size(self.files, file_key)
        return 1024, 1024  # no file store to read it from (not the composition root's services)

    def _default_model(self, model_id: str | None) -> ModelEntry:
        if self.catalog is None:
            raise InvalidRequest("this server has no model to upscale uploaded images with", field="initImageId")
        try:
            return self.catalog.resolve_for_generation(model_id)
        except InvalidRequest:  # the model recorded on a chained variation was removed: the default now
            return self.catalog.resolve_for_generation(None)

    def _style_words(self, model_id: str) -> bool:
        if self.catalog is None:
            return True
        try:
            return self.catalog.get(model_id).prompt_styles
        except NotFound:  # a custom model: its base's words
            return True

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
        with self._db.read() as connection:  # a Core read: the polled GET /generations/{id} calls this
            rows = connection.execute(_VARIATIONS_OF_IMAGES, {"ids": ids})
            for r in rows:
                if r.generated_image_id is not None:  # always, given the query (the column is nullable)
                    found.setdefault(r.generated_image_id, []).append(_view(r))
        return found
