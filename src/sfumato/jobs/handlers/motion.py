"""Motion generations (a video from an image: SVD, image- and text-to-video): the work of one motion job, on
the long lane. The result
is the generation's one image: a poster (frame 0, at the video's size) with the MP4 beside it."""

from __future__ import annotations

import io
import secrets
import uuid
from pathlib import Path
from typing import Any, Protocol

from PIL import Image
from sqlalchemy.orm import Session

from sfumato.engine.types import GenerateRequest, GenerateResult, ProgressCallback
from sfumato.engine.video import MotionRequest, MotionResult, encode_mp4, interpolated, short_side_size
from sfumato.jobs.core.context import JobContext
from sfumato.jobs.core.kinds import FinishHook, JobKindSpec, ModelOf
from sfumato.jobs.core.lanes import Lane
from sfumato.jobs.handlers.generation import GenerationRowHandler, InputMissing, open_stored
from sfumato.store.files import FileStore, image_file_key, video_file_key
from sfumato.store.models import GeneratedImage, Generation

KIND = "motion"


class MotionEngine(Protocol):
    def motion(self, request: MotionRequest, progress: ProgressCallback | None = None) -> MotionResult: ...

    def generate(self, request: GenerateRequest, progress: ProgressCallback | None = None) -> GenerateResult: ...


class MotionHandler(GenerationRowHandler):
    def __init__(self, files: FileStore, engine: MotionEngine) -> None:
        super().__init__(files)
        self._engine = engine

    def execute(self, ctx: JobContext, row: Generation) -> str | None:
        options = dict(row.options or {})
        source = self._first_frame(ctx, row, options)
        request = MotionRequest(
            Path(row.model_path),
            source,
            row.motion_strength or 5,
            row.seed,
            direction=options.get("direction"),
            aspect=requested_aspect(options),
        )
        result = self._engine.motion(request, progress=ctx.progress)
        ctx.check_cancelled()
        frames, fps = result.frames, result.fps
        if options.get("frame_interpolation"):
            frames, fps = interpolated(frames), fps * 2  # same length, twice the frames
        mp4, width, height = encode_mp4(frames, fps, final_size(frames[0].size, options))
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
        return f" ({len(frames)} frames, bucket {result.motion_bucket_id})"

    def _first_frame(self, ctx: JobContext, row: Generation, options: dict[str, Any]) -> Image.Image:
        """The stored image the video starts from, or (text-to-video) one drawn from the prompt's scene."""
        frame = options.get("frame")
        if frame and not row.motion_source_file_key:
            request = GenerateRequest(
                model_path=Path(frame["model_path"]),
                prompt=frame["prompt"],
                negative_prompt=frame.get("negative_prompt"),
                width=int(frame["width"]),
                height=int(frame["height"]),
                num_inference_steps=int(frame["steps"]),
                guidance_scale=float(frame["guidance"]),
                seed=row.seed,
            )
            return self._engine.generate(request).images[0]
        try:
            return open_stored(ctx.get(row.motion_source_file_key or ""))
        except FileNotFoundError:
            raise InputMissing(
                "the image the video starts from was deleted before the job ran; pass another imageId"
            ) from None


def requested_aspect(options: dict[str, Any]) -> float | None:
    """The width / height a video job asked for (`output_size` in its options), or None."""
    size = options.get("output_size")
    return size[0] / size[1] if size else None


def final_size(frame_size: tuple[int, int], options: dict[str, Any]) -> tuple[int, int] | None:
    """The MP4's size for a job's options: exact (`output_size`), or the frames' aspect at the requested short
    side (`short_side`), or None (the player size)."""
    if options.get("output_size"):
        width, height = options["output_size"]
        return int(width), int(height)
    if options.get("short_side"):
        return short_side_size(*frame_size, int(options["short_side"]))
    return None


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
