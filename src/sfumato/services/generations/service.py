"""Image generations: validate, record PENDING, hand to the dispatcher; read, list and delete."""

from __future__ import annotations

import logging
import secrets
import uuid
from collections.abc import Callable, Sequence
from typing import Any

from sqlalchemy import Connection, Row, bindparam, func, select
from sqlalchemy.orm import Session

from sfumato.engine.types import SCHEDULER_NAMES
from sfumato.jobs.core.events import delete_events
from sfumato.jobs.core.status import JobStatus
from sfumato.jobs.dispatch import Dispatcher, JobKind
from sfumato.services.catalog import SD_VERSIONS, Catalog, ModelEntry
from sfumato.services.credits import Credits
from sfumato.services.credits.quotes import generation_price
from sfumato.services.errors import InvalidRequest, LimitExceeded, NotFound
from sfumato.services.generations.guidance import check_guidance, upload_ids
from sfumato.services.generations.types import (
    GenerationParams,
    GenerationView,
    ImageInputs,
    generation_view,
)
from sfumato.services.image_inputs import resolve_image
from sfumato.services.limits import check_queue_cap
from sfumato.services.styles import STYLE_TEMPLATES, apply_style
from sfumato.services.training.adapters import resolve_adapters
from sfumato.services.training.elements_catalog import PlatformElements
from sfumato.services.training.trainings import Trainings, TrainingView
from sfumato.store.database import Database
from sfumato.store.files import FileStore, generation_files_prefix
from sfumato.store.media import ImageVariation, MotionVariation
from sfumato.store.models import GeneratedImage, Generation

log = logging.getLogger(__name__)

SCHEDULERS = SCHEDULER_NAMES
MAX_PROMPT = 1500
MAX_SEED = 9_999_999_998
DEFAULT_STEPS = 15
DEFAULT_GUIDANCE = 7.0
MAX_PENDING_PER_USER = 200
MAX_IMAGE_PROMPTS = 4


def _check_range(name: str, value: float, low: float, high: float, hint: str) -> None:
    if not low <= value <= high:
        raise InvalidRequest(f"{name} must be between {low:g} and {high:g}, got {value:g}; {hint}", field=name)


def validate_size(width: int, height: int, num_images: int) -> None:
    for name, value in (("width", width), ("height", height)):
        if not 32 <= value <= 1536 or value % 8:
            raise InvalidRequest(
                f"invalid dimensions: {name} must be a multiple of 8 between 32 and 1536, got {value}",
                field=name,
            )
    if not 1 <= num_images <= 8:
        raise InvalidRequest(f"num_images must be between 1 and 8, got {num_images}", field="num_images")
    if num_images > 4 and (width > 768 or height > 768):
        raise LimitExceeded(
            f"Too many images: num_images is at most 4 when width or height is above 768 "
            f"(got {num_images} at {width}x{height}); ask for 4 or fewer, or for 768x768 or smaller",
            field="num_images",
        )


def image_inputs(s: Session, user_id: str, p: GenerationParams) -> ImageInputs:
    """Check the init image and image prompt ids (the user's own, finished) and what goes with them."""
    if p.init_image_id and p.init_generation_image_id:
        raise InvalidRequest(
            "send either init_image_id (an uploaded init image) or init_generation_image_id "
            "(a generated image), not both",
            field="init_image_id",
        )
    init_image_id = init_generated_image_id = init_key = None
    if p.init_image_id:
        ref = resolve_image(s, user_id, p.init_image_id, "init_image_id", accept=("init_image",))
        init_image_id, init_key = ref.id, ref.file_key
    elif p.init_generation_image_id:
        ref = resolve_image(
            s, user_id, p.init_generation_image_id, "init_generation_image_id", accept=("generated_image", "variation")
        )
        init_generated_image_id, init_key = ref.id, ref.file_key
    strength = ignored = None
    if init_key is not None:
        strength = p.init_strength if p.init_strength is not None else 0.5
        _check_range(
            "init_strength",
            strength,
            0.1,
            0.9,
            "send a number from 0.1 to 0.9: higher keeps more of the init image (default 0.5)",
        )
    elif p.init_strength is not None:
        ignored = p.init_strength  # no init image: Leonardo ignores it too
    prompt_ids: tuple[str, ...] = ()
    prompt_keys: tuple[str, ...] = ()
    weight = None
    if p.image_prompt_weight is not None:  # out of range is refused with or without imagePrompts
        _check_range("imagePromptWeight", p.image_prompt_weight, 0, 1, "send a number from 0 to 1 (default 0.5)")
    if p.image_prompts:
        if len(p.image_prompts) > MAX_IMAGE_PROMPTS:
            raise InvalidRequest(
                f"imagePrompts takes at most {MAX_IMAGE_PROMPTS} image ids, got {len(p.image_prompts)}",
                field="imagePrompts",
            )
        refs = [
            resolve_image(s, user_id, i, "imagePrompts", accept=("init_image", "generated_image", "variation"))
            for i in p.image_prompts
        ]
        prompt_ids, prompt_keys = tuple(r.id for r in refs), tuple(r.file_key for r in refs)
        weight = p.image_prompt_weight if p.image_prompt_weight is not None else 0.5
    return ImageInputs(
        init_image_id=init_image_id,
        init_generated_image_id=init_generated_image_id,
        init_file_key=init_key,
        init_strength=float(strength) if strength is not None else None,
        init_strength_ignored=ignored,
        image_prompt_ids=prompt_ids,
        image_prompt_file_keys=prompt_keys,
        image_prompt_weight=float(weight) if weight is not None else None,
    )


_GENERATION_BY_ID = select(Generation.__table__).where(Generation.id == bindparam("id"))
# The polled list's statements, built once (bound parameters, not a new statement and cache key per request).
_PAGE_OF_USER = (
    select(Generation.__table__)
    .where(Generation.user_id == bindparam("user_id"))
    .order_by(Generation.created_at.desc(), Generation.id.desc())
    .offset(bindparam("offset"))
    .limit(bindparam("limit"))
)
_IMAGES_OF_MANY = select(GeneratedImage.__table__).where(
    GeneratedImage.generation_id.in_(bindparam("ids", expanding=True))
)
_GENERATIONS_BY_IDS = select(Generation.__table__).where(
    Generation.id.in_(bindparam("ids", expanding=True)), Generation.user_id == bindparam("user_id")
)

# A generation's revision: everything its wire form shows changes one of these. Every write to the row bumps
# `updated_at` (JobColumns' onupdate: the ORM and Core updates alike), its images are written in the transaction
# that makes it COMPLETE and never changed after, and its images' variations are counted and dated here.
_variations = ImageVariation.__table__
_generations = Generation.__table__
_its_variations = _variations.c.generation_id == _generations.c.id
_REVISION_COLUMNS = (
    _generations.c.id,
    _generations.c.status,
    _generations.c.updated_at,
    select(func.count()).where(_its_variations).scalar_subquery(),
    select(func.max(_variations.c.updated_at)).where(_its_variations).scalar_subquery(),
)
_REVISION_OF = select(*_REVISION_COLUMNS).where(
    _generations.c.id == bindparam("id"), _generations.c.user_id == bindparam("user_id")
)
_REVISIONS_OF_PAGE = (
    select(*_REVISION_COLUMNS)
    .where(_generations.c.user_id == bindparam("user_id"))
    .order_by(_generations.c.created_at.desc(), _generations.c.id.desc())
    .offset(bindparam("offset"))
    .limit(bindparam("limit"))
)

Revision = tuple[Any, ...]
"""An opaque value that changes whenever what GET /generations/{id} shows of a generation changes."""


class Generations:
    def __init__(self, db: Database, files: FileStore, catalog: Catalog, dispatcher: Dispatcher) -> None:
        self._db = db
        self._files = files
        self._catalog = catalog
        self._dispatcher = dispatcher
        self.max_pending = MAX_PENDING_PER_USER  # the composition root sets SFUMATO_MAX_PENDING_PER_USER
        # Object storage: checks an init image uploaded straight to the bucket on first use (InitImages.settle).
        self.settle_upload: Callable[[str, str], None] | None = None
        # Custom models and elements (the composition root sets them; without, modelId is a platform model only).
        self.trainings: Trainings | None = None
        self.platform_elements = PlatformElements()
        self.credits = Credits(db)  # the composition root sets the one built from SFUMATO_PRICE_TABLE

    def _model(self, user_id: str, model_id: str | None) -> tuple[ModelEntry, TrainingView | None]:
        """The model that renders (a custom model's base) and the custom model, when modelId names one of the
        user's; another user's custom model id is as unknown as any other id."""
        custom = self.trainings.custom_model(user_id, model_id) if self.trainings and model_id else None
        if custom is None:
            return self._catalog.resolve_for_generation(model_id), None
        if custom.status != JobStatus.COMPLETE:
            state = "still training" if custom.status == JobStatus.PENDING else f"{custom.status}: it has no weights"
            raise InvalidRequest(
                f"modelId {model_id} is your custom model {custom.name!r}, {state}; wait until GET /models/{model_id} "
                "shows COMPLETE (or train it again)",
                field="modelId",
            )
        return self._catalog.resolve_for_generation(custom.base_model_id), custom

    def create(self, user_id: str, api_key_id: str | None, p: GenerationParams) -> str:
        prompt = (p.prompt or "").strip()
        if not prompt:
            raise InvalidRequest(
                'expecting a value for non-nullable variable: "prompt"; send a text prompt', field="prompt"
            )
        if len(prompt) > MAX_PROMPT:
            raise InvalidRequest("Invalid prompt, maximum length of 1500 characters exceeded.", field="prompt")
        model, custom = self._model(user_id, p.model_id)
        width = p.width if p.width is not None else model.default_width
        height = p.height if p.height is not None else model.default_height
        num_images = p.num_images if p.num_images is not None else 4
        validate_size(width, height, num_images)
        steps = p.num_inference_steps or model.recommended_steps or DEFAULT_STEPS
        _check_range("num_inference_steps", steps, 10, 60, "send an integer from 10 to 60 (default 15)")
        guidance = (
            p.guidance_scale if p.guidance_scale is not None else (model.recommended_guidance or DEFAULT_GUIDANCE)
        )
        _check_range("guidance_scale", guidance, 1, 20, "send a number from 1 to 20 (7 is recommended)")
        seed = p.seed if p.seed is not None else secrets.randbelow(2**31)
        _check_range("seed", seed, 0, MAX_SEED, f"send an integer from 0 to {MAX_SEED}")
        if p.scheduler is not None and p.scheduler not in SCHEDULERS:
            raise InvalidRequest(
                f"scheduler {p.scheduler!r} is unknown; send one of {', '.join(SCHEDULERS)}",
                field="scheduler",
            )
        style = p.preset_style or "DYNAMIC"
        if style not in STYLE_TEMPLATES:
            raise InvalidRequest(
                f"presetStyle {style!r} is unknown; send one of {', '.join(STYLE_TEMPLATES)}",
                field="presetStyle",
            )
        if p.sd_version is not None and p.sd_version not in SD_VERSIONS:
            raise InvalidRequest(
                f"sd_version {p.sd_version!r} is unknown; send one of {', '.join(SD_VERSIONS)} or leave it out",
                field="sd_version",
            )
        if p.transparency not in (None, "disabled", "foreground_only"):
            raise InvalidRequest(
                f"transparency {p.transparency!r} is unknown; send foreground_only or disabled", field="transparency"
            )
        if self.settle_upload is not None:
            for image_id in upload_ids(p):
                self.settle_upload(user_id, image_id)
        with self._db.session() as s:
            guide = check_guidance(s, self._files, user_id, model.path, p, image_inputs)
            inputs = guide.inputs
            if self.trainings is not None:
                resolved = resolve_adapters(
                    s, user_id, model, custom, p.elements, p.user_elements, prompt, self.platform_elements,
                    self.trainings,
                )  # fmt: skip
                adapters, engine_prompt = [a.to_record() for a in resolved.adapters], resolved.prompt
            elif p.elements or p.user_elements:
                raise InvalidRequest("this server applies no elements", field="elements")
            else:
                adapters, engine_prompt = [], prompt
            check_queue_cap(s, user_id, self.max_pending)  # generations and variations, across API hosts
            row = Generation(
                id=str(uuid.uuid4()),
                user_id=user_id,
                api_key_id=api_key_id,
                status=JobStatus.PENDING,
                model_id=custom.id if custom is not None else model.id,
                model_path=str(model.path),
                prompt=prompt,
                engine_prompt=apply_style(engine_prompt, style, model.prompt_styles),
                engine_scheduler=p.scheduler,
                negative_prompt=p.negative_prompt or None,
                width=width,
                height=height,
                num_images=num_images,
                num_inference_steps=steps,
                guidance_scale=float(guidance),
                seed=seed,
                scheduler=p.scheduler or model.default_scheduler,
                preset_style=style,
                sd_version=model.sd_version,
                public=bool(p.public),
                tiling=bool(p.tiling),
                init_strength=inputs.init_strength,
                init_image_id=inputs.init_image_id,
                init_generated_image_id=inputs.init_generated_image_id,
                init_file_key=inputs.init_file_key,
                init_strength_ignored=inputs.init_strength_ignored,
                image_prompt_ids=list(inputs.image_prompt_ids) or None,
                image_prompt_file_keys=list(inputs.image_prompt_file_keys) or None,
                image_prompt_weight=inputs.image_prompt_weight,
                transparency=p.transparency,
                options=dict(p.options),
                adapters=adapters or None,
                controls=[c.to_record() for c in guide.controls] or None,
                canvas=guide.canvas.to_record() if guide.canvas else None,
            )
            s.add(row)
            price = generation_price(self.credits.table, row, custom is not None)
            self.credits.charge(s, user_id, JobKind.GENERATION, row.id, price)  # with the row, or neither
        self._dispatcher.submit(JobKind.GENERATION, row.id)
        return row.id

    def _owned(self, user_id: str, generation_id: str) -> GenerationView:
        # Core reads, not the ORM: every polling client comes through here, and ORM loading was most of its cost.
        with self._db.read() as connection:
            row = connection.execute(_GENERATION_BY_ID, {"id": generation_id}).first()
            if row is not None and row.user_id == user_id:
                return _views(connection, [row])[0]
        with self._db.session() as s:
            image = s.get(GeneratedImage, generation_id)
            if image is not None and image.user_id == user_id:
                raise InvalidRequest(
                    f"{generation_id} is a generated image id, not a generation id; call "
                    f"GET /generations/{image.generation_id} for the generation it belongs to, and use the "
                    "image id for variations, motion or init_generation_image_id",
                    field="id",
                )
        raise NotFound(f"generation {generation_id} not found")

    def get(self, user_id: str, generation_id: str) -> GenerationView:
        return self._owned(user_id, generation_id)

    def list_for_user(self, user_id: str, offset: int = 0, limit: int = 10) -> list[GenerationView]:
        page = {"user_id": user_id, "offset": offset, "limit": _page_limit(offset, limit)}
        with self._db.read() as connection:  # Core reads, as `get`: clients poll this list too
            return _views(connection, connection.execute(_PAGE_OF_USER, page).all())

    def revision(self, user_id: str, generation_id: str) -> Revision | None:
        """The generation's current revision (one small statement), or None when the user has no such generation
        (then `get` says why). Pollers' responses are rendered once per revision (api/rendered.py)."""
        with self._db.read() as connection:
            row = connection.execute(_REVISION_OF, {"id": generation_id, "user_id": user_id}).first()
        return tuple(row[1:]) if row is not None else None

    def page_revisions(self, user_id: str, offset: int = 0, limit: int = 10) -> list[tuple[str, Revision]]:
        """`list_for_user`'s page as (id, revision) pairs, in the same order."""
        page = {"user_id": user_id, "offset": offset, "limit": _page_limit(offset, limit)}
        with self._db.read() as connection:
            return [(row[0], tuple(row[1:])) for row in connection.execute(_REVISIONS_OF_PAGE, page)]

    def views_of(self, user_id: str, generation_ids: list[str]) -> dict[str, GenerationView]:
        """The user's generations among these ids, by id (ids of others or of deleted ones are left out)."""
        if not generation_ids:
            return {}
        with self._db.read() as connection:
            rows = connection.execute(_GENERATIONS_BY_IDS, {"ids": generation_ids, "user_id": user_id}).all()
            return {view.id: view for view in _views(connection, rows)}

    def delete(self, user_id: str, generation_id: str) -> None:
        row = self._owned(user_id, generation_id)
        with self._db.session() as s:
            variations = select(ImageVariation.id).where(ImageVariation.generation_id == row.id)
            videos = select(MotionVariation.id).where(MotionVariation.generation_id == row.id)
            variation_ids = [*s.scalars(variations).all(), *s.scalars(videos).all()]
            delete_events(s, [row.id, *variation_ids])  # its jobs' events go with it (video upscales too)
            Credits.forget_jobs(s, [row.id, *variation_ids])  # their charges stay, no longer naming them
            s.delete(s.get(Generation, row.id))
        self._files.delete_prefix(generation_files_prefix(user_id, row.id))


def _page_limit(offset: int, limit: int) -> int:
    if offset < 0 or limit < 0:
        raise InvalidRequest("offset and limit must be 0 or more", field="offset" if offset < 0 else "limit")
    return min(limit, 1000)


def _views(connection: Connection, rows: Sequence[Row[Any]]) -> list[GenerationView]:
    """Views of generation rows, their images read in one statement for all of them, not one each."""
    complete = [r.id for r in rows if r.status == JobStatus.COMPLETE]
    images: dict[str, list[Row[Any]]] = {}
    if complete:
        for image in connection.execute(_IMAGES_OF_MANY, {"ids": complete}):
            images.setdefault(image.generation_id, []).append(image)
    return [generation_view(r, images.get(r.id, [])) for r in rows]
