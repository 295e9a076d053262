"""The realtime canvas: /generations-lcm, /lcm-instant-refine, /lcm-inpainting (synchronous, data URLs in and
out) and /lcm-upscale (also kept as a generation and a variation). services/realtime.py does the work."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Body

from sfumato.api.deps import PrincipalDep, RealtimeDep
from sfumato.api.routes.pricing import credits_of
from sfumato.api.schemas.realtime import LcmBody, LcmInpaintingBody, LcmJob, LcmResponse, LcmUpscaleBody
from sfumato.services.realtime import CanvasResult

router = APIRouter(tags=["Realtime Canvas"])
BodyDep = Annotated[LcmBody | None, Body()]
_OUT = {"response_model": LcmResponse, "response_model_exclude_none": True}  # the TS SDK rejects nulls here


def _job(result: CanvasResult) -> LcmResponse:
    return LcmResponse(
        lcmGenerationJob=LcmJob(
            imageDataUrl=result.data_urls,
            requestTimestamp=result.request_timestamp,
            generationId=[result.generation_id] if result.generation_id else None,
            variationId=[result.variation_id] if result.variation_id else None,
            generatedImageId=result.generated_image_id,
            **credits_of(result.cost),  # type: ignore[arg-type]
        )
    )


def _render(realtime: RealtimeDep, who: PrincipalDep, mode: str, endpoint: str, body: LcmBody | None) -> LcmResponse:
    body = body or LcmBody()
    body.log_unknown_keys(endpoint)
    return _job(realtime.render(mode, body.params(), who.user_id))


# Plain `def` routes: FastAPI runs them in its thread pool, so rendering never blocks the event loop.
@router.post("/generations-lcm", operation_id="createLCMGeneration", **_OUT)  # type: ignore[arg-type]
def create_lcm_generation(realtime: RealtimeDep, who: PrincipalDep, body: BodyDep = None) -> LcmResponse:
    return _render(realtime, who, "generate", "POST /generations-lcm", body)


@router.post("/lcm-instant-refine", operation_id="performInstantRefine", **_OUT)  # type: ignore[arg-type]
def perform_instant_refine(realtime: RealtimeDep, who: PrincipalDep, body: BodyDep = None) -> LcmResponse:
    return _render(realtime, who, "refine", "POST /lcm-instant-refine", body)


@router.post("/lcm-inpainting", operation_id="performInpaintingLCM", **_OUT)  # type: ignore[arg-type]
def perform_inpainting_lcm(
    realtime: RealtimeDep, who: PrincipalDep, body: Annotated[LcmInpaintingBody | None, Body()] = None
) -> LcmResponse:
    return _render(realtime, who, "inpaint", "POST /lcm-inpainting", body or LcmInpaintingBody())


@router.post("/lcm-upscale", operation_id="performAlchemyUpscaleLCM", **_OUT)  # type: ignore[arg-type]
def perform_alchemy_upscale_lcm(
    realtime: RealtimeDep, who: PrincipalDep, body: Annotated[LcmUpscaleBody | None, Body()] = None
) -> LcmResponse:
    body = body or LcmUpscaleBody()
    body.log_unknown_keys("POST /lcm-upscale")
    return _job(realtime.upscale(who.user_id, who.api_key_id, body.params()))
