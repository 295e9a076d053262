"""GET /me and the platform/custom model responses."""

from __future__ import annotations

from sfumato.api.schemas.common import WireModel


class UserRef(WireModel):
    id: str
    username: str


class UserDetail(WireModel):
    user: UserRef
    apiConcurrencySlots: int
    # Credit balances (services/credits/): subscription tokens (renewed monthly) and paid tokens (never expire).
    # A user the operator gave no balance is unlimited: 0 and 0 here, `unlimitedCredits` true (Sfumato's own key).
    apiSubscriptionTokens: int = 0
    apiPaidTokens: int = 0
    apiPlanTokenRenewalDate: str | None = None
    unlimitedCredits: bool = False
    subscriptionTokens: int = 0
    subscriptionGptTokens: int = 0
    subscriptionModelTokens: int = 0
    paidTokens: int = 0


class MeResponse(WireModel):
    user_details: list[UserDetail]


class PlatformModelImage(WireModel):
    """A picture the model made: `url` needs no auth header; omitted (not null) where a model has none."""

    id: str
    url: str


class PlatformModelOut(WireModel):
    id: str
    name: str
    description: str
    nsfw: bool = False
    featured: bool = False
    generated_image: PlatformModelImage | None = None


class PlatformModelsResponse(WireModel):
    custom_models: list[PlatformModelOut]


class ModelOut(WireModel):
    id: str
    name: str
    description: str
    createdAt: str
    updatedAt: str
    modelWidth: int
    modelHeight: int
    public: bool = True
    sdVersion: str
    status: str = "COMPLETE"
    type: str = "GENERAL"
    instancePrompt: str | None = None
    # Custom models only; not in Leonardo's schema (the SDKs ignore unknown keys): why a FAILED training failed,
    # and the step a PENDING one is at.
    failureReason: str | None = None
    trainingStep: int | None = None
    trainingSteps: int | None = None


class ModelByIdResponse(WireModel):
    custom_models_by_pk: ModelOut | None
