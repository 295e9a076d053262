"""Variations (upscale, unzoom, no-background of a generated image): the work of one variation job. It runs
on its generation's model (its queue is that model's). Claims and finishing are jobs/core/runner.py's."""

from __future__ import annotations

import io
import logging
from pathlib import Path
from typing import Protocol

from PIL import Image
from sqlalchemy import Select
from sqlalchemy.orm import Session

from sfumato.engine.types import InpaintRequest
from sfumato.jobs.core.context import JobContext
from sfumato.jobs.core.kinds import FinishHook, JobKindSpec, ModelOf
from sfumato.jobs.core.lanes import Lane
from sfumato.jobs.handlers.generation import open_stored
from sfumato.store.database import Database
from sfumato.store.files import FileStore, generation_files_prefix
from sfumato.store.media import ImageVariation
from sfumato.store.models import GeneratedImage, Generation

log = logging.getLogger(__name__)

KIND = "variation"
REFINE_STEPS = 20  # denoising steps asked of the model for upscale refinement and unzoom painting


class VariationEngine(Protocol):
    def upscale(
        self, model_path: Path, image: Image.Image, prompt: str, seed: int, steps: int = 20, strength: float = 0.3
    ) -> tuple[Image.Image, str]: ...

    def unzoom(self, request: InpaintRequest) -> Image.Image: ...

    def remove_background(self, image: Image.Image) -> tuple[Image.Image, str]: ...


class InputDeleted(Exception):
    """The image a variation starts from was deleted before the job ran."""


INPUT_DELETED = "the input image was deleted before the job ran"


def variation_file_key(user_id: str, generation_id: str, variation_id: str) -> str:
    # Under the generation's prefix: deleting the generation (or the user) removes variation files too.
    return f"{generation_files_prefix(user_id, generation_id)}variations/{variation_id}.png"


class VariationHandler:
    def __init__(self, db: Database, files: FileStore, engine: VariationEngine) -> None:
        self._db = db
        self._files = files
        self._engine = engine

    def failure_reason(self, exc: Exception) -> str | None:
        return INPUT_DELETED if isinstance(exc, (FileNotFoundError, InputDeleted)) else None

    def discard(self, row: ImageVariation) -> None:
        self._files.delete(variation_file_key(row.user_id, row.generation_id, row.id))

    def _inputs(self, row: ImageVariation) -> tuple[Generation, str]:
        """The generation (model, prompt, seed) and the key of the input file."""
        with self._db.session() as s:
            generation = s.get(Generation, row.generation_id)
            source = s.get(ImageVariation, row.source_variation_id) if row.source_variation_id else None
            image = s.get(GeneratedImage, row.generated_image_id)
            key = source.file_key if source is not None else (image.file_key if image is not None else None)
            if generation is None or not key:
                raise InputDeleted()
            return generation, key

    def execute(self, ctx: JobContext, row: ImageVariation) -> str | None:
        generation, source_key = self._inputs(row)
        source = open_stored(ctx.get(source_key))
        ctx.check_cancelled()
        result, method = self._transform(row.transform_type, source, generation)
        ctx.check_cancelled()
        buf = io.BytesIO()
        result.save(buf, format="PNG", compress_level=1)
        key = variation_file_key(row.user_id, row.generation_id, row.id)
        ctx.put(key, buf.getvalue())

        def record(s: Session, current: ImageVariation) -> None:
            current.file_key, current.method, current.transparent = key, method, result.mode == "RGBA"

        ctx.complete(record)
        return f" ({row.transform_type}, {method})"

    def _transform(self, kind: str, source: Image.Image, g: Generation) -> tuple[Image.Image, str]:
        model = Path(g.model_path)
        if kind == "UPSCALE":
            return self._engine.upscale(model, source, g.engine_prompt, g.seed, steps=REFINE_STEPS)
        if kind == "UNZOOM":
            request = InpaintRequest(
                model_path=model,
                prompt=g.engine_prompt,
                image=source,
                mask=Image.new("L", source.size),
                negative_prompt=g.negative_prompt,
                num_inference_steps=REFINE_STEPS,
                guidance_scale=g.guidance_scale,
                seed=g.seed,
            )
            return self._engine.unzoom(request), "inpaint-border"
        if kind == "NOBG":
            return self._engine.remove_background(source)
        raise ValueError(f"unknown variation kind {kind!r}")


def _join_generation(query: Select) -> Select:
    return query.join(Generation, ImageVariation.generation_id == Generation.id)


def variation_kind(
    db: Database, files: FileStore, engine: VariationEngine, finish_hooks: tuple[FinishHook, ...] = ()
) -> JobKindSpec:
    return JobKindSpec(
        name=KIND,
        table=ImageVariation,
        handler=VariationHandler(db, files, engine),
        # A variation runs on its generation's model (upscale and unzoom use it).
        model_of=ModelOf(Generation.model_id, _join_generation),
        lane=Lane.INTERACTIVE,
        finish_hooks=finish_hooks,
    )
