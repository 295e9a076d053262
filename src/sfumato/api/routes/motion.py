"""Motion: POST /generations-motion-svd (a video from an image). The result is a generation, polled with
GET /generations/{id}; its image carries `motionMP4URL`."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Body

from sfumato.api.deps import MotionDep, PrincipalDep
from sfumato.api.schemas.motion import MotionSvdBody, MotionSvdJob, MotionSvdResponse

router = APIRouter(tags=["Motion"])


@router.post(
    "/generations-motion-svd",
    response_model=MotionSvdResponse,
    response_model_exclude_none=True,
    operation_id="createSVDMotionGeneration",
)
def create_svd_motion(
    motion: MotionDep, who: PrincipalDep, body: Annotated[MotionSvdBody | None, Body()] = None
) -> MotionSvdResponse:
    body = body or MotionSvdBody()
    body.log_unknown_keys("POST /generations-motion-svd")
    generation_id = motion.create_svd(who.user_id, who.api_key_id, body.to_params())
    return MotionSvdResponse(motionSvdGenerationJob=MotionSvdJob(generationId=generation_id))
