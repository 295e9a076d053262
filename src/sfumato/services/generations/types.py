"""Generations in our own names: the request (GenerationParams), its checked image inputs (ImageInputs) and
what services hand out (GenerationView, ImageView: plain frozen values, never ORM rows)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import Row

from sfumato.jobs.core.status import JobStatus
from sfumato.services.canvas import CanvasParams
from sfumato.services.control import LegacyControl
from sfumato.store.models import GeneratedImage, Generation


@dataclass
class GenerationParams:
    """A generation request (the API maps Leonardo's wire keys onto these)."""

    prompt: str | None = None
    negative_prompt: str | None = None
    model_id: str | None = None
    width: int | None = None
    height: int | None = None
    num_images: int | None = None
    num_inference_steps: int | None = None
    guidance_scale: float | None = None
    seed: int | None = None
    scheduler: str | None = None
    preset_style: str | None = None
    sd_version: str | None = None
    public: bool | None = None
    tiling: bool | None = None
    init_image_id: str | None = None
    init_generation_image_id: str | None = None
    init_strength: float | None = None
    image_prompts: list[str] | None = None
    image_prompt_weight: float | None = None
    transparency: str | None = None  # "foreground_only" or "disabled"
    # Leonardo's lists as sent: [{akUUID, weight}] and [{userLoraId, weight}] (services/training/adapters.py).
    elements: Any = None
    user_elements: Any = None
    # Accepted and recorded, but no model here acts on them (alchemy, photo_real, prompt_magic, ...).
    options: dict[str, Any] = field(default_factory=dict)
    # Leonardo's controlnets[] as sent (services/control.py checks it), the deprecated controlNet keys, and the
    # canvas editor's keys.
    controlnets: Any = None
    legacy_control: LegacyControl | None = None
    canvas: CanvasParams | None = None


@dataclass(frozen=True)
class ImageInputs:
    """The checked image inputs of a generation: ids as the user sent them, file keys for the job."""

    init_image_id: str | None = None  # an uploaded init image
    init_generated_image_id: str | None = None  # a generated image or a variation
    init_file_key: str | None = None
    init_strength: float | None = None
    init_strength_ignored: float | None = None  # sent without an init image (Leonardo ignores it too)
    image_prompt_ids: tuple[str, ...] = ()
    image_prompt_file_keys: tuple[str, ...] = ()
    image_prompt_weight: float | None = None


@dataclass(frozen=True)
class ImageView:
    id: str
    file_key: str
    token: str
    nsfw: bool
    like_count: int
    created_at: datetime | None = None
    video_key: str | None = None  # a motion generation's MP4 (file_key is then its poster)


@dataclass(frozen=True)
class GenerationView:
    id: str
    user_id: str
    api_key_id: str | None
    status: str
    failure_reason: str | None
    model_id: str
    prompt: str
    negative_prompt: str | None
    width: int
    height: int
    num_images: int
    num_inference_steps: int
    guidance_scale: float
    seed: int
    scheduler: str
    preset_style: str
    sd_version: str
    public: bool
    tiling: bool
    init_strength: float | None
    init_image_id: str | None
    init_generated_image_id: str | None
    image_prompt_ids: tuple[str, ...]
    image_prompt_weight: float | None
    image_prompt_method: str | None
    transparency: str | None
    transparency_method: str | None
    options: dict[str, Any]
    created_at: datetime
    updated_at: datetime | None
    # Empty until COMPLETE: a PENDING generation never shows a half-filled list.
    images: tuple[ImageView, ...] = ()
    # "generation" (an image one) or "motion" (a video from an image); the strength a motion job was asked.
    job_kind: str = "generation"
    motion_strength: int | None = None
    # The LoRAs applied (AppliedAdapter records): a custom model's and the elements, with their weights.
    adapters: tuple[dict[str, Any], ...] = ()
    # ControlNets (services/control.py records) and the canvas request (services/canvas.py), as recorded.
    controls: tuple[dict[str, Any], ...] = ()
    canvas: dict[str, Any] | None = None

    @property
    def is_motion(self) -> bool:
        return self.job_kind == "motion"

    @property
    def motion_model(self) -> str:
        """What made the video: "SVD" for POST /generations-motion-svd, the motion model's name otherwise."""
        return str(self.options.get("motion_model") or "SVD")

    @property
    def image_to_video(self) -> bool:
        return bool(self.options.get("image_to_video"))


def image_view(i: GeneratedImage | Row[Any]) -> ImageView:
    return ImageView(i.id, i.file_key, i.token, i.nsfw, i.like_count, i.created_at, i.video_key)


def generation_view(
    row: Generation | Row[Any], images: Sequence[GeneratedImage | Row[Any]] | None = None
) -> GenerationView:
    """From an ORM row or a Core row of the same table. `images`: the rows to show (only when COMPLETE); None reads
    `row.images`, which must be loaded (ORM rows only)."""
    shown = (row.images if images is None else images) if row.status == JobStatus.COMPLETE else []
    return GenerationView(
        id=row.id,
        user_id=row.user_id,
        api_key_id=row.api_key_id,
        status=row.status,
        failure_reason=row.failure_reason,
        model_id=row.model_id,
        prompt=row.prompt,
        negative_prompt=row.negative_prompt,
        width=row.width,
        height=row.height,
        num_images=row.num_images,
        num_inference_steps=row.num_inference_steps,
        guidance_scale=row.guidance_scale,
        seed=row.seed,
        scheduler=row.scheduler,
        preset_style=row.preset_style,
        sd_version=row.sd_version,
        public=row.public,
        tiling=row.tiling,
        init_strength=row.init_strength,
        init_image_id=row.init_image_id,
        init_generated_image_id=row.init_generated_image_id,
        image_prompt_ids=tuple(row.image_prompt_ids or ()),
        image_prompt_weight=row.image_prompt_weight,
        image_prompt_method=row.image_prompt_method,
        transparency=row.transparency,
        transparency_method=row.transparency_method,
        options=dict(row.options or {}),
        created_at=row.created_at,
        updated_at=row.updated_at,
        images=tuple(image_view(i) for i in sorted(shown, key=lambda i: i.index)),
        job_kind=row.job_kind or "generation",
        motion_strength=row.motion_strength,
        adapters=tuple(row.adapters or ()),
        controls=tuple(row.controls or ()),
        canvas=dict(row.canvas) if row.canvas else None,
    )
