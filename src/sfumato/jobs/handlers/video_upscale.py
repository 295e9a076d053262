"""Video upscales (POST /generations-video-upscale): a motion generation's frames enlarged to the asked
resolution (720 on the short side, Lanczos) and encoded again. No model runs, but it is a long-lane job: a
long video's frames take a while to resize and encode."""

from __future__ import annotations

from sqlalchemy import Select
from sqlalchemy.orm import Session

from sfumato.engine.video import decode_mp4, encode_mp4, upscaled
from sfumato.jobs.core.context import JobContext
from sfumato.jobs.core.kinds import FinishHook, JobKindSpec, ModelOf
from sfumato.jobs.core.lanes import Lane
from sfumato.jobs.handlers.generation import InputMissing
from sfumato.store.database import Database
from sfumato.store.files import FileStore, motion_variation_file_key
from sfumato.store.media import MotionVariation
from sfumato.store.models import GeneratedImage, Generation

KIND = "video-upscale"
SHORT_SIDE = {"RESOLUTION_720": 720}


class VideoUpscaleHandler:
    def __init__(self, db: Database, files: FileStore) -> None:
        self._db = db
        self._files = files

    def failure_reason(self, exc: Exception) -> str | None:
        return str(exc) if isinstance(exc, InputMissing) else None

    def discard(self, row: MotionVariation) -> None:
        self._files.delete(motion_variation_file_key(row.user_id, row.generation_id, row.id))

    def execute(self, ctx: JobContext, row: MotionVariation) -> str | None:
        with self._db.session() as s:
            image = s.get(GeneratedImage, row.generated_image_id)
            video_key = image.video_key if image is not None else None
        try:
            frames, fps = decode_mp4(ctx.get(video_key or ""))
        except FileNotFoundError:
            raise InputMissing("the video to upscale was deleted before the job ran") from None
        ctx.progress(1, 2)
        data, width, height = encode_mp4(upscaled(frames, SHORT_SIDE[row.resolution]), fps)
        ctx.progress(2, 2)
        key = motion_variation_file_key(row.user_id, row.generation_id, row.id)
        ctx.put(key, data)

        def record(s: Session, current: MotionVariation) -> None:
            current.file_key, current.width, current.height = key, width, height

        ctx.complete(record)
        return f" ({len(frames)} frames, {width}x{height})"


def _join_generation(query: Select) -> Select:
    return query.join(Generation, MotionVariation.generation_id == Generation.id)


def video_upscale_kind(db: Database, files: FileStore, finish_hooks: tuple[FinishHook, ...] = ()) -> JobKindSpec:
    return JobKindSpec(
        name=KIND,
        table=MotionVariation,
        handler=VideoUpscaleHandler(db, files),
        # It runs where its motion model is served (the queue is that model's), though it needs no model.
        model_of=ModelOf(Generation.model_id, _join_generation),
        lane=Lane.LONG,
        finish_hooks=finish_hooks,
    )
