"""POST /prompt/random and /prompt/improve: wire shapes (keys as Leonardo's SDKs send and read them)."""

from __future__ import annotations

from typing import ClassVar

from sfumato.api.schemas.common import Cost, TolerantBody, WireModel


class PromptImproveBody(TolerantBody):
    WIRE_REQUIRED: ClassVar[tuple[str, ...]] = ("prompt",)
    prompt: str | None = None
    isVideo: bool | None = None
    promptInstructions: str | None = None


class PromptGeneration(WireModel):
    prompt: str
    apiCreditCost: int = 0  # a self-hosted server charges no credits
    cost: Cost = Cost()


class PromptGenerationResponse(WireModel):
    promptGeneration: PromptGeneration
