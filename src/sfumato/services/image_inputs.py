"""Which image an id names, and the errors that teach when it names the wrong kind of thing.

Leonardo's FAQ lists the usual mistakes: a generation id where an image id belongs, an uploaded init image
id in `init_generation_image_id` (or the reverse). Each id is looked up among this user's things only: an id
of another user is simply unknown (404), never confirmed to exist.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

from sqlalchemy.orm import Session

from sfumato.jobs.core.status import JobStatus
from sfumato.services.errors import InvalidRequest, NotFound
from sfumato.store.media import ImageVariation, InitImage
from sfumato.store.models import GeneratedImage, Generation

IdKind = Literal["init_image", "generated_image", "variation", "generation", "unknown"]
ImageKind = Literal["init_image", "generated_image", "variation"]


@dataclass(frozen=True)
class ImageRef:
    kind: ImageKind
    id: str
    file_key: str


def classify_id(s: Session, user_id: str, some_id: str) -> IdKind:
    tables: tuple[tuple[IdKind, Any], ...] = (
        ("init_image", InitImage),
        ("generated_image", GeneratedImage),
        ("variation", ImageVariation),
        ("generation", Generation),
    )
    for kind, table in tables:
        row = s.get(table, some_id)
        if row is not None and row.user_id == user_id:
            return kind
    return "unknown"


def _generation_hint(s: Session, generation_id: str) -> str:
    row = s.get(Generation, generation_id)
    where = f"generations_by_pk.generated_images[].id of GET /generations/{generation_id}"
    if row is None or row.status == JobStatus.PENDING:
        return f"it is still PENDING: wait until it is COMPLETE, then pass one of {where}"
    if row.status != JobStatus.COMPLETE or not row.images:
        return f"it is {row.status} and has no images: generate again"
    return f"pass one of {where} instead, e.g. {row.images[0].id}"


def resolve_image(
    s: Session, user_id: str, some_id: str, field: str, accept: tuple[ImageKind, ...], error_prefix: str = ""
) -> ImageRef:
    """The image `some_id` names, if it is one of the kinds `accept`s; else a 400 that says what to pass.
    `error_prefix` starts the message of a generation id passed for an image (Leonardo's "Service Error")."""
    kind = classify_id(s, user_id, some_id)
    if kind == "unknown":
        raise NotFound(f"{field}: no image {some_id} found for this user", field=field)
    if kind == "generation":
        hint = _generation_hint(s, some_id)
        raise InvalidRequest(
            f"{error_prefix}{field}: {some_id} is a generation id, not an image id; {hint}", field=field
        )
    if kind not in accept:
        raise InvalidRequest(f"{field}: {_wrong_kind(kind, some_id, field, accept)}", field=field)
    if kind == "init_image":
        init = s.get(InitImage, some_id)
        assert init is not None
        if init.status != "UPLOADED":
            raise InvalidRequest(
                f"{field}: init image {some_id} has no file yet; POST the file to the `url` returned by "
                "POST /init-image, with every entry of `fields`, before using the id",
                field=field,
            )
        return ImageRef("init_image", some_id, init.file_key)
    if kind == "variation":
        var = s.get(ImageVariation, some_id)
        assert var is not None
        if var.status != JobStatus.COMPLETE or not var.file_key:
            raise InvalidRequest(
                f"{field}: variation {some_id} is {var.status}; wait until GET /variations/{some_id} shows COMPLETE",
                field=field,
            )
        return ImageRef("variation", some_id, var.file_key)
    image = s.get(GeneratedImage, some_id)
    assert image is not None
    return ImageRef("generated_image", some_id, image.file_key)


_NAMES: dict[str, str] = {
    "init_image": "an uploaded init image id (POST /init-image)",
    "generated_image": "a generated image id (generations_by_pk.generated_images[].id)",
    "variation": "a variation id (GET /variations/{id})",
}


def _wrong_kind(kind: IdKind, some_id: str, field: str, accept: tuple[ImageKind, ...]) -> str:
    if kind == "init_image" and field == "init_generation_image_id":
        return f"{some_id} is an uploaded init image id; pass it as init_image_id instead"
    if kind in ("generated_image", "variation") and field == "init_image_id":
        return f"{some_id} is {_NAMES[kind].split(' (')[0]}; pass it as init_generation_image_id instead"
    if kind == "init_image" and field == "id":  # the legacy variation endpoints
        return (
            f"{some_id} is an uploaded init image id; variations work on generated images (as on "
            'Leonardo: "couldn\'t access image"): generate from it with init_image_id, then vary that image, '
            "or upscale the upload itself with POST /variations/universal-upscaler and initImageId"
        )
    takes = " or ".join(_NAMES[k] for k in accept)
    return f"{some_id} is {_NAMES[kind]}, but {field} takes {takes}"
