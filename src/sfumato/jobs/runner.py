"""The one place that moves a generation from PENDING to COMPLETE or FAILED, whichever dispatcher
delivered it. It needs only the row: the service fixed the model folder and prompt at creation."""

from __future__ import annotations

import io
import logging
import os
import secrets
import socket
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Protocol

from PIL import Image
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from sfumato.engine.types import GenerateRequest, GenerateResult, ModelNotFoundError, ProgressCallback
from sfumato.jobs.dispatch import RETRY_LATER, JobKind
from sfumato.store.database import Database
from sfumato.store.files import FileStore, generation_files_prefix, image_file_key
from sfumato.store.models import GeneratedImage, Generation, User

log = logging.getLogger(__name__)

# Called inside the transaction that finishes a job (COMPLETE or FAILED): the webhook outbox hooks in here
# so a completion and its notification are written together or not at all.
FinishHook = Callable[[Session, Generation], None]


class GenerationEngine(Protocol):
    """What the runner needs of the engine (the real one is sfumato.engine.engine.Engine)."""

    def generate(self, request: GenerateRequest, progress: ProgressCallback | None = None) -> GenerateResult: ...

    def remove_background(self, image: Image.Image) -> tuple[Image.Image, str]: ...


class InputMissing(Exception):
    """An input image of the job (init image, image prompt) was deleted before the job ran."""


def open_stored(data: bytes) -> Image.Image:
    """An image this server stored itself (checked when it was uploaded or generated), as RGB."""
    image = Image.open(io.BytesIO(data))
    image.load()
    return image.convert("RGB")


def load_inputs(files: FileStore, extras: dict) -> tuple[Image.Image | None, tuple[Image.Image, ...]]:
    """The init image and image prompts the service recorded (as file keys, in `extras["inputFiles"]`)."""
    keys = extras.get("inputFiles") or {}

    def load(key: str) -> Image.Image:
        try:
            return open_stored(files.get(key))
        except FileNotFoundError:
            raise InputMissing("an input image (init image or image prompt) was deleted before the job ran; "
                               "upload or generate it again") from None  # fmt: skip

    init = load(keys["init"]) if keys.get("init") else None
    return init, tuple(load(k) for k in keys.get("prompts", []))


class JobRunner:
    def __init__(
        self,
        db: Database,
        files: FileStore,
        engine: GenerationEngine,
        max_attempts: int = 3,
        finish_hooks: list[FinishHook] | None = None,
    ) -> None:
        self._db = db
        self._files = files
        self._engine = engine
        self._max_attempts = max_attempts
        self.finish_hooks: list[FinishHook] = finish_hooks or []
        # Recorded on the row (Generation.worker). With a lease (Celery workers, many at once) a claim also
        # honours the user's concurrency slots and leaves a job alone while another live worker holds it.
        self.worker_id = f"{socket.gethostname()}:{os.getpid()}"
        self.lease_seconds: float | None = None

    def pending_jobs(self) -> list[tuple[JobKind, str]]:
        with self._db.session() as s:
            ids = s.scalars(
                select(Generation.id).where(Generation.status == "PENDING").order_by(Generation.created_at)
            ).all()
        return [(JobKind.GENERATION, i) for i in ids]

    def _claim(self, generation_id: str) -> Generation | str | None:
        """Count the attempt before running, so a job that kills the process each time ends FAILED.
        Returns the row, RETRY_LATER, or None (nothing to do)."""
        with self._db.session() as s:
            # FOR UPDATE (PostgreSQL): two workers handed the same job claim it one after the other.
            row = s.get(Generation, generation_id, with_for_update=True)
            if row is None or row.status != "PENDING":
                return None
            now = datetime.now(UTC)
            if self.lease_seconds is not None:
                fresh = now - timedelta(seconds=self.lease_seconds)
                held = row.claimed_at is not None and _aware(row.claimed_at) > fresh
                if held and row.worker != self.worker_id:
                    return RETRY_LATER  # a redelivered copy while its worker still runs it
                # The user row lock serializes the slot check of one user's jobs across all workers.
                user = s.get(User, row.user_id, with_for_update=True)
                running = s.scalar(
                    select(func.count()).select_from(Generation).where(
                        Generation.user_id == row.user_id, Generation.status == "PENDING",
                        Generation.id != row.id, Generation.claimed_at > fresh)
                ) or 0  # fmt: skip
                if user is not None and running >= user.api_concurrency_slots:
                    return RETRY_LATER
            row.attempts += 1
            if row.attempts > self._max_attempts:
                self._finish(s, row, "FAILED", f"the job stopped its worker {row.attempts - 1} times; giving up")
                return None
            row.worker, row.claimed_at = self.worker_id, now
            return row

    def fail_unclaimed(self, generation_id: str, reason: str, stale_before: datetime) -> bool:
        """FAILED with `reason` if still PENDING and not held by a worker since `stale_before` (the reaper)."""
        with self._db.session() as s:
            row = s.get(Generation, generation_id, with_for_update=True)
            if row is None or row.status != "PENDING":
                return False
            if row.claimed_at is not None and _aware(row.claimed_at) > stale_before:
                return False
            self._finish(s, row, "FAILED", reason)
            return True

    def _finish(self, s: Session, row: Generation, status: str, reason: str | None = None) -> None:
        row.status = status
        row.failure_reason = reason
        for hook in self.finish_hooks:
            hook(s, row)

    def run_generation(self, generation_id: str) -> str | None:
        row = self._claim(generation_id)
        if row is None or isinstance(row, str):
            return row
        started = time.perf_counter()
        written: list[str] = []
        try:
            extras = dict(row.extras or {})
            init_image, prompts = load_inputs(self._files, extras)
            result = self._engine.generate(
                GenerateRequest(
                    model_path=Path(row.model_path),
                    prompt=row.engine_prompt,
                    negative_prompt=row.negative_prompt,
                    width=row.width,
                    height=row.height,
                    num_images=row.num_images,
                    num_inference_steps=row.num_inference_steps,
                    guidance_scale=row.guidance_scale,
                    seed=row.seed,
                    scheduler=row.engine_scheduler,
                    tiling=row.tiling,
                    init_image=init_image,
                    # Leonardo's init_strength is how much of the input to keep; diffusers' strength is how
                    # much to change: 1 - init_strength (rounded, so 1 - 0.9 runs one step, not zero).
                    strength=round(1.0 - (row.init_strength or 0.5), 4) if init_image is not None else 1.0,
                    image_prompts=prompts,
                    image_prompt_weight=float(extras.get("imagePromptWeight") or 0.5),
                )
            )
            outputs = result.images
            if result.image_prompt_method:
                extras["imagePromptMethod"] = result.image_prompt_method
            if extras.get("transparency") == "foreground_only":
                removed = [self._engine.remove_background(image) for image in outputs]
                outputs = [image for image, _ in removed]
                extras["transparencyMethod"] = removed[0][1] if removed else None
            images: list[GeneratedImage] = []
            for index, image in enumerate(outputs):
                image_id = str(uuid.uuid4())
                key = image_file_key(row.user_id, row.id, image_id)
                buf = io.BytesIO()
                # Level 1: PNG stays lossless; higher levels cost seconds on big images for a few % size.
                image.save(buf, format="PNG", compress_level=1)
                self._files.put(key, buf.getvalue())
                written.append(key)
                images.append(
                    GeneratedImage(
                        id=image_id,
                        generation_id=row.id,
                        user_id=row.user_id,
                        index=index,
                        file_key=key,
                        token=secrets.token_urlsafe(24),
                    )  # fmt: skip
                )
            with self._db.session() as s:
                current = s.get(Generation, row.id)
                if current is None:  # deleted while it ran: leave nothing behind
                    raise _Deleted()
                s.add_all(images)
                current.extras = extras  # a new dict, so the JSON column is written
                self._finish(s, current, "COMPLETE")
            log.info("generation %s COMPLETE in %.2fs", row.id, time.perf_counter() - started)
        except _Deleted:
            self._files.delete_prefix(generation_files_prefix(row.user_id, row.id))
        except Exception as exc:
            for key in written:
                self._files.delete(key)
            plain = isinstance(exc, (ModelNotFoundError, InputMissing))
            reason = str(exc) if plain else f"{type(exc).__name__}: {exc}"
            log.exception("generation %s FAILED", row.id)
            with self._db.session() as s:
                current = s.get(Generation, row.id)
                if current is not None:
                    self._finish(s, current, "FAILED", reason)


class _Deleted(Exception):
    pass


def _aware(moment: datetime) -> datetime:
    # SQLite hands back naive datetimes (stored as UTC).
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)
