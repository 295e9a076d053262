"""Job-side helpers for tests and benchmarks: the built-in kinds on a runner without webhooks, an engine that
makes plain images at once, and dispatchers that record or drop submits."""

from __future__ import annotations

from PIL import Image

from sfumato.engine.types import GenerateRequest, GenerateResult, ProgressCallback
from sfumato.jobs.core.events import JobEvents
from sfumato.jobs.core.kinds import FinishHook, JobKinds
from sfumato.jobs.core.runner import JobRunner
from sfumato.jobs.handlers.generation import GenerationEngine, generation_kind
from sfumato.jobs.handlers.motion import motion_kind
from sfumato.jobs.handlers.variation import variation_kind
from sfumato.jobs.handlers.video_upscale import video_upscale_kind
from sfumato.store.database import Database
from sfumato.store.files import FileStore


def builtin_kinds(
    db: Database, files: FileStore, engine: GenerationEngine, finish_hooks: tuple[FinishHook, ...] = ()
) -> JobKinds:
    """Generations and variations, each with `finish_hooks` (bootstrap/kinds.py adds the webhook outbox)."""
    kinds = JobKinds()
    kinds.register(generation_kind(files, engine, finish_hooks))
    kinds.register(variation_kind(db, files, engine, finish_hooks))  # type: ignore[arg-type]
    kinds.register(motion_kind(files, engine, finish_hooks))  # type: ignore[arg-type]
    kinds.register(video_upscale_kind(db, files, finish_hooks))
    return kinds


def make_runner(
    db: Database,
    files: FileStore,
    engine: GenerationEngine,
    *,
    max_attempts: int = 3,
    worker_id: str | None = None,
    lease_seconds: float | None = None,
    finish_hooks: tuple[FinishHook, ...] = (),
    batch_limit: int = 1,
) -> JobRunner:
    kinds = builtin_kinds(db, files, engine, finish_hooks)
    return JobRunner(db, kinds, JobEvents(db), files, max_attempts, worker_id, lease_seconds, batch_limit=batch_limit)


class FlatEngine:
    """Plain images at once: for tests about rows and messages, not pixels."""

    def generate(self, request: GenerateRequest, progress: ProgressCallback | None = None) -> GenerateResult:
        return GenerateResult([Image.new("RGB", (request.width, request.height), "red")] * request.num_images)

    def remove_background(self, image: Image.Image) -> tuple[Image.Image, str]:
        return image.convert("RGBA"), "flat"


class RecordingDispatcher:
    """Remembers every submit and runs nothing."""

    def __init__(self) -> None:
        self.jobs: list[tuple[str, str]] = []

    def submit(self, kind: str, job_id: str) -> None:
        self.jobs.append((str(kind), job_id))

    def start(self) -> None: ...
    def stop(self) -> None: ...
    def check(self) -> None: ...


class NullDispatcher:
    def submit(self, kind: str, job_id: str) -> None: ...
    def start(self) -> None: ...
    def stop(self) -> None: ...
    def check(self) -> None: ...
