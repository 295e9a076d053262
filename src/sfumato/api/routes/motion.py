"""Motion: POST /generations-motion-svd (a video from an image), /generations-image-to-video and
/generations-text-to-video (the prompt directs the motion), /generations-video-upscale. The result is a
generation, polled with GET /generations/{id}; its image carries `motionMP4URL`."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Body
from fastapi.responses import FileResponse

from sfumato.api.deps import BaseUrlDep, CdnDep, CreditsDep, MotionDep, PrincipalDep
from sfumato.api.routes.files import CACHE_FOREVER
from sfumato.api.routes.pricing import cost_fields
from sfumato.api.schemas.common import timestamp
from sfumato.api.schemas.motion import (
    GetMotionVariationResponse,
    ImageToVideoBody,
    MotionSvdBody,
    MotionSvdJob,
    MotionSvdResponse,
    MotionVariationOut,
    MotionVideoJob,
    MotionVideoResponse,
    TextToVideoBody,
    VideoUpscaleBody,
)
from sfumato.jobs.core.status import wire_status
from sfumato.services.urls import motion_variation_url

router = APIRouter(tags=["Motion"])
files_router = APIRouter(include_in_schema=False)


@router.post(
    "/generations-motion-svd",
    response_model=MotionSvdResponse,
    response_model_exclude_none=True,
    operation_id="createSVDMotionGeneration",
)
def create_svd_motion(
    motion: MotionDep, credits: CreditsDep, who: PrincipalDep, body: Annotated[MotionSvdBody | None, Body()] = None
) -> MotionSvdResponse:
    body = body or MotionSvdBody()
    body.log_unknown_keys("POST /generations-motion-svd")
    generation_id = motion.create_svd(who.user_id, who.api_key_id, body.to_params())
    job = MotionSvdJob(generationId=generation_id, **cost_fields(credits, generation_id))  # type: ignore[arg-type]
    return MotionSvdResponse(motionSvdGenerationJob=job)


@router.post(
    "/generations-image-to-video",
    response_model=MotionVideoResponse,
    response_model_exclude_none=True,
    operation_id="createImageToVideoGeneration",
)
def create_image_to_video(
    motion: MotionDep, credits: CreditsDep, who: PrincipalDep, body: Annotated[ImageToVideoBody | None, Body()] = None
) -> MotionVideoResponse:
    body = body or ImageToVideoBody()
    body.log_unknown_keys("POST /generations-image-to-video")
    generation_id = motion.create_image_to_video(who.user_id, who.api_key_id, body.to_params())
    job = MotionVideoJob(generationId=generation_id, **cost_fields(credits, generation_id))  # type: ignore[arg-type]
    return MotionVideoResponse(motionVideoGenerationJob=job)


@router.post(
    "/generations-text-to-video",
    response_model=MotionVideoResponse,
    response_model_exclude_none=True,
    operation_id="createTextToVideoGeneration",
)
def create_text_to_video(
    motion: MotionDep, credits: CreditsDep, who: PrincipalDep, body: Annotated[TextToVideoBody | None, Body()] = None
) -> MotionVideoResponse:
    body = body or TextToVideoBody()
    body.log_unknown_keys("POST /generations-text-to-video")
    generation_id = motion.create_text_to_video(who.user_id, who.api_key_id, body.to_params())
    job = MotionVideoJob(generationId=generation_id, **cost_fields(credits, generation_id))  # type: ignore[arg-type]
    return MotionVideoResponse(motionVideoGenerationJob=job)


@router.post(
    "/generations-video-upscale",
    response_model=MotionVideoResponse,
    response_model_exclude_none=True,
    operation_id="createVideoUpscale",
)
def create_video_upscale(
    motion: MotionDep, credits: CreditsDep, who: PrincipalDep, body: Annotated[VideoUpscaleBody | None, Body()] = None
) -> MotionVideoResponse:
    body = body or VideoUpscaleBody()
    body.log_unknown_keys("POST /generations-video-upscale")
    variation_id = motion.create_video_upscale(who.user_id, who.api_key_id, body.sourceGenerationId, body.resolution)
    # What `generationId` means here is undocumented: the source generation's, so GET /generations/{id} still works.
    job = MotionVideoJob(
        generationId=body.sourceGenerationId or "",
        variationId=variation_id,
        **cost_fields(credits, variation_id),  # type: ignore[arg-type]
    )
    return MotionVideoResponse(motionVideoGenerationJob=job)


@router.get(
    "/motion-variations/{id}",
    response_model=GetMotionVariationResponse,
    response_model_exclude_none=True,
    operation_id="getMotionVariationById",
    tags=["Variation"],
)
def get_motion_variation(id: str, motion: MotionDep, base: BaseUrlDep, who: PrincipalDep) -> GetMotionVariationResponse:  # noqa: A002
    items = [
        MotionVariationOut(
            id=v.id,
            createdAt=timestamp(v.created_at),
            status=wire_status(v.status),
            motionTransformType=v.transform_type,
            resolution=v.resolution,
            url=motion_variation_url(base, v.id, v.token) if v.file_key else None,
        )
        for v in motion.get_variation(who.user_id, id)
    ]
    return GetMotionVariationResponse(generated_image_variation_motion=items)


@files_router.get("/cdn/motion-variations/{token}/{filename}")
def motion_variation_file(token: str, filename: str, cdn: CdnDep) -> FileResponse:
    found = cdn.motion_variation(token, filename)
    return FileResponse(found.path, media_type=found.media_type, headers=CACHE_FOREVER)
