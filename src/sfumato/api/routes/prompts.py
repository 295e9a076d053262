"""/prompt/random and /prompt/improve: synchronous prompt tools (services/prompt_tools.py)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Body

from sfumato.api.deps import PrincipalDep, PromptToolsDep
from sfumato.api.routes.pricing import credits_of
from sfumato.api.schemas.prompts import PromptGeneration, PromptGenerationResponse, PromptImproveBody

router = APIRouter(tags=["Prompt"])
# An operator's chat endpoint (SFUMATO_PROMPT_CHAT_URL) that fails: 502, documented in the spec.
_UPSTREAM = {
    502: {
        "description": "the prompt service this server relies on failed or is unreachable",
        "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}},
    }
}


# Plain `def` routes: FastAPI runs them in its thread pool, so a slow chat endpoint never blocks the event loop.
@router.post(
    "/prompt/random", response_model=PromptGenerationResponse, operation_id="promptRandom", responses=_UPSTREAM
)
def prompt_random(tools: PromptToolsDep, who: PrincipalDep) -> PromptGenerationResponse:
    prompt = tools.random(who.user_id)
    return PromptGenerationResponse(
        promptGeneration=PromptGeneration(prompt=prompt, **credits_of(tools.price("random")))
    )  # type: ignore[arg-type]


@router.post(
    "/prompt/improve", response_model=PromptGenerationResponse, operation_id="promptImprove", responses=_UPSTREAM
)
def prompt_improve(
    tools: PromptToolsDep, who: PrincipalDep, body: Annotated[PromptImproveBody | None, Body()] = None
) -> PromptGenerationResponse:
    body = body or PromptImproveBody()
    body.log_unknown_keys("POST /prompt/improve")
    improved = tools.improve(body.prompt, body.isVideo, body.promptInstructions, who.user_id)
    charged = credits_of(tools.price("improve"))
    return PromptGenerationResponse(promptGeneration=PromptGeneration(prompt=improved, **charged))  # type: ignore[arg-type]
