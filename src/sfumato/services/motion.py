"""Motion: a video from an image (SVD, "Motion 1.0"), image- and text-to-video with a prompt ("Motion 2.0":
services/motion_video.py checks those requests), and video upscales. The job is a new generation, polled with
GET /generations/{id} like any other; its one image is the video's poster, with the MP4 beside it.

The FAQ's mistake gets a teaching error: a generation id passed as `imageId` (the image ids are in
`generations_by_pk.generated_images[].id`), with Leonardo's "Service Error" words kept so that scripts that
look for them still do."""

from __future__ import annotations

import secrets
import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from sfumato.jobs.core.status import JobStatus
from sfumato.jobs.dispatch import Dispatcher
from sfumato.services.catalog import Catalog, ModelEntry
from sfumato.services.credits import Credits
from sfumato.services.credits.quotes import svd_price, video_price, video_upscale_price
from sfumato.services.errors import InvalidRequest, NotFound
from sfumato.services.image_inputs import ImageKind, ImageRef, resolve_image
from sfumato.services.limits import check_queue_cap
from sfumato.services.motion_video import IMAGE_TYPES, CheckedVideo, VideoParams, check_video_request, frame_spec
from sfumato.store.database import Database
from sfumato.store.media import ImageVariation, MotionVariation
from sfumato.store.models import GeneratedImage, Generation

MOTION_KIND = "motion"
VIDEO_UPSCALE_KIND = "video-upscale"
VIDEO_UPSCALE_RESOLUTIONS = ("RESOLUTION_720",)
DEFAULT_STRENGTH = 5
MAX_PENDING_PER_USER = 200
SVD_MOTION_MODEL = "SVD"  # `motionModel` on the wire for POST /generations-motion-svd jobs


@dataclass(frozen=True)
class MotionVariationView:
    id: str
    created_at: datetime
    status: str
    transform_type: str
    resolution: str
    token: str
    file_key: str | None  # set once COMPLETE


@dataclass(frozen=True)
class SvdParams:
    image_id: str | None
    motion_strength: int | None = None
    is_init_image: bool | None = None
    is_variation: bool | None = None
    public: bool | None = None


class Motion:
    def __init__(self, db: Database, catalog: Catalog, dispatcher: Dispatcher) -> None:
        self._db = db
        self._catalog = catalog
        self._dispatcher = dispatcher
        self.max_pending = MAX_PENDING_PER_USER  # the composition root sets SFUMATO_MAX_PENDING_PER_USER
        self.credits = Credits(db)  # the composition root sets the one built from SFUMATO_PRICE_TABLE

    def create_svd(self, user_id: str, api_key_id: str | None, p: SvdParams) -> str:
        if not p.image_id:
            raise InvalidRequest(
                'expecting a value for non-nullable variable: "imageId"; send the id of a generated image '
                "(generations_by_pk.generated_images[].id), a variation, or an uploaded init image",
                field="imageId",
            )
        strength = DEFAULT_STRENGTH if p.motion_strength is None else p.motion_strength
        if not 1 <= strength <= 10:
            raise InvalidRequest(
                f"motionStrength must be an integer from 1 to 10, got {strength}; higher moves more (default 5)",
                field="motionStrength",
            )
        model = self._catalog.motion_model()
        with self._db.session() as s:
            source = _source_image(s, user_id, p.image_id)
            check_queue_cap(s, user_id, self.max_pending)
            row = _motion_row(
                user_id,
                api_key_id,
                model,
                prompt=_source_prompt(s, source.kind, source.id),
                engine_prompt="",
                seed=secrets.randbelow(2**31),
                public=p.public,
                strength=strength,
                source=source,
                # Ids are unique, so a missing isInitImage / isVariation changes nothing; what was sent is kept.
                options={
                    "is_init_image": p.is_init_image,
                    "is_variation": p.is_variation,
                    "motion_model": SVD_MOTION_MODEL,
                    "image_to_video": False,
                },
            )
            s.add(row)
            self.credits.charge(s, user_id, MOTION_KIND, row.id, svd_price(self.credits.table))
        self._dispatcher.submit(MOTION_KIND, row.id)
        return row.id

    def create_image_to_video(self, user_id: str, api_key_id: str | None, p: VideoParams) -> str:
        """POST /generations-image-to-video: the image, moving as the prompt says."""
        model = self._catalog.motion_model()
        checked = check_video_request(p, model, text_to_video=False)
        if not p.image_id:
            raise InvalidRequest(
                'Service Error: expecting a value for non-nullable variable: "imageId"; send the id of a generated '
                "image (generations_by_pk.generated_images[].id, imageType GENERATED) or of an uploaded init image "
                "(POST /init-image, imageType UPLOADED)",
                field="imageId",
            )
        image_type = (p.image_type or "").strip().upper()
        if image_type not in IMAGE_TYPES:
            raise InvalidRequest(
                f"imageType must be GENERATED (a generated image or a variation) or UPLOADED (an init image), "
                f"got {p.image_type!r}",
                field="imageType",
            )
        with self._db.session() as s:
            source = _source_image(s, user_id, p.image_id)
            actual = "UPLOADED" if source.kind == "init_image" else "GENERATED"
            if actual != image_type:
                what = "an uploaded init image" if actual == "UPLOADED" else "a generated image"
                raise InvalidRequest(
                    f"imageType: {p.image_id} is {what}, so send imageType {actual} (not {image_type})",
                    field="imageType",
                )
            check_queue_cap(s, user_id, self.max_pending)
            row = _video_row(user_id, api_key_id, model, checked, p, source=source)
            s.add(row)
            self._charge_video(s, user_id, row)
        self._dispatcher.submit(MOTION_KIND, row.id)
        return row.id

    def create_text_to_video(self, user_id: str, api_key_id: str | None, p: VideoParams) -> str:
        """POST /generations-text-to-video: frame 0 drawn from the prompt, then moving as the prompt says."""
        model = self._catalog.motion_model()
        checked = check_video_request(p, model, text_to_video=True)
        image_model = self._catalog.resolve_for_generation(None)
        with self._db.session() as s:
            check_queue_cap(s, user_id, self.max_pending)
            frame = frame_spec(model, image_model, checked, p.negative_prompt)
            row = _video_row(user_id, api_key_id, model, checked, p, extra_options={"frame": frame})
            s.add(row)
            self._charge_video(s, user_id, row)
        self._dispatcher.submit(MOTION_KIND, row.id)
        return row.id

    def create_video_upscale(
        self, user_id: str, api_key_id: str | None, source_generation_id: str | None, resolution: str | None
    ) -> str:
        """A video upscale of one of the user's finished motion generations; returns the variation id."""
        if resolution not in VIDEO_UPSCALE_RESOLUTIONS:
            raise InvalidRequest(
                f"resolution must be RESOLUTION_720 (the only video upscale there is), got {resolution!r}",
                field="resolution",
            )
        if not source_generation_id:
            raise InvalidRequest(
                'expecting a value for non-nullable variable: "sourceGenerationId"; send the generationId of a '
                "motion generation (motionSvdGenerationJob.generationId)",
                field="sourceGenerationId",
            )
        with self._db.session() as s:
            source = _owned_video(s, user_id, source_generation_id)
            check_queue_cap(s, user_id, self.max_pending)
            row = MotionVariation(
                id=str(uuid.uuid4()),
                user_id=user_id,
                api_key_id=api_key_id,
                generation_id=source.generation_id,
                generated_image_id=source.id,
                transform_type="UPSCALE",
                resolution=resolution,
                token=secrets.token_urlsafe(24),
                status=JobStatus.PENDING,
                attempts=0,
            )
            s.add(row)
            self.credits.charge(
                s, user_id, VIDEO_UPSCALE_KIND, row.id, video_upscale_price(self.credits.table, resolution)
            )
        self._dispatcher.submit(VIDEO_UPSCALE_KIND, row.id)
        return row.id

    def _charge_video(self, s: Session, user_id: str, row: Generation) -> None:
        """Image- and text-to-video: priced by the model the request named and its resolution."""
        options = row.options or {}
        amount = video_price(self.credits.table, options.get("requested_model"), options.get("resolution"))
        self.credits.charge(s, user_id, MOTION_KIND, row.id, amount)

    def get_variation(self, user_id: str, variation_id: str) -> list[MotionVariationView]:
        with self._db.session() as s:
            row = s.get(MotionVariation, variation_id)
            if row is None or row.user_id != user_id:
                raise NotFound(
                    f"motion variation {variation_id} not found; POST /generations-video-upscale "
                    "answers motionVideoGenerationJob.variationId"
                )
            done = row.status == JobStatus.COMPLETE
            return [
                MotionVariationView(
                    row.id,
                    row.created_at,
                    row.status,
                    row.transform_type,
                    row.resolution,
                    row.token,
                    row.file_key if done else None,
                )
            ]


def _source_image(s: Session, user_id: str, image_id: str) -> ImageRef:
    """The image a video starts from: a generated image, a variation or an upload (ids are unique)."""
    kinds: tuple[ImageKind, ...] = ("generated_image", "variation", "init_image")
    return resolve_image(s, user_id, image_id, "imageId", accept=kinds, error_prefix="Service Error: ")


def _motion_row(
    user_id: str,
    api_key_id: str | None,
    model: ModelEntry,
    *,
    prompt: str,
    engine_prompt: str,
    seed: int,
    public: bool | None,
    options: dict[str, Any],
    strength: int = DEFAULT_STRENGTH,
    source: ImageRef | None = None,
    negative_prompt: str | None = None,
) -> Generation:
    """A PENDING motion generation; its size, frames and steps are written when it completes."""
    return Generation(
        id=str(uuid.uuid4()),
        user_id=user_id,
        api_key_id=api_key_id,
        status=JobStatus.PENDING,
        job_kind=MOTION_KIND,
        model_id=model.id,
        model_path=str(model.path),
        engine_prompt=engine_prompt,
        prompt=prompt,
        negative_prompt=negative_prompt,
        width=0,
        height=0,
        num_images=1,
        num_inference_steps=model.recommended_steps or 25,
        guidance_scale=1.0,
        seed=seed,
        scheduler="EULER_DISCRETE",
        preset_style="NONE",
        sd_version="",
        public=bool(public),
        tiling=False,
        motion_source_id=source.id if source else None,
        motion_source_kind=source.kind if source else None,
        motion_source_file_key=source.file_key if source else None,
        motion_strength=strength,
        options=options,
    )


def _video_row(
    user_id: str,
    api_key_id: str | None,
    model: ModelEntry,
    checked: CheckedVideo,
    p: VideoParams,
    source: ImageRef | None = None,
    extra_options: dict[str, Any] | None = None,
) -> Generation:
    """Image- and text-to-video: the prompt is the engine's too; motionStrength is the default (no such field)."""
    return _motion_row(
        user_id,
        api_key_id,
        model,
        prompt=checked.prompt,
        engine_prompt=checked.prompt,
        seed=secrets.randbelow(2**31) if p.seed is None else p.seed,
        public=p.public,
        source=source,
        negative_prompt=(p.negative_prompt or "").strip() or None,
        options={**checked.options, **(extra_options or {})},
    )


def _source_prompt(s: Session, kind: str, some_id: str) -> str:
    """The prompt of the generation the image came from ("" for an uploaded image)."""
    generation_id = None
    if kind == "generated_image":
        image = s.get(GeneratedImage, some_id)
        generation_id = image.generation_id if image else None
    elif kind == "variation":
        variation = s.get(ImageVariation, some_id)
        generation_id = variation.generation_id if variation else None
    generation = s.get(Generation, generation_id) if generation_id else None
    return generation.prompt if generation is not None else ""


def _owned_video(s: Session, user_id: str, generation_id: str) -> GeneratedImage:
    """The video image of the user's finished motion generation, or a 4xx that says what to pass."""
    generation = s.get(Generation, generation_id)
    if generation is None or generation.user_id != user_id:
        image = s.get(GeneratedImage, generation_id)
        if image is not None and image.user_id == user_id:
            raise InvalidRequest(
                f"sourceGenerationId: {generation_id} is an image id; pass the generation id, {image.generation_id}",
                field="sourceGenerationId",
            )
        raise NotFound(f"sourceGenerationId: no generation {generation_id}", field="sourceGenerationId")
    if generation.job_kind != MOTION_KIND:
        raise InvalidRequest(
            f"sourceGenerationId: generation {generation_id} made images, not a video; make one "
            "with POST /generations-motion-svd and pass its generationId",
            field="sourceGenerationId",
        )
    video = next((i for i in generation.images if i.video_key), None)
    if generation.status != JobStatus.COMPLETE or video is None:
        raise InvalidRequest(
            f"sourceGenerationId: motion generation {generation_id} is {generation.status}; wait "
            "until GET /generations/{id} shows COMPLETE",
            field="sourceGenerationId",
        )
    return video
