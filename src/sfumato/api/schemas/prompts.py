"""POST /prompt/random and /prompt/improve: wire shapes (keys as Leonardo's SDKs send and read them)."""

from __future__ import annotations

from typing import Any, ClassVar

from sfumato.api.schemas.common import Cost, TolerantBody, WireModel
from sfumato.services.prompt_tools import MAX_IMPROVE_PROMPT, MAX_INSTRUCTIONS


class PromptImproveBody(TolerantBody):
    WIRE_REQUIRED: ClassVar[tuple[str, ...]] = ("prompt",)
    WIRE_FIELDS: ClassVar[dict[str, dict[str, Any]]] = {
        "prompt": {"maxLength": MAX_IMPROVE_PROMPT},  # counted once trimmed, as Leonardo counts
        "promptInstructions": {"maxLength": MAX_INSTRUCTIONS},
    }
    prompt: str | None = None
    isVideo: bool | None = None
    promptInstructions: str | None = None


class PromptGeneration(WireModel):
    prompt: str
    apiCreditCost: int  # what the job was charged, from the price table (services/credits/)
    cost: Cost


class PromptGenerationResponse(WireModel):
    promptGeneration: PromptGeneration
