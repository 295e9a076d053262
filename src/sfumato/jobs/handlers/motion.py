"""Motion generations (a video from an image, SVD): the work of one motion job, on the long lane. The result
is the generation's one image: a poster (frame 0, at the video's size) with the MP4 beside it."""

from __future__ import annotations

import io
import secrets
import uuid
from pathlib import Path
from typing import Protocol

from PIL import Image
from sqlalchemy.orm import Session

from sfumato.engine.types import ProgressCallback
from sfumato.engine.video import MotionRequest, MotionResult, encode_mp4
from sfumato.jobs.core.context import JobContext
from sfumato.jobs.core.kinds import FinishHook, JobKindSpec, ModelOf
from sfumato.jobs.core.lanes import Lane
from sfumato.jobs.handlers.generation import GenerationRowHandler, InputMissing, open_stored
from sfumato.store.files import FileStore, image_file_key, video_file_key
from sfumato.store.models import GeneratedImage, Generation

KIND = "motion"


class MotionEngine(Protocol):
    def motion(self, request: MotionRequest, progress: ProgressCallback | None = None) -> MotionResult: ...


class MotionHandler(GenerationRowHandler):
    def __init__(self, files: FileStore, engine: MotionEngine) -> None:
        super().__init__(files)
        self._engine = engine

    def execute(self, ctx: JobContext, row: Generation) -> str | None:
        try:
            source = open_stored(ctx.get(row.motion_source_file_key or ""))
        except FileNotFoundError:
            raise InputMissing(
                "the image the video starts from was deleted before the job ran; pass another imageId"
            ) from None
        request = MotionRequest(Path(row.model_path), source, row.motion_strength or 5, row.seed)
        result = self._engine.motion(request, progress=ctx.progress)
        ctx.check_cancelled()
        mp4, width, height = encode_mp4(result.frames, result.fps)
        image_id = str(uuid.uuid4())
        poster_key, video_key = (
            image_file_key(row.user_id, row.id, image_id),
            video_file_key(row.user_id, row.id, image_id),
        )
        poster = io.BytesIO()
        result.frames[0].resize((width, height), Image.Resampling.NEAREST).save(poster, format="PNG", compress_level=1)
        ctx.put(poster_key, poster.getvalue())
        ctx.put(video_key, mp4)
        image = GeneratedImage(
            id=image_id,
            generation_id=row.id,
            user_id=row.user_id,
            index=0,
            file_key=poster_key,
            video_key=video_key,
            token=secrets.token_urlsafe(24),
        )

        def record(s: Session, current: Generation) -> None:
            s.add(image)
            current.width, current.height = width, height
            current.motion_frames, current.motion_fps = len(result.frames), result.fps
            current.num_inference_steps = result.steps

        ctx.complete(record)
        return f" ({len(result.frames)} frames, bucket {result.motion_bucket_id})"


def motion_kind(files: FileStore, engine: MotionEngine, finish_hooks: tuple[FinishHook, ...] = ()) -> JobKindSpec:
    return JobKindSpec(
        name=KIND,
        table=Generation,
        handler=MotionHandler(files, engine),
        model_of=ModelOf(Generation.model_id),
        lane=Lane.LONG,
        finish_hooks=finish_hooks,
        discriminator=Generation.job_kind,  # image generations share the table
    )
