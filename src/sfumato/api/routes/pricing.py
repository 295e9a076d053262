"""POST /pricing-calculator: the price of a service with given parameters, from the server's price table
(services/credits/). A job created with the same parameters is charged exactly this (docs/credits.md)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Body

from sfumato.api.deps import CreditsDep, PrincipalDep
from sfumato.api.schemas.common import Cost
from sfumato.api.schemas.pricing import CalculatedCost, PricingCalculatorBody, PricingCalculatorResponse
from sfumato.services.credits import calculate

router = APIRouter(tags=["Pricing Calculator"])


@router.post("/pricing-calculator", response_model=PricingCalculatorResponse, operation_id="pricingCalculator")
def pricing_calculator(
    credits: CreditsDep, _: PrincipalDep, body: Annotated[PricingCalculatorBody | None, Body()] = None
) -> PricingCalculatorResponse:
    body = body or PricingCalculatorBody()
    body.log_unknown_keys("POST /pricing-calculator")
    cost = calculate(credits.table, body.service, body.serviceParams)
    return PricingCalculatorResponse(calculateProductionApiServiceCost=CalculatedCost(cost=cost))


def cost_fields(credits: CreditsDep, job_id: str) -> dict[str, object]:
    """`apiCreditCost` and `cost` of a job response: what the job was charged (the ledger's record)."""
    return credits_of(credits.charged(job_id))


def credits_of(amount: int) -> dict[str, object]:
    return {"apiCreditCost": amount, "cost": Cost(amount=str(amount), unit="CREDITS")}
