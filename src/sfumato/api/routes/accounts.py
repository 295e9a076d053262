"""/me, /platformModels and /models/{id} (a platform model or one of the caller's custom models)."""

from __future__ import annotations

from fastapi import APIRouter

from sfumato.api.deps import BaseUrlDep, CatalogDep, CreditsDep, PrincipalDep, StartedAtDep, TrainingsDep
from sfumato.api.routes.files import model_sample_id, model_sample_url
from sfumato.api.routes.training import custom_model_out
from sfumato.api.schemas.accounts import (
    MeResponse,
    ModelByIdResponse,
    ModelOut,
    PlatformModelImage,
    PlatformModelOut,
    PlatformModelsResponse,
    UserDetail,
    UserRef,
)
from sfumato.api.schemas.common import timestamp
from sfumato.services.catalog import ModelEntry
from sfumato.services.credits.ledger import aware
from sfumato.services.errors import NotFound

router = APIRouter()


@router.get(
    "/me", response_model=MeResponse, response_model_exclude_none=True, operation_id="getUserSelf", tags=["User"]
)
def me(who: PrincipalDep, credits: CreditsDep) -> MeResponse:
    balance = credits.balance(who.user_id)
    renews = balance.renews_at
    return MeResponse(
        user_details=[
            UserDetail(
                user=UserRef(id=who.user_id, username=who.username),
                apiConcurrencySlots=who.api_concurrency_slots,
                apiSubscriptionTokens=balance.subscription_tokens,
                apiPaidTokens=balance.paid_tokens,
                apiPlanTokenRenewalDate=aware(renews).isoformat() if renews else None,
                unlimitedCredits=balance.unlimited,
            )
        ]
    )


@router.get(
    "/platformModels",
    response_model=PlatformModelsResponse,
    response_model_exclude_none=True,
    operation_id="listPlatformModels",
    tags=["Models"],
)
def platform_models(catalog: CatalogDep, base: BaseUrlDep, _: PrincipalDep) -> PlatformModelsResponse:
    return PlatformModelsResponse(
        custom_models=[
            PlatformModelOut(
                id=e.id, name=e.name, description=e.description, featured=e.featured, generated_image=_sample(base, e)
            )
            for e in catalog.image_models()  # the SDK types platform models as image models
        ]
    )


def _sample(base: str, entry: ModelEntry) -> PlatformModelImage | None:
    """The model's sample image (the web app's card shows the same file), at a public /cdn URL."""
    sample_id = model_sample_id(entry)
    return None if sample_id is None else PlatformModelImage(id=sample_id, url=model_sample_url(base, entry, sample_id))


@router.get(
    "/models/{id}",
    response_model=ModelByIdResponse,
    response_model_exclude_none=True,
    operation_id="getModelById",
    tags=["Models"],
)
def model_by_id(  # noqa: A002
    id: str, catalog: CatalogDep, trainings: TrainingsDep, started_at: StartedAtDep, who: PrincipalDep
) -> ModelByIdResponse:
    custom = trainings.custom_model(who.user_id, id)
    if custom is not None:
        return ModelByIdResponse(custom_models_by_pk=ModelOut(**custom_model_out(custom).model_dump()))
    try:
        entry = catalog.get(id)
    except NotFound:
        raise NotFound(f"model {id} not found; GET /platformModels lists the model ids") from None
    created = timestamp(started_at)
    width, height = entry.native_size or (entry.default_width, entry.default_height)
    return ModelByIdResponse(
        custom_models_by_pk=ModelOut(
            id=id,
            name=entry.name,
            description=entry.description,
            createdAt=created,
            updatedAt=created,
            modelWidth=width,
            modelHeight=height,
            sdVersion=entry.sd_version,
        )
    )
