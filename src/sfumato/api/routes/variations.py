"""/variations: upscale, unzoom and no-background jobs of a generated image, the universal upscaler (also of an
uploaded init image), and reading them; their files."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Body
from fastapi.responses import FileResponse

from sfumato.api.deps import BaseUrlDep, CdnDep, CreditsDep, PrincipalDep, UrlsDep, VariationsDep
from sfumato.api.openapi import ID_OF_ANOTHER_KIND
from sfumato.api.routes.files import CACHE_FOREVER
from sfumato.api.routes.pricing import cost_fields
from sfumato.api.schemas.common import timestamp
from sfumato.api.schemas.media import (
    GetVariationResponse,
    NobgResponse,
    UnzoomResponse,
    UpscaleResponse,
    VariationBody,
    VariationGenericOut,
    VariationJob,
)
from sfumato.api.schemas.universal_upscaler import (
    UniversalUpscalerBody,
    UniversalUpscalerJob,
    UniversalUpscalerResponse,
)
from sfumato.jobs.core.status import wire_status

router = APIRouter(tags=["Variation"])
files_router = APIRouter(include_in_schema=False)
BodyDep = Annotated[VariationBody | None, Body()]


def _create(
    variations: VariationsDep, credits: CreditsDep, who: PrincipalDep, transform: str, body: VariationBody | None
) -> VariationJob:
    body = body or VariationBody()
    body.log_unknown_keys(f"POST /variations/{transform}")
    job_id = variations.create(who.user_id, who.api_key_id, transform, body.id, body.isVariation)
    return VariationJob(id=job_id, **cost_fields(credits, job_id))  # type: ignore[arg-type]


@router.post("/variations/upscale", response_model=UpscaleResponse, operation_id="createVariationUpscale")
def create_upscale(
    variations: VariationsDep, credits: CreditsDep, who: PrincipalDep, body: BodyDep = None
) -> UpscaleResponse:
    return UpscaleResponse(sdUpscaleJob=_create(variations, credits, who, "upscale", body))


@router.post("/variations/unzoom", response_model=UnzoomResponse, operation_id="createVariationUnzoom")
def create_unzoom(
    variations: VariationsDep, credits: CreditsDep, who: PrincipalDep, body: BodyDep = None
) -> UnzoomResponse:
    return UnzoomResponse(sdUnzoomJob=_create(variations, credits, who, "unzoom", body))


@router.post("/variations/nobg", response_model=NobgResponse, operation_id="createVariationNoBG")
def create_nobg(
    variations: VariationsDep, credits: CreditsDep, who: PrincipalDep, body: BodyDep = None
) -> NobgResponse:
    return NobgResponse(sdNobgJob=_create(variations, credits, who, "nobg", body))


@router.post(
    "/variations/universal-upscaler",
    response_model=UniversalUpscalerResponse,
    operation_id="CreateUniversalUpscalerJob",
)
def create_universal_upscaler(
    variations: VariationsDep,
    credits: CreditsDep,
    who: PrincipalDep,
    body: Annotated[UniversalUpscalerBody | None, Body()] = None,
) -> UniversalUpscalerResponse:
    body = body or UniversalUpscalerBody()
    body.log_unknown_keys("POST /variations/universal-upscaler")
    job_id = variations.create_universal(who.user_id, who.api_key_id, body.params())
    job = UniversalUpscalerJob(id=job_id, **cost_fields(credits, job_id))  # type: ignore[arg-type]
    return UniversalUpscalerResponse(universalUpscaler=job)


@router.get(
    "/variations/{id}",
    response_model=GetVariationResponse,
    response_model_exclude_none=True,
    operation_id="getVariationById",
    openapi_extra=ID_OF_ANOTHER_KIND,
)
def get_variation(  # noqa: A002
    id: str, variations: VariationsDep, urls: UrlsDep, base: BaseUrlDep, who: PrincipalDep
) -> GetVariationResponse:
    items = [
        VariationGenericOut(
            id=v.id,
            createdAt=timestamp(v.created_at),
            status=wire_status(v.status),
            transformType=v.transform_type,
            url=urls.variation(base, v.id, v.token, v.file_key or "") if v.has_file else None,
            failureReason=v.failure_reason,
            method=v.method,
        )
        for v in variations.get(who.user_id, id)
    ]
    return GetVariationResponse(generated_image_variation_generic=items)


@files_router.get("/cdn/variations/{token}/{filename}")
def variation_file(token: str, filename: str, cdn: CdnDep) -> FileResponse:
    found = cdn.variation(token, filename)
    return FileResponse(found.path, media_type=found.media_type, headers=CACHE_FOREVER)
