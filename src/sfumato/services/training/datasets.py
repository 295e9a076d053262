"""Datasets: a user's named sets of images that custom models and elements train on. Images arrive through the
same presigned upload as init images (same limits, same safe decoding) or are copied from a generated image."""

from __future__ import annotations

import contextlib
import secrets
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from sfumato.jobs.core.status import JobStatus
from sfumato.services.errors import InvalidRequest, NotFound
from sfumato.services.image_inputs import classify_id, resolve_image
from sfumato.services.imaging import ImageRejected, normalize_extension
from sfumato.services.uploads import InitImages, Reservation
from sfumato.store.database import Database
from sfumato.store.files import FileStore, dataset_prefix
from sfumato.store.training import Dataset, DatasetImage, Training

MAX_NAME = 200
MAX_DATASET_IMAGES = 50  # Leonardo's largest dataset (Flux Dev elements)


@dataclass(frozen=True)
class DatasetImageView:
    id: str
    extension: str
    token: str
    file_key: str
    created_at: datetime


@dataclass(frozen=True)
class DatasetView:
    id: str
    name: str
    description: str | None
    created_at: datetime
    updated_at: datetime
    images: tuple[DatasetImageView, ...]  # uploaded ones only, oldest first


def owned_dataset(s: Session, user_id: str, dataset_id: str, field: str = "id") -> Dataset:
    row = s.get(Dataset, dataset_id) if dataset_id else None
    if row is not None and row.user_id == user_id:
        return row
    kind = classify_id(s, user_id, dataset_id) if dataset_id else "unknown"
    if kind != "unknown":
        raise InvalidRequest(
            f"{field}: {dataset_id} is a {kind.replace('_', ' ')} id, not a dataset id; create a dataset with "
            "POST /datasets and pass insert_datasets_one.id",
            field=field,
        )
    raise NotFound(f"dataset {dataset_id} not found", field=field)


def uploaded_images(s: Session, dataset_id: str) -> list[DatasetImage]:
    query = select(DatasetImage).where(DatasetImage.dataset_id == dataset_id, DatasetImage.status == "UPLOADED")
    return list(s.scalars(query.order_by(DatasetImage.created_at, DatasetImage.id)).all())


class Datasets:
    def __init__(self, db: Database, files: FileStore, uploads: InitImages) -> None:
        self._db = db
        self._files = files
        self._uploads = uploads  # the presigned-form machinery init images use

    def create(self, user_id: str, name: str | None, description: str | None) -> str:
        name = (name or "").strip()
        if not name:
            raise InvalidRequest('expecting a value for non-nullable variable: "name"; name the dataset', field="name")
        if len(name) > MAX_NAME:
            raise InvalidRequest(f"name is at most {MAX_NAME} characters, got {len(name)}", field="name")
        dataset_id = str(uuid.uuid4())
        with self._db.session() as s:
            s.add(Dataset(id=dataset_id, user_id=user_id, name=name, description=description))
        return dataset_id

    def get(self, user_id: str, dataset_id: str) -> DatasetView:
        # A bad object in the bucket is deleted and not listed; a training says so if it is all there is.
        with contextlib.suppress(ImageRejected):
            self.settle(user_id, dataset_id)
        with self._db.session() as s:
            row = owned_dataset(s, user_id, dataset_id)
            images = tuple(
                DatasetImageView(i.id, i.extension, i.token, i.file_key, i.created_at)
                for i in uploaded_images(s, dataset_id)
            )
            return DatasetView(row.id, row.name, row.description, row.created_at, row.updated_at, images)

    def delete(self, user_id: str, dataset_id: str) -> None:
        with self._db.session() as s:
            row = owned_dataset(s, user_id, dataset_id)
            busy = s.scalars(
                select(Training.id).where(Training.dataset_id == dataset_id, Training.status == JobStatus.PENDING)
            ).first()
            if busy is not None:
                raise InvalidRequest(
                    f"dataset {dataset_id} is being trained on (training {busy} is PENDING); delete it once the "
                    "training is COMPLETE or FAILED, or delete that model or element first",
                    field="id",
                )
            s.delete(row)
        self._files.delete_prefix(dataset_prefix(user_id, dataset_id))

    def _check_room(self, s: Session, dataset_id: str) -> None:
        count = len(s.scalars(select(DatasetImage.id).where(DatasetImage.dataset_id == dataset_id)).all())
        if count >= MAX_DATASET_IMAGES:
            raise InvalidRequest(
                f"dataset {dataset_id} has {count} images, the most is {MAX_DATASET_IMAGES}; use another dataset",
                field="datasetId",
            )

    def reserve_upload(self, user_id: str, dataset_id: str, extension: object) -> Reservation:
        image_id = str(uuid.uuid4())
        now = datetime.now(UTC)
        with self._db.session() as s:
            owned_dataset(s, user_id, dataset_id, field="datasetId")  # first: another user's id is just unknown
            ext = normalize_extension(extension)
            key = f"{dataset_prefix(user_id, dataset_id)}{image_id}.{ext}"
            self._check_room(s, dataset_id)
            s.add(
                DatasetImage(
                    id=image_id,
                    dataset_id=dataset_id,
                    user_id=user_id,
                    extension=ext,
                    file_key=key,
                    token=secrets.token_urlsafe(24),
                    status="RESERVED",
                    created_at=now,
                )
            )
        return self._uploads.presign(image_id, key, ext, now)

    def copy_generated(self, user_id: str, dataset_id: str, generated_image_id: str | None) -> str:
        """Copy a generated image (or a variation's output) into the dataset; returns the dataset image id."""
        image_id = str(uuid.uuid4())
        with self._db.session() as s:
            owned_dataset(s, user_id, dataset_id, field="datasetId")  # first: another user's id is just unknown
            if not generated_image_id:
                raise InvalidRequest(
                    'expecting a value for non-nullable variable: "generatedImageId"; pass an id from '
                    "generations_by_pk.generated_images[].id of GET /generations/{id}",
                    field="generatedImageId",
                )
            self._check_room(s, dataset_id)
            ref = resolve_image(
                s, user_id, generated_image_id, "generatedImageId", accept=("generated_image", "variation")
            )
            key = f"{dataset_prefix(user_id, dataset_id)}{image_id}.png"
            self._files.put(key, self._files.get(ref.file_key))
            try:
                s.add(
                    DatasetImage(
                        id=image_id,
                        dataset_id=dataset_id,
                        user_id=user_id,
                        extension="png",
                        file_key=key,
                        token=secrets.token_urlsafe(24),
                        status="UPLOADED",
                        source_image_id=ref.id,
                        uploaded_at=datetime.now(UTC),
                    )
                )
                s.flush()
            except BaseException:
                self._files.delete(key)
                raise
        return image_id

    def settle(self, user_id: str, dataset_id: str) -> None:
        """Object storage: adopt (after the receiver's checks) the images uploaded straight to the bucket."""
        if self._uploads.direct is None:
            return
        with self._db.session() as s:
            rows = s.scalars(
                select(DatasetImage)
                .where(DatasetImage.dataset_id == dataset_id, DatasetImage.user_id == user_id)
                .where(DatasetImage.status == "RESERVED")
                .with_for_update()
            ).all()
            for row in rows:
                self._uploads.settle_row(row, "datasetId", "POST /datasets/{datasetId}/upload")
