"""Trainings (custom models and user elements): the work of one training job, on the long lane. It trains a LoRA
on the row's base model from the dataset images snapshotted at creation (engine/lora_train.py), checkpointing
under the worker's training folder, so a job that starts again after a crash or a SIGKILL resumes from its
last checkpoint. A cancel (`sfumato jobs cancel`) stops it at the next step, with a checkpoint."""

from __future__ import annotations

import contextlib
import shutil
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Protocol

from sfumato.jobs.core.context import JobCancelled, JobContext
from sfumato.jobs.core.kinds import FinishHook, JobKindSpec, ModelOf
from sfumato.jobs.core.lanes import Lane
from sfumato.jobs.handlers.generation import InputMissing, open_stored
from sfumato.store.database import Database
from sfumato.store.files import FileStore, training_prefix
from sfumato.store.training import Training

KIND = "training"
LORA_FILE = "pytorch_lora_weights.safetensors"
PROGRESS_WRITE_SECONDS = 2.0  # how often the row's step (what GET /models/{id} and the CLI show) is written


class TrainingTimeLimit(Exception):
    """The training reached the server's time limit (SFUMATO_TRAINING_TIME_LIMIT_SECONDS)."""


class Preloader(Protocol):
    def preload(self, path: Path | str) -> None: ...


class TrainingHandler:
    def __init__(
        self,
        db: Database,
        files: FileStore,
        engine: Preloader,
        work_dir: Path,
        time_limit_seconds: float,
        steps_scale: float = 1.0,
    ) -> None:
        self._engine = engine
        self._db = db
        self._files = files
        self._work_dir = work_dir
        self._time_limit = time_limit_seconds
        self._steps_scale = steps_scale  # SFUMATO_TRAINING_STEPS_SCALE

    def _spec(self, row: Training, images: list[Any]) -> Any:
        from sfumato.engine import lora_train  # torch: only where trainings run

        base = Path(row.base_model_path)
        if row.target == "model":
            spec = lora_train.custom_model_spec(base, images, row.instance_token, row.strength or "MEDIUM")
        else:
            spec = lora_train.element_spec(
                base,
                images,
                row.instance_token,
                row.focus or "General",
                row.num_train_epochs or 100,
                row.learning_rate or 1e-6,
                row.train_text_encoder,
            )
        return lora_train.with_steps(spec, max(1, round(spec.steps * self._steps_scale)))

    def _record(self, job_id: str, **values: Any) -> None:
        with self._db.session() as s:
            row = s.get(Training, job_id)
            if row is not None:
                for name, value in values.items():
                    setattr(row, name, value)

    def execute(self, ctx: JobContext, row: Training) -> str | None:
        # Through the engine first: it waits for a model load in progress (the start-up preload) and does the
        # library imports on the engine's terms; two threads loading or importing at once break each other.
        self._engine.preload(row.base_model_path)
        from sfumato.engine import lora_train

        images = []
        for key in row.image_keys:
            try:
                images.append(open_stored(ctx.get(key)))
            except FileNotFoundError:
                raise InputMissing(
                    f"an image of dataset {row.dataset_id} was deleted before the training ran; upload it again "
                    "and train again"
                ) from None
        spec = self._spec(row, images)
        settings = {
            "steps": spec.steps,
            "rank": spec.rank,
            "learning_rate": spec.learning_rate,
            "batch_size": spec.batch_size,
            "seed": spec.seed,
            "train_text_encoder": spec.train_text_encoder,
            "prior_preservation": spec.prior_preservation,
            "images": len(images),
        }
        self._record(row.id, settings=settings, steps=spec.steps, started_at=datetime.now(UTC))
        last_write = [0.0]

        def progress(step: int, steps: int, metrics: dict) -> None:
            now = time.monotonic()
            if step == steps or now - last_write[0] >= PROGRESS_WRITE_SECONDS:
                last_write[0] = now
                self._record(row.id, step=step, steps=steps)
            if not ctx.cancelled():
                # Events for the CLI, and the engine for interactive jobs; a cancel is should_stop's to act on
                # (before the next step, after a checkpoint).
                with contextlib.suppress(JobCancelled):
                    ctx.progress(step, steps)

        work = self._work_dir / row.id
        deadline = time.monotonic() + self._time_limit
        try:
            path = lora_train.train_lora(spec, work, progress, should_stop=ctx.cancelled, deadline=deadline)
        except lora_train.TrainingStopped:
            if ctx.cancelled():
                raise JobCancelled() from None
            raise TrainingTimeLimit(
                f"the training reached this server's time limit of {self._time_limit:g} s before its "
                f"{spec.steps} steps; train with fewer epochs (or a lower strength), or ask the operator to raise "
                "SFUMATO_TRAINING_TIME_LIMIT_SECONDS"
            ) from None
        key = training_prefix(row.user_id, row.id) + LORA_FILE
        ctx.put(key, Path(path).read_bytes())

        def record(s: Any, current: Training) -> None:
            current.adapter_key = key
            current.step = spec.steps

        ctx.complete(record)
        shutil.rmtree(work, ignore_errors=True)
        return f"{spec.steps} steps"

    def discard(self, row: Training) -> None:
        self._files.delete_prefix(training_prefix(row.user_id, row.id))
        shutil.rmtree(self._work_dir / row.id, ignore_errors=True)

    def failure_reason(self, exc: Exception) -> str | None:
        if isinstance(exc, (InputMissing, TrainingTimeLimit)):
            return str(exc)
        if isinstance(exc, ValueError):  # the trainer's own checks (an image it cannot use, a bad setting)
            return f"the training could not run: {exc}"
        return None


def training_kind(
    db: Database,
    files: FileStore,
    engine: Preloader,
    work_dir: Path,
    time_limit_seconds: float = 1800.0,
    finish_hooks: tuple[FinishHook, ...] = (),
    steps_scale: float = 1.0,
) -> JobKindSpec:
    return JobKindSpec(
        name=KIND,
        table=Training,
        handler=TrainingHandler(db, files, engine, work_dir, time_limit_seconds, steps_scale),
        model_of=ModelOf(Training.base_model_id),
        lane=Lane.LONG,
        finish_hooks=finish_hooks,
    )
