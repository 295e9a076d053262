"""/generations: create (async job), read, list by user, delete."""

from __future__ import annotations

import asyncio
import contextlib
from typing import Annotated, Any

from fastapi import APIRouter, Body, Query, Request, Response

from sfumato.api.deps import ApiServices, CreditsDep, GenerationsDep, PrincipalDep, ServicesDep, link_base, reads_for
from sfumato.api.openapi import ID_OF_ANOTHER_KIND, PAGING, PAGING_CHECK
from sfumato.api.rendered import RenderedGenerations
from sfumato.api.routes.pricing import cost_fields
from sfumato.api.routes.training import ELEMENT_SAMPLES, whole_weight
from sfumato.api.schemas.common import timestamp
from sfumato.api.schemas.generations import (
    CreateGenerationBody,
    CreateGenerationResponse,
    DeletedId,
    DeleteGenerationResponse,
    GeneratedImageOut,
    GenerationOut,
    GetGenerationResponse,
    ListGenerationsResponse,
    SdGenerationJob,
    VariationGeneric,
)
from sfumato.api.schemas.training import GenerationElementOut, LoraOut
from sfumato.api.wire.options import option
from sfumato.jobs.core.status import JobStatus, wire_status
from sfumato.services.errors import NotFound
from sfumato.services.generations import Generations, GenerationView, ImageView
from sfumato.services.generations.service import Revision
from sfumato.services.training.adapters import AppliedAdapter
from sfumato.services.urls import FileUrls
from sfumato.services.variations import Variations, VariationView

router = APIRouter(tags=["Image"])


def variation_generic(v: VariationView, base: str, urls: FileUrls) -> VariationGeneric:
    url = urls.variation(base, v.id, v.token, v.file_key or "") if v.has_file else None
    status = wire_status(v.status)
    return VariationGeneric(id=v.id, status=status, transformType=v.transform_type, url=url, method=v.method)


def generation_out(
    view: GenerationView, base: str, urls: FileUrls, variations: dict[str, list[VariationView]] | None = None
) -> GenerationOut:
    variations = variations or {}
    return GenerationOut(
        id=view.id,
        createdAt=timestamp(view.created_at),
        status=wire_status(view.status),
        prompt=view.prompt,
        negativePrompt=view.negative_prompt,
        modelId=view.model_id,
        imageWidth=view.width,
        imageHeight=view.height,
        inferenceSteps=view.num_inference_steps,
        guidanceScale=view.guidance_scale,
        seed=view.seed,
        scheduler=view.scheduler,
        sdVersion=None if view.is_motion else view.sd_version,
        presetStyle=view.preset_style,
        public=view.public,
        tiling=view.tiling,
        initStrength=view.init_strength,
        photoReal=bool(option(view.options, "photoReal", False)),
        promptMagic=bool(option(view.options, "promptMagic", False)),
        generated_images=[
            GeneratedImageOut(
                id=i.id,
                url=urls.image(base, i.id, i.token, i.file_key),
                nsfw=i.nsfw,
                likeCount=i.like_count,
                generated_image_variation_generics=[variation_generic(v, base, urls) for v in variations.get(i.id, [])],
                **motion_fields(view, i, base, urls),
            )
            for i in view.images
        ],
        generation_elements=generation_elements(view, base),
        failureReason=view.failure_reason,
        imagePromptMethod=view.image_prompt_method,
    )


def generation_elements(view: GenerationView, base: str) -> list[GenerationElementOut]:
    """The elements applied (a custom model's own LoRA is the model, not an element), as Leonardo echoes them."""
    out = []
    for record in view.adapters:
        a = AppliedAdapter.from_record(record)
        if a.source == "model":
            continue
        platform = a.source == "element"
        lora = LoraOut(
            akUUID=a.ref if platform else None,
            name=a.name,
            description=a.description,
            baseModel=a.base_model,
            urlImage=f"{base}{ELEMENT_SAMPLES}/{a.ref}.png" if platform else None,
            **{k: whole_weight(v) for k, v in (("weightDefault", a.weight_default), ("weightMin", a.weight_min),
                                          ("weightMax", a.weight_max)) if v is not None},
        )  # fmt: skip
        number = int(a.ref) if not platform else len(out) + 1
        out.append(GenerationElementOut(id=number, lora=lora, weightApplied=a.weight))
    return out


def motion_fields(view: GenerationView, image: ImageView, base: str, urls: FileUrls) -> dict[str, Any]:
    if not view.is_motion or not image.video_key:
        return {}
    return {
        "motion": True,
        "motionMP4URL": urls.video(base, image.id, image.token, image.video_key),
        "motionModel": view.motion_model,
        "motionStrength": view.motion_strength,
        "imageToVideo": view.image_to_video,
    }


@router.post(
    "/generations",
    response_model=CreateGenerationResponse,
    response_model_exclude_none=True,
    operation_id="createGeneration",
)
def create_generation(
    generations: GenerationsDep,
    credits: CreditsDep,
    who: PrincipalDep,
    body: Annotated[CreateGenerationBody | None, Body()] = None,
) -> CreateGenerationResponse:
    body = body or CreateGenerationBody()
    body.log_unknown_keys("POST /generations")
    generation_id = generations.create(who.user_id, who.api_key_id, body.to_params())
    job = SdGenerationJob(generationId=generation_id, **cost_fields(credits, generation_id))  # type: ignore[arg-type]
    return CreateGenerationResponse(sdGenerationJob=job)


@router.get(
    "/generations/user/{userId}",
    response_model=ListGenerationsResponse,
    response_model_exclude_none=True,
    operation_id="getGenerationsByUserId",
    dependencies=PAGING_CHECK,
    openapi_extra=PAGING,
)
async def list_generations(
    userId: str,  # noqa: N803 — Leonardo's path parameter name
    request: Request,
    s: ServicesDep,  # not one dependency per service: see get_generation
    who: PrincipalDep,
    offset: Annotated[int, Query()] = 0,
    limit: Annotated[int, Query()] = 10,
) -> Response:
    if userId not in (who.user_id, who.username):
        raise NotFound(f"user {userId} not found; GET /me shows your user id")
    base, rendered, reads = link_base(request, s), _rendered(request), reads_for(s)
    if rendered.enabled:
        page = await reads(s.generations.page_revisions, who.user_id, offset, limit)
        bodies = {i: rendered.get(i, base, revision) for i, revision in page}
        missing = [i for i, body in bodies.items() if body is None]
        if missing:  # rendered once per revision, each with the revision read before it
            views, found = await reads(_these_with_variations, s.generations, s.variations, who.user_id, missing)
            revisions = dict(page)
            for i, view in views.items():
                bodies[i] = rendered.put(i, base, revisions[i], generation_out(view, base, s.urls, found).json_bytes())
        parts = [body for i, _ in page if (body := bodies[i]) is not None]
        if len(parts) == len(page):  # else one was deleted meanwhile: read the page again, below
            return _json_response(b'{"generations":[' + b",".join(parts) + b"]}")
    views_, found_ = await reads(_page_with_variations, s.generations, s.variations, who.user_id, offset, limit)
    out = [generation_out(v, base, s.urls, found_) for v in views_]
    return ListGenerationsResponse(generations=out).json_response()


@router.get(
    "/generations/{id}",
    response_model=GetGenerationResponse,
    response_model_exclude_none=True,
    operation_id="getGenerationById",
    openapi_extra=ID_OF_ANOTHER_KIND,
)
async def get_generation(id: str, request: Request, s: ServicesDep, who: PrincipalDep) -> Response:  # noqa: A002
    # The route every client polls takes the services whole (ServicesDep) rather than one dependency each:
    # FastAPI's dependency solving cost tens of microseconds per dependency, most of this route's Python time.
    base, rendered, reads = link_base(request, s), _rendered(request), reads_for(s)
    revision = await reads(s.generations.revision, who.user_id, id) if rendered.enabled else None
    if revision is not None and revision[0] == JobStatus.PENDING and s.job_stream.finishing(id):
        revision = await _settled(s, who.user_id, id, revision)
    if revision is not None:
        body = rendered.get(id, base, revision)
        if body is None:
            view, found = await reads(_one_with_variations, s.generations, s.variations, who.user_id, id)
            body = rendered.put(id, base, revision, generation_out(view, base, s.urls, found).json_bytes())
        return _json_response(b'{"generations_by_pk":' + body + b"}")
    # Not the user's (get raises the 404 or the teaching 400), or a cache that is off.
    view, found = await reads(_one_with_variations, s.generations, s.variations, who.user_id, id)
    return GetGenerationResponse(generations_by_pk=generation_out(view, base, s.urls, found)).json_response()


# How long a poll of a job past its last step may wait for its end (the decode, the files, COMPLETE: ~0.1 s for
# four 1024x768 images here). A client polling every 50 ms then sees COMPLETE as it happens, not 25 ms later on
# average, and the server answers fewer polls; a job that takes longer is answered PENDING as before.
FINISH_WAIT_SECONDS = 0.5
_RECHECK_SECONDS = 0.05  # the wake may be missed (the end committed before the subscription): look again anyway


async def _settled(s: ApiServices, user_id: str, generation_id: str, revision: Revision) -> Revision | None:
    """The generation's revision once its finishing job has ended, or after FINISH_WAIT_SECONDS (long polling,
    only for a job this process runs: JobStream.finishing)."""
    loop, woken = asyncio.get_running_loop(), asyncio.Event()
    unsubscribe = s.job_stream.subscribe(generation_id, lambda: loop.call_soon_threadsafe(woken.set))
    reads, deadline = reads_for(s), loop.time() + FINISH_WAIT_SECONDS
    try:
        now: Revision | None = revision
        while now == revision and loop.time() < deadline:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(woken.wait(), min(_RECHECK_SECONDS, max(0.0, deadline - loop.time())))
            woken.clear()
            now = await reads(s.generations.revision, user_id, generation_id)
        return now
    finally:
        unsubscribe()


def _rendered(request: Request) -> RenderedGenerations:
    return request.app.state.rendered  # type: ignore[no-any-return]


def _json_response(body: bytes) -> Response:
    return Response(body, media_type="application/json")


# The polled reads, each one call for `reads` (on the event loop with SQLite: api/deps.Reads).
Found = dict[str, list[VariationView]]


def _one_with_variations(
    generations: Generations, variations: Variations, user_id: str, generation_id: str
) -> tuple[GenerationView, Found]:
    view = generations.get(user_id, generation_id)
    return view, variations.for_images(i.id for i in view.images)


def _page_with_variations(
    generations: Generations, variations: Variations, user_id: str, offset: int, limit: int
) -> tuple[list[GenerationView], Found]:
    views = generations.list_for_user(user_id, offset=offset, limit=limit)
    return views, variations.for_images(i.id for v in views for i in v.images)


def _these_with_variations(
    generations: Generations, variations: Variations, user_id: str, generation_ids: list[str]
) -> tuple[dict[str, GenerationView], Found]:
    views = generations.views_of(user_id, generation_ids)
    return views, variations.for_images(i.id for v in views.values() for i in v.images)


@router.delete(
    "/generations/{id}",
    response_model=DeleteGenerationResponse,
    operation_id="deleteGenerationById",
    openapi_extra=ID_OF_ANOTHER_KIND,
)
def delete_generation(id: str, generations: GenerationsDep, who: PrincipalDep) -> DeleteGenerationResponse:  # noqa: A002
    generations.delete(who.user_id, id)
    return DeleteGenerationResponse(delete_generations_by_pk=DeletedId(id=id))
