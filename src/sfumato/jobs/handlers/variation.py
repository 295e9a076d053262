"""Variations (upscale, unzoom, no-background of a generated image, and the universal upscaler, whose input
may also be an uploaded init image): the work of one variation job. It runs on its generation's model (its
queue is that model's), or, without a generation, on the model recorded on the row. Claims and finishing are
jobs/core/runner.py's."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from PIL import Image
from sqlalchemy import Select, func
from sqlalchemy.orm import Session

from sfumato.engine.types import GenerateRequest, GenerateResult, InpaintRequest
from sfumato.jobs.core.context import JobContext
from sfumato.jobs.core.kinds import FinishHook, JobKindSpec, ModelOf
from sfumato.jobs.core.lanes import Lane
from sfumato.jobs.handlers.generation import open_stored, png_bytes
from sfumato.store.database import Database
from sfumato.store.files import FileStore, generation_files_prefix, user_files_prefix
from sfumato.store.media import ImageVariation, InitImage
from sfumato.store.models import GeneratedImage, Generation

log = logging.getLogger(__name__)

KIND = "variation"
REFINE_STEPS = 20  # denoising steps asked of the model for upscale refinement and unzoom painting


class VariationEngine(Protocol):
    addons_dir: Path | None
    device: str

    def generate(self, request: GenerateRequest) -> GenerateResult: ...

    def upscale(
        self, model_path: Path, image: Image.Image, prompt: str, seed: int, steps: int = 20, strength: float = 0.3
    ) -> tuple[Image.Image, str]: ...

    def unzoom(self, request: InpaintRequest) -> Image.Image: ...

    def remove_background(self, image: Image.Image) -> tuple[Image.Image, str]: ...


class InputDeleted(Exception):
    """The image a variation starts from was deleted before the job ran."""


INPUT_DELETED = "the input image was deleted before the job ran"


def variation_file_key(user_id: str, generation_id: str | None, variation_id: str) -> str:
    # Under the generation's prefix: deleting the generation (or the user) removes variation files too. A
    # variation of an uploaded init image has no generation: under the user's prefix (store/media.py says why).
    if generation_id is None:
        return f"{user_files_prefix(user_id)}variations/{variation_id}.png"
    return f"{generation_files_prefix(user_id, generation_id)}variations/{variation_id}.png"


@dataclass(frozen=True)
class _Inputs:
    model_path: Path
    prompt: str
    negative_prompt: str | None
    guidance_scale: float
    seed: int
    source_key: str


class VariationHandler:
    def __init__(self, db: Database, files: FileStore, engine: VariationEngine) -> None:
        self._db = db
        self._files = files
        self._engine = engine

    def failure_reason(self, exc: Exception) -> str | None:
        return INPUT_DELETED if isinstance(exc, (FileNotFoundError, InputDeleted)) else None

    def discard(self, row: ImageVariation) -> None:
        self._files.delete(variation_file_key(row.user_id, row.generation_id, row.id))

    def _inputs(self, row: ImageVariation) -> _Inputs:
        """The model, prompt and seed (the generation's, or the universal upscaler's own settings) and the key
        of the input file."""
        settings = row.settings or {}
        with self._db.session() as s:
            source = s.get(ImageVariation, row.source_variation_id) if row.source_variation_id else None
            if row.generation_id is None:  # an uploaded init image, upscaled on the model the row names
                init = s.get(InitImage, row.init_image_id) if row.init_image_id else None
                key = source.file_key if source is not None else (init.file_key if init is not None else None)
                if not key or not settings.get("model_path"):
                    raise InputDeleted()
                return _Inputs(Path(settings["model_path"]), settings.get("prompt") or "", None, 7.0,
                               int(settings.get("seed", 0)), key)  # fmt: skip
            generation = s.get(Generation, row.generation_id)
            image = s.get(GeneratedImage, row.generated_image_id)
            key = source.file_key if source is not None else (image.file_key if image is not None else None)
            if generation is None or not key:
                raise InputDeleted()
            prompt = settings.get("prompt") or generation.engine_prompt
            return _Inputs(Path(generation.model_path), prompt, generation.negative_prompt,
                           generation.guidance_scale, generation.seed, key)  # fmt: skip

    def execute(self, ctx: JobContext, row: ImageVariation) -> str | None:
        inputs = self._inputs(row)
        source = open_stored(ctx.get(inputs.source_key))
        ctx.check_cancelled()
        if row.settings is not None:  # the universal upscaler
            result, method = self._universal(source, inputs, row.settings)
        else:
            result, method = self._transform(row.transform_type, source, inputs)
        ctx.check_cancelled()
        key = variation_file_key(row.user_id, row.generation_id, row.id)
        ctx.put(key, png_bytes(result))

        def record(s: Session, current: ImageVariation) -> None:
            current.file_key, current.method, current.transparent = key, method, result.mode == "RGBA"

        ctx.complete(record)
        return f" ({row.transform_type}, {method})"

    def _universal(self, source: Image.Image, inputs: _Inputs, settings: dict) -> tuple[Image.Image, str]:
        """services/variations_universal.py chose the size, strength and detail; the engine tiles and refines."""
        # Imported here: these load torch, which the CLI's commands that only read the database never need.
        from sfumato.engine.postprocess import upscale_size
        from sfumato.engine.tiled_upscale import TiledUpscale, tiled_upscale

        job = TiledUpscale(
            model_path=inputs.model_path,
            image=source,
            size=upscale_size(*source.size, float(settings["multiplier"])),
            prompt=", ".join(p for p in (inputs.prompt, settings.get("prompt_suffix")) if p),
            seed=inputs.seed,
            strength=float(settings["strength"]),
            detail=float(settings["detail"]),
            steps=REFINE_STEPS,
        )
        return tiled_upscale(self._engine, job)

    def _transform(self, kind: str, source: Image.Image, g: _Inputs) -> tuple[Image.Image, str]:
        model = g.model_path
        if kind == "UPSCALE":
            return self._engine.upscale(model, source, g.prompt, g.seed, steps=REFINE_STEPS)
        if kind == "UNZOOM":
            request = InpaintRequest(
                model_path=model,
                prompt=g.prompt,
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
    # Outer: a universal upscale of an init image has no generation (its model is on the row).
    return query.outerjoin(Generation, ImageVariation.generation_id == Generation.id)


def variation_kind(
    db: Database, files: FileStore, engine: VariationEngine, finish_hooks: tuple[FinishHook, ...] = ()
) -> JobKindSpec:
    return JobKindSpec(
        name=KIND,
        table=ImageVariation,
        handler=VariationHandler(db, files, engine),
        # A variation runs on its generation's model (upscale and unzoom use it), else on the row's own.
        model_of=ModelOf(func.coalesce(Generation.model_id, ImageVariation.model_id), _join_generation),
        lane=Lane.INTERACTIVE,
        finish_hooks=finish_hooks,
    )
