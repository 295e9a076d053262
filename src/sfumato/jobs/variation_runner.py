"""The job that moves a variation (upscale, unzoom, no-background) from PENDING to COMPLETE or FAILED.
Same discipline as jobs/runner.py: the attempt is counted before running, files are written before the row
says COMPLETE, and the finish hooks (the webhook outbox) run inside the finishing transaction."""

from __future__ import annotations

import io
import logging
import time
from collections.abc import Callable
from pathlib import Path
from typing import Protocol

from PIL import Image
from sqlalchemy import select
from sqlalchemy.orm import Session

from sfumato.engine.types import InpaintRequest
from sfumato.jobs.dispatch import JobKind
from sfumato.jobs.runner import open_stored
from sfumato.store.database import Database
from sfumato.store.files import FileStore, generation_files_prefix
from sfumato.store.media import ImageVariation
from sfumato.store.models import GeneratedImage, Generation

log = logging.getLogger(__name__)

VariationFinishHook = Callable[[Session, ImageVariation], None]
REFINE_STEPS = 20  # denoising steps asked of the model for upscale refinement and unzoom painting


class VariationEngine(Protocol):
    def upscale(
        self, model_path: Path, image: Image.Image, prompt: str, seed: int, steps: int = 20, strength: float = 0.3
    ) -> tuple[Image.Image, str]: ...

    def unzoom(self, request: InpaintRequest) -> Image.Image: ...

    def remove_background(self, image: Image.Image) -> tuple[Image.Image, str]: ...


def variation_file_key(user_id: str, generation_id: str, variation_id: str) -> str:
    # Under the generation's prefix: deleting the generation (or the user) removes variation files too.
    return f"{generation_files_prefix(user_id, generation_id)}variations/{variation_id}.png"


class VariationRunner:
    def __init__(
        self,
        db: Database,
        files: FileStore,
        engine: VariationEngine,
        max_attempts: int = 3,
        finish_hooks: list[VariationFinishHook] | None = None,
    ) -> None:
        self._db = db
        self._files = files
        self._engine = engine
        self._max_attempts = max_attempts
        self.finish_hooks: list[VariationFinishHook] = finish_hooks or []

    def pending_jobs(self) -> list[tuple[JobKind, str]]:
        with self._db.session() as s:
            query = select(ImageVariation.id).where(ImageVariation.status == "PENDING")
            ids = s.scalars(query.order_by(ImageVariation.created_at)).all()
        return [(JobKind.VARIATION, i) for i in ids]

    def _finish(self, s: Session, row: ImageVariation, status: str, reason: str | None = None) -> None:
        row.status, row.failure_reason = status, reason
        for hook in self.finish_hooks:
            hook(s, row)

    def _claim(self, variation_id: str) -> tuple[ImageVariation, Generation, str] | None:
        """The row, its generation and the key of the input file; counts the attempt first."""
        with self._db.session() as s:
            row = s.get(ImageVariation, variation_id)
            if row is None or row.status != "PENDING":
                return None
            row.attempts += 1
            if row.attempts > self._max_attempts:
                self._finish(s, row, "FAILED", f"the job stopped its worker {row.attempts - 1} times; giving up")
                return None
            generation = s.get(Generation, row.generation_id)
            source = s.get(ImageVariation, row.source_variation_id) if row.source_variation_id else None
            image = s.get(GeneratedImage, row.generated_image_id)
            key = source.file_key if source is not None else (image.file_key if image is not None else None)
            if generation is None or not key:
                self._finish(s, row, "FAILED", "the input image was deleted before the job ran")
                return None
            return row, generation, key

    def run_variation(self, variation_id: str) -> None:
        claimed = self._claim(variation_id)
        if claimed is None:
            return
        row, generation, source_key = claimed
        started = time.perf_counter()
        key = variation_file_key(row.user_id, row.generation_id, row.id)
        try:
            source = open_stored(self._files.get(source_key))
            result, method = self._transform(row.transform_type, source, generation)
            buf = io.BytesIO()
            result.save(buf, format="PNG", compress_level=1)
            self._files.put(key, buf.getvalue())
            with self._db.session() as s:
                current = s.get(ImageVariation, row.id)
                if current is None:  # deleted (with its generation) while it ran: leave nothing behind
                    self._files.delete(key)
                    return
                current.file_key, current.method, current.transparent = key, method, result.mode == "RGBA"
                self._finish(s, current, "COMPLETE")
            log.info("variation %s %s COMPLETE in %.2fs (%s)", row.transform_type, row.id,
                     time.perf_counter() - started, method)  # fmt: skip
        except Exception as exc:
            self._files.delete(key)
            log.exception("variation %s FAILED", row.id)
            reason = "the input image was deleted before the job ran" if isinstance(exc, FileNotFoundError) else (
                f"{type(exc).__name__}: {exc}")  # fmt: skip
            with self._db.session() as s:
                current = s.get(ImageVariation, row.id)
                if current is not None:
                    self._finish(s, current, "FAILED", reason)

    def _transform(self, kind: str, source: Image.Image, g: Generation) -> tuple[Image.Image, str]:
        model = Path(g.model_path)
        if kind == "UPSCALE":
            return self._engine.upscale(model, source, g.engine_prompt, g.seed, steps=REFINE_STEPS)
        if kind == "UNZOOM":
            request = InpaintRequest(model_path=model, prompt=g.engine_prompt, image=source,
                                     mask=Image.new("L", source.size), negative_prompt=g.negative_prompt,
                                     num_inference_steps=REFINE_STEPS, guidance_scale=g.guidance_scale,
                                     seed=g.seed)  # fmt: skip
            return self._engine.unzoom(request), "inpaint-border"
        if kind == "NOBG":
            return self._engine.remove_background(source)
        raise ValueError(f"unknown variation kind {kind!r}")
